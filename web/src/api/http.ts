/**
 * The console's one way to reach the API: JSON calls, uploads with progress and downloads, all with
 * the session's bearer token, every failure turned into an `ApiError` carrying the envelope's code.
 */
import { errorText } from '../i18n/error-texts.ts';
import { csvLineText, fieldProblemText } from '../i18n/field-problem-texts.ts';
import { currentLocale } from '../i18n/i18n.tsx';
import type { CsvLineError, ErrorBody, FieldError, ServerEvent } from './types.ts';

const TOKEN_KEY = 'pushboard.token';
const BASE = '/api/v1';

/**
 * A failed API call: the HTTP status and the error envelope's code, message and details. Its `message`
 * is what the console shows, in the console's language (`errorText`); the server's own English text
 * stays in `serverMessage`.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  /** The error envelope's message, as the server wrote it (English). */
  readonly serverMessage: string;
  /** Seconds to wait before retrying (429), from `Retry-After`. */
  readonly retryAfterSeconds: number | null;

  constructor(status: number, code: string, message: string, details?: unknown, retryAfter?: number | null) {
    super(errorText(currentLocale(), code, message));
    this.serverMessage = message;
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = retryAfter ?? null;
  }

  /**
   * The per-field problems of a `VALIDATION_FAILED` answer (empty for any other error), each `message`
   * in the console's language (`fieldProblemText`: Chinese builds its own from the problem's code).
   */
  get fieldErrors(): FieldError[] {
    if (this.code !== 'VALIDATION_FAILED' || !Array.isArray(this.details)) return [];
    const locale = currentLocale();
    return this.details
      .filter((d): d is FieldError => typeof d?.field === 'string' && typeof d?.message === 'string')
      .map((d) => ({ ...d, message: fieldProblemText(locale, d) }));
  }

  /** The bad lines of a `CSV_INVALID` answer (empty for any other error), each `message` in the console's language. */
  get csvLineErrors(): CsvLineError[] {
    const errors = (this.details as { errors?: unknown } | null | undefined)?.errors;
    if (this.code !== 'CSV_INVALID' || !Array.isArray(errors)) return [];
    const locale = currentLocale();
    return errors
      .filter((e): e is CsvLineError => typeof e?.line === 'number' && typeof e?.message === 'string')
      .map((e) => ({ ...e, message: csvLineText(locale, e) }));
  }
}

/** The session token kept in localStorage, or null when logged out. */
export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token === null) localStorage.removeItem(TOKEN_KEY);
  else localStorage.setItem(TOKEN_KEY, token);
}

let onUnauthorized: () => void = () => {};

/** Called when any call answers 401: the session is over and the user must log in again. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

type QueryValue = string | number | boolean | string[] | undefined | null;

/** `/api/v1` + path + query string; empty values are left out and arrays repeat the parameter. */
export function apiUrl(path: string, query?: Record<string, QueryValue>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, v);
    else params.append(key, String(value));
  }
  const search = params.toString();
  return `${BASE}${path}${search ? `?${search}` : ''}`;
}

function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

function toApiError(status: number, text: string, retryAfter: string | null): ApiError {
  let body: Partial<ErrorBody> = {};
  try {
    body = JSON.parse(text) as ErrorBody;
  } catch {
    // Not an envelope (a proxy's error page, a dropped connection): keep the status.
  }
  const err = body.error;
  const retry = retryAfter === null ? null : Number(retryAfter);
  return new ApiError(
    status,
    err?.code ?? (status === 0 ? 'NETWORK' : `HTTP_${status}`),
    err?.message ?? (status === 0 ? 'The server could not be reached.' : `The server answered ${status}.`),
    err?.details,
    Number.isFinite(retry) ? retry : null,
  );
}

function failed(error: ApiError, path: string): never {
  // A failed login is not the end of a session; any other 401 is.
  if (error.status === 401 && path !== '/auth/login') onUnauthorized();
  throw error;
}

interface RequestOptions {
  query?: Record<string, QueryValue>;
  body?: unknown;
  signal?: AbortSignal;
  /** A bearer token to send instead of the session's (a login that must change its password first). */
  token?: string;
}

/** One JSON call; resolves with the parsed answer (undefined for 204). */
export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(apiUrl(path, options.query), {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : authHeaders()),
        ...(options.body !== undefined && { 'content-type': 'application/json' }),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached; check your connection.');
  }
  const text = await response.text();
  if (!response.ok) failed(toApiError(response.status, text, response.headers.get('retry-after')), path);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** Upload progress as a fraction in [0, 1]. */
export type ProgressHandler = (fraction: number) => void;

/**
 * Sends a multipart form and reports upload progress (fetch cannot). The order of the form's parts
 * is kept: routes that need a field before the file (`task`, `name`) get it.
 */
export function upload<T>(path: string, form: FormData, onProgress?: ProgressHandler): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiUrl(path));
    for (const [key, value] of Object.entries(authHeaders())) xhr.setRequestHeader(key, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(1);
        resolve((xhr.responseText === '' ? undefined : JSON.parse(xhr.responseText)) as T);
        return;
      }
      try {
        failed(toApiError(xhr.status, xhr.responseText, xhr.getResponseHeader('retry-after')), path);
      } catch (error) {
        reject(error);
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'The upload was interrupted; try again.'));
    xhr.send(form);
  });
}

/** Downloads a file answer (e.g. a CSV export) and hands it to the browser as `fileName`. */
export async function download(
  path: string,
  query: Record<string, QueryValue>,
  fileName: string,
): Promise<void> {
  const response = await fetch(apiUrl(path, query), { headers: authHeaders() });
  if (!response.ok) {
    failed(toApiError(response.status, await response.text(), response.headers.get('retry-after')), path);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One SSE frame as an event; comments (keep-alives) and frames without data are none. */
function parseFrame(frame: string): ServerEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? undefined : { event, data: data.join('\n') };
}

/**
 * Follows a server-sent event stream, calling `onEvent` for each event. It is read with fetch, not
 * EventSource, because EventSource cannot send the bearer token. Resolves when the server ends the
 * stream; rejects with an `ApiError` when it cannot be opened or breaks, with an AbortError on `signal`.
 */
export async function streamEvents(
  path: string,
  onEvent: (event: ServerEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(apiUrl(path), {
      headers: { ...authHeaders(), accept: 'text/event-stream' },
      cache: 'no-store',
      signal,
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached; check your connection.');
  }
  if (!response.ok) {
    failed(toApiError(response.status, await response.text(), response.headers.get('retry-after')), path);
  }
  if (!response.body) throw new ApiError(0, 'NETWORK', 'This browser cannot read a streamed answer.');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const event = parseFrame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) onEvent(event);
        end = buffer.indexOf('\n\n');
      }
    }
  } catch (cause) {
    if (signal.aborted || (cause instanceof DOMException && cause.name === 'AbortError')) throw cause;
    throw new ApiError(0, 'NETWORK', 'The live connection to the server was interrupted.');
  } finally {
    reader.releaseLock();
  }
}

/** A failure in words for a toast or an alert: the server's message, or the error's. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
