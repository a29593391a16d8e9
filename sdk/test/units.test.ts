/**
 * The SDK's pure parts, without a server: the signature (WebCrypto and the fallback for React
 * Native agree with Node's HMAC), the task ID of push payloads, the persistent queue's chunks and
 * crash points, the storage adapters and `Retry-After`.
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  localStorageAdapter,
  memoryStorage,
  type PushboardStorage,
  retryAfterMs,
  signBody,
  taskIdFromPayload,
} from '../src/index.ts';
import { CHUNK_SIZE, ReceiptQueue } from '../src/queue.ts';
import { hmacSha256, sha256 } from '../src/signature.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('signature', () => {
  it('is the lowercase hex HMAC-SHA256 of the UTF-8 body, as the server computes it', async () => {
    const body = JSON.stringify({ receipts: [{ taskId: 't', deviceId: 'd-é-😀', kind: 'open', at: 'x' }] });
    const expected = createHmac('sha256', 'sëcret').update(body).digest('hex');
    expect(await signBody(body, 'sëcret')).toBe(expected);
  });

  it('the pure fallback (React Native has no crypto.subtle) agrees with Node for every length', () => {
    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_000]) {
      const data = Buffer.alloc(length, length % 251);
      expect(hex(sha256(data))).toBe(createHash('sha256').update(data).digest('hex'));
      for (const key of [Buffer.from('k'), Buffer.alloc(64, 1), Buffer.alloc(100, 2)]) {
        expect(hex(hmacSha256(key, data))).toBe(createHmac('sha256', key).update(data).digest('hex'));
      }
    }
  });
});

describe('taskIdFromPayload', () => {
  it('reads pb_task flat (FCM data, Umeng extra, APNs userInfo) and nested', () => {
    expect(taskIdFromPayload({ pb_task: 'task-1', title: 'x' })).toBe('task-1');
    expect(taskIdFromPayload({ data: { pb_task: 'task-2' } })).toBe('task-2');
    expect(taskIdFromPayload({ extra: { pb_task: 'task-3' } })).toBe('task-3');
    expect(taskIdFromPayload({ aps: { alert: 'hi' }, pb_task: 'task-4' })).toBe('task-4');
    expect(taskIdFromPayload({ body: { custom: '{"pb_task":"task-5"}' } })).toBe('task-5');
    expect(taskIdFromPayload({ notification: { data: { pb_task: 'task-6' } } })).toBe('task-6');
  });

  it('answers null for pushes that did not come from Pushboard', () => {
    for (const payload of [
      null,
      undefined,
      'text',
      42,
      {},
      { data: {} },
      { pb_task: '' },
      { extra: '{bad' },
    ]) {
      expect(taskIdFromPayload(payload)).toBeNull();
    }
  });
});

/** A storage that counts writes and can be made to fail, to stop the queue at a chosen point. */
function countingStorage() {
  const inner = memoryStorage();
  const state = { failAfter: Number.POSITIVE_INFINITY, writes: 0 };
  const storage: PushboardStorage = {
    getItem: (key) => inner.getItem(key),
    async setItem(key, value) {
      if (state.writes++ >= state.failAfter) throw new Error('disk full');
      await inner.setItem(key, value);
    },
    async removeItem(key) {
      if (state.writes++ >= state.failAfter) throw new Error('disk full');
      await inner.removeItem(key);
    },
  };
  return { storage, state, inner };
}

const receipt = (i: number) => ({ taskId: 'task', deviceId: 'dev', kind: 'open', at: String(i) });

describe('the persistent queue', () => {
  it('keeps order across chunks and reloads what was stored', async () => {
    const { storage, inner } = countingStorage();
    const queue = new ReceiptQueue(storage, 'p');
    const n = CHUNK_SIZE * 2 + 7;
    for (let i = 0; i < n; i++) await queue.append(receipt(i));
    await queue.acknowledge(CHUNK_SIZE + 3);
    const reloaded = new ReceiptQueue(storage, 'p');
    await reloaded.load();
    expect(reloaded.size).toBe(n - CHUNK_SIZE - 3);
    expect((await reloaded.peek(2)).map((r) => r.at)).toEqual([
      String(CHUNK_SIZE + 3),
      String(CHUNK_SIZE + 4),
    ]);
    await reloaded.acknowledge(reloaded.size);
    expect(reloaded.size).toBe(0);
    // Only the index is left.
    expect(inner.size).toBe(1);
  });

  it('loses nothing acknowledged-or-not when a write fails midway: at worst a batch is sent again', async () => {
    for (let failAfter = 0; failAfter < 12; failAfter++) {
      const { storage, state } = countingStorage();
      const queue = new ReceiptQueue(storage, 'p');
      for (let i = 0; i < CHUNK_SIZE + 2; i++) await queue.append(receipt(i));
      state.writes = 0;
      state.failAfter = failAfter;
      await queue.acknowledge(CHUNK_SIZE + 1).catch(() => undefined);
      await queue.append(receipt(9999)).catch(() => undefined);
      state.failAfter = Number.POSITIVE_INFINITY;
      const reloaded = new ReceiptQueue(storage, 'p');
      const left = (await reloaded.peek(10_000)).map((r) => r.at).filter((at) => at !== '9999');
      // Either the acknowledgement held (one unsent receipt left) or it did not (all of them).
      const all = Array.from({ length: CHUNK_SIZE + 2 }, (_, i) => String(i));
      expect([JSON.stringify(all.slice(-1)), JSON.stringify(all)]).toContain(JSON.stringify(left));
    }
  });
});

describe('storage adapters', () => {
  it('localStorageAdapter wraps a synchronous Web Storage', async () => {
    const map = new Map<string, string>();
    const storage = localStorageAdapter({
      getItem: (k) => map.get(k) ?? null,
      setItem: (k, v) => void map.set(k, v),
      removeItem: (k) => void map.delete(k),
    });
    await storage.setItem('a', '1');
    expect(await storage.getItem('a')).toBe('1');
    await storage.removeItem('a');
    expect(await storage.getItem('a')).toBeNull();
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(null)).toBeNull();
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(new Date(Date.now() - 1000).toUTCString())).toBe(0);
  });
});
