/**
 * The per-app rate limit of the scaled mode: the same token bucket as `rate-limit.ts`, kept in Redis
 * so that every worker process sending for an app draws on one bucket and the app's rate holds across
 * them. Each take is one Lua script, so concurrent takes from any number of processes queue up exactly
 * as concurrent callers of the in-process limiter do.
 */
import type { Redis } from 'ioredis';
import { redisKey } from '../queue/redis.ts';
import type { RateLimiter, Sleep } from './rate-limit.ts';

/**
 * Refills the bucket from the caller's clock, takes the devices and answers the wait in ms.
 * KEYS[1] the bucket; ARGV: now (ms), perSecond, devices, how long an idle bucket is kept beyond a
 * full refill (ms). Numbers are stored with 17 digits, so the arithmetic is JavaScript's to the bit.
 */
const TAKE_SCRIPT = `
local perSecond = tonumber(ARGV[2])
local devices = tonumber(ARGV[3])
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1])
local at = tonumber(stored[2])
local now = tonumber(ARGV[1])
if tokens == nil or at == nil then
  tokens = perSecond
  at = now
end
-- Processes' clocks differ a little: time never runs backwards for the bucket.
if now < at then now = at end
tokens = math.min(perSecond, tokens + ((now - at) * perSecond) / 1000)
tokens = tokens - devices
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
-- Once full again the bucket is the same as no bucket, so it may go then (and not before).
local keepMs = math.ceil(((perSecond - tokens) * 1000) / perSecond) + tonumber(ARGV[4])
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', keepMs))
if tokens < 0 then return math.ceil((-tokens * 1000) / perSecond) end
return 0
`;

/** Gives devices back, up to the cap, to a bucket that exists. KEYS[1] the bucket; ARGV: perSecond, devices. */
const REFUND_SCRIPT = `
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens == nil then return 0 end
tokens = math.min(tonumber(ARGV[1]), tokens + tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens))
return 1
`;

/** How long a bucket is kept beyond the moment it would be full again (covers clocks that differ). */
const IDLE_BUCKET_MARGIN_MS = 5000;

interface RateLimitCommands {
  pushboardRateTake(
    key: string,
    now: number,
    perSecond: number,
    devices: number,
    marginMs: number,
  ): Promise<number>;
  pushboardRateRefund(key: string, perSecond: number, devices: number): Promise<number>;
}

/**
 * A limiter of `perSecond` devices per second per key, shared through `redis` by every process using
 * the same `prefix`; 0 lets everything through at once. Its buckets are the keys `<prefix>:rate:<key>`.
 * `onRefundError` hears of a refund that did not reach Redis (refunds are fire-and-forget; default:
 * stderr).
 */
export function createRedisRateLimiter(
  redis: Redis,
  prefix: string,
  defaultPerSecond: number,
  clock: () => Date,
  sleep: Sleep,
  onRefundError: (error: unknown) => void = (error) => console.error('rate-limit refund failed:', error),
): RateLimiter {
  // Defining a command again on the same connection only replaces it with the same script.
  redis.defineCommand('pushboardRateTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  redis.defineCommand('pushboardRateRefund', { numberOfKeys: 1, lua: REFUND_SCRIPT });
  const commands = redis as unknown as RateLimitCommands;
  const bucketKey = (key: string) => redisKey(prefix, 'rate', key);
  return {
    async take(key, devices, signal, perSecond = defaultPerSecond) {
      if (perSecond <= 0 || devices <= 0) return;
      const waitMs = await commands.pushboardRateTake(
        bucketKey(key),
        clock().getTime(),
        perSecond,
        devices,
        IDLE_BUCKET_MARGIN_MS,
      );
      // Each caller waits for the debt it finds, its own batch included: concurrent callers queue up.
      if (waitMs > 0) await sleep(waitMs, signal);
    },
    refund(key, devices, perSecond = defaultPerSecond) {
      if (devices <= 0) return;
      // Commands on one connection run in order, so a take made after this refund sees it.
      commands.pushboardRateRefund(bucketKey(key), perSecond, devices).catch(onRefundError);
    },
  };
}
