/**
 * The `apns` provider: the Apple Push Notification service's HTTP/2 API (docs/providers.md#apns) behind the
 * `Provider` interface. Each device gets its own `POST /3/device/<token>`, many streams in flight on
 * one shared HTTP/2 connection (`sendEachDevice` paces and retries them), authorised by an ES256
 * provider token that is signed once per signing key and reused until it is 40 minutes old.
 * Guarantees and assumptions are summed up in README.md.
 */
import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import { DEFAULT_TTL_SECONDS, TASK_ID_KEY } from '../domain/task-content.ts';
import type { ApnsConfig } from './apns-config.ts';
import { APNS_BASE_URLS, endpointAllowed } from './endpoints.ts';
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
  type Provider,
  type ProviderApp,
  ProviderError,
  type SendBatchRequest,
  type SendBatchResult,
} from './provider.ts';
import { remoteCode } from './remote-text.ts';

/** APNs' limit on a notification's payload, in UTF-8 bytes of its JSON. */
export const PAYLOAD_LIMIT_BYTES = 4096;

/** How long one request to APNs may take, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 15_000;

/** Streams in flight at once per app when its config names no `concurrency`. */
export const DEFAULT_CONCURRENCY = 100;

/**
 * Age at which a provider token is replaced, in milliseconds. APNs refuses tokens older than an hour
 * and renewals more often than every 20 minutes (docs/providers.md#apns asks for 20–50 minutes): 40 minutes keeps
 * clear of both, even with some clock skew.
 */
export const PROVIDER_TOKEN_RENEW_MS = 40 * 60 * 1000;

/** What a device token must look like before it goes into the request path: hex digits only. */
const DEVICE_TOKEN = /^[0-9a-fA-F]{32,200}$/;

/** Things a test (or a caller with special needs) can swap; each defaults to the real one. */
export interface ApnsProviderOptions {
  /**
   * `Config.providerUrlAllowlist`: prefixes an app's `baseUrl` may start with besides APNs' own
   * addresses (default none). Checked before every batch.
   */
  urlAllowlist?: readonly string[];
  /** The current time, for the provider token's `iat`, its age and `apns-expiration`. */
  clock?: () => Date;
  /** Trusted CA certificates instead of the system's: tests with a self-signed fake only. */
  ca?: string | Buffer;
  /** Time limit of one request, in milliseconds. */
  timeoutMs?: number;
  /** Waits between retries (tests record them instead of waiting). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** First retry wait when APNs names none, in milliseconds; doubles per attempt. */
  retryBaseMs?: number;
  /** Longest wait between two requests of one device, in milliseconds. */
  maxRetryMs?: number;
  /** Requests per device before a retry answer stops the batch (retryable). */
  maxAttempts?: number;
}

/** A signed provider token and when it was signed (epoch ms). */
interface ProviderToken {
  jwt: string;
  signedAt: number;
}

/** Why a device failed, in a marketer's words, for the answers that say its token is no good. */
const TOKEN_REASONS: Record<string, string> = {
  Unregistered: 'the app was removed from the device or its push token expired (Unregistered)',
  ExpiredToken: 'the push token has expired (ExpiredToken)',
  BadDeviceToken: 'the push token is not a valid APNs device token (BadDeviceToken)',
  DeviceTokenNotForTopic:
    "the push token belongs to another app than this app's bundle ID (DeviceTokenNotForTopic)",
};

/** Reasons that say the provider token was refused: renew it once and send again. */
const TOKEN_REFUSED = new Set(['ExpiredProviderToken', 'InvalidProviderToken', 'MissingProviderToken']);

/** What the reasons that stop a send mean, for the workspace owner reading the failed task. */
const STOP_REASONS: Record<string, string> = {
  BadTopic: "APNs refused the app's bundle ID as topic — check the bundle ID in the app's settings",
  MissingTopic: "APNs needs the app's bundle ID as topic — set it in the app's settings",
  TopicDisallowed:
    "APNs does not let this signing key's team send to the app's bundle ID — check the team ID and bundle ID",
  BadCertificateEnvironment:
    "the app's environment (production or sandbox) does not match its signing key — check the environment in the app's settings",
  BadCertificate: 'APNs refused the connection credentials',
  Forbidden: 'APNs refused the send (Forbidden)',
  PayloadTooLarge:
    'the notification is larger than APNs accepts (4096 bytes); shorten the title, content or parameters',
  PayloadEmpty: 'APNs found the notification empty or unreadable',
  BadPath: "APNs does not know the request path — check the app's base URL",
  MethodNotAllowed: "APNs refused the request method — check the app's base URL",
  BadExpirationDate: 'APNs refused the expiry time of the notification',
  BadPriority: 'APNs refused the priority of the notification',
  BadMessageId: 'APNs refused the notification ID (apns-id)',
  BadCollapseId: 'APNs refused the collapse ID of the notification (more than 64 bytes)',
  InvalidPushType: 'APNs refused the push type of the notification',
  UnrelatedKeyIdInToken: "the signing key does not belong to the app's team — check the team ID and key ID",
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The base URL an app's requests go to: its `baseUrl`, else APNs' own for its environment. */
export function apnsBaseUrl(config: ApnsConfig): string {
  return config.baseUrl ?? APNS_BASE_URLS[config.environment];
}

/** Creates the APNs provider; `options` swap the clock, waits, limits and trusted CA (tests do). */
export function createApnsProvider(options: ApnsProviderOptions = {}): Provider {
  const urlAllowlist = options.urlAllowlist ?? [];
  const clock = options.clock ?? (() => new Date());
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const sleep = options.sleep ?? sleepUnlessAborted;
  const now = () => clock().getTime();

  // One HTTP/2 connection per origin and team (APNs wants few connections, and one connection carries
  // the provider tokens of one team: whether APNs accepts several teams' tokens on one connection is
  // not documented, so teams never share one).
  const origins = new Map<string, Http2Origin>();
  // Per signing key (team, key ID, hash of the key text): the parsed key and its current provider token.
  const signers = new Map<string, { key: KeyObject; token?: ProviderToken }>();
  const pacing = new Map<string, { gate: PauseGate; slots: RequestSlots; limit: number }>();

  function origin(url: URL, teamId: string): Http2Origin {
    const key = `${url.origin}\n${teamId}`;
    let found = origins.get(key);
    if (!found) {
      found = createHttp2Origin(url.origin, { ...(options.ca !== undefined && { ca: options.ca }) });
      origins.set(key, found);
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

  /** The signer of the app's key, the key parsed once; a key that is not P-256 stops the send. */
  function signer(config: ApnsConfig): { key: KeyObject; token?: ProviderToken } {
    const hash = createHash('sha256').update(config.privateKey).digest('hex');
    const id = [config.teamId, config.keyId, hash].join('\n');
    let found = signers.get(id);
    if (!found) {
      found = { key: readSigningKey(config) };
      signers.set(id, found);
    }
    return found;
  }

  /**
   * The signer's provider token: the current one while it is younger than `PROVIDER_TOKEN_RENEW_MS`,
   * else a new one. `refused` is a token APNs just refused: it is replaced only if it is still the
   * current one, so that of 100 requests refused with it, the first renews it and the others use the
   * new token (one renewal, not 100, which APNs would refuse as TooManyProviderTokenUpdates).
   */
  function providerToken(
    config: ApnsConfig,
    entry: { key: KeyObject; token?: ProviderToken },
    refused?: string,
  ): ProviderToken {
    const current = entry.token;
    const stale = current === undefined || now() - current.signedAt >= PROVIDER_TOKEN_RENEW_MS;
    if (!stale && (refused === undefined || current.jwt !== refused)) return current;
    const signedAt = now();
    const jwt = signJwt(
      'ES256',
      { kid: config.keyId },
      { iss: config.teamId, iat: Math.floor(signedAt / 1000) },
      entry.key,
    );
    entry.token = { jwt, signedAt };
    return entry.token;
  }

  return {
    answersEachDevice: true,

    async sendBatch(request: SendBatchRequest): Promise<SendBatchResult> {
      const config = apnsConfig(request.app);
      const base = apnsBaseUrl(config);
      if (!endpointAllowed(base, urlAllowlist, Object.values(APNS_BASE_URLS))) {
        throw new ProviderError(
          'PROVIDER_URL_NOT_ALLOWED',
          `the app's APNs base URL ${base} is not allowed by this deployment (PUSHBOARD_PROVIDER_URL_ALLOWLIST), so ` +
            "nothing was sent: a workspace owner sets the app's baseUrl to an allowed address, or removes it to use Apple's own",
          false,
        );
      }
      if (request.devices.length === 0) return { providerRef: null, outcomes: [] };

      const body = JSON.stringify(notification(request));
      const bytes = Buffer.byteLength(body, 'utf8');
      if (bytes > PAYLOAD_LIMIT_BYTES) {
        throw new ProviderError(
          'PAYLOAD_TOO_LARGE',
          `the APNs notification is ${bytes} bytes and APNs accepts at most ${PAYLOAD_LIMIT_BYTES}; shorten the title, content or parameters`,
          false,
        );
      }
      const entry = signer(config);
      const baseUrl = new URL(base);
      const basePath = baseUrl.pathname.replace(/\/+$/, '');
      const apns = origin(baseUrl, config.teamId);
      const ttlSeconds = request.content.ttlSeconds ?? DEFAULT_TTL_SECONDS;
      // One notification ID per device, kept across its retries: APNs' logs then show one notification.
      const apnsIds = new Map<string, string>();

      /** One POST with `token`; a connection that failed is an answer asking for a retry. */
      async function post(
        device: BatchDevice,
        apnsId: string,
        token: ProviderToken,
      ): Promise<Http2Answer | DeviceAnswer> {
        try {
          return await apns.request({
            method: 'POST',
            path: `${basePath}/3/device/${device.pushToken}`,
            headers: {
              authorization: `bearer ${token.jwt}`,
              'apns-topic': config.bundleId,
              'apns-push-type': 'alert',
              'apns-priority': '10',
              // Until when APNs keeps the notification for an offline device: the task's time to live.
              'apns-expiration': String(Math.floor(now() / 1000) + ttlSeconds),
              'apns-id': apnsId,
              // A repeat of the task's notification replaces the one shown instead of showing twice.
              'apns-collapse-id': request.taskId,
              'content-type': 'application/json',
            },
            body,
            timeoutMs,
          });
        } catch (error) {
          if (!(error instanceof Http2RequestError)) throw error;
          // Retried even when APNs may have acted on it (server/src/dispatch/README.md says why).
          return { retry: { code: error.code, message: `could not reach APNs: ${error.message}` } };
        }
      }

      async function sendOne(device: BatchDevice): Promise<DeviceAnswer> {
        // The token goes into the request path: anything but hex digits (`/`, `?`, `..`) never leaves.
        if (!DEVICE_TOKEN.test(device.pushToken)) {
          return {
            outcome: {
              deviceId: device.deviceId,
              sendResult: 'failure',
              failureReason: 'the push token is not a valid APNs device token (BadDeviceToken)',
              invalidToken: 'BadDeviceToken',
            },
          };
        }
        let apnsId = apnsIds.get(device.deviceId);
        if (apnsId === undefined) {
          apnsId = randomUUID();
          apnsIds.set(device.deviceId, apnsId);
        }
        let token = providerToken(config, entry);
        let answer = await post(device, apnsId, token);
        if (!('status' in answer)) return answer;
        let reason = readReason(answer);
        if (answer.status === 403 && TOKEN_REFUSED.has(reason)) {
          // The token may have expired early or the key been replaced: renew it once, send again.
          token = providerToken(config, entry, token.jwt);
          answer = await post(device, apnsId, token);
          if (!('status' in answer)) return answer;
          reason = readReason(answer);
          if (answer.status === 403 && TOKEN_REFUSED.has(reason)) throw credentialsError(config, reason);
        }
        return readSendAnswer(device, apnsId, answer, reason);
      }

      const concurrency = config.concurrency ?? DEFAULT_CONCURRENCY;
      const { gate, slots } = appPacing(request.app.id, concurrency);
      const outcomes = await sendEachDevice(
        request.devices,
        {
          concurrency,
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
     * Nothing to cancel: APNs sends each notification the moment it accepts it and keeps no scheduled
     * send (the dispatcher starts scheduled tasks itself), so there is never a `providerRef` to cancel.
     */
    async cancel(): Promise<void> {},
  };

  /**
   * Turns APNs' answer to one device into its outcome, a retry, or a `ProviderError` that stops the
   * batch (the topic, the payload or the credentials are wrong: every other device would fail alike).
   */
  function readSendAnswer(
    device: BatchDevice,
    apnsId: string,
    answer: Http2Answer,
    reason: string,
  ): DeviceAnswer {
    if (answer.status === 200) {
      const given = answer.headers['apns-id'];
      const providerRef = typeof given === 'string' && given !== '' ? given : apnsId;
      return { outcome: { deviceId: device.deviceId, sendResult: 'success', providerRef } };
    }
    const tokenRefused =
      answer.status === 410 ||
      (answer.status === 400 && (reason === 'BadDeviceToken' || reason === 'DeviceTokenNotForTopic'));
    if (tokenRefused) {
      // A 410 always means the token is no longer active, whether or not it names why.
      const word = answer.status === 410 && reason.startsWith('HTTP_') ? 'Unregistered' : reason;
      return {
        outcome: {
          deviceId: device.deviceId,
          sendResult: 'failure',
          failureReason: TOKEN_REASONS[word] ?? `APNs says the push token is no longer valid (${word})`,
          invalidToken: word,
        },
      };
    }
    if (answer.status === 429) {
      const message =
        reason === 'TooManyProviderTokenUpdates'
          ? 'APNs refused a new provider token so soon after the previous one (TooManyProviderTokenUpdates)'
          : 'APNs says too many notifications went to this device in a short time (TooManyRequests)';
      // Only this device is over APNs' limit, not the app: the others go on.
      return { retry: { code: `APNS_${reason}`, message, ...retryAfter(answer) } };
    }
    if (answer.status >= 500) {
      return {
        retry: {
          code: `APNS_${reason}`,
          message: `APNs is unavailable (HTTP ${answer.status}, ${reason})`,
          ...retryAfter(answer),
        },
      };
    }
    const words = STOP_REASONS[reason] ?? `APNs refused the notification with HTTP ${answer.status}`;
    throw new ProviderError(`APNS_${reason}`, `${words} (${reason})`, false);
  }

  /** `Retry-After` (seconds, or an HTTP date) as `afterMs`, when APNs sent one. */
  function retryAfter(answer: Http2Answer): { afterMs?: number } {
    const raw = answer.headers['retry-after'];
    const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (value === undefined || value === '') return {};
    if (/^\d+$/.test(value)) return { afterMs: Number(value) * 1000 };
    const at = Date.parse(value);
    return Number.isNaN(at) ? {} : { afterMs: Math.max(0, at - now()) };
  }
}

/**
 * APNs' `reason` of an answer, as a short word that may be copied into an error (`remoteCode`);
 * `HTTP_<status>` when the body names none (a 200 has none).
 */
function readReason(answer: Http2Answer): string {
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    body = undefined;
  }
  const given = isObject(body) && typeof body.reason === 'string' ? body.reason : undefined;
  return remoteCode(given, `HTTP_${answer.status}`);
}

/** The payload of a batch: the task's params first, so that none can replace Pushboard's keys. */
function notification(request: SendBatchRequest): Json {
  const { title, content, clickAction } = request.content;
  return {
    ...clickAction.params,
    aps: { alert: { title, body: content }, sound: 'default', 'mutable-content': 1 },
    [TASK_ID_KEY]: request.taskId,
    pb_batch: request.batchId,
  };
}

/** The app's signing key, parsed; anything but a P-256 EC private key stops the send. */
function readSigningKey(config: ApnsConfig): KeyObject {
  let key: KeyObject | undefined;
  try {
    key = readPrivateKey(config.privateKey);
  } catch {
    key = undefined;
  }
  if (key?.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ProviderError(
      'APNS_CREDENTIALS',
      `the signing key ${config.keyId} of team ${config.teamId} is not an APNs .p8 key (an EC P-256 private key), ` +
        "so nothing was sent: a workspace owner uploads the .p8 file from the Apple developer account in the app's settings",
      false,
    );
  }
  return key;
}

function credentialsError(config: ApnsConfig, reason: string): ProviderError {
  return new ProviderError(
    'APNS_CREDENTIALS',
    `APNs refused the app's signing key ${config.keyId} of team ${config.teamId} (${reason}): check the team ID, ` +
      "key ID and that the .p8 key is not revoked; a workspace owner uploads the key again in the app's settings",
    false,
  );
}

function apnsConfig(app: ProviderApp): ApnsConfig {
  if (app.provider !== 'apns') {
    throw new ProviderError('WRONG_PROVIDER', `app ${app.id} sends through ${app.provider}, not apns`, false);
  }
  return app.config;
}
