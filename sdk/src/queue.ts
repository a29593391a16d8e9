/**
 * The persistent receipt queue. It lives in the app's storage as chunks of at most `CHUNK_SIZE`
 * receipts plus one small index (`{first, offset, next}`), so that recording one receipt rewrites
 * one chunk, not the whole queue, and acknowledging a batch is one write of the index:
 *
 * - append: the tail chunk is written first, then the index; a crash in between leaves an unused
 *   chunk that the next append overwrites.
 * - acknowledge: the index moves its head first (the commit point), then fully sent chunks are
 *   deleted; a crash in between leaves stale keys, never a receipt sent twice by the queue's fault.
 *
 * A receipt is only ever removed after the server acknowledged it, so a crash at any point re-sends
 * at most one batch, which the server recognises as duplicates.
 *
 * One `ReceiptQueue` owns its keys: two SDK instances on the same storage, key and device at once
 * are not supported (their caches would diverge). The caller serialises all calls.
 */
import type { PushboardStorage } from './storage.js';

/** Receipts per stored chunk: small enough to rewrite on every append, large enough for few keys. */
export const CHUNK_SIZE = 500;

/** One receipt as it is stored and sent. */
export interface QueuedReceipt {
  taskId: string;
  deviceId: string;
  kind: string;
  at: string;
}

interface QueueIndex {
  /** ID of the oldest chunk still holding unsent receipts. */
  first: number;
  /** Receipts of chunk `first` already acknowledged. */
  offset: number;
  /** ID the next new chunk gets. */
  next: number;
}

/** The queue of receipts not yet acknowledged by the server, persisted under `prefix`. */
export class ReceiptQueue {
  private index: QueueIndex = { first: 0, offset: 0, next: 0 };
  private readonly chunks = new Map<number, QueuedReceipt[]>();
  private loaded: Promise<void> | null = null;

  constructor(
    private readonly storage: PushboardStorage,
    private readonly prefix: string,
  ) {}

  private indexKey(): string {
    return `${this.prefix}:queue`;
  }

  private chunkKey(id: number): string {
    return `${this.prefix}:queue:${id}`;
  }

  /** Reads the stored queue once; later calls use the in-memory copy. */
  load(): Promise<void> {
    this.loaded ??= this.read().catch((error: unknown) => {
      // Let a later call try again (the storage may have been momentarily unavailable).
      this.loaded = null;
      throw error;
    });
    return this.loaded;
  }

  private async read(): Promise<void> {
    const raw = await this.storage.getItem(this.indexKey());
    const parsed = parseJson(raw) as Partial<QueueIndex> | null;
    if (
      parsed &&
      Number.isSafeInteger(parsed.first) &&
      Number.isSafeInteger(parsed.offset) &&
      Number.isSafeInteger(parsed.next)
    ) {
      this.index = { first: parsed.first!, offset: parsed.offset!, next: parsed.next! };
    }
    for (let id = this.index.first; id < this.index.next; id++) {
      const chunk = parseJson(await this.storage.getItem(this.chunkKey(id)));
      // A missing or damaged chunk is skipped rather than blocking everything behind it.
      this.chunks.set(id, Array.isArray(chunk) ? (chunk as QueuedReceipt[]).filter(isReceipt) : []);
    }
  }

  /** How many receipts wait. */
  get size(): number {
    let size = -this.index.offset;
    for (let id = this.index.first; id < this.index.next; id++) size += this.chunks.get(id)?.length ?? 0;
    return Math.max(0, size);
  }

  /** Persists `receipt` at the end of the queue. */
  async append(receipt: QueuedReceipt): Promise<void> {
    await this.load();
    const tailId = this.index.next - 1;
    const tail = tailId >= this.index.first ? this.chunks.get(tailId) : undefined;
    if (tail && tail.length < CHUNK_SIZE) {
      const grown = [...tail, receipt];
      await this.storage.setItem(this.chunkKey(tailId), JSON.stringify(grown));
      this.chunks.set(tailId, grown);
      return;
    }
    const id = this.index.next;
    const chunk = [receipt];
    await this.storage.setItem(this.chunkKey(id), JSON.stringify(chunk));
    const index = { ...this.index, next: id + 1 };
    await this.storage.setItem(this.indexKey(), JSON.stringify(index));
    this.chunks.set(id, chunk);
    this.index = index;
  }

  /** The oldest `max` receipts, in order (they stay queued until `acknowledge`). */
  async peek(max: number): Promise<QueuedReceipt[]> {
    await this.load();
    const out: QueuedReceipt[] = [];
    let skip = this.index.offset;
    for (let id = this.index.first; id < this.index.next && out.length < max; id++) {
      const chunk = this.chunks.get(id) ?? [];
      out.push(...chunk.slice(skip, skip + (max - out.length)));
      skip = 0;
    }
    return out;
  }

  /** Removes the oldest `count` receipts: the server has them. */
  async acknowledge(count: number): Promise<void> {
    await this.load();
    let { first, offset } = this.index;
    let left = count;
    const emptied: number[] = [];
    while (left > 0 && first < this.index.next) {
      const length = this.chunks.get(first)?.length ?? 0;
      const take = Math.min(left, length - offset);
      left -= take;
      offset += take;
      if (offset >= length) {
        emptied.push(first);
        first += 1;
        offset = 0;
      }
    }
    const index = { first, offset, next: this.index.next };
    await this.storage.setItem(this.indexKey(), JSON.stringify(index));
    this.index = index;
    for (const id of emptied) {
      this.chunks.delete(id);
      await this.storage.removeItem(this.chunkKey(id));
    }
  }
}

function parseJson(raw: string | null): unknown {
  if (raw === null) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

function isReceipt(value: unknown): value is QueuedReceipt {
  const r = value as QueuedReceipt | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.taskId === 'string' &&
    typeof r.deviceId === 'string' &&
    typeof r.kind === 'string' &&
    typeof r.at === 'string'
  );
}
