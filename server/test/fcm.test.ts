/**
 * The `fcm` provider in process against a local fake of FCM HTTP v1 and Google's token endpoint
 * (fake-fcm.ts) over real HTTP/2 + TLS on loopback; the provider trusts the fake's self-signed
 * certificate through its `ca` option. Provider and fake share one virtual clock, which the
 * provider's `sleep` moves forward (and records), so retries and token expiry need no real waiting.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import type { ClickAction } from '../src/domain/task-content.ts';
import { DEFAULT_TTL_SECONDS } from '../src/domain/task-content.ts';
import { createFcmProvider, type FcmProviderOptions } from '../src/providers/fcm.ts';
import type { FcmConfig } from '../src/providers/fcm-config.ts';
import {
  type BatchDevice,
  type DeviceSendOutcome,
  type Provider,
  type ProviderApp,
  ProviderError,
  type SendBatchRequest,
} from '../src/providers/provider.ts';
import {
  type FakeFcm,
  type GeneratedServiceAccount,
  generateServiceAccount,
  startFakeFcm,
} from './fake-fcm.ts';
import { createTestCertificate, type TestCertificate } from './tls-fixture.ts';

const APP_ID = 'app_01jc5x0q8m4f7tq3wz9k2v6e1h';
const TASK_ID = 'tsk_01jc5x0q8m4f7tq3wz9k2v6e1h';
const BATCH_ID = 'tsk_01jc5x0q8m4f7tq3wz9k2v6e1h-b0001';
const PROJECT = 'pushboard-demo';
const OTHER_PROJECT = 'pushboard-other';

let certificate: TestCertificate;
let demo: ReturnType<typeof generateServiceAccount>;
let other: ReturnType<typeof generateServiceAccount>;
let fake: FakeFcm;
// The virtual clock's lead over real time, in milliseconds, and every wait the provider asked for.
let offset: number;
let waits: number[];

const now = () => Date.now() + offset;
const recordedSleep = async (ms: number) => {
  waits.push(ms);
  offset += ms;
};

beforeAll(() => {
  certificate = createTestCertificate();
  demo = generateServiceAccount(PROJECT);
  other = generateServiceAccount(OTHER_PROJECT);
});

afterAll(() => certificate.remove());

beforeEach(async () => {
  offset = 0;
  waits = [];
  fake = await startFakeFcm({ accounts: [demo.account, other.account], cert: certificate, now });
});

afterEach(async () => {
  await fake.close();
});

function provider(options: FcmProviderOptions = {}): Provider {
  // The fake listens on loopback: the deployment's allowlist names it (docs/providers.md#endpoints-and-credentials).
  return createFcmProvider({
    ca: certificate.cert,
    urlAllowlist: ['https://127.0.0.1:'],
    clock: () => new Date(now()),
    sleep: recordedSleep,
    timeoutMs: 5_000,
    ...options,
  });
}

function serviceAccount(key: GeneratedServiceAccount = demo.serviceAccount) {
  return { ...key, token_uri: fake.tokenUri };
}

function fcmApp(config: Partial<FcmConfig> = {}): ProviderApp {
  return {
    id: APP_ID,
    platform: 'android',
    provider: 'fcm',
    config: { serviceAccount: serviceAccount(), baseUrl: fake.baseUrl, ...config },
  };
}

/** FCM registration tokens look like `<instance id>:APA91b<…>`, about 160 characters. */
function token(i: number): string {
  return `d${String(i).padStart(9, '0')}:APA91b${'x'.repeat(140)}`;
}

function devices(count: number, prefix = 'device-'): BatchDevice[] {
  return Array.from({ length: count }, (_, i) => ({
    deviceId: `${prefix}${i}`,
    pushToken: token(i),
    channel: 'fcm',
  }));
}

function request(overrides: Partial<SendBatchRequest> = {}, clickAction?: ClickAction): SendBatchRequest {
  return {
    app: fcmApp(),
    taskId: TASK_ID,
    batchId: BATCH_ID,
    content: {
      title: 'Spring sale',
      content: 'Everything 20% off today',
      clickAction: clickAction ?? { type: 'open_app' },
    },
    devices: devices(3),
    sendAt: null,
    receiptUrl: 'https://push.example.com/api/v1/receipts/fcm/app',
    ...overrides,
  };
}

async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

/** A `sleep` that holds every wait until `release()`, after which the clock has moved and waits pass. */
function heldSleep() {
  const held: { ms: number; resolve: () => void }[] = [];
  let released = false;
  return {
    held,
    sleep: (ms: number) => {
      waits.push(ms);
      if (released) {
        offset += ms;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => held.push({ ms, resolve }));
    },
    release(advanceMs: number) {
      released = true;
      offset += advanceMs;
      for (const wait of held.splice(0)) wait.resolve();
    },
  };
}

describe('messages', () => {
  test('a message carries the notification, string data with pb_task and pb_batch, a 72 h TTL, high priority, the task as tag, the channel and the page', async () => {
    const app = fcmApp({ androidChannelId: 'promotions' });
    const clickAction: ClickAction = {
      type: 'open_page',
      page: 'com.example.shop.PromoActivity',
      params: { coupon: 'SPRING20', count: '3' },
    };
    await provider().sendBatch(request({ app, devices: devices(1) }, clickAction));
    expect(fake.sends).toHaveLength(1);
    expect(fake.sends[0]!.message).toEqual({
      token: token(0),
      notification: { title: 'Spring sale', body: 'Everything 20% off today' },
      data: {
        coupon: 'SPRING20',
        count: '3',
        pb_task: TASK_ID,
        pb_batch: BATCH_ID,
        pb_click: 'open_page',
        pb_page: 'com.example.shop.PromoActivity',
      },
      android: {
        priority: 'high',
        ttl: '259200s',
        notification: {
          tag: TASK_ID,
          channel_id: 'promotions',
          click_action: 'com.example.shop.PromoActivity',
        },
      },
    });
    expect(DEFAULT_TTL_SECONDS).toBe(72 * 60 * 60);
  });

  test('an open_url message carries pb_url in data, and no channel or click_action when none applies', async () => {
    const clickAction: ClickAction = { type: 'open_url', url: 'https://shop.example.com/spring' };
    await provider().sendBatch(request({ devices: devices(1) }, clickAction));
    const { message } = fake.sends[0]!;
    expect(message.data).toEqual({
      pb_task: TASK_ID,
      pb_batch: BATCH_ID,
      pb_click: 'open_url',
      pb_url: 'https://shop.example.com/spring',
    });
    expect(message.android).toEqual({ priority: 'high', ttl: '259200s', notification: { tag: TASK_ID } });
  });

  test('the task’s time to live is the message’s android.ttl', async () => {
    const base = request({ devices: devices(1) });
    await provider().sendBatch({ ...base, content: { ...base.content, ttlSeconds: 3600 } });
    expect(fake.sends[0]!.message.android).toMatchObject({ ttl: '3600s' });
  });

  test('every accepted device is no_feedback with the FCM message name as its provider reference', async () => {
    const result = await provider().sendBatch(request({ devices: devices(5) }));
    expect(result.providerRef).toBeNull();
    expect(result.outcomes).toHaveLength(5);
    const nameByToken = new Map(fake.sends.map((send) => [send.token, send.name]));
    for (const outcome of result.outcomes) {
      const index = Number(outcome.deviceId.replace('device-', ''));
      expect(outcome).toEqual({
        deviceId: `device-${index}`,
        sendResult: 'no_feedback',
        providerRef: nameByToken.get(token(index)),
      });
      expect(outcome.providerRef).toMatch(new RegExp(`^projects/${PROJECT}/messages/`));
    }
  });

  test('onAnswered is called once per device, with the outcomes the batch returns', async () => {
    const answered: DeviceSendOutcome[] = [];
    const result = await provider().sendBatch(
      request({ devices: devices(40), onAnswered: (outcome) => answered.push(outcome) }),
    );
    expect(answered).toHaveLength(40);
    expect(new Set(answered.map((o) => o.deviceId)).size).toBe(40);
    expect(answered).toEqual(result.outcomes);
  });

  test('a message over 4096 bytes is refused before anything is sent', async () => {
    const content = {
      title: 'Spring sale',
      content: 'x'.repeat(4000),
      clickAction: { type: 'open_app' as const },
    };
    const error = await providerError(provider().sendBatch(request({ content })));
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', retryable: false });
    expect(error.message).toContain('at most 4096');
    expect(fake.tokenRequests).toBe(0);
    expect(fake.sendRequests).toBe(0);
  });

  test('a message FCM refuses (INVALID_ARGUMENT not about the token) stops the batch', async () => {
    // FCM reserves the data key `from`; task validation does not know it, FCM refuses the message.
    const clickAction: ClickAction = { type: 'custom', params: { from: 'newsletter' } };
    const answered: DeviceSendOutcome[] = [];
    const error = await providerError(
      provider().sendBatch(
        request(
          { app: fcmApp({ concurrency: 1 }), devices: devices(5), onAnswered: (o) => answered.push(o) },
          clickAction,
        ),
      ),
    );
    expect(error).toMatchObject({ code: 'FCM_INVALID_ARGUMENT', retryable: false });
    expect(error.message).toBe('FCM refused the message (INVALID_ARGUMENT: Invalid data payload key: from)');
    expect(fake.sendRequests).toBe(1);
    expect(answered).toEqual([]);
  });

  test('an app of another provider is refused', async () => {
    const app: ProviderApp = { id: APP_ID, platform: 'android', provider: 'simulator', config: {} };
    const error = await providerError(provider().sendBatch(request({ app })));
    expect(error).toMatchObject({ code: 'WRONG_PROVIDER', retryable: false });
  });
});

describe('access tokens', () => {
  test('the assertion is RS256 with kid, iss, scope, aud = token_uri and one hour of life; 300 devices need one token', async () => {
    const result = await provider().sendBatch(request({ devices: devices(300) }));
    expect(result.outcomes.every((o) => o.sendResult === 'no_feedback')).toBe(true);
    expect(fake.tokenRequests).toBe(1);
    expect(fake.sendRequests).toBe(300);
    expect(fake.assertions).toHaveLength(1);
    const { header, claims } = fake.assertions[0]!;
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT', kid: demo.serviceAccount.private_key_id });
    expect(claims).toEqual({
      iss: demo.serviceAccount.client_email,
      scope: 'https://www.googleapis.com/auth/firebase.messaging',
      aud: fake.tokenUri,
      iat: expect.any(Number),
      exp: (claims.iat as number) + 3600,
    });
  });

  test('the token is reused by later batches and renewed a minute before it expires', async () => {
    const fcm = provider();
    await fcm.sendBatch(request());
    offset += 3000 * 1000;
    await fcm.sendBatch(request());
    expect(fake.tokenRequests).toBe(1);
    // Google grants 3599 s; at 3540 s the provider asks for a new one rather than risk a refusal.
    offset += 540 * 1000;
    await fcm.sendBatch(request());
    expect(fake.tokenRequests).toBe(2);
    expect(fake.sends).toHaveLength(9);
  });

  test('an edited service account gets a token of its own', async () => {
    const fcm = provider();
    await fcm.sendBatch(request());
    const edited = fcmApp({ serviceAccount: serviceAccount(other.serviceAccount) });
    const result = await fcm.sendBatch(request({ app: edited }));
    expect(result.outcomes.every((o) => o.sendResult === 'no_feedback')).toBe(true);
    expect(fake.tokenRequests).toBe(2);
    expect(fake.assertions[1]!.claims.iss).toBe(other.serviceAccount.client_email);
    expect(result.outcomes[0]!.providerRef).toMatch(new RegExp(`^projects/${OTHER_PROJECT}/`));
  });

  test('a revoked token is renewed once and the send goes on', async () => {
    const fcm = provider();
    await fcm.sendBatch(request({ devices: devices(1) }));
    fake.revokeTokens();
    fake.answerDelayMs = 20;
    const result = await fcm.sendBatch(request({ devices: devices(50) }));
    expect(result.outcomes).toHaveLength(50);
    expect(result.outcomes.every((o) => o.sendResult === 'no_feedback')).toBe(true);
    // 50 requests refused at once share one renewal.
    expect(fake.tokenRequests).toBe(2);
    expect(fake.sends).toHaveLength(51);
  });

  test('PERMISSION_DENIED for the project after a renewal stops the send with FCM_CREDENTIALS, free of secrets', async () => {
    fake.denyProject(PROJECT);
    const error = await providerError(provider().sendBatch(request({ devices: devices(20) })));
    expect(error).toMatchObject({ code: 'FCM_CREDENTIALS', retryable: false });
    expect(error.message).toBe(
      `FCM refused the service account ${demo.serviceAccount.client_email} for project ${PROJECT} (PERMISSION_DENIED): ` +
        'check that the Firebase Cloud Messaging API is enabled and the account may send (role Firebase Cloud ' +
        "Messaging API Admin); a workspace owner can upload a new key in the app's settings",
    );
    expect(fake.tokenRequests).toBe(2);
    expect(fake.sends).toHaveLength(0);
    for (const accessToken of fake.accessTokens) expect(error.message).not.toContain(accessToken);
    expect(error.message).not.toContain('PRIVATE KEY');
  });

  test('a grant Google refuses (invalid_grant) is FCM_CREDENTIALS and nothing is sent', async () => {
    fake.refuseGrant = true;
    const error = await providerError(provider().sendBatch(request()));
    expect(error).toMatchObject({ code: 'FCM_CREDENTIALS', retryable: false });
    expect(error.message).toBe(
      `Google refused the app's service-account key ${demo.serviceAccount.client_email} (invalid_grant: Invalid JWT Signature.): ` +
        "the key may have been deleted or disabled, or this server's clock is wrong; a workspace owner uploads a new key in the app's settings",
    );
    expect(fake.sendRequests).toBe(0);
  });

  test('an assertion whose kid is not the key’s is refused by the token endpoint', async () => {
    const wrongKid = { ...serviceAccount(), private_key_id: 'f'.repeat(40) };
    const error = await providerError(
      provider().sendBatch(request({ app: fcmApp({ serviceAccount: wrongKid }) })),
    );
    expect(error).toMatchObject({ code: 'FCM_CREDENTIALS', retryable: false });
    expect(error.message).toContain('invalid_grant');
    expect(fake.assertions).toHaveLength(0);
    expect(fake.sendRequests).toBe(0);
  });

  test('a private key that cannot be read is FCM_CREDENTIALS without the key in the message', async () => {
    const broken = {
      ...serviceAccount(),
      private_key: '-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n',
    };
    const error = await providerError(
      provider().sendBatch(request({ app: fcmApp({ serviceAccount: broken }) })),
    );
    expect(error).toMatchObject({ code: 'FCM_CREDENTIALS', retryable: false });
    expect(error.message).toContain('cannot be read');
    expect(error.message).not.toContain('not-a-key');
    expect(fake.tokenRequests).toBe(0);
  });

  test('a token endpoint that cannot be reached is FCM_AUTH_UNAVAILABLE, retryable', async () => {
    const unreachable = { ...serviceAccount(), token_uri: 'https://127.0.0.1:1/token' };
    const error = await providerError(
      provider().sendBatch(request({ app: fcmApp({ serviceAccount: unreachable }) })),
    );
    expect(error).toMatchObject({ code: 'FCM_AUTH_UNAVAILABLE', retryable: true });
    expect(fake.sendRequests).toBe(0);
  });
});

describe('concurrency', () => {
  test('100 requests are in flight at once by default', async () => {
    fake.answerDelayMs = 200;
    const result = await provider().sendBatch(request({ devices: devices(300) }));
    expect(result.outcomes).toHaveLength(300);
    expect(fake.maxInFlight).toBe(100);
  });

  test('a lower configured concurrency is kept exactly', async () => {
    fake.answerDelayMs = 50;
    await provider().sendBatch(request({ app: fcmApp({ concurrency: 7 }), devices: devices(40) }));
    expect(fake.maxInFlight).toBe(7);
  });

  test('two batches of one app in flight together share its concurrency', async () => {
    fake.answerDelayMs = 50;
    const fcm = provider();
    const app = fcmApp({ concurrency: 5 });
    await Promise.all([
      fcm.sendBatch(request({ app, devices: devices(20, 'a-') })),
      fcm.sendBatch(request({ app, batchId: `${TASK_ID}-b0002`, devices: devices(20, 'b-') })),
    ]);
    expect(fake.sendRequests).toBe(40);
    expect(fake.maxInFlight).toBe(5);
  });
});

describe('device answers', () => {
  test('UNREGISTERED, an invalid token and SENDER_ID_MISMATCH fail their device and mark its token invalid; the others are accepted', async () => {
    fake.unregistered.add(token(1));
    fake.invalidTokens.add(token(2));
    fake.senderMismatch.add(token(3));
    const result = await provider().sendBatch(request({ devices: devices(5) }));
    const byDevice = new Map(result.outcomes.map((o) => [o.deviceId, o]));
    expect(byDevice.get('device-1')).toEqual({
      deviceId: 'device-1',
      sendResult: 'failure',
      failureReason: 'the app was uninstalled or its push token expired (UNREGISTERED)',
      invalidToken: 'UNREGISTERED',
    });
    expect(byDevice.get('device-2')).toEqual({
      deviceId: 'device-2',
      sendResult: 'failure',
      failureReason: 'the push token is not a valid FCM registration token (INVALID_ARGUMENT)',
      invalidToken: 'INVALID_ARGUMENT',
    });
    expect(byDevice.get('device-3')).toEqual({
      deviceId: 'device-3',
      sendResult: 'failure',
      failureReason: 'the push token belongs to another Firebase project (SENDER_ID_MISMATCH)',
      invalidToken: 'SENDER_ID_MISMATCH',
    });
    for (const id of ['device-0', 'device-4']) expect(byDevice.get(id)?.sendResult).toBe('no_feedback');
    expect(fake.sends.map((s) => s.token).sort()).toEqual([token(0), token(4)]);
  });

  test('429 QUOTA_EXCEEDED is retried after Retry-After, and the whole app waits meanwhile', async () => {
    const held = heldSleep();
    const fcm = provider({ sleep: held.sleep });
    fake.failNext(1, { httpStatus: 429, errorCode: 'QUOTA_EXCEEDED', retryAfter: '7' });
    const first = fcm.sendBatch(request({ devices: devices(1, 'a-') }));
    await vi.waitFor(() => expect(held.held).toHaveLength(1));
    expect(held.held[0]!.ms).toBe(7000);
    // Another batch of the same app, started during the pause, waits at the app's gate.
    const second = fcm.sendBatch(request({ batchId: `${TASK_ID}-b0002`, devices: devices(2, 'b-') }));
    await vi.waitFor(() => expect(held.held).toHaveLength(3));
    for (const wait of held.held.slice(1)) expect(wait.ms).toBeGreaterThan(0);
    expect(fake.sendRequests).toBe(1);
    held.release(7000);
    const [a, b] = await Promise.all([first, second]);
    expect([...a.outcomes, ...b.outcomes].map((o) => o.sendResult)).toEqual([
      'no_feedback',
      'no_feedback',
      'no_feedback',
    ]);
    expect(fake.sendRequests).toBe(4);
    expect(fake.sends).toHaveLength(3);
  });

  test('a Retry-After given as an HTTP date is waited for', async () => {
    const at = new Date(now() + 30_000);
    fake.failNext(1, { httpStatus: 429, errorCode: 'QUOTA_EXCEEDED', retryAfter: at.toUTCString() });
    const result = await provider().sendBatch(request({ devices: devices(1) }));
    expect(result.outcomes[0]!.sendResult).toBe('no_feedback');
    // An HTTP date has whole seconds: the wait is the rest of the 30 s, less the dropped milliseconds.
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(28_000);
    expect(waits[0]).toBeLessThanOrEqual(30_000);
  });

  test('503 UNAVAILABLE and 500 INTERNAL are retried with a growing backoff', async () => {
    fake.failNext(1, { httpStatus: 503, errorCode: 'UNAVAILABLE' });
    fake.failNext(1, { httpStatus: 500, errorCode: 'INTERNAL' });
    const result = await provider().sendBatch(request({ devices: devices(1) }));
    expect(result.outcomes[0]!.sendResult).toBe('no_feedback');
    expect(fake.sendRequests).toBe(3);
    expect(waits).toEqual([1000, 2000]);
  });

  test('a device still refused after the last attempt stops the batch with a retryable error', async () => {
    fake.failNext(5, {
      httpStatus: 503,
      errorCode: 'UNAVAILABLE',
      message: 'The service is currently unavailable.',
    });
    const error = await providerError(provider().sendBatch(request({ devices: devices(1) })));
    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(error.message).toContain(
      'FCM is unavailable (HTTP 503, UNAVAILABLE: The service is currently unavailable.)',
    );
    expect(fake.sendRequests).toBe(5);
  });

  test('a connection that cannot be made is retried, then stops the batch as retryable', async () => {
    const app = fcmApp({ baseUrl: 'https://127.0.0.1:1' });
    const error = await providerError(
      provider({ maxAttempts: 3 }).sendBatch(request({ app, devices: devices(1) })),
    );
    expect(error).toMatchObject({ code: 'CONNECT', retryable: true });
    expect(waits).toEqual([1000, 2000]);
    expect(fake.tokenRequests).toBe(1);
  });
});

describe('endpoints', () => {
  test('a base URL outside the allowlist is PROVIDER_URL_NOT_ALLOWED and the fake gets no request', async () => {
    const error = await providerError(
      provider({ urlAllowlist: ['https://localhost:'] }).sendBatch(
        request({
          app: fcmApp({
            serviceAccount: {
              ...serviceAccount(),
              token_uri: fake.tokenUri.replace('127.0.0.1', 'localhost'),
            },
          }),
        }),
      ),
    );
    expect(error).toMatchObject({ code: 'PROVIDER_URL_NOT_ALLOWED', retryable: false });
    expect(error.message).toContain(`FCM base URL ${fake.baseUrl} is not allowed`);
    expect(fake.tokenRequests).toBe(0);
    expect(fake.sendRequests).toBe(0);
  });

  test('a token_uri outside the allowlist is PROVIDER_URL_NOT_ALLOWED and the fake gets no request', async () => {
    const elsewhere = { ...serviceAccount(), token_uri: fake.tokenUri.replace('127.0.0.1', 'localhost') };
    const error = await providerError(
      provider().sendBatch(request({ app: fcmApp({ serviceAccount: elsewhere }) })),
    );
    expect(error).toMatchObject({ code: 'PROVIDER_URL_NOT_ALLOWED', retryable: false });
    expect(error.message).toContain('token_uri');
    expect(fake.tokenRequests).toBe(0);
    expect(fake.sendRequests).toBe(0);
  });
});
