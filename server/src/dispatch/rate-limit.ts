/**
 * Per-app rate limit of hand-overs to the provider: a token bucket per app, refilled at `perSecond`
 * devices per second and holding at most one second's worth, so a send may burst to one second of
 * devices and then keeps the average rate. A batch larger than the bucket is let through on credit and
 * the next one waits for the debt: the average holds whatever the batch size.
 */

/** Waits `ms` milliseconds, or less when `signal` aborts (it never rejects). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Takes permission to hand devices over, per key (an app ID). */
export interface RateLimiter {
  /**
   * Resolves once `devices` may be handed over for `key`, or early when `signal` aborts. `perSecond`
   * overrides the limiter's rate for this key (an app's own limit).
   */
  take(key: string, devices: number, signal?: AbortSignal, perSecond?: number): Promise<void>;
  /** Gives back permission taken and not used (a batch turned out smaller than asked for). */
  refund(key: string, devices: number, perSecond?: number): void;
}

interface Bucket {
  /** Devices that may go now; negative when a batch took more than there was (credit). */
  tokens: number;
  /** When `tokens` was last brought up to date, in milliseconds since the epoch. */
  at: number;
}

/** A limiter of `perSecond` devices per second per key; 0 lets everything through at once. */
export function createRateLimiter(defaultPerSecond: number, clock: () => Date, sleep: Sleep): RateLimiter {
  const buckets = new Map<string, Bucket>();
  return {
    async take(key, devices, signal, perSecond = defaultPerSecond) {
      if (perSecond <= 0 || devices <= 0) return;
      const now = clock().getTime();
      const bucket = buckets.get(key) ?? { tokens: perSecond, at: now };
      bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
      bucket.at = now;
      bucket.tokens -= devices;
      buckets.set(key, bucket);
      // Each caller waits for the debt it finds, its own batch included: concurrent callers queue up.
      if (bucket.tokens < 0) await sleep(Math.ceil((-bucket.tokens * 1000) / perSecond), signal);
    },
    refund(key, devices, perSecond = defaultPerSecond) {
      const bucket = buckets.get(key);
      if (bucket && devices > 0) bucket.tokens = Math.min(perSecond, bucket.tokens + devices);
    },
  };
}

/** The real `Sleep`: a timer that ends early, without error, when the signal aborts. */
export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
