/**
 * `sendEachDevice`, the request loop FCM and APNs share (providers/per-device.ts): requests in flight
 * bounded per call and per app, retries after the provider's wait, the app-wide pause, and how a
 * request-wide error stops a batch without losing the answers already given.
 */
import { describe, expect, test } from 'vitest';
import {
  createPauseGate,
  createRequestSlots,
  type DeviceAnswer,
  type EachDeviceOptions,
  SendAbortedError,
  sendEachDevice,
  sleepUnlessAborted,
} from '../src/providers/per-device.ts';
import type { BatchDevice, DeviceSendOutcome } from '../src/providers/provider.ts';
import { ProviderError } from '../src/providers/provider.ts';

const devices = (n: number, prefix = 'd'): BatchDevice[] =>
  Array.from({ length: n }, (_, i) => ({ deviceId: `${prefix}${i}`, pushToken: `t${i}`, channel: 'fcm' }));

const accepted = (device: BatchDevice): DeviceAnswer => ({
  outcome: { deviceId: device.deviceId, sendResult: 'no_feedback' },
});

/** Options on a virtual clock: `sleep` moves it at once and records every wait. */
function virtualOptions(overrides: Partial<EachDeviceOptions> = {}) {
  let now = 0;
  const waits: number[] = [];
  const sleep = async (ms: number) => {
    waits.push(ms);
    now += ms;
  };
  const options: EachDeviceOptions = {
    concurrency: 10,
    maxAttempts: 4,
    retryBaseMs: 1000,
    maxRetryMs: 60_000,
    sleep,
    gate: createPauseGate(() => now, sleep),
    ...overrides,
  };
  return { options, waits, now: () => now };
}

/** A `sendOne` that counts the requests in flight and answers after a tick. */
function tracked(answer: (device: BatchDevice, attempt: number) => DeviceAnswer) {
  let inFlight = 0;
  let most = 0;
  const send = async (device: BatchDevice, attempt: number) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    inFlight--;
    return answer(device, attempt);
  };
  return { send, most: () => most };
}

describe('sendEachDevice', () => {
  test('keeps at most `concurrency` requests in flight and reports every answer once', async () => {
    const { options } = virtualOptions({ concurrency: 7 });
    const reported: DeviceSendOutcome[] = [];
    const sender = tracked(accepted);
    const outcomes = await sendEachDevice(
      devices(100),
      { ...options, onAnswered: (o) => reported.push(o) },
      sender.send,
    );
    expect(sender.most()).toBe(7);
    expect(outcomes).toHaveLength(100);
    expect(new Set(reported.map((o) => o.deviceId)).size).toBe(100);
    expect(reported).toEqual(outcomes);
  });

  test('shares an app’s request slots between batches sent at the same time', async () => {
    const slots = createRequestSlots(5);
    const sender = tracked(accepted);
    const { options } = virtualOptions({ concurrency: 5, slots });
    const [a, b] = await Promise.all([
      sendEachDevice(devices(40, 'a'), options, sender.send),
      sendEachDevice(devices(40, 'b'), options, sender.send),
    ]);
    expect(a).toHaveLength(40);
    expect(b).toHaveLength(40);
    expect(sender.most()).toBe(5);
  });

  test('retries after the provider’s Retry-After (or the backoff when longer) and pauses the app when asked', async () => {
    const { options, waits } = virtualOptions({ concurrency: 1 });
    const seen: number[] = [];
    const outcomes = await sendEachDevice(devices(1), options, async (device, attempt) => {
      seen.push(attempt);
      if (attempt === 1)
        return { retry: { code: 'QUOTA_EXCEEDED', message: 'quota', afterMs: 5000, pauseAll: true } };
      if (attempt === 2) return { retry: { code: 'UNAVAILABLE', message: 'busy', afterMs: 100 } };
      return accepted(device);
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(outcomes).toEqual([{ deviceId: 'd0', sendResult: 'no_feedback' }]);
    // 5 s asked for, then the 2 s backoff, longer than the 0.1 s asked for.
    expect(waits).toEqual([5000, 2000]);
  });

  test('a pause asked for by one device holds the requests of the other devices too', async () => {
    const { options, now } = virtualOptions({ concurrency: 3 });
    const startedAt: Record<string, number> = {};
    let paused = false;
    await sendEachDevice(devices(9), options, async (device) => {
      startedAt[device.deviceId] ??= now();
      await new Promise((resolve) => setImmediate(resolve));
      if (!paused) {
        paused = true;
        return { retry: { code: 'QUOTA_EXCEEDED', message: 'quota', afterMs: 30_000, pauseAll: true } };
      }
      return accepted(device);
    });
    // The three first went before the pause; every later device waited for it to end.
    const late = Object.entries(startedAt).filter(([id]) => !['d0', 'd1', 'd2'].includes(id));
    expect(late.length).toBe(6);
    for (const [, at] of late) expect(at).toBeGreaterThanOrEqual(30_000);
  });

  test('a device still asked to retry after maxAttempts stops the batch with a retryable error', async () => {
    const { options } = virtualOptions({ concurrency: 2, maxAttempts: 3 });
    const reported: string[] = [];
    const error = await sendEachDevice(
      devices(4),
      { ...options, onAnswered: (o) => reported.push(o.deviceId) },
      async (device) =>
        device.deviceId === 'd1' ? { retry: { code: 'INTERNAL', message: 'FCM failed' } } : accepted(device),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'INTERNAL', retryable: true });
    expect((error as Error).message).toContain('still refused after 3 requests');
    expect(reported).toContain('d0');
    expect(reported).not.toContain('d1');
  });

  test('a request-wide error starts no new request, waits for those in flight, and keeps their answers', async () => {
    const { options } = virtualOptions({ concurrency: 4 });
    const reported: string[] = [];
    const started: string[] = [];
    const error = await sendEachDevice(
      devices(50),
      { ...options, onAnswered: (o) => reported.push(o.deviceId) },
      async (device) => {
        started.push(device.deviceId);
        await new Promise((resolve) => setImmediate(resolve));
        if (device.deviceId === 'd5') throw new ProviderError('FCM_CREDENTIALS', 'refused', false);
        return accepted(device);
      },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'FCM_CREDENTIALS', retryable: false });
    // d5 was among the first 8 started; nothing after the in-flight ones was started.
    expect(started.length).toBeLessThanOrEqual(9);
    expect(reported).toEqual(started.filter((id) => id !== 'd5'));
  });
  test('a pause set while other batches’ requests wait for a slot holds them too', async () => {
    const slots = createRequestSlots(3);
    // The clock moves only after the other requests had their turn, as real time would.
    let clock = 0;
    const sleep = async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, 0));
      clock += ms;
    };
    const now = () => clock;
    const { options } = virtualOptions({ concurrency: 3, slots, sleep, gate: createPauseGate(now, sleep) });
    const startedAt: Record<string, number> = {};
    let quota = true;
    const sendOne = async (device: BatchDevice): Promise<DeviceAnswer> => {
      startedAt[device.deviceId] ??= now();
      await new Promise((resolve) => setImmediate(resolve));
      if (quota) {
        quota = false;
        return { retry: { code: 'QUOTA_EXCEEDED', message: 'quota', afterMs: 30_000, pauseAll: true } };
      }
      return accepted(device);
    };
    await Promise.all([
      sendEachDevice(devices(9, 'a'), options, sendOne),
      sendEachDevice(devices(9, 'b'), options, sendOne),
    ]);
    // Only the three requests in flight when the quota answer came started before the pause ended.
    const early = Object.values(startedAt).filter((at) => at < 30_000);
    expect(early).toHaveLength(3);
    expect(Object.keys(startedAt)).toHaveLength(18);
  });

  test('a Retry-After longer than the backoff cap is honoured whole; one beyond maxRetryAfterMs stops the batch', async () => {
    const { options, waits } = virtualOptions({ concurrency: 1, maxRetryMs: 60_000 });
    await sendEachDevice(devices(1), options, async (device, attempt) =>
      attempt === 1
        ? { retry: { code: 'UNAVAILABLE', message: 'busy', afterMs: 120_000 } }
        : accepted(device),
    );
    expect(waits).toEqual([120_000]);

    const capped = virtualOptions({ concurrency: 1, maxRetryAfterMs: 600_000 });
    const error = await sendEachDevice(devices(1), capped.options, async () => ({
      retry: { code: 'QUOTA_EXCEEDED', message: 'quota', afterMs: 3_600_000 },
    })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'QUOTA_EXCEEDED', retryable: true });
    expect((error as Error).message).toContain('wait 3600 s');
    expect(capped.waits).toEqual([]);
  });

  test('an aborted signal starts no new request, ends the waits, keeps the answers given, and throws SendAbortedError', async () => {
    const stop = new AbortController();
    const reported: string[] = [];
    const started: string[] = [];
    const options: EachDeviceOptions = {
      concurrency: 2,
      maxAttempts: 5,
      retryBaseMs: 1000,
      maxRetryMs: 60_000,
      // Real waits: the test would time out if the abort did not end them.
      sleep: sleepUnlessAborted,
      gate: createPauseGate(Date.now, sleepUnlessAborted),
      signal: stop.signal,
      onAnswered: (o) => reported.push(o.deviceId),
    };
    const error = await sendEachDevice(devices(50), options, async (device) => {
      started.push(device.deviceId);
      await new Promise((resolve) => setImmediate(resolve));
      if (device.deviceId === 'd4') {
        setTimeout(() => stop.abort(), 10);
        return { retry: { code: 'QUOTA_EXCEEDED', message: 'quota', afterMs: 60_000, pauseAll: true } };
      }
      return accepted(device);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendAbortedError);
    // Nothing started once the pause began; what was answered before is kept.
    expect(started.length).toBeLessThanOrEqual(6);
    expect(reported).toEqual(started.filter((id) => id !== 'd4'));
  });
  test('request slots whose limit is lowered or raised keep every holder counted', async () => {
    const slots = createRequestSlots(3);
    await Promise.all([slots.take(), slots.take(), slots.take()]);
    let started = 0;
    const waiters = Array.from({ length: 4 }, () => slots.take().then(() => started++));
    slots.setLimit(1);
    // Three holders above the new limit of one: two releases give slots back, the third hands one over.
    slots.release();
    slots.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(0);
    slots.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(1);
    slots.setLimit(4);
    await Promise.all(waiters);
    expect(started).toBe(4);
  });
});
