/**
 * The Pushboard client of one device: registration and receipts, persisted first and delivered at
 * least once. The server counts a device once per task and kind however often a receipt arrives,
 * so re-sending after a crash or a lost answer is harmless: at-least-once here plus the server's
 * idempotency means every receipt is counted exactly once.
 *
 * Retry rules: network errors, timeouts, 408, 429 and 5xx are retried with exponential backoff and
 * jitter (a `Retry-After` is honoured); any other 4xx drops what was sent and reports it, since
 * sending the same bytes again would get the same answer.
 */
import { type QueuedReceipt, ReceiptQueue } from './queue.js';
import { signBody } from './signature.js';
import { memoryStorage, type PushboardStorage } from './storage.js';

/** The receipt kinds a device reports: arrival, shown, tapped, swiped away. */
export type ReceiptKind = 'delivered' | 'impression' | 'open' | 'dismissal';

/** Most receipts one request may carry (the server answers 413 above). */
export const MAX_RECEIPTS_PER_REQUEST = 5000;

/** What `register` sends: the device's current push token and what the console shows about it. */
export interface Registration {
  /** The provider's push token (FCM registration token, APNs device token in hex, Umeng device_token). */
  pushToken: string;
  /** The delivery route, e.g. `umeng`, `huawei`, `xiaomi`, `apns`, `fcm`; the server's default when absent. */
  channel?: string;
  /** IANA time zone; defaults to the runtime's (`Intl.DateTimeFormat().resolvedOptions().timeZone`). */
  timeZone?: string;
  /** BCP 47 locale; defaults to the runtime's. */
  locale?: string;
  /** The app's version string, e.g. `3.2.0`. */
  appVersion?: string;
}

/** A failure the SDK reports through `onError`: what went wrong and whether it will be retried. */
export class PushboardError extends Error {
  /** The server's error code (`RECEIPT_SIGNATURE_INVALID`, `VALIDATION_FAILED`…) or the SDK's own (`NETWORK_ERROR`, `HTTP_ERROR`, `RECEIPTS_REJECTED`, `QUEUE_FULL`, `STORAGE_ERROR`). */
  readonly code: string;
  /** HTTP status of the answer, or null when none came. */
  readonly status: number | null;
  /** The server's `details`, or the per-receipt errors for `RECEIPTS_REJECTED`. */
  readonly details: unknown;
  /** Whether what failed stays queued and will be sent again. */
  readonly willRetry: boolean;

  constructor(
    code: string,
    message: string,
    options: { status?: number | null; details?: unknown; willRetry?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PushboardError';
    this.code = code;
    this.status = options.status ?? null;
    this.details = options.details;
    this.willRetry = options.willRetry ?? false;
  }
}

/** One receipt the server refused in a 200 answer, with the receipt itself. */
export interface RejectedReceipt {
  /** The server's reason: `UNKNOWN_TASK`, `DEVICE_NOT_IN_SEND`, `KIND_NOT_SUPPORTED`… */
  code: string;
  /** The receipt that was refused (it is not sent again). */
  receipt: QueuedReceipt;
}

/** What a `flush` did. */
export interface FlushResult {
  /** Whether a pending registration reached the server in this flush. */
  registered: boolean;
  /** Receipts the server acknowledged (accepted, duplicate, late or rejected per item). */
  sent: number;
  /** Receipts dropped after a non-retryable answer (e.g. 401). */
  dropped: number;
  /** Receipts still queued. */
  pending: number;
  /** When the next attempt is due (epoch ms) after a retryable failure, else null. */
  retryAt: number | null;
}

/** The server's answer to a batch of receipts. */
export interface ReceiptAnswer {
  /** Receipts stored now (each changed a device result). */
  accepted: number;
  /** Receipts the server already had: replays after a lost answer land here. */
  duplicate: number;
  /** Receipts refused; `errors` says which and why. */
  rejected: number;
  /** Receipts after the task's statistics window, counted on the task only. */
  late: number;
  /** The refused receipts by position in the request, with the reason code. */
  errors: { index: number; code: string }[];
}

/** Options of a `Pushboard` client. */
export interface PushboardOptions {
  /** Pushboard's public address, e.g. `https://push.example.com` (no trailing `/api/v1`). */
  baseUrl: string;
  /** The app's SDK key (shown when the app is created). */
  sdkKey: string;
  /** The app's SDK secret (shown once when the app is created); signs every request. */
  sdkSecret: string;
  /** This device's ID as the customer knows it (OAID, IDFV, own ID): audiences hold these. */
  deviceId: string;
  /** Where the queue and a pending registration are persisted; in memory when absent. */
  storage?: PushboardStorage;
  /** How often queued receipts are sent (default 5,000 ms). */
  flushIntervalMs?: number;
  /** Queue length that triggers a send at once (default 500). */
  flushThreshold?: number;
  /** Most receipts kept; beyond it new receipts are refused and reported as `QUEUE_FULL` (default 10,000). */
  maxQueueSize?: number;
  /** Receipts per request (default and maximum 5,000). */
  batchSize?: number;
  /** First retry delay; it doubles per failure, with jitter (default 1,000 ms). */
  retryBaseMs?: number;
  /** Longest retry delay (default 300,000 ms = 5 min). */
  retryMaxMs?: number;
  /** Time a request may take before it counts as a network error (default 30,000 ms). */
  requestTimeoutMs?: number;
  /** The fetch to use (default `globalThis.fetch`), e.g. to add a proxy or for tests. */
  fetch?: typeof globalThis.fetch;
  /** Called for every failure; the SDK itself never throws them at the app. */
  onError?: (error: PushboardError) => void;
  /** Called when a retry is scheduled, with its delay (for logs and tests). */
  onRetry?: (info: { attempt: number; delayMs: number; error: PushboardError }) => void;
  /** Called with each 200 answer to a receipt batch (for logs and tests). */
  onReceiptAnswer?: (answer: ReceiptAnswer, receipts: readonly QueuedReceipt[]) => void;
}

type Attempt =
  | { ok: true; status: number; json: unknown }
  | { ok: false; error: PushboardError; retryAfterMs: number | null };

const DEFAULTS = {
  flushIntervalMs: 5_000,
  flushThreshold: 500,
  maxQueueSize: 10_000,
  retryBaseMs: 1_000,
  retryMaxMs: 300_000,
  requestTimeoutMs: 30_000,
};

/**
 * The Pushboard client of one app on one device: `register` the push token, `track` receipts; both
 * are persisted before they are sent and retried until the server has them.
 */
export class Pushboard {
  private readonly options: Required<Pick<PushboardOptions, keyof typeof DEFAULTS>> & PushboardOptions;
  private readonly storage: PushboardStorage;
  private readonly prefix: string;
  private readonly queue: ReceiptQueue;
  private readonly baseUrl: string;
  private readonly batchSize: number;
  /** Serialises storage changes: the queue and the registration key have one writer at a time. */
  private lock: Promise<unknown> = Promise.resolve();
  /** The flush running now, if any; a second caller waits for it and then runs its own. */
  private flushing: Promise<FlushResult> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  /** Failures in a row, for the backoff; 0 after a success. */
  private failures = 0;
  /** No request before this time (epoch ms): the backoff or the server's `Retry-After`. */
  private notBefore = 0;
  private closed = false;

  constructor(options: PushboardOptions) {
    for (const name of ['baseUrl', 'sdkKey', 'sdkSecret', 'deviceId'] as const) {
      if (typeof options[name] !== 'string' || options[name].length === 0) {
        throw new TypeError(`Pushboard: option ${name} is required`);
      }
    }
    this.options = { ...DEFAULTS, ...stripUndefined(options) };
    this.storage = options.storage ?? memoryStorage();
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.batchSize = Math.max(
      1,
      Math.min(MAX_RECEIPTS_PER_REQUEST, options.batchSize ?? MAX_RECEIPTS_PER_REQUEST),
    );
    this.prefix = `pushboard:${options.sdkKey}:${options.deviceId}`;
    this.queue = new ReceiptQueue(this.storage, this.prefix);
    // Whatever an earlier run left queued (receipts or a registration) goes out soon after start.
    void this.withLock(async () => {
      await this.queue.load();
      if (this.queue.size > 0 || (await this.storage.getItem(this.registrationKey())) !== null) {
        this.schedule(0);
      }
    }).catch((error: unknown) => this.report(storageError(error)));
  }

  private registrationKey(): string {
    return `${this.prefix}:registration`;
  }

  /**
   * Registers this device's push token (and time zone, locale, app version) with Pushboard. The
   * registration is persisted first and sent at once; if that fails it is retried like receipts,
   * also after a restart over the same storage. Only the latest registration is kept.
   */
  async register(registration: Registration): Promise<FlushResult> {
    const body = {
      deviceId: this.options.deviceId,
      pushToken: registration.pushToken,
      ...(registration.channel !== undefined && { channel: registration.channel }),
      timeZone: registration.timeZone ?? runtimeTimeZone(),
      locale: registration.locale ?? runtimeLocale(),
      ...(registration.appVersion !== undefined && { appVersion: registration.appVersion }),
    };
    const clean = stripUndefined(body);
    await this.withLock(() => this.storage.setItem(this.registrationKey(), JSON.stringify(clean)));
    return this.flush();
  }

  /**
   * Records that `kind` happened to the push of `taskId` on this device, now. Resolves once the
   * receipt is persisted (true), or false when it was refused (queue full, storage failing; reported
   * through `onError`). Sending happens in the background: every `flushIntervalMs`, at
   * `flushThreshold` queued receipts, and on `flush()`.
   */
  async track(taskId: string, kind: ReceiptKind): Promise<boolean> {
    if (typeof taskId !== 'string' || taskId.length === 0) {
      this.report(new PushboardError('INVALID_RECEIPT', 'track: taskId must be a non-empty string'));
      return false;
    }
    const receipt: QueuedReceipt = {
      taskId,
      deviceId: this.options.deviceId,
      kind,
      at: new Date().toISOString(),
    };
    try {
      const size = await this.withLock(async () => {
        await this.queue.load();
        if (this.queue.size >= this.options.maxQueueSize) return -1;
        await this.queue.append(receipt);
        return this.queue.size;
      });
      if (size < 0) {
        this.report(
          new PushboardError(
            'QUEUE_FULL',
            `The receipt queue holds ${this.options.maxQueueSize} receipts: ${kind} of ${taskId} dropped`,
          ),
        );
        return false;
      }
      if (size >= this.options.flushThreshold) this.schedule(0);
      else this.schedule(this.options.flushIntervalMs);
      return true;
    } catch (error) {
      this.report(storageError(error));
      return false;
    }
  }

  /**
   * Sends the pending registration and every queued receipt now, in batches of at most 5,000.
   * Resolves when all were sent, or when a failure stopped it (then a retry is scheduled and
   * `retryAt` says when). While the server asked to wait (429/503 `Retry-After`) or a backoff runs,
   * it sends nothing and leaves it to the scheduled retry.
   */
  async flush(): Promise<FlushResult> {
    // One flush at a time; a caller arriving meanwhile gets a full flush of its own after it, so
    // that what it queued before calling is covered.
    while (this.flushing) await this.flushing.catch(() => undefined);
    const run = this.runFlush();
    this.flushing = run;
    try {
      return await run;
    } finally {
      if (this.flushing === run) this.flushing = null;
    }
  }

  /** Stops the timers and waits for a flush in progress; queued items stay in storage for the next instance. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearTimer();
    await this.flushing?.catch(() => undefined);
    await this.lock.catch(() => undefined);
    this.clearTimer();
  }

  /** Same as `close()`. */
  stop(): Promise<void> {
    return this.close();
  }

  /** How many receipts wait to be sent. */
  async pending(): Promise<number> {
    return this.withLock(async () => {
      await this.queue.load();
      return this.queue.size;
    });
  }

  private async runFlush(): Promise<FlushResult> {
    const result: FlushResult = { registered: false, sent: 0, dropped: 0, pending: 0, retryAt: null };
    if (this.closed) {
      result.pending = await this.pending().catch(() => 0);
      return result;
    }
    if (Date.now() < this.notBefore) {
      result.retryAt = this.notBefore;
      result.pending = await this.pending().catch(() => 0);
      this.schedule(this.notBefore - Date.now());
      return result;
    }
    try {
      const registration = await this.storage.getItem(this.registrationKey());
      if (registration !== null) {
        const attempt = await this.post('/api/v1/sdk/devices', registration);
        if (!attempt.ok && attempt.error.willRetry) return await this.failed(result, attempt);
        // Sent (or refused for good): forget it, unless a newer registration replaced it meanwhile.
        await this.withLock(async () => {
          if ((await this.storage.getItem(this.registrationKey())) === registration) {
            await this.storage.removeItem(this.registrationKey());
          }
        });
        if (attempt.ok) result.registered = true;
        else this.report(attempt.error);
      }
      for (;;) {
        const batch = await this.withLock(() => this.queue.peek(this.batchSize));
        if (batch.length === 0) break;
        const body = JSON.stringify({ receipts: batch });
        const attempt = await this.post('/api/v1/receipts/sdk', body);
        if (!attempt.ok && attempt.error.willRetry) return await this.failed(result, attempt);
        await this.withLock(() => this.queue.acknowledge(batch.length));
        if (attempt.ok) {
          result.sent += batch.length;
          this.answered(attempt.json, batch);
        } else {
          result.dropped += batch.length;
          this.report(attempt.error);
        }
      }
      this.failures = 0;
      this.notBefore = 0;
      result.pending = await this.pending();
      return result;
    } catch (error) {
      // Storage failed: nothing was lost (nothing is removed before it is acknowledged); try later.
      const failure = storageError(error, true);
      return this.failed(result, { ok: false, error: failure, retryAfterMs: null });
    }
  }

  /** Reports the per-receipt refusals of a 200 answer; they are not retried (same answer again). */
  private answered(json: unknown, batch: QueuedReceipt[]): void {
    const answer = json as Partial<ReceiptAnswer> | null;
    if (answer && typeof answer === 'object') {
      const full: ReceiptAnswer = {
        accepted: answer.accepted ?? 0,
        duplicate: answer.duplicate ?? 0,
        rejected: answer.rejected ?? 0,
        late: answer.late ?? 0,
        errors: Array.isArray(answer.errors) ? answer.errors : [],
      };
      this.options.onReceiptAnswer?.(full, batch);
      if (full.errors.length > 0) {
        const rejected: RejectedReceipt[] = full.errors.flatMap((e) => {
          const receipt = batch[e.index];
          return receipt ? [{ code: e.code, receipt }] : [];
        });
        const codes = [...new Set(rejected.map((r) => r.code))].join(', ');
        this.report(
          new PushboardError(
            'RECEIPTS_REJECTED',
            `The server refused ${rejected.length} of ${batch.length} receipts (${codes})`,
            {
              status: 200,
              details: rejected,
            },
          ),
        );
      }
    }
  }

  /** Schedules the retry of a failed flush and says when it is due. */
  private async failed(result: FlushResult, attempt: Extract<Attempt, { ok: false }>): Promise<FlushResult> {
    this.failures += 1;
    const exponential = Math.min(
      this.options.retryMaxMs,
      this.options.retryBaseMs * 2 ** (this.failures - 1),
    );
    // Jitter spreads the devices that failed together (an outage) over the retry window.
    let delayMs = Math.round(exponential / 2 + Math.random() * (exponential / 2));
    // The server's own wait wins, plus a little jitter, never earlier than it asked.
    if (attempt.retryAfterMs !== null)
      delayMs = attempt.retryAfterMs + Math.round(Math.random() * Math.min(1000, attempt.retryAfterMs * 0.1));
    this.notBefore = Date.now() + delayMs;
    this.report(attempt.error);
    this.options.onRetry?.({ attempt: this.failures, delayMs, error: attempt.error });
    this.schedule(delayMs);
    result.retryAt = this.notBefore;
    result.pending = await this.pending().catch(() => 0);
    return result;
  }

  /** Signs and posts `body`; classifies the outcome as success, retryable or final failure. */
  private async post(path: string, body: string): Promise<Attempt> {
    const fetchImpl = this.options.fetch ?? globalThis.fetch;
    const signature = await signBody(body, this.options.sdkSecret);
    const controller = typeof AbortController === 'function' ? new AbortController() : null;
    const timeout = setTimeout(() => controller?.abort(), this.options.requestTimeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(this.baseUrl + path, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Pushboard-Key': this.options.sdkKey,
          'X-Pushboard-Signature': signature,
        },
        body,
        ...(controller && { signal: controller.signal }),
      });
      text = await response.text();
    } catch (error) {
      return {
        ok: false,
        error: new PushboardError(
          'NETWORK_ERROR',
          `POST ${path} failed: ${(error as Error)?.message ?? error}`,
          {
            willRetry: true,
            cause: error,
          },
        ),
        retryAfterMs: null,
      };
    } finally {
      clearTimeout(timeout);
    }
    const json = parseJson(text);
    if (response.ok) return { ok: true, status: response.status, json };
    const envelope = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)
      ?.error;
    const code = typeof envelope?.code === 'string' ? envelope.code : 'HTTP_ERROR';
    const message = typeof envelope?.message === 'string' ? envelope.message : `HTTP ${response.status}`;
    const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
    return {
      ok: false,
      error: new PushboardError(code, `POST ${path}: ${response.status} ${message}`, {
        status: response.status,
        details: envelope?.details,
        willRetry: retryable,
      }),
      retryAfterMs: retryable ? retryAfterMs(response.headers.get('retry-after')) : null,
    };
  }

  /** Runs `task` after every storage change queued before it. */
  private withLock<T>(task: () => Promise<T>): Promise<T> {
    const run = this.lock.then(task, task);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Makes sure a flush runs within `delayMs` (an earlier one already planned stays). */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    // Never before the backoff or the server's Retry-After.
    const at = Math.max(Date.now() + Math.max(0, delayMs), this.notBefore);
    if (this.timer !== null && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.flush()
        .then((result) => {
          // Receipts tracked during the flush wait for the next interval.
          if (result.pending > 0 && result.retryAt === null) this.schedule(this.options.flushIntervalMs);
        })
        .catch((error: unknown) => this.report(storageError(error, true)));
    }, at - Date.now());
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private report(error: PushboardError): void {
    try {
      this.options.onError?.(error);
    } catch {
      // A failing error handler must not break delivery.
    }
  }
}

/** The delay a `Retry-After` header asks for (seconds or an HTTP date), or null without one. */
export function retryAfterMs(header: string | null): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

function storageError(error: unknown, willRetry = false): PushboardError {
  if (error instanceof PushboardError) return error;
  return new PushboardError('STORAGE_ERROR', `Storage failed: ${(error as Error)?.message ?? error}`, {
    willRetry,
    cause: error,
  });
}

function parseJson(text: string): unknown {
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The runtime's IANA time zone, or undefined where `Intl` cannot tell (old React Native engines). */
function runtimeTimeZone(): string | undefined {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
  } catch {
    return undefined;
  }
}

/** The runtime's locale (the browser's language first), or undefined where unknown. */
function runtimeLocale(): string | undefined {
  const language = (globalThis as { navigator?: { language?: unknown } }).navigator?.language;
  if (typeof language === 'string' && language.length > 0) return language;
  try {
    return Intl.DateTimeFormat().resolvedOptions().locale || undefined;
  } catch {
    return undefined;
  }
}
