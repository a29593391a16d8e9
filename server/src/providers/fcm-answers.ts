/**
 * FCM's answers read (docs/providers.md#fcm): its error body (`readError`), which answers refuse the credentials,
 * and the reasons a device's token fails for, in a marketer's words. `fcm.ts` acts on them.
 */
import type { ServiceAccountKey } from './fcm-config.ts';
import type { Http2Answer } from './http2-session.ts';
import { ProviderError } from './provider.ts';
import { remoteCode } from './remote-text.ts';

const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';

/** An FCM error answer, read: the code to act on, the canonical status, FCM's message. */
export interface FcmErrorAnswer {
  /** FCM's `errorCode` from `details` when given, else the canonical `status`, else `HTTP_<status>`. */
  code: string;
  status: string | undefined;
  message: string;
  /** Whether FCM says the problem is the registration token (`message.token`). */
  aboutToken: boolean;
}

/** Why a device failed, in a marketer's words, for the answers that name its token. */
export const TOKEN_REASONS: Record<string, string> = {
  UNREGISTERED: 'the app was uninstalled or its push token expired (UNREGISTERED)',
  INVALID_ARGUMENT: 'the push token is not a valid FCM registration token (INVALID_ARGUMENT)',
  SENDER_ID_MISMATCH: 'the push token belongs to another Firebase project (SENDER_ID_MISMATCH)',
};

/** A JSON object of an answer. */
export type Json = Record<string, unknown>;

/** Whether `value` is a JSON object (not an array). */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether FCM refused the access token (401) or the account's right to send for the project (403 PERMISSION_DENIED). */
export function refusesCredentials(answer: Http2Answer): boolean {
  if (answer.status === 401) return true;
  if (answer.status !== 403) return false;
  const body = parseJson(answer.body);
  const error = isObject(body) && isObject(body.error) ? body.error : {};
  return error.status === 'PERMISSION_DENIED' && fcmErrorCode(error) !== 'SENDER_ID_MISMATCH';
}

/** The error FCM's refusal of the service account stops the batch with, naming what to check. */
export function credentialsError(account: ServiceAccountKey, said: FcmErrorAnswer): ProviderError {
  return new ProviderError(
    'FCM_CREDENTIALS',
    `FCM refused the service account ${account.client_email} for project ${account.project_id} (${said.code}): ` +
      'check that the Firebase Cloud Messaging API is enabled and the account may send (role Firebase Cloud ' +
      "Messaging API Admin); a workspace owner can upload a new key in the app's settings",
    false,
  );
}

/** FCM's own `errorCode` from the `details` of an error, if it gives one. */
function fcmErrorCode(error: Json): string | undefined {
  if (!Array.isArray(error.details)) return undefined;
  for (const detail of error.details) {
    if (isObject(detail) && detail['@type'] === FCM_ERROR_TYPE && typeof detail.errorCode === 'string') {
      return detail.errorCode;
    }
  }
  return undefined;
}

/** Reads `{error:{code, message, status, details}}`; whatever is missing falls back to the HTTP status. */
export function readError(answer: Http2Answer, clean: (text: string) => string): FcmErrorAnswer {
  const body = parseJson(answer.body);
  const error = isObject(body) && isObject(body.error) ? body.error : {};
  const status = typeof error.status === 'string' ? remoteCode(error.status) : undefined;
  const given = fcmErrorCode(error);
  const code = remoteCode(given ?? status, `HTTP_${answer.status}`);
  const message = typeof error.message === 'string' ? clean(error.message) : '';
  const fieldViolation =
    Array.isArray(error.details) &&
    error.details.some(
      (detail) =>
        isObject(detail) &&
        detail['@type'] === BAD_REQUEST_TYPE &&
        Array.isArray(detail.fieldViolations) &&
        detail.fieldViolations.some((v) => isObject(v) && v.field === 'message.token'),
    );
  const aboutToken = fieldViolation || /registration token/i.test(message);
  return { code, status, message, aboutToken };
}

/** `raw` parsed as JSON, or undefined when it is not JSON. */
export function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
