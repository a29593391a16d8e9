/**
 * The error catalogue: every error the API can answer, with its stable code and HTTP status.
 * Domain code throws `AppError(code, message)`; the single error handler in `app.ts` turns it into
 * the docs/api.md#errors envelope `{"error":{"code","message","details"}}`.
 */

/** Stable error codes and the HTTP status each one is answered with. */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  REQUEST_INVALID: 400,
  CSV_INVALID: 400,
  PROVIDER_SECRET_REQUIRED: 400,
  PROVIDER_URL_NOT_ALLOWED: 400,
  UNAUTHENTICATED: 401,
  RECEIPT_SIGNATURE_INVALID: 401,
  SDK_SIGNATURE_INVALID: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  USER_DISABLED: 403,
  CURRENT_PASSWORD_WRONG: 403,
  PASSWORD_CHANGE_REQUIRED: 403,
  NOT_FOUND: 404,
  WORKSPACE_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  MEMBER_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  APP_NOT_FOUND: 404,
  DEVICE_NOT_FOUND: 404,
  AUDIENCE_NOT_FOUND: 404,
  CAMPAIGN_NOT_FOUND: 404,
  SUB_CAMPAIGN_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  USERNAME_TAKEN: 409,
  MEMBER_EXISTS: 409,
  LAST_OWNER: 409,
  CANNOT_DISABLE_SELF: 409,
  APP_IN_USE: 409,
  AUDIENCE_IN_USE: 409,
  CAMPAIGN_IN_USE: 409,
  SUB_CAMPAIGN_IN_USE: 409,
  TASK_NOT_EDITABLE: 409,
  TASK_NOT_DELETABLE: 409,
  TASK_NOT_STOPPABLE: 409,
  TASK_NOT_TESTABLE: 409,
  TASK_TRANSITION_REFUSED: 409,
  GENERATED_AUDIENCE_EMPTY: 409,
  DEVICE_DETAILS_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  RECEIPT_BATCH_TOO_LARGE: 413,
  URL_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_LOGIN_ATTEMPTS: 429,
  TOO_MANY_EVENT_STREAMS: 429,
  TOO_MANY_REGISTRATIONS: 429,
  TOO_MANY_TEST_PUSHES: 429,
  RECEIPT_QUEUE_FULL: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  INSUFFICIENT_STORAGE: 507,
} as const;

/** One of the catalogue's stable error codes. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * The kinds of problem one input field can have, each a stable code a client can show in its own
 * words (the console has a text per code and language, web/src/i18n/field-problem-texts.ts). The
 * numbers and names a text needs travel in `FieldError.params`, named after each entry below.
 */
export const FIELD_PROBLEMS = {
  /** The field is missing. */
  REQUIRED: [],
  /** The field is not one this request knows (also a provider setting the provider does not have). */
  UNKNOWN_FIELD: [],
  /** Blank or whitespace only. */
  BLANK: [],
  /** Longer than `limit` characters. */
  TOO_LONG: ['limit'],
  /** Shorter than `limit` characters. */
  TOO_SHORT: ['limit'],
  /** Not `min` to `max` characters long (or blank). */
  LENGTH_RANGE: ['min', 'max'],
  /** More than `limit` items or parameters. */
  TOO_MANY: ['limit'],
  /** Fewer than `limit` items or parameters. */
  TOO_FEW: ['limit'],
  /** Not one of the `allowed` values (comma-separated). */
  NOT_ALLOWED_VALUE: ['allowed'],
  /** Not of JSON type `type`. */
  WRONG_TYPE: ['type'],
  /** Below `min` or above `max` (either may be absent). */
  OUT_OF_RANGE: ['min', 'max'],
  /** Not in the form `format` names (`date-time`, `activity class name`, `printable ASCII`…). */
  FORMAT_INVALID: ['format'],
  /** Not an absolute http(s) URL. */
  URL_INVALID: [],
  /** A time that is not in the future. */
  TIME_NOT_FUTURE: [],
  /** Names an app, audience or sub-campaign that does not exist in this workspace. */
  NOT_IN_WORKSPACE: [],
  /** Names an audience that is not ready (`status`: importing, gone). */
  AUDIENCE_NOT_READY: ['status'],
  /** Given although the other fields do not use it (a URL for a click action that opens no URL). */
  NOT_USED_HERE: [],
  /** Not possible on the app's `platform`. */
  PLATFORM_UNSUPPORTED: ['platform'],
  /** The provider sends to `platform` apps only. */
  PLATFORM_MISMATCH: ['platform'],
  /** The name is reserved (by Pushboard, iOS or the push service). */
  RESERVED_NAME: [],
  /** The push payload would be `bytes` bytes, `over` more than the `limit`. */
  PAYLOAD_TOO_LARGE: ['bytes', 'limit', 'over'],
  /** Cannot change once created. */
  CANNOT_CHANGE: [],
  /** Must differ from the current value. */
  SAME_AS_CURRENT: [],
  /** Nested deeper than `limit` levels. */
  NESTED_TOO_DEEP: ['limit'],
  /** A page cursor made for another filter. */
  CURSOR_FILTER_MISMATCH: [],
  /** Holds the NUL character. */
  NUL_CHARACTER: [],
  /** Not an IANA time zone this server knows. */
  TIME_ZONE_UNKNOWN: [],
  /** The end of a time window equals its start. */
  EMPTY_WINDOW: [],
  /** Must be at least the value of the field `other`. */
  LESS_THAN_OTHER: ['other'],
  /** `count` entries are invalid in total (more than are listed). */
  INVALID_IN_TOTAL: ['count'],
  /** Not valid, for a reason the message gives (a provider setting's own check). */
  VALUE_INVALID: [],
} as const satisfies Record<string, readonly string[]>;

/** One of the stable codes of a field problem. */
export type FieldProblemCode = keyof typeof FIELD_PROBLEMS;

/** One problem with one input field, as listed in a `VALIDATION_FAILED` error's details. */
export interface FieldError {
  /** Dotted path of the field in the request (`clickAction.url`, `devices.3.pushToken`). */
  field: string;
  /** The kind of problem, stable for clients that show their own text. */
  code: FieldProblemCode;
  /** The numbers and names the problem's text needs (`{limit: 100}`), as `FIELD_PROBLEMS` lists them. */
  params?: Record<string, string | number>;
  /** What is wrong, in English, naming values where it helps. */
  message: string;
}

/**
 * The kinds of problem one line of an uploaded file can have (audience and device imports), each a
 * stable code a client can show in its own words; numbers travel in `CsvLineError.params`.
 */
export const CSV_LINE_PROBLEMS = {
  /** Longer than `limit` characters. */
  LINE_TOO_LONG: ['limit'],
  /** A quoted value not closed, or text after its closing quote. */
  QUOTE_INVALID: [],
  /** `count` columns where the header names `expected`. */
  COLUMN_COUNT: ['count', 'expected'],
  /** The header does not name deviceId and pushToken (and maybe channel), each once. */
  HEADER_INVALID: [],
  /** `count` values on a line of a file of one device ID per line. */
  TOO_MANY_VALUES: ['count'],
  /** No value in the device ID column. */
  DEVICE_ID_MISSING: [],
  /** A device ID that is too long, holds spaces or invisible characters, or is not UTF-8. */
  DEVICE_ID_INVALID: [],
  /** A push token that is missing, too long or not printable ASCII. */
  PUSH_TOKEN_INVALID: [],
  /** A channel that is not 1 to 32 lowercase letters, digits, _ or -. */
  CHANNEL_INVALID: [],
  /** Not an IANA time zone. */
  TIME_ZONE_INVALID: [],
  /** Not a BCP 47 language tag. */
  LOCALE_INVALID: [],
  /** An app version that is too long or not printable ASCII. */
  APP_VERSION_INVALID: [],
  /** Not a device object, or one with unknown fields. */
  DEVICE_INVALID: [],
} as const satisfies Record<string, readonly string[]>;

/** One of the stable codes of a bad line of an uploaded file. */
export type CsvLineCode = keyof typeof CSV_LINE_PROBLEMS;

/** One bad line of an uploaded file, as listed in a `CSV_INVALID` error's details. */
export interface CsvLineError {
  /** 1-based physical line number in the file. */
  line: number;
  /** The kind of problem, stable for clients that show their own text. */
  code: CsvLineCode;
  /** The numbers the problem's text needs, as `CSV_LINE_PROBLEMS` lists them. */
  params?: Record<string, string | number>;
  message: string;
}

/** The `details` of every `CSV_INVALID` error: the first bad lines in file order and how many there are. */
export interface CsvInvalidDetails {
  errors: CsvLineError[];
  errorCount: number;
}

/** An expected failure with a catalogue code; `details` carries per-field or per-line information. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  /** Extra response headers (e.g. `Retry-After` for 429). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, details?: unknown, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  /** The HTTP status this error is answered with. */
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** A `VALIDATION_FAILED` error listing every field that is wrong. */
export function validationError(fields: FieldError[]): AppError {
  const summary = fields.map((f) => `${f.field}: ${f.message}`).join('; ');
  return new AppError('VALIDATION_FAILED', `Invalid request: ${summary}`, fields);
}
