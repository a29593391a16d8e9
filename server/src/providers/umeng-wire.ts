/**
 * The wire of Umeng U-Push calls (docs/providers.md#umeng): how a request is signed, how its times are written, the
 * `policy` and vendor-channel fields of a send, which texts of a request an answer must not repeat,
 * and which connection failures prove a request never left. `umeng.ts` builds each call from these.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS } from '../domain/task-content.ts';
import { ProviderError, type SendBatchRequest } from './provider.ts';
import type { UmengConfig } from './umeng-config.ts';

/** A JSON object of a request or an answer. */
export type Json = Record<string, unknown>;

/** Whether `value` is a JSON object (not an array). */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as non-empty text (a finite number is written out), else undefined. */
export function text(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * Umeng's signature of one call: `md5_hex_lowercase("POST" + url + body + app_master_secret)`, where
 * `url` has no query and `body` is exactly the text sent.
 */
export function sign(url: string, body: string, secret: string): string {
  return createHash('md5').update(`POST${url}${body}${secret}`, 'utf8').digest('hex');
}

// Assumption: Umeng reads `start_time` as China Standard Time (UTC+8, no daylight saving time), the
// time of its console and of every client library we compared; docs/providers.md#umeng does not name a zone.
const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;

/** `date` as Umeng's `yyyy-MM-dd HH:mm:ss`, in Beijing time (see BEIJING_OFFSET_MS). */
function formatUmengTime(date: Date): string {
  const beijing = new Date(date.getTime() + BEIJING_OFFSET_MS);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${beijing.getUTCFullYear()}-${pad(beijing.getUTCMonth() + 1)}-${pad(beijing.getUTCDate())} ` +
    `${pad(beijing.getUTCHours())}:${pad(beijing.getUTCMinutes())}:${pad(beijing.getUTCSeconds())}`
  );
}

/** The UTF-8 size of `value`, in bytes. */
export function utf8Bytes(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/**
 * The texts of one request that an answer must not repeat: every string of its fields (the receipt
 * URL with its secret, the app key, the payload…), the query values of URLs (the receipt secret
 * alone), and `extra` (the signature, the master secret); longest first, so that a longer text is
 * replaced before a part of it. The token lists (`TOKEN_LIST_FIELDS`) are left out: a provider names
 * refused tokens by design, and thousands of them would make every message costly to clean.
 */
export function requestTexts(fields: Json, extra: string[]): string[] {
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
export function neverConnected(error: unknown): boolean {
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

/**
 * The `policy` of a send: `expire_time` from the task's time to live (Umeng's 7 days at most), and
 * `start_time` for a provider-side scheduled send. The expiry counts from the start, capped at 7 days
 * from now; a start at or after its expiry is refused locally, since Umeng would never deliver it.
 */
export function expiryPolicy(request: SendBatchRequest, now: Date, sendAt: Date | null): Json {
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
 * The vendor-channel fields of an Android send (docs/providers.md#umeng): the activity vendor channels open, as
 * `channel_properties.channel_activity` and, for older Umeng SDKs, `mipush` + `mi_activity`; and the
 * app's other `channel_properties` as they are.
 */
export function vendorChannelFields(config: UmengConfig): Json {
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
