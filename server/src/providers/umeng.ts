/**
 * The `umeng` provider: Umeng U-Push's server API (wire facts in docs/providers.md#umeng) behind the `Provider`
 * interface. A batch of at most 500 tokens sent now is a `listcast`; a larger or scheduled batch is
 * uploaded as a token file and sent as a `filecast` whose `policy.out_biz_no` is the batch ID, so
 * Umeng itself drops a repeat of it. Guarantees and assumptions are summed up in README.md. The
 * request fields and signature are built in `umeng-wire.ts`, answers read in `umeng-answers.ts`,
 * receipts in `umeng-receipts.ts`, the app's config checked in `umeng-config.ts`.
 */
import {
  buildPushPayload,
  PAYLOAD_LIMIT_BYTES,
  type Platform,
  payloadBytes,
  TASK_ID_KEY,
} from '../domain/task-content.ts';
import { endpointAllowed } from './endpoints.ts';
import {
  type DeviceSendOutcome,
  type ParsedReceipts,
  type ProviderApp,
  ProviderError,
  type ReceiptPostingProvider,
  type SendBatchRequest,
  type SendBatchResult,
} from './provider.ts';
import {
  type Answer,
  errorMessage,
  NOT_REPEATED,
  readAnswer,
  readSendAnswer,
  umengError,
} from './umeng-answers.ts';
import { UMENG_BASE_URL, type UmengConfig } from './umeng-config.ts';
import { parseUmengReceipts } from './umeng-receipts.ts';
import {
  expiryPolicy,
  type Json,
  neverConnected,
  requestTexts,
  sign,
  text,
  utf8Bytes,
  vendorChannelFields,
} from './umeng-wire.ts';

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
        // Read back from every receipt: it names the task and the batch (docs/providers.md#umeng).
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
      return parseUmengReceipts(body, clock);
    },
  };
}

/** The Umeng config and platform of `app`; an app of another provider is refused. */
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
