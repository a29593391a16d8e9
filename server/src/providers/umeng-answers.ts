/**
 * Umeng's answers (docs/providers.md#umeng): what each code means in plain words, which codes are retried or name
 * device tokens, how the text of one call's answer is read (`readAnswer`) and how a send answer becomes
 * device outcomes (`readSendAnswer`). Umeng's own text is kept cleaned of every text of the request.
 */
import type { Platform } from '../domain/task-content.ts';
import { type DeviceSendOutcome, ProviderError, type SendBatchResult } from './provider.ts';
import { remoteCode, remoteMessage } from './remote-text.ts';
import { isObject, type Json, text } from './umeng-wire.ts';

/** The codes Umeng itself asks to retry (docs/providers.md#umeng); network errors, timeouts and HTTP 5xx are added below. */
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

/** An operator's message for an Umeng code, with Umeng's own text. */
export function errorMessage(code: string, umengMessage: string): string {
  const known =
    ERROR_MESSAGES[code] ??
    (/^10(0\d|1\d|20)$/.test(code) ? 'Umeng refused a field of the request' : undefined) ??
    (/^500\d$/.test(code)
      ? 'APNs refused the push through Umeng (bad device token, certificate problem or reserved payload key)'
      : undefined);
  const detail = umengMessage ? `Umeng ${code}: ${umengMessage}` : `Umeng ${code}`;
  return known ? `${known} (${detail})` : `Umeng error ${code}${umengMessage ? `: ${umengMessage}` : ''}`;
}

/** Why a device failed, in a marketer's words, for an Umeng code. */
function deviceReason(code: string | undefined, umengMessage = ''): string {
  if (code === undefined) return 'device token rejected by Umeng';
  return DEVICE_REASONS[code] ?? errorMessage(code, umengMessage);
}

/** A `ProviderError` for a failure Umeng answered with a code. */
export function umengError(code: string, umengMessage: string): ProviderError {
  return new ProviderError(code, errorMessage(code, umengMessage), RETRYABLE_CODES.has(code));
}

/** Umeng's answer to one call: `SUCCESS` with its data, or `FAIL` with a code (and maybe data). */
export type Answer = (
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; code: string; message: string; data: Record<string, unknown> }
) & {
  /** A text of the answer as it may be copied into a device result or task (see `remoteMessage`). */
  clean(raw: string): string;
};

/** Added to the message of a failure that may have reached devices when the call cannot be repeated. */
export const NOT_REPEATED =
  '; Umeng may already have sent it, and a listcast has no idempotency key, so it is not retried (no device may receive the push twice)';

/**
 * Reads Umeng's answer to one call at `path`: a U-Push answer (`SUCCESS` or `FAIL`) whatever the HTTP
 * status, else a `ProviderError` (retryable when the call is `repeatable` and the outcome unknown).
 * `texts` lists the request's texts that a message copied from the answer must not repeat.
 */
export function readAnswer(
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

// Where a per-token answer may list the tokens Umeng refused. Umeng's shape is not documented
// (docs/providers.md#umeng), so the adapter reads any of these: a comma or newline separated string, an array of
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
 * device's token is marked invalid (docs/devices.md#push-token-lifecycle). 4025/4026 only say that tokens failed.
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
export function readSendAnswer(
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
