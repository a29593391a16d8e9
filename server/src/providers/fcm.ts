/**
 * The `fcm` provider: Firebase Cloud Messaging HTTP v1 (docs/providers.md#fcm) behind the `Provider` interface.
 * Each device gets its own `messages:send` request, many in flight at once on one shared HTTP/2
 * connection (`sendEachDevice` paces and retries them), authorised by an OAuth 2.0 access token that
 * the app's service-account key obtains through the JWT-bearer grant and that is cached per app.
 * Guarantees and assumptions are summed up in README.md; FCM's error answers are read in
 * `fcm-answers.ts`.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { DEFAULT_TTL_SECONDS, TASK_ID_KEY, type TaskContent } from '../domain/task-content.ts';
import { endpointAllowed, FCM_BASE_URL, GOOGLE_TOKEN_URI } from './endpoints.ts';
import {
  credentialsError,
  isObject,
  type Json,
  parseJson,
  readError,
  refusesCredentials,
  TOKEN_REASONS,
} from './fcm-answers.ts';
import type { FcmConfig, ServiceAccountKey } from './fcm-config.ts';
import { createHttp2Origin, type Http2Answer, type Http2Origin, Http2RequestError } from './http2-session.ts';
import { readPrivateKey, signJwt } from './jwt.ts';
import {
  createPauseGate,
  createRequestSlots,
  type DeviceAnswer,
  type PauseGate,
  type RequestSlots,
  sendEachDevice,
  sleepUnlessAborted,
} from './per-device.ts';
import {
  type BatchDevice,
  type DeviceSendOutcome,
  type Provider,
  type ProviderApp,
  ProviderError,
  type SendBatchRequest,
  type SendBatchResult,
} from './provider.ts';
import { remoteCode, remoteMessage } from './remote-text.ts';

/** FCM's limit on one message, in UTF-8 bytes of its JSON (`message` as sent). */
export const MESSAGE_LIMIT_BYTES = 4096;

/** How long one request to FCM or to the token endpoint may take, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 15_000;

/** Requests in flight at once per app when its config names no `concurrency`. */
export const DEFAULT_CONCURRENCY = 100;

/** The OAuth scope that lets an access token send FCM messages. */
export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/** Lifetime asked for in the assertion (`exp - iat`), in seconds: Google's maximum. */
const ASSERTION_LIFETIME_S = 3600;

/** An access token is renewed this long before Google says it expires, in milliseconds. */
const TOKEN_RENEW_MARGIN_MS = 60_000;

const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Things a test (or a caller with special needs) can swap; each defaults to the real one. */
export interface FcmProviderOptions {
  /**
   * `Config.providerUrlAllowlist`: prefixes an app's `baseUrl` and `token_uri` may start with besides
   * Google's own addresses (default none). Checked before every batch.
   */
  urlAllowlist?: readonly string[];
  /** The current time, for the assertion's `iat`, token expiry and `Retry-After` dates. */
  clock?: () => Date;
  /** Trusted CA certificates instead of the system's: tests with a self-signed fake only. */
  ca?: string | Buffer;
  /** Time limit of one request, in milliseconds. */
  timeoutMs?: number;
  /** Waits between retries (tests record them instead of waiting). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** First retry wait when FCM names none, in milliseconds; doubles per attempt. */
  retryBaseMs?: number;
  /** Longest wait between two requests of one device, in milliseconds. */
  maxRetryMs?: number;
  /** Requests per device before a retry answer stops the batch (retryable). */
  maxAttempts?: number;
}

/** An access token and when it is renewed (epoch ms). */
interface AccessToken {
  value: string;
  renewAt: number;
}

/**
 * The access token of one app, for one identity of its key (`key`): a token request in progress is
 * shared by every request that needs it (single flight), and its result kept until `renewAt`.
 */
interface CachedToken {
  key: string;
  pending: Promise<AccessToken>;
  token?: AccessToken;
}

/** Creates the FCM provider; `options` swap the clock, waits, limits and trusted CA (tests do). */
export function createFcmProvider(options: FcmProviderOptions = {}): Provider {
  const urlAllowlist = options.urlAllowlist ?? [];
  const clock = options.clock ?? (() => new Date());
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const sleep = options.sleep ?? sleepUnlessAborted;
  const now = () => clock().getTime();

  // One HTTP/2 connection per origin, shared by every app that sends there (FCM and the token endpoint).
  const origins = new Map<string, Http2Origin>();
  // Per app: its token, its parsed private key, and its pause gate and request slots.
  const tokens = new Map<string, CachedToken>();
  const privateKeys = new Map<string, { hash: string; key: KeyObject }>();
  const pacing = new Map<string, { gate: PauseGate; slots: RequestSlots; limit: number }>();

  function origin(url: URL): Http2Origin {
    let found = origins.get(url.origin);
    if (!found) {
      found = createHttp2Origin(url.origin, { ...(options.ca !== undefined && { ca: options.ca }) });
      origins.set(url.origin, found);
    }
    return found;
  }

  function appPacing(appId: string, limit: number): { gate: PauseGate; slots: RequestSlots } {
    let found = pacing.get(appId);
    if (!found) {
      found = { gate: createPauseGate(now, sleep), slots: createRequestSlots(limit), limit };
      pacing.set(appId, found);
    } else if (found.limit !== limit) {
      // The app's concurrency was edited: its batches in flight and new ones keep sharing one set of slots.
      found.slots.setLimit(limit);
      found.limit = limit;
    }
    return found;
  }

  /** The app's private key, parsed once per key text. */
  function privateKey(appId: string, account: ServiceAccountKey, hash: string): KeyObject {
    const found = privateKeys.get(appId);
    if (found?.hash === hash) return found.key;
    let key: KeyObject;
    try {
      key = readPrivateKey(account.private_key);
    } catch {
      throw new ProviderError(
        'FCM_CREDENTIALS',
        `the private key of the service account ${account.client_email} cannot be read, so nothing was sent: ` +
          "a workspace owner uploads the key file again in the app's settings",
        false,
      );
    }
    privateKeys.set(appId, { hash, key });
    return key;
  }

  /** Asks the token endpoint for an access token with a freshly signed assertion. */
  async function requestToken(
    account: ServiceAccountKey,
    key: KeyObject,
    tokenUri: URL,
  ): Promise<AccessToken> {
    const iat = Math.floor(now() / 1000);
    let assertion: string;
    try {
      assertion = signJwt(
        'RS256',
        { kid: account.private_key_id },
        {
          iss: account.client_email,
          scope: FCM_SCOPE,
          aud: tokenUri.href,
          iat,
          exp: iat + ASSERTION_LIFETIME_S,
        },
        key,
      );
    } catch {
      throw new ProviderError(
        'FCM_CREDENTIALS',
        `the private key of the service account ${account.client_email} is not an RSA key, so nothing was sent: ` +
          "a workspace owner uploads the key file Google generated in the app's settings",
        false,
      );
    }
    const requestedAt = now();
    let answer: Http2Answer;
    try {
      answer = await origin(tokenUri).request({
        method: 'POST',
        path: tokenUri.pathname,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
        timeoutMs,
      });
    } catch (error) {
      if (!(error instanceof Http2RequestError)) throw error;
      throw new ProviderError(
        'FCM_AUTH_UNAVAILABLE',
        `could not get an FCM access token from ${tokenUri.href} (${error.message}); the send will be retried`,
        true,
      );
    }
    const clean = (text: string) => remoteMessage(text, [assertion, account.private_key]);
    const body = parseJson(answer.body);
    if (answer.status === 200) {
      const value = isObject(body) ? body.access_token : undefined;
      const expiresIn = isObject(body) ? body.expires_in : undefined;
      if (typeof value === 'string' && value !== '' && typeof expiresIn === 'number' && expiresIn > 0) {
        return { value, renewAt: requestedAt + expiresIn * 1000 - TOKEN_RENEW_MARGIN_MS };
      }
      throw new ProviderError(
        'FCM_AUTH_UNAVAILABLE',
        `the token endpoint ${tokenUri.href} answered without an access token; the send will be retried`,
        true,
      );
    }
    if (answer.status === 429 || answer.status >= 500) {
      throw new ProviderError(
        'FCM_AUTH_UNAVAILABLE',
        `Google's token endpoint is unavailable (HTTP ${answer.status}); the send will be retried`,
        true,
      );
    }
    // 4xx (and a redirect, which is never followed: the assertion must not go elsewhere).
    const error = isObject(body) && typeof body.error === 'string' ? remoteCode(body.error) : undefined;
    const description =
      isObject(body) && typeof body.error_description === 'string' ? clean(body.error_description) : '';
    const said = error
      ? `${error}${description ? `: ${description}` : ''}`
      : `HTTP ${answer.status} from ${tokenUri.href}`;
    throw new ProviderError(
      'FCM_CREDENTIALS',
      `Google refused the app's service-account key ${account.client_email} (${said}): the key may have been ` +
        "deleted or disabled, or this server's clock is wrong; a workspace owner uploads a new key in the app's settings",
      false,
    );
  }

  /**
   * The app's access token: the cached one, the request in progress, or a new request. `keyHash` (of
   * the private key, computed once per batch) is part of the cache key, so an edited key, account or
   * token URI gets a token of its own, never the old config's.
   */
  function accessToken(
    appId: string,
    account: ServiceAccountKey,
    tokenUri: URL,
    keyHash: string,
  ): Promise<AccessToken> {
    const key = [account.client_email, account.private_key_id, tokenUri.href, keyHash].join('\n');
    const cached = tokens.get(appId);
    const expired = cached?.token !== undefined && now() >= cached.token.renewAt;
    if (cached && cached.key === key && !expired) return cached.pending;
    const entry: CachedToken = {
      key,
      pending: Promise.resolve().then(() =>
        requestToken(account, privateKey(appId, account, keyHash), tokenUri),
      ),
    };
    entry.pending.then(
      (token) => {
        entry.token = token;
      },
      () => {
        // A failed request is not cached: the next batch (the dispatcher's retry) asks again.
        if (tokens.get(appId) === entry) tokens.delete(appId);
      },
    );
    tokens.set(appId, entry);
    return entry.pending;
  }

  /** Forgets the app's token if it is still `failed`: of 100 requests refused with it, one renews it. */
  function dropToken(appId: string, failed: AccessToken): void {
    if (tokens.get(appId)?.token === failed) tokens.delete(appId);
  }

  return {
    answersEachDevice: true,

    async sendBatch(request: SendBatchRequest): Promise<SendBatchResult> {
      const config = fcmConfig(request.app);
      const account = config.serviceAccount;
      const baseUrl = checkedUrl(
        config.baseUrl ?? FCM_BASE_URL,
        FCM_BASE_URL,
        'FCM base URL',
        'baseUrl',
        urlAllowlist,
      );
      const tokenUri = checkedUrl(
        account.token_uri ?? GOOGLE_TOKEN_URI,
        GOOGLE_TOKEN_URI,
        'service-account token_uri',
        'token_uri',
        urlAllowlist,
      );
      if (request.devices.length === 0) return { providerRef: null, outcomes: [] };

      const common = messageWithoutToken(request, config);
      // Only the token differs between devices: the longest one decides whether every message fits.
      const longest = request.devices.reduce((a, b) => (b.pushToken.length > a.pushToken.length ? b : a));
      const bytes = Buffer.byteLength(JSON.stringify({ token: longest.pushToken, ...common }), 'utf8');
      if (bytes > MESSAGE_LIMIT_BYTES) {
        throw new ProviderError(
          'PAYLOAD_TOO_LARGE',
          `the FCM message is ${bytes} bytes and FCM accepts at most ${MESSAGE_LIMIT_BYTES}; shorten the title, content or parameters`,
          false,
        );
      }

      // Every device's body is this text with its token in front: one JSON.stringify per batch, not
      // per device (the request path runs once per device of a send).
      const messageTail = `,${JSON.stringify(common).slice(1)}}`;
      const keyHash = createHash('sha256').update(account.private_key).digest('hex');
      const base = baseUrl.pathname.replace(/\/+$/, '');
      const path = `${base}/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`;
      const fcm = origin(baseUrl);

      // The request headers of an access token, made once per token rather than once per device.
      let headersOf: { token: AccessToken; headers: Record<string, string> } | undefined;
      const headers = (token: AccessToken) => {
        if (headersOf?.token !== token) {
          headersOf = {
            token,
            headers: { authorization: `Bearer ${token.value}`, 'content-type': 'application/json' },
          };
        }
        return headersOf.headers;
      };

      /** One POST with `token`; a connection that failed is an answer asking for a retry. */
      async function post(device: BatchDevice, token: AccessToken): Promise<Http2Answer | DeviceAnswer> {
        try {
          return await fcm.request({
            method: 'POST',
            path,
            headers: headers(token),
            body: `{"message":{"token":${JSON.stringify(device.pushToken)}${messageTail}`,
            timeoutMs,
          });
        } catch (error) {
          if (!(error instanceof Http2RequestError)) throw error;
          // Retried even when FCM may have acted on it (server/src/dispatch/README.md says why).
          return { retry: { code: error.code, message: `could not reach FCM: ${error.message}` } };
        }
      }

      async function sendOne(device: BatchDevice): Promise<DeviceAnswer> {
        let token = await accessToken(request.app.id, account, tokenUri, keyHash);
        let answer = await post(device, token);
        if (!('status' in answer)) return answer;
        if (refusesCredentials(answer)) {
          // The token may have been revoked or expired early: renew it once, send this device again.
          dropToken(request.app.id, token);
          token = await accessToken(request.app.id, account, tokenUri, keyHash);
          answer = await post(device, token);
          if (!('status' in answer)) return answer;
          if (refusesCredentials(answer)) {
            const said = readError(answer, (text) => remoteMessage(text, [token.value, account.private_key]));
            throw credentialsError(account, said);
          }
        }
        return readSendAnswer(device, answer, account, (text) =>
          remoteMessage(text, [token.value, account.private_key]),
        );
      }

      const { gate, slots } = appPacing(request.app.id, config.concurrency ?? DEFAULT_CONCURRENCY);
      const outcomes = await sendEachDevice(
        request.devices,
        {
          concurrency: config.concurrency ?? DEFAULT_CONCURRENCY,
          maxAttempts: options.maxAttempts ?? 5,
          retryBaseMs: options.retryBaseMs ?? 1000,
          maxRetryMs: options.maxRetryMs ?? 60_000,
          sleep,
          gate,
          ...(request.signal && { signal: request.signal }),
          slots,
          ...(request.onAnswered && { onAnswered: request.onAnswered }),
        },
        sendOne,
      );
      return { providerRef: null, outcomes };
    },

    /**
     * Nothing to cancel: FCM sends each message the moment it accepts it and keeps no scheduled send
     * (the dispatcher starts scheduled tasks itself), so there is never a `providerRef` to cancel.
     */
    async cancel(): Promise<void> {},
  };

  /**
   * Turns FCM's answer to one device into its outcome, a retry, or a `ProviderError` that stops the
   * batch (the message itself or the project is wrong: every other device would fail the same way).
   */
  function readSendAnswer(
    device: BatchDevice,
    answer: Http2Answer,
    account: ServiceAccountKey,
    clean: (text: string) => string,
  ): DeviceAnswer {
    if (answer.status === 200) {
      const body = parseJson(answer.body);
      const name = isObject(body) && typeof body.name === 'string' ? body.name : undefined;
      return {
        outcome: { deviceId: device.deviceId, sendResult: 'no_feedback', ...(name && { providerRef: name }) },
      };
    }
    const error = readError(answer, clean);
    const tokenRefused =
      (answer.status === 404 && error.code === 'UNREGISTERED') ||
      (answer.status === 403 && error.code === 'SENDER_ID_MISMATCH') ||
      (answer.status === 400 && error.code === 'INVALID_ARGUMENT' && error.aboutToken);
    if (tokenRefused) {
      const outcome: DeviceSendOutcome = {
        deviceId: device.deviceId,
        sendResult: 'failure',
        failureReason: TOKEN_REASONS[error.code]!,
        invalidToken: error.code,
      };
      return { outcome };
    }
    const detail = error.message ? `${error.code}: ${error.message}` : error.code;
    if (answer.status === 429) {
      return {
        retry: {
          code: error.code,
          message: `FCM says the project is over its sending quota (${detail})`,
          ...retryAfter(answer),
          pauseAll: true,
        },
      };
    }
    if (answer.status >= 500) {
      return {
        retry: {
          code: error.code,
          message: `FCM is unavailable (HTTP ${answer.status}, ${detail})`,
          ...retryAfter(answer),
        },
      };
    }
    if (answer.status === 400 && error.code === 'INVALID_ARGUMENT') {
      throw new ProviderError('FCM_INVALID_ARGUMENT', `FCM refused the message (${detail})`, false);
    }
    if (answer.status === 404) {
      throw new ProviderError(
        'FCM_CREDENTIALS',
        `FCM does not know the Firebase project ${account.project_id} (${detail}): check the project of the ` +
          "service-account key; a workspace owner can upload the right key in the app's settings",
        false,
      );
    }
    throw new ProviderError(
      `FCM_${remoteCode(error.status ?? error.code, `HTTP_${answer.status}`)}`,
      `FCM refused the send with HTTP ${answer.status} (${detail})`,
      false,
    );
  }

  /** `Retry-After` (seconds, or an HTTP date) as `afterMs`, when FCM sent one. */
  function retryAfter(answer: Http2Answer): { afterMs?: number } {
    const raw = answer.headers['retry-after'];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined || value.trim() === '') return {};
    if (/^\d+$/.test(value.trim())) return { afterMs: Number(value.trim()) * 1000 };
    const at = Date.parse(value);
    return Number.isNaN(at) ? {} : { afterMs: Math.max(0, at - now()) };
  }
}

/**
 * The message of a batch without its `token`: the notification, Pushboard's data keys (each a string,
 * the task's params first so that none can replace ours) and the Android options.
 */
function messageWithoutToken(request: SendBatchRequest, config: FcmConfig): Json {
  const { clickAction }: TaskContent = request.content;
  const data: Record<string, string> = {
    ...clickAction.params,
    [TASK_ID_KEY]: request.taskId,
    pb_batch: request.batchId,
    pb_click: clickAction.type,
  };
  if (clickAction.type === 'open_url' && clickAction.url !== undefined) data.pb_url = clickAction.url;
  if (clickAction.type === 'open_page' && clickAction.page !== undefined) data.pb_page = clickAction.page;
  const notification: Record<string, string> = {
    // The same tag replaces a notification shown before: a device reached twice shows it once.
    tag: request.taskId,
  };
  if (config.androidChannelId !== undefined) notification.channel_id = config.androidChannelId;
  if (clickAction.type === 'open_page' && clickAction.page !== undefined)
    notification.click_action = clickAction.page;
  return {
    notification: { title: request.content.title, body: request.content.content },
    data,
    // How long FCM keeps the message for an offline device: the task's time to live.
    android: { priority: 'high', ttl: `${request.content.ttlSeconds ?? DEFAULT_TTL_SECONDS}s`, notification },
  };
}

/** `value` parsed, when requests may go there (docs/providers.md#endpoints-and-credentials); else the batch stops before anything is sent. */
function checkedUrl(
  value: string,
  realEndpoint: string,
  what: string,
  field: string,
  allowlist: readonly string[],
): URL {
  if (!endpointAllowed(value, allowlist, realEndpoint)) {
    throw new ProviderError(
      'PROVIDER_URL_NOT_ALLOWED',
      `the app's ${what} ${value} is not allowed by this deployment (PUSHBOARD_PROVIDER_URL_ALLOWLIST), so ` +
        `nothing was sent: a workspace owner sets the app's ${field} to an allowed address, or removes it to use Google's own`,
      false,
    );
  }
  return new URL(value);
}

function fcmConfig(app: ProviderApp): FcmConfig {
  if (app.provider !== 'fcm') {
    throw new ProviderError('WRONG_PROVIDER', `app ${app.id} sends through ${app.provider}, not fcm`, false);
  }
  return app.config;
}
