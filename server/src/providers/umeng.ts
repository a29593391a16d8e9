/**
 * The `umeng` provider: Umeng U-Push's server API (wire facts in UMENG.md) behind the `Provider`
 * interface. A batch of at most 500 tokens sent now is a `listcast`; a larger or scheduled batch is
 * uploaded as a token file and sent as a `filecast` whose `policy.out_biz_no` is the batch ID, so
 * Umeng itself drops a repeat of it. Guarantees and assumptions are summed up in README.md.
 */
import { createHash } from 'node:crypto';
import {
  buildPushPayload,
  DEFAULT_TTL_SECONDS,
  MAX_TTL_SECONDS,
  PAYLOAD_LIMIT_BYTES,
  type Platform,
  payloadBytes,
  TASK_ID_KEY,
} from '../domain/task-content.ts';
import { endpointAllowed } from './endpoints.ts';
import {
  type DeviceSendOutcome,
  type ParsedReceipt,
  type ParsedReceipts,
  type ProviderApp,
  ProviderError,
  type ReceiptPostingProvider,
  type SendBatchRequest,
  type SendBatchResult,
} from './provider.ts';
import { remoteCode, remoteMessage } from './remote-text.ts';
import { UMENG_BASE_URL, type UmengConfig } from './umeng-config.ts';

/** Most device tokens one `listcast` may carry; larger batches go through upload + `filecast`. */
export const LISTCAST_MAX_TOKENS = 500;

/** Longest `receipt_url` Umeng accepts, in UTF-8 bytes. */
export const RECEIPT_URL_MAX_BYTES = 256;

/** How long one Umeng call may take, in milliseconds, before it counts as timed out. */
export const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * Waits before each repeat of a send Umeng refused with 2026 ("more than 10 sends in a minute"), in
 * milliseconds: together a minute, since Umeng counts per minute and a retry after seconds would be
 * refused again. Only then is the batch handed back to the dispatcher's own retries.
 */
export const RATE_LIMIT_WAITS_MS: readonly number[] = [20_000, 40_000];

/** Things a test (or a caller with special needs) can swap; each defaults to the real one. */
export interface UmengProviderOptions {
  /** The HTTP client (defaults to Node's global `fetch`). */
  fetch?: typeof fetch;
  /** The current time, for `timestamp`, schedules and receipts without a time. */
  clock?: () => Date;
  /** Time limit of one call to Umeng, in milliseconds. */
  timeoutMs?: number;
  /**
   * `Config.providerUrlAllowlist`: prefixes an app's `baseUrl` may start with besides Umeng's own
   * address (default none). Checked before every call, so that a URL stored before the allowlist
   * changed is not used.
   */
  urlAllowlist?: readonly string[];
  /** How the adapter waits between repeats of a send refused with 2026 (tests move a clock instead). */
  sleep?: (ms: number) => Promise<void>;
  /** The waits before each repeat after 2026, in milliseconds (default `RATE_LIMIT_WAITS_MS`). */
  rateLimitWaitsMs?: readonly number[];
}

const SEND_PATH = '/api/send';
const UPLOAD_PATH = '/upload';
const CANCEL_PATH = '/api/cancel';
const STATUS_PATH = '/api/status';

// `receipt_type` 3 asks for both arrival (1) and click (2) receipts.
const RECEIPT_TYPE_BOTH = 3;

// Umeng's `category`: 0 marketing, 1 service ("helps Xiaomi and vivo choose the channel").
const CATEGORY_CODE = { marketing: 0, service: 1 } as const;

// Assumption: Umeng reads `start_time` as China Standard Time (UTC+8, no daylight saving time), the
// time of its console and of every client library we compared; UMENG.md does not name a zone.
const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;

// A token joined into a comma (listcast) or newline (upload) separated list must not contain either,
// or one bad token would silently become two wrong ones.
const SENDABLE_TOKEN = /^[^\s,]+$/;

/** The Umeng status of a task-type send (`/api/status`), in words for error messages. */
const TASK_STATUS: Record<number, string> = {
  0: 'queued',
  1: 'being sent',
  2: 'already sent',
  3: 'failed',
  4: 'cancelled',
  5: 'expired',
  6: 'empty (its filter matched no device)',
  7: 'scheduled, not started',
};
const STATUS_CANCELLED = 4;

/** The codes Umeng itself asks to retry (UMENG.md); network errors, timeouts and HTTP 5xx are added below. */
const RETRYABLE_CODES = new Set(['2020', '2026', '4000', '4001']);

/**
 * Codes about device tokens rather than the request: the batch is answered device by device (the
 * named tokens fail, see `readSendAnswer`) instead of failing as a whole.
 */
const DEVICE_CODES = new Set(['4014', '4020', '4025', '4026']);

/** What each known Umeng code means, for operators reading a failed batch or task. */
const ERROR_MESSAGES: Record<string, string> = {
  '2000': 'the app is disabled on Umeng — check its status in the Umeng console',
  '2004':
    "Umeng refused this server's IP address: it is not in the app's server IP whitelist — add the public IP " +
    'this Pushboard sends from to the whitelist in the Umeng console (App → Settings → server IP whitelist), ' +
    'or turn the whitelist off, then send the task again',
  '2021': "Umeng says the appKey does not exist — check the app's Umeng appKey",
  '2046': 'Umeng refused the scheduled send time: it is more than 7 days after the send was created',
  '2001': 'Umeng refused the scheduled send time (start_time) or the expiry time of the push',
  '2002': 'Umeng refused the scheduled send time (start_time) or the expiry time of the push',
  '2003': 'Umeng refused the scheduled send time (start_time) or the expiry time of the push',
  '2007': "bad appKey or app master secret — check the app's Umeng credentials",
  '2008': 'Umeng could not read the request JSON',
  '2012': "the app's daily broadcast limit on Umeng is reached",
  '2013': 'the Umeng task is still queued',
  '2014': 'Umeng could not cancel the task',
  '2020': 'Umeng is upgrading its service — the batch will be retried',
  '2022': 'the push payload is too long for Umeng (Android at most 1840 bytes, iOS at most 2012)',
  '2026':
    'more than 10 sends in a minute for this Umeng app — the batch is retried after waiting at least a minute',
  '2027': "Umeng rejected the request signature — check the app's master secret",
  '2028': "Umeng says the request timestamp has expired — check this server's clock",
  '2040': 'the expiry time is more than 7 days away',
  '4000': 'Umeng system error — the batch will be retried',
  '4001': 'Umeng is busy — the batch will be retried',
  '4021':
    'Umeng timed out handling the send and cannot say whether it went out; it is not repeated, so no device receives it twice',
  '5002':
    'Umeng refused the iOS payload because it uses a key Umeng reserves (d or p) — rename that parameter of the task',
  '4014': "device token does not belong to this Umeng app (appKey and device token don't match)",
  '4020': 'invalid device token (Umeng Android tokens are 44 characters)',
  '4025': 'every device token of the batch was rejected by Umeng',
  '4026': 'some device tokens of the batch were rejected by Umeng',
};

/** Why a device failed, in a marketer's words, for the codes that name device tokens. */
const DEVICE_REASONS: Record<string, string> = {
  '4014': 'device token belongs to another Umeng app',
  '4020': 'invalid device token',
  '4025': 'device token rejected by Umeng',
  '4026': 'device token rejected by Umeng',
};

/**
 * The texts of one request that an answer must not repeat: every string of its fields (the receipt
 * URL with its secret, the app key, the payload…), the query values of URLs (the receipt secret
 * alone), and `extra` (the signature, the master secret); longest first, so that a longer text is
 * replaced before a part of it. The token lists (`TOKEN_LIST_FIELDS`) are left out: a provider names
 * refused tokens by design, and thousands of them would make every message costly to clean.
 */
function requestTexts(fields: Json, extra: string[]): string[] {
  const texts = new Set<string>(extra);
  const visit = (value: unknown) => {
    if (typeof value === 'string') {
      texts.add(value);
      if (/^https?:\/\//.test(value)) {
        try {
          for (const v of new URL(value).searchParams.values()) texts.add(v);
        } catch {
          // not a URL after all: the whole text is already listed
        }
      }
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, inner] of Object.entries(value)) if (!TOKEN_LIST_FIELDS.has(key)) visit(inner);
    }
  };
  visit(fields);
  return [...texts].filter((t) => t.length >= 6).sort((a, b) => b.length - a.length);
}

/** Request fields that hold the batch's device tokens (listcast, upload). */
const TOKEN_LIST_FIELDS = new Set(['device_tokens', 'content']);

function errorMessage(code: string, umengMessage: string): string {
  const known =
    ERROR_MESSAGES[code] ??
    (/^10(0\d|1\d|20)$/.test(code) ? 'Umeng refused a field of the request' : undefined) ??
    (/^500\d$/.test(code)
      ? 'APNs refused the push through Umeng (bad device token, certificate problem or reserved payload key)'
      : undefined);
  const detail = umengMessage ? `Umeng ${code}: ${umengMessage}` : `Umeng ${code}`;
  return known ? `${known} (${detail})` : `Umeng error ${code}${umengMessage ? `: ${umengMessage}` : ''}`;
}

function deviceReason(code: string | undefined, umengMessage = ''): string {
  if (code === undefined) return 'device token rejected by Umeng';
  return DEVICE_REASONS[code] ?? errorMessage(code, umengMessage);
}

/** A `ProviderError` for a failure Umeng answered with a code. */
function umengError(code: string, umengMessage: string): ProviderError {
  return new ProviderError(code, errorMessage(code, umengMessage), RETRYABLE_CODES.has(code));
}

/** Umeng's answer to one call: `SUCCESS` with its data, or `FAIL` with a code (and maybe data). */
type Answer = (
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; code: string; message: string; data: Record<string, unknown> }
) & {
  /** A text of the answer as it may be copied into a device result or task (see `remoteMessage`). */
  clean(raw: string): string;
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * Umeng's signature of one call: `md5_hex_lowercase("POST" + url + body + app_master_secret)`, where
 * `url` has no query and `body` is exactly the text sent.
 */
function sign(url: string, body: string, secret: string): string {
  return createHash('md5').update(`POST${url}${body}${secret}`, 'utf8').digest('hex');
}

/** `date` as Umeng's `yyyy-MM-dd HH:mm:ss`, in Beijing time (see BEIJING_OFFSET_MS). */
function formatUmengTime(date: Date): string {
  const beijing = new Date(date.getTime() + BEIJING_OFFSET_MS);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${beijing.getUTCFullYear()}-${pad(beijing.getUTCMonth() + 1)}-${pad(beijing.getUTCDate())} ` +
    `${pad(beijing.getUTCHours())}:${pad(beijing.getUTCMinutes())}:${pad(beijing.getUTCSeconds())}`
  );
}

function utf8Bytes(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

// Connection failures that prove the request never reached Umeng: safe to repeat whatever it was.
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Whether a `fetch` failure proves the request never left: every error code in it is a connect failure. */
function neverConnected(error: unknown): boolean {
  const codes: string[] = [];
  const collect = (value: unknown, depth: number) => {
    if (typeof value !== 'object' || value === null || depth > 3) return;
    const { code, cause, errors } = value as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string') codes.push(code);
    collect(cause, depth + 1);
    // Node tries every address of a host in turn and reports them together in an AggregateError.
    if (Array.isArray(errors)) for (const inner of errors) collect(inner, depth + 1);
  };
  collect(error, 0);
  return codes.length > 0 && codes.every((code) => NOT_CONNECTED.has(code));
}

// Added to the message of a failure that may have reached devices when the call cannot be repeated.
const NOT_REPEATED =
  '; Umeng may already have sent it, and a listcast has no idempotency key, so it is not retried (no device may receive the push twice)';

/** Creates the Umeng provider; `options` swap the HTTP client, clock and time limit (tests do). */
export function createUmengProvider(options: UmengProviderOptions = {}): ReceiptPostingProvider {
  const fetchImpl = options.fetch ?? fetch;
  const clock = options.clock ?? (() => new Date());
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const urlAllowlist = options.urlAllowlist ?? [];
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const rateLimitWaits = options.rateLimitWaitsMs ?? RATE_LIMIT_WAITS_MS;

  /**
   * One send call, repeated after the waits of `rateLimitWaits` while Umeng answers 2026: that FAIL
   * says nothing was sent, so even a listcast may be repeated. Still 2026 after the last wait, the
   * answer goes back to the caller (a retryable error for the dispatcher).
   */
  async function sendCall(config: UmengConfig, fields: Json, repeatable: boolean): Promise<Answer> {
    for (let waited = 0; ; waited++) {
      const answer = await call(config, SEND_PATH, fields, repeatable);
      if (answer.ok || answer.code !== '2026' || waited >= rateLimitWaits.length) return answer;
      await sleep(rateLimitWaits[waited]!);
    }
  }

  /**
   * One signed call. `repeatable` says whether sending the same call again can never reach a device
   * twice (upload, filecast with `out_biz_no`, cancel, status): failures whose outcome is unknown
   * (timeout, connection lost, HTTP 5xx) are retryable only then.
   */
  async function call(config: UmengConfig, path: string, fields: Json, repeatable: boolean): Promise<Answer> {
    const base = config.baseUrl ?? UMENG_BASE_URL;
    if (!endpointAllowed(base, urlAllowlist, UMENG_BASE_URL)) {
      throw new ProviderError(
        'PROVIDER_URL_NOT_ALLOWED',
        `the app's Umeng base URL ${base} is not allowed by this deployment (PUSHBOARD_PROVIDER_URL_ALLOWLIST), so ` +
          "nothing was sent: a workspace owner sets the app's baseUrl to an allowed address, or removes it to use Umeng's own",
        false,
      );
    }
    const url = `${base.replace(/\/+$/, '')}${path}`;
    const sent = { appkey: config.appKey, timestamp: String(clock().getTime()), ...fields };
    const body = JSON.stringify(sent);
    const signature = sign(url, body, config.appMasterSecret);
    const signed = `${url}?sign=${signature}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let status: number;
    let raw: string;
    try {
      const response = await fetchImpl(signed, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: controller.signal,
        // A redirect would send the app key, the signature and the receipt URL with its secret to
        // whatever address it names, past the allowlist: it is read as an answer instead (readAnswer).
        redirect: 'manual',
      });
      status = response.status;
      raw = await response.text();
    } catch (error) {
      if (controller.signal.aborted) {
        const message = `Umeng did not answer ${path} within ${timeoutMs} ms`;
        throw new ProviderError('TIMEOUT', repeatable ? message : message + NOT_REPEATED, repeatable);
      }
      const reason =
        error instanceof Error ? (error.cause instanceof Error ? error.cause : error).message : '';
      const message = `could not reach Umeng at ${url}${reason ? ` (${reason})` : ''}`;
      if (neverConnected(error)) throw new ProviderError('NETWORK', message, true);
      throw new ProviderError('NETWORK', repeatable ? message : message + NOT_REPEATED, repeatable);
    } finally {
      clearTimeout(timer);
    }
    return readAnswer(path, status, raw, repeatable, () =>
      requestTexts(sent, [signature, config.appMasterSecret]),
    );
  }

  function readAnswer(
    path: string,
    status: number,
    raw: string,
    repeatable: boolean,
    texts: () => string[],
  ): Answer {
    // Listed on first use only: most answers carry no message to clean.
    let listed: string[] | undefined;
    const clean = (message: string) => {
      listed ??= texts();
      return remoteMessage(message, listed);
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    const data = isObject(parsed) && isObject(parsed.data) ? parsed.data : {};
    // A FAIL answer is Umeng saying what it did, whatever the HTTP status: a refusal (nothing was
    // sent), or for 4026 a partial send whose data names the refused tokens.
    if (isObject(parsed) && parsed.ret === 'FAIL') {
      const given = text(data.error_code) ?? text(parsed.error_code);
      const code = remoteCode(given);
      const message = text(data.error_msg) ?? text(parsed.error_msg);
      return { ok: false, code, message: message ? clean(message) : '', data, clean };
    }
    if (isObject(parsed) && parsed.ret === 'SUCCESS' && status >= 200 && status < 300) {
      return { ok: true, data, clean };
    }
    if (status >= 300 && status < 400) {
      throw new ProviderError(
        `HTTP_${status}`,
        `Umeng answered ${path} with a redirect (HTTP ${status}), which is not followed: the request carries ` +
          "the app's credentials — check the app's Umeng base URL",
        false,
      );
    }
    if (status === 429) {
      throw new ProviderError('HTTP_429', `Umeng answered ${path} with HTTP 429 (too many requests)`, true);
    }
    if (status >= 400 && status < 500) {
      throw new ProviderError(
        `HTTP_${status}`,
        `Umeng answered ${path} with HTTP ${status} — check the app's Umeng base URL`,
        false,
      );
    }
    // HTTP 5xx, or a 2xx that is not a U-Push answer: Umeng may or may not have acted on it.
    const code = status >= 500 ? `HTTP_${status}` : 'BAD_ANSWER';
    const message =
      status >= 500
        ? `Umeng answered ${path} with HTTP ${status}`
        : `Umeng answered ${path} with something that is not a U-Push answer`;
    throw new ProviderError(code, repeatable ? message : message + NOT_REPEATED, repeatable);
  }

  /** The status number of a task-type send, or null when Umeng does not say. */
  async function taskStatus(config: UmengConfig, taskId: string): Promise<number | null> {
    const answer = await call(config, STATUS_PATH, { task_id: taskId }, true);
    if (!answer.ok) return null;
    const status = Number(answer.data.status);
    return Number.isInteger(status) ? status : null;
  }

  return {
    async sendBatch(request: SendBatchRequest): Promise<SendBatchResult> {
      const { config, platform } = umengApp(request.app);
      if (utf8Bytes(request.receiptUrl) > RECEIPT_URL_MAX_BYTES) {
        throw new ProviderError(
          'RECEIPT_URL_TOO_LONG',
          `the receipt URL is ${utf8Bytes(request.receiptUrl)} bytes and Umeng accepts at most ${RECEIPT_URL_MAX_BYTES} — use a shorter public URL for this server`,
          false,
        );
      }
      const payload = buildPushPayload(platform, request.content, request.taskId);
      const bytes = payloadBytes(payload);
      if (bytes > PAYLOAD_LIMIT_BYTES[platform]) {
        throw new ProviderError(
          'PAYLOAD_TOO_LARGE',
          `the ${platform} push payload is ${bytes} bytes and Umeng accepts at most ${PAYLOAD_LIMIT_BYTES[platform]}`,
          false,
        );
      }

      const outcomes: DeviceSendOutcome[] = [];
      // Several devices could share a token; Umeng sends to each token once and each device gets its outcome.
      const devicesByToken = new Map<string, string[]>();
      for (const device of request.devices) {
        if (!SENDABLE_TOKEN.test(device.pushToken)) {
          outcomes.push({
            deviceId: device.deviceId,
            sendResult: 'failure',
            failureReason: 'invalid device token (empty, or contains spaces or commas)',
          });
          continue;
        }
        const ids = devicesByToken.get(device.pushToken);
        if (ids) ids.push(device.deviceId);
        else devicesByToken.set(device.pushToken, [device.deviceId]);
      }
      const tokens = [...devicesByToken.keys()];
      if (tokens.length === 0) return { providerRef: null, outcomes };

      const now = clock();
      const sendAt = request.sendAt && request.sendAt.getTime() > now.getTime() ? request.sendAt : null;
      const policy = expiryPolicy(request, now, sendAt);
      const common: Json = {
        payload,
        // Umeng's own default is production; `false` limits broadcast and groupcast to test devices.
        production_mode: config.productionMode === false ? 'false' : 'true',
        description: `Pushboard ${TASK_ID_KEY}=${request.taskId} batch=${request.batchId}`,
        // Read back from every receipt: it names the task and the batch (SPEC §5.1).
        thirdparty_id: request.batchId,
        category: CATEGORY_CODE[request.content.category ?? 'marketing'],
        receipt_url: request.receiptUrl,
        receipt_type: RECEIPT_TYPE_BOTH,
        ...(platform === 'android' && vendorChannelFields(config)),
      };

      let answer: Answer;
      // A batch resent after a restart may already have reached devices: only the idempotent filecast
      // (out_biz_no) can repeat it, and a first send that was a listcast cannot be repeated at all.
      if (request.resend && tokens.length <= LISTCAST_MAX_TOKENS && sendAt === null) {
        throw new ProviderError(
          'RESEND_UNSAFE',
          'the batch was being sent as a listcast when the server stopped; Umeng may already have sent it ' +
            'and a listcast has no idempotency key, so it is not sent again (no device may receive the push twice)',
          false,
        );
      }
      if (tokens.length <= LISTCAST_MAX_TOKENS && sendAt === null) {
        // Umeng offers no idempotency key for a listcast (`out_biz_no` is for task-type sends only).
        // A repeat is therefore allowed only after a failure that proves nothing was sent: an explicit
        // FAIL answer or a connection that was never made. A timeout, a lost connection or an HTTP 5xx
        // fails the batch instead (`repeatable: false`), so no device can receive the push twice.
        answer = await sendCall(
          config,
          { type: 'listcast', device_tokens: tokens.join(','), policy, ...common },
          false,
        );
      } else {
        // An upload only stores a token file, and the filecast carries the batch ID as `out_biz_no`,
        // which Umeng answers with the first send's task_id: both may be repeated safely.
        const upload = await call(config, UPLOAD_PATH, { content: tokens.join('\n') }, true);
        if (!upload.ok) throw umengError(upload.code, upload.message);
        const fileId = text(upload.data.file_id);
        if (fileId === undefined) {
          throw new ProviderError(
            'BAD_ANSWER',
            'Umeng accepted the token upload but answered no file_id',
            true,
          );
        }
        answer = await sendCall(
          config,
          {
            type: 'filecast',
            file_id: fileId,
            policy: { ...policy, out_biz_no: request.batchId },
            ...common,
          },
          true,
        );
      }
      return readSendAnswer(answer, devicesByToken, platform, outcomes);
    },

    async cancel(app: ProviderApp, providerRef: string): Promise<void> {
      const { config } = umengApp(app);
      const answer = await call(config, CANCEL_PATH, { task_id: providerRef }, true);
      if (answer.ok) return;
      if (answer.code === '2014') {
        // Cancelling twice (e.g. a repeat after a lost answer) must succeed: ask what became of the task.
        const status = await taskStatus(config, providerRef).catch(() => null);
        if (status === STATUS_CANCELLED) return;
        const state = status === null ? undefined : TASK_STATUS[status];
        const message = state
          ? `Umeng could not cancel task ${providerRef}: it is ${state} (Umeng 2014${answer.message ? `: ${answer.message}` : ''})`
          : errorMessage(answer.code, answer.message);
        throw new ProviderError('2014', message, false);
      }
      throw umengError(answer.code, answer.message);
    },

    parseReceipts(body: unknown): ParsedReceipts {
      const result: ParsedReceipts = { receipts: [], unreadable: [] };
      for (const item of receiptItems(body)) {
        try {
          const receipts = readReceipt(item, clock);
          if (receipts) result.receipts.push(...receipts);
          else result.unreadable.push(item);
        } catch {
          result.unreadable.push(item);
        }
      }
      return result;
    },
  };
}

/**
 * The `policy` of a send: `expire_time` from the task's time to live (Umeng's 7 days at most), and
 * `start_time` for a provider-side scheduled send. The expiry counts from the start, capped at 7 days
 * from now; a start at or after its expiry is refused locally, since Umeng would never deliver it.
 */
function expiryPolicy(request: SendBatchRequest, now: Date, sendAt: Date | null): Json {
  const ttlMs = Math.min(request.content.ttlSeconds ?? DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS.umeng) * 1000;
  const start = sendAt ?? now;
  const expiresAt = new Date(Math.min(start.getTime() + ttlMs, now.getTime() + MAX_TTL_SECONDS.umeng * 1000));
  if (sendAt !== null && sendAt.getTime() >= expiresAt.getTime()) {
    throw new ProviderError(
      'START_AFTER_EXPIRY',
      `the scheduled send time ${sendAt.toISOString()} is not before the push's expiry ${expiresAt.toISOString()} ` +
        '(Umeng keeps a push at most 7 days) — schedule it earlier',
      false,
    );
  }
  return {
    expire_time: formatUmengTime(expiresAt),
    ...(sendAt !== null && { start_time: formatUmengTime(sendAt) }),
  };
}

/**
 * The vendor-channel fields of an Android send (SPEC §5.1): the activity vendor channels open, as
 * `channel_properties.channel_activity` and, for older Umeng SDKs, `mipush` + `mi_activity`; and the
 * app's other `channel_properties` as they are.
 */
function vendorChannelFields(config: UmengConfig): Json {
  const properties: Json = { ...config.channelProperties };
  const fields: Json = {};
  if (config.channelActivity !== undefined) {
    properties.channel_activity = config.channelActivity;
    fields.mipush = 'true';
    fields.mi_activity = config.channelActivity;
  }
  if (Object.keys(properties).length > 0) fields.channel_properties = properties;
  return fields;
}

function umengApp(app: ProviderApp): { config: UmengConfig; platform: Platform } {
  if (app.provider !== 'umeng') {
    throw new ProviderError(
      'WRONG_PROVIDER',
      `app ${app.id} sends through ${app.provider}, not umeng`,
      false,
    );
  }
  return { config: app.config, platform: app.platform };
}

// Where a per-token answer may list the tokens Umeng refused. Umeng's shape is not documented
// (UMENG.md), so the adapter reads any of these: a comma or newline separated string, an array of
// tokens, an array of `{device_token, error_code?, error_msg?}`, or an object of token → code/message.
const FAILED_TOKEN_KEYS = [
  'fail_device_tokens',
  'failed_device_tokens',
  'invalid_device_tokens',
  'invalid_tokens',
  'fail_tokens',
  'failed_tokens',
  'error_tokens',
];

/**
 * Umeng codes that say a token can never be sent to by this app (invalid, or another app's): the
 * device's token is marked invalid (SPEC §4.4). 4025/4026 only say that tokens failed.
 */
const INVALID_TOKEN_CODES = new Set(['4014', '4020']);

/** A token a send answer names as refused: why, and Umeng's code for it. */
interface RefusedToken {
  reason: string;
  code: string | undefined;
}

/** The tokens a send answer names as refused, each with its reason and code. */
function failedTokens(
  data: Json,
  code: string | undefined,
  clean: (raw: string) => string,
): Map<string, RefusedToken> {
  const failed = new Map<string, RefusedToken>();
  const add = (token: unknown, itemCode?: unknown, itemMessage?: unknown) => {
    const name = text(token)?.trim();
    const given = text(itemCode);
    const message = text(itemMessage);
    const reasonCode = remoteCode(given, code);
    if (name) {
      const reason = deviceReason(reasonCode, message === undefined ? undefined : clean(message));
      failed.set(name, { reason, code: reasonCode });
    }
  };
  for (const key of FAILED_TOKEN_KEYS) {
    const value = data[key];
    if (typeof value === 'string') for (const token of value.split(/[,\n]/)) add(token);
    else if (Array.isArray(value)) {
      for (const entry of value) {
        if (isObject(entry)) {
          add(
            entry.device_token ?? entry.token,
            entry.error_code ?? entry.code,
            entry.error_msg ?? entry.msg,
          );
        } else add(entry);
      }
    } else if (isObject(value)) {
      for (const [token, detail] of Object.entries(value)) {
        if (/^\d+$/.test(String(detail))) add(token, detail);
        else add(token, undefined, detail);
      }
    }
  }
  return failed;
}

/**
 * Turns a send answer into device outcomes. Accepted devices are `success` on iOS (acceptance is
 * delivery there) and `no_feedback` on Android (a delivery receipt may follow). A FAIL with a device
 * code (4014, 4020, 4025, 4026) fails the tokens it names; tokens it does not name count as accepted
 * when Umeng still sent the push (it answered a msg_id/task_id, or 4026 "some failed"), and as failed
 * otherwise. Assumption: a 4026 that names no token is read as "the rest went out" — the failed ones
 * cannot be told apart, and on Android their missing delivery receipt shows it. Any other FAIL is a
 * batch-level `ProviderError`.
 */
function readSendAnswer(
  answer: Answer,
  devicesByToken: Map<string, string[]>,
  platform: Platform,
  outcomes: DeviceSendOutcome[],
): SendBatchResult {
  const accepted: DeviceSendOutcome['sendResult'] = platform === 'ios' ? 'success' : 'no_feedback';
  if (!answer.ok && !DEVICE_CODES.has(answer.code)) throw umengError(answer.code, answer.message);
  const providerRef = text(answer.data.task_id) ?? text(answer.data.msg_id) ?? null;
  const code = answer.ok ? undefined : answer.code;
  const failed = failedTokens(answer.data, code, answer.clean);
  const restSent = answer.ok || code === '4026' || (providerRef !== null && code !== '4025');
  const restReason =
    code === undefined
      ? ''
      : failed.size > 0
        ? `not sent: Umeng refused the whole batch because of other devices' tokens (Umeng ${code})`
        : deviceReason(code, answer.ok ? '' : answer.message);
  for (const [token, deviceIds] of devicesByToken) {
    const refused = failed.get(token);
    const invalid = refused?.code !== undefined && INVALID_TOKEN_CODES.has(refused.code);
    for (const deviceId of deviceIds) {
      if (refused !== undefined) {
        outcomes.push({
          deviceId,
          sendResult: 'failure',
          failureReason: refused.reason,
          ...(invalid && { invalidToken: refused.code }),
        });
      } else if (restSent) outcomes.push({ deviceId, sendResult: accepted });
      else {
        // A refusal of a one-token send names its token even when Umeng lists none.
        const alone = devicesByToken.size === 1 && code !== undefined && INVALID_TOKEN_CODES.has(code);
        outcomes.push({
          deviceId,
          sendResult: 'failure',
          failureReason: restReason,
          ...(alone && { invalidToken: code }),
        });
      }
    }
  }
  return { providerRef, outcomes };
}

/*
 * Receipt callbacks, in the shape integrations report (SPEC §5.1, UMENG.md "Receipts"): one object or
 * an array of them (also as JSON text or bytes), each
 *   {thirdparty_id, action_type, msg_id, device_tokens, alias, channel}
 * - `action_type` 0 = arrival → `delivered`, 1 = open (click) → `open`; any other value (a dismissal
 *   may be one, unverified) makes the item unreadable: it is kept and counted, never guessed.
 * - `thirdparty_id` is the batch ID every send carries: it names the task and the batch. `msg_id` (or
 *   `task_id`) is Umeng's reference of the send, the fallback when `thirdparty_id` is missing.
 * - `device_tokens` holds one or several tokens, comma-separated: one receipt per token.
 * - `channel` (e.g. `huawei`) is passed through; `alias` is not used (Pushboard sends by token).
 * - No time field is reported: a receipt is dated when it arrives.
 * An item without a readable kind, a token, or either reference goes to `unreadable` as it came.
 */

/** Umeng's `action_type` codes Pushboard reads; every other code is unreadable. */
const ACTION_KINDS: Record<string, ParsedReceipt['kind']> = { '0': 'delivered', '1': 'open' };

function fromText(value: unknown): unknown {
  const raw = value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value;
  if (typeof raw !== 'string') return value;
  try {
    return JSON.parse(raw);
  } catch {
    return value;
  }
}

/** The items of a callback body: an array's members, or the body itself as one item. */
function receiptItems(body: unknown): unknown[] {
  const value = fromText(body);
  return Array.isArray(value) ? value : [value];
}

/** The tokens of `device_tokens`: comma-separated text (a list is read too); blanks dropped. */
function readTokens(value: unknown): string[] {
  const tokens = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [];
  return tokens.map((token) => (typeof token === 'string' ? token.trim() : '')).filter((t) => t !== '');
}

/** The receipts of one callback item, or null when it is unreadable. */
function readReceipt(raw: unknown, clock: () => Date): ParsedReceipt[] | null {
  const item = fromText(raw);
  if (!isObject(item)) return null;
  const action = text(item.action_type)?.trim();
  const kind = action === undefined ? undefined : ACTION_KINDS[action];
  const tokens = readTokens(item.device_tokens);
  const batchId = text(item.thirdparty_id);
  const providerRef = text(item.msg_id) ?? text(item.task_id);
  if (kind === undefined || tokens.length === 0) return null;
  if (batchId === undefined && providerRef === undefined) return null;
  const channel = text(item.channel);
  const at = clock();
  return tokens.map((pushToken) => ({
    taskId: null,
    deviceId: null,
    pushToken,
    kind,
    at,
    ...(batchId !== undefined && { batchId }),
    ...(providerRef !== undefined && { providerRef }),
    ...(channel !== undefined && { channel }),
  }));
}
