/**
 * Sending a batch one request per device, as FCM and APNs want it: many requests in flight at once,
 * each device's final answer reported as soon as it is known (the dispatcher journals it), answers
 * that ask for a retry (quota, provider unavailable) retried after `Retry-After` or a backoff, and the
 * whole app paused while the provider says it is over its quota. The provider modules supply the
 * request of one device; this module owns the concurrency and the retries, so both behave alike.
 */
import type { BatchDevice, DeviceSendOutcome } from './provider.ts';
import { ProviderError } from './provider.ts';

/** What one device's request came to. */
export type DeviceAnswer =
  /** Final: the device was accepted or refused. */
  | { outcome: DeviceSendOutcome }
  /**
   * Not final: ask again later. `afterMs` is the provider's `Retry-After`; `pauseAll` holds every
   * request of the app for that long (a project-wide quota), not only this device's.
   */
  | { retry: { code: string; message: string; afterMs?: number; pauseAll?: boolean } };

/**
 * A pause shared by every send of one app: while it holds, no request of the app starts. Set when the
 * provider answers "over quota, come back in N seconds", so that 100 requests in flight do not each
 * keep knocking.
 */
export interface PauseGate {
  /** Resolves once no pause holds (at once when none does), or once `signal` aborts. */
  wait(signal?: AbortSignal): Promise<void>;
  /** Whether a pause holds now. */
  paused(): boolean;
  /** Holds every request for `ms` from now (a longer pause already set stays). */
  pause(ms: number): void;
}

/** A pause gate on `clock`, sleeping with `sleep`. */
export function createPauseGate(
  clock: () => number,
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>,
): PauseGate {
  let until = 0;
  return {
    async wait(signal) {
      for (let left = until - clock(); left > 0 && !signal?.aborted; left = until - clock()) {
        await sleep(left, signal);
      }
    },
    paused() {
      return until > clock();
    },
    pause(ms) {
      until = Math.max(until, clock() + ms);
    },
  };
}

/**
 * The requests one app may have in flight, shared by all its batches at once (the dispatcher hands
 * several batches of a task over at the same time): the app's `concurrency` holds across them.
 */
export interface RequestSlots {
  /** Resolves once a request may start; the slot is the caller's until `release`. */
  take(): Promise<void>;
  release(): void;
  /**
   * Changes the limit (the app's `concurrency` was edited): every batch of the app keeps sharing these
   * slots; above a lowered limit, requests in flight finish and no new one starts until below it.
   */
  setLimit(limit: number): void;
}

/** Slots for `limit` requests at once. */
export function createRequestSlots(limit: number): RequestSlots {
  let used = 0;
  const waiting: (() => void)[] = [];
  return {
    async take() {
      if (used < limit) {
        used++;
        return;
      }
      // The releasing request hands its slot straight over, so `used` stays as it is.
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      // Above a lowered limit, a finished request gives its slot back instead of handing it over.
      const next = used <= limit ? waiting.shift() : undefined;
      if (next) next();
      else used--;
    },
    setLimit(newLimit) {
      limit = newLimit;
      // A raised limit lets waiting requests start at once.
      while (used < limit && waiting.length > 0) {
        used++;
        waiting.shift()!();
      }
    },
  };
}

/** How `sendEachDevice` paces and retries. */
export interface EachDeviceOptions {
  /** Requests in flight at once. */
  concurrency: number;
  /** Requests per device; a device still asked to retry after that many stops the batch (retryable). */
  maxAttempts: number;
  /** Wait before the first retry when the provider names none; doubles per attempt. */
  retryBaseMs: number;
  /** Longest backoff between two requests of one device when the provider names no wait. */
  maxRetryMs: number;
  /**
   * Longest `Retry-After` honoured (default `MAX_RETRY_AFTER_MS`): a provider asking for a longer
   * wait stops the batch as retryable instead, and the dispatcher retries it later.
   */
  maxRetryAfterMs?: number;
  /** Waits; the wait ends early (resolving) when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Stops the batch (the server is shutting down, or its journal cannot be written): no new request
   * starts, waits end, the requests in flight are awaited, then `sendEachDevice` throws
   * `SendAbortedError`. The devices not answered stay for the resumed batch.
   */
  signal?: AbortSignal;
  /** The app's pause gate (see `PauseGate`). */
  gate: PauseGate;
  /** The app's request slots, when its other batches in flight share its concurrency (`RequestSlots`). */
  slots?: RequestSlots;
  /** Called with each final outcome as soon as it is known. */
  onAnswered?: (outcome: DeviceSendOutcome) => void;
}

/** Waits `ms` milliseconds, or less when `signal` aborts first (the real `sleep` of FCM and APNs). */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** How long a provider's `Retry-After` may ask to wait before the batch stops instead (15 minutes). */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

/** Thrown by `sendEachDevice` when its `signal` stopped the batch. */
export class SendAbortedError extends Error {
  constructor() {
    super('the batch was stopped before every device was answered');
    this.name = 'SendAbortedError';
  }
}

/**
 * Sends `devices` one request each through `sendOne`, at most `concurrency` at once, and answers every
 * final outcome (in the order they came). A device asked to retry is tried again after the wait;
 * after `maxAttempts` its last answer becomes a retryable `ProviderError`. A `ProviderError` thrown by
 * `sendOne` (bad credentials…) or that last retry stops the batch: no new request starts, the ones in
 * flight are awaited (their outcomes are still reported through `onAnswered`), then the error is thrown.
 * The dispatcher retries or resumes the batch with only the devices not answered yet.
 */
export async function sendEachDevice(
  devices: readonly BatchDevice[],
  options: EachDeviceOptions,
  sendOne: (device: BatchDevice, attempt: number) => Promise<DeviceAnswer>,
): Promise<DeviceSendOutcome[]> {
  const outcomes: DeviceSendOutcome[] = [];
  const { signal } = options;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS;
  let next = 0;
  let stop: { error: unknown } | undefined;
  const stopped = () => {
    if (!stop && signal?.aborted) stop = { error: new SendAbortedError() };
    return stop !== undefined;
  };

  /** Takes a request slot while no app-wide pause holds; false when the batch stopped meanwhile. */
  async function start(): Promise<boolean> {
    for (;;) {
      await options.gate.wait(signal);
      if (stopped()) return false;
      await options.slots?.take();
      // A pause set while this request waited for its slot (another request's quota answer) holds it too.
      if (!options.gate.paused() && !stopped()) return true;
      options.slots?.release();
      if (stop) return false;
    }
  }

  async function sendDevice(device: BatchDevice): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (!(await start())) return;
      let answer: DeviceAnswer;
      try {
        answer = await sendOne(device, attempt);
      } finally {
        options.slots?.release();
      }
      if ('outcome' in answer) {
        outcomes.push(answer.outcome);
        options.onAnswered?.(answer.outcome);
        return;
      }
      const { retry } = answer;
      if (attempt >= options.maxAttempts) {
        throw new ProviderError(
          retry.code,
          `${retry.message} — still refused after ${attempt} requests for one device`,
          true,
        );
      }
      if (retry.afterMs !== undefined && retry.afterMs > maxRetryAfterMs) {
        throw new ProviderError(
          retry.code,
          `${retry.message} — the provider asks to wait ${Math.ceil(retry.afterMs / 1000)} s before the next request`,
          true,
        );
      }
      // The provider's own wait is honoured whole; without one, the backoff doubles up to its cap.
      const backoff = Math.min(options.maxRetryMs, options.retryBaseMs * 2 ** (attempt - 1));
      const wait = Math.max(retry.afterMs ?? 0, backoff);
      if (retry.pauseAll) options.gate.pause(wait);
      await options.sleep(wait, signal);
      if (stopped()) return;
    }
  }

  async function worker(): Promise<void> {
    while (!stopped() && next < devices.length) {
      const device = devices[next++]!;
      try {
        await sendDevice(device);
      } catch (error) {
        stop ??= { error };
      }
    }
  }

  const workers = Math.max(1, Math.min(options.concurrency, devices.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (stop) throw stop.error;
  return outcomes;
}
