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

/** One problem with one input field, as listed in a `VALIDATION_FAILED` error's details. */
export interface FieldError {
  /** Dotted path of the field in the request (`clickAction.url`, `devices.3.pushToken`). */
  field: string;
  message: string;
}

/** One bad line of an uploaded file, as listed in a `CSV_INVALID` error's details. */
export interface CsvLineError {
  /** 1-based physical line number in the file. */
  line: number;
  /** A stable code for the kind of problem, where the importer has one (`DEVICE_ID_INVALID`…). */
  code?: string;
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
