/**
 * The Redis rate limiter against the real Redis: it waits exactly as the in-process token bucket does,
 * and every limiter on the same prefix, whatever its connection, draws on one bucket per key. Time is
 * an injected clock moved by a fake sleep, so nothing depends on the wall clock.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createRateLimiter, type RateLimiter, type Sleep } from '../src/dispatch/rate-limit.ts';
import { createRedisRateLimiter } from '../src/dispatch/redis-rate-limit.ts';
import { deletePrefix } from '../src/queue/bullmq-queue.ts';
import { openRedis } from '../src/queue/redis.ts';
import { ensureRedis, REDIS_TEST_URL } from './services.ts';

let redis: Redis;
let otherRedis: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  await ensureRedis();
  redis = openRedis(REDIS_TEST_URL);
  otherRedis = openRedis(REDIS_TEST_URL);
});

afterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deletePrefix(REDIS_TEST_URL, prefix);
});

afterAll(async () => {
  await redis?.quit();
  await otherRedis?.quit();
});

/** A key space of its own for one test. */
function newPrefix(): string {
  const prefix = `pushboard-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  return prefix;
}

/**
 * A clock and a sleep that records what it was asked to wait; with `advances` the sleep moves the
 * clock by that much (a caller that waited), without it time stands still (callers that overlap).
 */
function fakeTime(advances = true) {
  const time = { now: Date.UTC(2025, 0, 1, 12) };
  const waits: number[] = [];
  const clock = () => new Date(time.now);
  const sleep: Sleep = async (ms) => {
    waits.push(ms);
    if (advances) time.now += ms;
  };
  return { time, waits, clock, sleep };
}

/** One step of a scripted sequence: a take, a refund, or the clock moving on. */
type Step =
  | { take: number; key?: string; perSecond?: number }
  | { refund: number; key?: string; perSecond?: number }
  | { advance: number };

/** Plays `steps` on a limiter made by `make` and answers the waits it asked for. */
async function play(
  make: (clock: () => Date, sleep: Sleep) => RateLimiter,
  steps: Step[],
): Promise<number[]> {
  const { time, waits, clock, sleep } = fakeTime();
  const limiter = make(clock, sleep);
  for (const step of steps) {
    if ('advance' in step) time.now += step.advance;
    else if ('take' in step) await limiter.take(step.key ?? 'app-1', step.take, undefined, step.perSecond);
    else limiter.refund(step.key ?? 'app-1', step.refund, step.perSecond);
  }
  return waits;
}

describe('the Redis rate limiter', () => {
  test('waits exactly as the in-process limiter for the same sequence', async () => {
    const steps: Step[] = [
      { take: 30 },
      { take: 80 },
      { advance: 200 },
      { take: 10 },
      // A batch bigger than the bucket: on credit, the next one waits for the debt.
      { take: 500 },
      { take: 1 },
      { refund: 100 },
      { take: 50 },
      { advance: 333 },
      { take: 7 },
      // Refill of a fraction of a device: the rates below make the arithmetic inexact.
      { take: 5, key: 'app-2', perSecond: 7 },
      { take: 5, key: 'app-2', perSecond: 7 },
      { advance: 333 },
      { take: 3, key: 'app-2', perSecond: 7 },
      { advance: 1 },
      { take: 1, key: 'app-2', perSecond: 7 },
      { refund: 2, key: 'app-2', perSecond: 7 },
      { take: 4, key: 'app-2', perSecond: 7 },
      { take: 0 },
      { take: 10, perSecond: 0 },
      { refund: 10, key: 'app-3' },
      { take: 150, key: 'app-3' },
      { advance: 10_000 },
      { take: 99 },
      { take: 2 },
      { take: 1, key: 'app-4', perSecond: 0.5 },
      { take: 1, key: 'app-4', perSecond: 0.5 },
    ];
    const prefix = newPrefix();
    const inProcess = await play((clock, sleep) => createRateLimiter(100, clock, sleep), steps);
    const shared = await play(
      (clock, sleep) => createRedisRateLimiter(redis, prefix, 100, clock, sleep),
      steps,
    );
    expect(shared).toEqual(inProcess);
    // The sequence does exercise waiting.
    expect(inProcess.filter((ms) => ms > 0).length).toBeGreaterThan(5);
  });

  test('limiters on different connections with the same prefix share one bucket', async () => {
    const prefix = newPrefix();
    const { clock, waits, sleep } = fakeTime(false);
    const first = createRedisRateLimiter(redis, prefix, 100, clock, sleep);
    const second = createRedisRateLimiter(otherRedis, prefix, 100, clock, sleep);
    await first.take('app-1', 150);
    // The second finds the first's debt of 50 devices, plus its own 10.
    await second.take('app-1', 10);
    expect(waits).toEqual([500, 600]);
  });

  test('concurrent takes from two processes queue up as on one limiter', async () => {
    const prefix = newPrefix();
    const { clock, waits, sleep } = fakeTime(false);
    const limiters = [
      createRedisRateLimiter(redis, prefix, 100, clock, sleep),
      createRedisRateLimiter(otherRedis, prefix, 100, clock, sleep),
    ];
    await Promise.all(Array.from({ length: 10 }, (_, i) => limiters[i % 2]!.take('app-1', 20)));
    // 100 devices go at once, each later batch waits for everything taken before it.
    expect(waits.sort((a, b) => a - b)).toEqual([200, 400, 600, 800, 1000]);
  });

  test('keys are independent, and so are prefixes', async () => {
    const prefix = newPrefix();
    const { clock, waits, sleep } = fakeTime(false);
    const limiter = createRedisRateLimiter(redis, prefix, 100, clock, sleep);
    const elsewhere = createRedisRateLimiter(otherRedis, newPrefix(), 100, clock, sleep);
    await limiter.take('app-1', 100);
    await limiter.take('app-2', 100);
    await elsewhere.take('app-1', 100);
    expect(waits).toEqual([]);
    await limiter.take('app-1', 1);
    expect(waits).toEqual([10]);
    expect(await redis.exists(`${prefix}:rate:app-1`, `${prefix}:rate:app-2`)).toBe(2);
  });

  test('a refund gives permission back, up to one second of devices', async () => {
    const prefix = newPrefix();
    const { clock, waits, sleep } = fakeTime(false);
    const limiter = createRedisRateLimiter(redis, prefix, 100, clock, sleep);
    await limiter.take('app-1', 100);
    limiter.refund('app-1', 40);
    await limiter.take('app-1', 40);
    expect(waits).toEqual([]);
    limiter.refund('app-1', 1000);
    await limiter.take('app-1', 150);
    expect(waits).toEqual([500]);
    // A refund to a key that has no bucket creates none.
    limiter.refund('app-2', 10);
    expect(await redis.exists(`${prefix}:rate:app-2`)).toBe(0);
  });

  test('a rate of 0 lets everything through and stores nothing', async () => {
    const prefix = newPrefix();
    const { clock, waits, sleep } = fakeTime(false);
    const unlimited = createRedisRateLimiter(redis, prefix, 0, clock, sleep);
    await unlimited.take('app-1', 1_000_000);
    await unlimited.take('app-1', 1_000_000);
    const limited = createRedisRateLimiter(redis, prefix, 100, clock, sleep);
    await limited.take('app-2', 1_000_000, undefined, 0);
    expect(waits).toEqual([]);
    expect(await redis.exists(`${prefix}:rate:app-1`, `${prefix}:rate:app-2`)).toBe(0);
  });

  test('a clock behind the bucket does not take refilled devices back', async () => {
    const prefix = newPrefix();
    const ahead = fakeTime(false);
    const behind = fakeTime(false);
    behind.time.now = ahead.time.now - 500;
    const waits: number[] = [];
    const sleep: Sleep = async (ms) => {
      waits.push(ms);
    };
    await createRedisRateLimiter(redis, prefix, 100, ahead.clock, sleep).take('app-1', 100);
    await createRedisRateLimiter(otherRedis, prefix, 100, behind.clock, sleep).take('app-1', 10);
    expect(waits).toEqual([100]);
  });

  test('a bucket expires once it would be full again, not before', async () => {
    const prefix = newPrefix();
    const { clock, sleep } = fakeTime(false);
    await createRedisRateLimiter(redis, prefix, 100, clock, sleep).take('app-1', 150);
    // 150 devices short of full at 100 a second: 1.5 s, plus the 5 s margin.
    const ttl = await redis.pttl(`${prefix}:rate:app-1`);
    expect(ttl).toBeGreaterThan(6000);
    expect(ttl).toBeLessThanOrEqual(6500);
  });

  test("the caller's signal reaches the sleep", async () => {
    const prefix = newPrefix();
    const { clock } = fakeTime(false);
    const limiter = createRedisRateLimiter(redis, prefix, 100, clock, async (ms, signal) => {
      expect(signal?.aborted).toBe(true);
      expect(ms).toBe(500);
    });
    const controller = new AbortController();
    controller.abort();
    await limiter.take('app-1', 150, controller.signal);
  });
});
