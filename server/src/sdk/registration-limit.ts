/**
 * The per-app limit of SDK device registrations: a token bucket per app, refilled at the configured
 * rate and holding ten seconds' worth, so an app whose whole fleet starts at once (a release, a
 * campaign) is spread over time instead of flooding the store. A refused registration is told when a
 * token will be there; the SDK keeps it and retries then. Test pushes use the same bucket per
 * workspace, holding a minute's worth (`tasks/test-push-routes.ts`).
 */

/** Seconds of registrations an app's bucket holds: the burst it may make at once. */
const BURST_SECONDS = 10;

/** Buckets kept before idle ones are dropped: bounds the memory many apps could take. */
const MAX_BUCKETS = 10_000;

/** Takes one registration's permission for an app. */
export interface RegistrationLimiter {
  /** Takes a token for `appId`: answers 0 when the registration may go, else the seconds to wait. */
  take(appId: string): number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in milliseconds since the epoch. */
  at: number;
}

/**
 * A limiter of `perSecond` registrations per second per app (0: no limit), on `clock`, whose bucket
 * holds `burstSeconds` of them (test pushes reuse it per workspace: a minute's worth).
 */
export function createRegistrationLimiter(
  perSecond: number,
  clock: () => Date,
  burstSeconds = BURST_SECONDS,
): RegistrationLimiter {
  const capacity = perSecond * burstSeconds;
  const buckets = new Map<string, Bucket>();
  return {
    take(appId) {
      if (perSecond <= 0) return 0;
      const now = clock().getTime();
      const known = buckets.get(appId);
      const bucket = known ?? { tokens: capacity, at: now };
      bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
      bucket.at = now;
      if (!known) {
        // A full bucket is the same as none: when there are too many, forget the oldest (a Map
        // iterates in insertion order), which at worst gives an app a fresh burst.
        if (buckets.size >= MAX_BUCKETS) buckets.delete(buckets.keys().next().value as string);
        buckets.set(appId, bucket);
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
    },
  };
}
