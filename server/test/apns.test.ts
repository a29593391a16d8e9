/**
 * The `apns` provider in process against a local fake of APNs (fake-apns.ts) over real HTTP/2 + TLS
 * on loopback; the provider trusts the fake's self-signed certificate through its `ca` option.
 * Provider and fake share one virtual clock, which the provider's `sleep` moves forward (and
 * records), so retries and provider-token ages need no real waiting.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { DEFAULT_TTL_SECONDS } from '../src/domain/task-content.ts';
import { type ApnsProviderOptions, apnsBaseUrl, createApnsProvider } from '../src/providers/apns.ts';
import type { ApnsConfig } from '../src/providers/apns-config.ts';
import { APNS_BASE_URLS } from '../src/providers/endpoints.ts';
import {
  type BatchDevice,
  type DeviceSendOutcome,
  type Provider,
  type ProviderApp,
  ProviderError,
  type SendBatchRequest,
} from '../src/providers/provider.ts';
import { type FakeApns, type FakeApnsOptions, generateSigningKey, startFakeApns } from './fake-apns.ts';
import { createTestCertificate, type TestCertificate } from './tls-fixture.ts';

const APP_ID = 'app_01jc5x0q8m4f7tq3wz9k2v6e1h';
const TASK_ID = 'tsk_01jc5x0q8m4f7tq3wz9k2v6e1h';
const BATCH_ID = 'tsk_01jc5x0q8m4f7tq3wz9k2v6e1h-b0001';
const TEAM_ID = 'TEAM123456';
const KEY_ID = 'KEY1234567';
const BUNDLE_ID = 'com.example.shop';
const MINUTE_MS = 60_000;

let certificate: TestCertificate;
let signing: ReturnType<typeof generateSigningKey>;
let fake: FakeApns;
// The virtual clock (epoch ms) and every wait the provider asked for.
let clockMs: number;
let waits: number[];

const now = () => clockMs;
const recordedSleep = async (ms: number) => {
  waits.push(ms);
  clockMs += ms;
};

beforeAll(() => {
  certificate = createTestCertificate();
  signing = generateSigningKey(TEAM_ID, KEY_ID);
});

afterAll(() => certificate.remove());

async function startFake(options: Partial<FakeApnsOptions> = {}): Promise<FakeApns> {
  return startFakeApns({ keys: [signing.key], bundleIds: [BUNDLE_ID], cert: certificate, now, ...options });
}

beforeEach(async () => {
  clockMs = Date.UTC(2026, 2, 1, 9, 0, 0);
  waits = [];
  fake = await startFake();
});

afterEach(async () => {
  await fake.close();
});

function provider(options: ApnsProviderOptions = {}): Provider {
  // The fake listens on loopback: the deployment's allowlist names it (docs/providers.md#endpoints-and-credentials).
  return createApnsProvider({
    ca: certificate.cert,
    urlAllowlist: ['https://127.0.0.1:'],
    clock: () => new Date(now()),
    sleep: recordedSleep,
    timeoutMs: 5_000,
    ...options,
  });
}

function apnsApp(config: Partial<ApnsConfig> = {}): ProviderApp {
  return {
    id: APP_ID,
    platform: 'ios',
    provider: 'apns',
    config: {
      teamId: TEAM_ID,
      keyId: KEY_ID,
      privateKey: signing.privateKey,
      bundleId: BUNDLE_ID,
      environment: 'sandbox',
      baseUrl: fake.baseUrl,
      ...config,
    },
  };
}

/** A realistic device token: 64 hex digits. */
const token = (i: number) => i.toString(16).padStart(64, '0');

function devices(count: number, from = 0): BatchDevice[] {
  return Array.from({ length: count }, (_, i) => ({
    deviceId: `device-${from + i}`,
    pushToken: token(from + i),
    channel: 'apns',
  }));
}

function request(overrides: Partial<SendBatchRequest> = {}): SendBatchRequest {
  return {
    app: apnsApp(),
    taskId: TASK_ID,
    batchId: BATCH_ID,
    content: { title: 'Spring sale', content: 'Everything 20% off today', clickAction: { type: 'open_app' } },
    devices: devices(3),
    sendAt: null,
    receiptUrl: 'https://push.example.com/api/v1/receipts/apns/app_01jc5x0q8m4f7tq3wz9k2v6e1h',
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

function decode(part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

const byDevice = (outcomes: DeviceSendOutcome[]) => new Map(outcomes.map((o) => [o.deviceId, o]));

describe('requests', () => {
  test('each device gets one POST /3/device/<token> with the APNs headers and the payload', async () => {
    const content = {
      title: 'Spring sale',
      content: 'Everything 20% off today',
      // Parameters named like Pushboard's keys cannot replace them (validation refuses them anyway).
      clickAction: {
        type: 'custom' as const,
        params: { promo: 'spring', aps: 'x', pb_task: 'x', pb_batch: 'x' },
      },
    };
    const result = await provider().sendBatch(request({ content, devices: devices(2) }));

    expect(fake.sends.map((s) => s.token).sort()).toEqual([token(0), token(1)]);
    for (const send of fake.sends) {
      const { authorization, ...headers } = send.headers;
      expect(headers).toEqual({
        'apns-topic': BUNDLE_ID,
        'apns-push-type': 'alert',
        'apns-priority': '10',
        'apns-expiration': String(Math.floor(clockMs / 1000) + DEFAULT_TTL_SECONDS),
        'apns-id': expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/),
        'apns-collapse-id': TASK_ID,
        'content-type': 'application/json',
      });
      const [head, claims] = /^bearer (.+)$/.exec(authorization ?? '')![1]!.split('.');
      expect(decode(head)).toEqual({ alg: 'ES256', typ: 'JWT', kid: KEY_ID });
      expect(decode(claims)).toEqual({ iss: TEAM_ID, iat: Math.floor(clockMs / 1000) });
      expect(send.body).toEqual({
        promo: 'spring',
        aps: {
          alert: { title: 'Spring sale', body: 'Everything 20% off today' },
          sound: 'default',
          'mutable-content': 1,
        },
        pb_task: TASK_ID,
        pb_batch: BATCH_ID,
      });
    }
    expect(result.providerRef).toBeNull();
    const outcomes = byDevice(result.outcomes);
    for (const [i, deviceId] of ['device-0', 'device-1'].entries()) {
      const send = fake.sends.find((s) => s.token === token(i))!;
      expect(outcomes.get(deviceId)).toEqual({
        deviceId,
        sendResult: 'success',
        providerRef: send.headers['apns-id'],
      });
    }
  });

  test('the task’s time to live sets apns-expiration', async () => {
    const base = request({ devices: devices(1) });
    await provider().sendBatch({ ...base, content: { ...base.content, ttlSeconds: 600 } });
    expect(fake.sends[0]!.headers['apns-expiration']).toBe(String(Math.floor(clockMs / 1000) + 600));
  });

  test('every answer is reported through onAnswered as soon as it is known', async () => {
    const reported: DeviceSendOutcome[] = [];
    const result = await provider().sendBatch(
      request({ devices: devices(5), onAnswered: (o) => reported.push(o) }),
    );
    expect(reported).toEqual(result.outcomes);
    expect(reported.map((o) => o.sendResult)).toEqual(Array(5).fill('success'));
  });

  test('a batch of another provider’s app is refused', async () => {
    const app: ProviderApp = {
      id: APP_ID,
      platform: 'ios',
      provider: 'umeng',
      config: { appKey: 'k', appMasterSecret: 's' },
    };
    const error = await providerError(provider().sendBatch(request({ app })));
    expect(error.code).toBe('WRONG_PROVIDER');
    expect(error.retryable).toBe(false);
  });

  test('a notification over 4096 bytes fails the batch before anything is sent', async () => {
    const content = {
      title: 'Sale',
      content: 'x'.repeat(4100),
      clickAction: { type: 'open_app' as const },
    };
    const error = await providerError(provider().sendBatch(request({ content })));
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.retryable).toBe(false);
    expect(fake.requests).toBe(0);
  });
});

describe('endpoints', () => {
  test('the base URL is the environment’s unless the app names one', () => {
    const config = apnsApp().config as ApnsConfig;
    const { baseUrl: _, ...withoutBase } = config;
    expect(apnsBaseUrl({ ...withoutBase, environment: 'production' })).toBe('https://api.push.apple.com');
    expect(apnsBaseUrl({ ...withoutBase, environment: 'sandbox' })).toBe(
      'https://api.sandbox.push.apple.com',
    );
    expect(apnsBaseUrl(config)).toBe(fake.baseUrl);
    expect(Object.values(APNS_BASE_URLS)).toEqual([
      'https://api.push.apple.com',
      'https://api.sandbox.push.apple.com',
    ]);
  });

  test('a base URL outside the allowlist fails the batch with PROVIDER_URL_NOT_ALLOWED and sends nothing', async () => {
    const error = await providerError(provider({ urlAllowlist: [] }).sendBatch(request()));
    expect(error.code).toBe('PROVIDER_URL_NOT_ALLOWED');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(fake.baseUrl);
    expect(fake.requests).toBe(0);
    expect(fake.connections).toBe(0);
  });
});

describe('provider token', () => {
  test('one provider token serves 300 devices and is renewed once it is 40 minutes old', async () => {
    const apns = provider();
    const first = await apns.sendBatch(request({ devices: devices(300) }));
    expect(first.outcomes.filter((o) => o.sendResult === 'success')).toHaveLength(300);
    expect(fake.providerTokens).toBe(1);

    clockMs += 39 * MINUTE_MS;
    await apns.sendBatch(request({ devices: devices(10, 300) }));
    expect(fake.providerTokens).toBe(1);

    clockMs += 2 * MINUTE_MS;
    const later = await apns.sendBatch(request({ devices: devices(10, 310) }));
    expect(later.outcomes.every((o) => o.sendResult === 'success')).toBe(true);
    expect(fake.providerTokens).toBe(2);
    const renewed = fake.sends.filter((s) => s.token === token(315))[0]!;
    const claims = decode(renewed.headers.authorization!.split('.')[1]);
    expect(claims.iat).toBe(Math.floor(clockMs / 1000));
  });

  test('ExpiredProviderToken renews the token once for all requests in flight, and the send goes on', async () => {
    const apns = provider();
    await apns.sendBatch(request({ devices: devices(1) }));
    fake.expireTokens();
    fake.answerDelayMs = 20;
    const result = await apns.sendBatch(request({ devices: devices(100, 1) }));
    expect(result.outcomes.filter((o) => o.sendResult === 'success')).toHaveLength(100);
    expect(fake.providerTokens).toBe(2);
    expect(new Set(fake.sends.map((s) => s.token)).size).toBe(101);
  });

  test('a revoked key stops the send with a readable APNS_CREDENTIALS error that holds no secret', async () => {
    fake.revokeKey(KEY_ID);
    const reported: DeviceSendOutcome[] = [];
    const error = await providerError(
      provider().sendBatch(request({ devices: devices(20), onAnswered: (o) => reported.push(o) })),
    );
    expect(error.code).toBe('APNS_CREDENTIALS');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(`signing key ${KEY_ID} of team ${TEAM_ID} (InvalidProviderToken)`);
    expect(error.message).not.toContain('PRIVATE KEY');
    expect(error.message).not.toMatch(/eyJ/);
    const keyBody = signing.privateKey.split('\n')[1]!;
    expect(error.message).not.toContain(keyBody);
    expect(reported).toEqual([]);
    expect(fake.sends).toEqual([]);
  });

  test('a key that is not an EC P-256 key fails with APNS_CREDENTIALS before anything is sent', async () => {
    const rsa = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    }).privateKey;
    for (const privateKey of [rsa, 'not a key at all']) {
      const error = await providerError(provider().sendBatch(request({ app: apnsApp({ privateKey }) })));
      expect(error.code).toBe('APNS_CREDENTIALS');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('EC P-256');
      expect(error.message).not.toContain('PRIVATE KEY');
    }
    expect(fake.requests).toBe(0);
  });
});

describe('HTTP/2 connection', () => {
  test('100 streams are in flight at once on one connection by default', async () => {
    fake.answerDelayMs = 200;
    const result = await provider().sendBatch(request({ devices: devices(300) }));
    expect(result.outcomes).toHaveLength(300);
    expect(fake.maxInFlight).toBe(100);
    expect(fake.connections).toBe(1);
  });

  test('an app’s lower concurrency keeps fewer streams in flight', async () => {
    fake.answerDelayMs = 50;
    await provider().sendBatch(request({ app: apnsApp({ concurrency: 10 }), devices: devices(60) }));
    expect(fake.maxInFlight).toBe(10);
  });

  test('the server’s stream limit holds even when the app allows more', async () => {
    const limited = await startFake({ maxConcurrentStreams: 20 });
    try {
      limited.answerDelayMs = 50;
      const result = await provider().sendBatch(
        request({ app: apnsApp({ baseUrl: limited.baseUrl }), devices: devices(100) }),
      );
      expect(result.outcomes).toHaveLength(100);
      expect(limited.maxInFlight).toBeLessThanOrEqual(20);
      expect(limited.connections).toBe(1);
    } finally {
      await limited.close();
    }
  });

  test('after a GOAWAY mid-batch the provider reconnects and every device is answered once', async () => {
    const goaway = await startFake({ goawayAfterStreams: 50 });
    try {
      goaway.answerDelayMs = 5;
      const reported: DeviceSendOutcome[] = [];
      // Streams refused by a GOAWAY are retried; a few may be refused more than once.
      const result = await provider({ maxAttempts: 20 }).sendBatch(
        request({
          app: apnsApp({ baseUrl: goaway.baseUrl }),
          devices: devices(300),
          onAnswered: (o) => reported.push(o),
        }),
      );
      expect(goaway.connections).toBeGreaterThan(1);
      expect(result.outcomes.filter((o) => o.sendResult === 'success')).toHaveLength(300);
      expect(new Set(reported.map((o) => o.deviceId)).size).toBe(300);
      expect(reported).toHaveLength(300);
      expect(goaway.sends).toHaveLength(300);
      expect(new Set(goaway.sends.map((s) => s.token)).size).toBe(300);
    } finally {
      await goaway.close();
    }
  });

  test('a connection that cannot be made is retried, then fails the batch as retryable', async () => {
    const closed = await startFake();
    const baseUrl = closed.baseUrl;
    await closed.close();
    const error = await providerError(
      provider({ maxAttempts: 3 }).sendBatch(request({ app: apnsApp({ baseUrl }), devices: devices(1) })),
    );
    expect(error.code).toBe('CONNECT');
    expect(error.retryable).toBe(true);
    expect(waits).toEqual([1000, 2000]);
  });
});

describe('answers', () => {
  test('Unregistered, BadDeviceToken and DeviceTokenNotForTopic fail the device and mark its token invalid', async () => {
    fake.unregistered.add(token(0));
    fake.badTokens.add(token(1));
    fake.wrongTopic.add(token(2));
    const result = await provider().sendBatch(request({ devices: devices(4) }));
    const outcomes = byDevice(result.outcomes);
    expect(outcomes.get('device-0')).toMatchObject({ sendResult: 'failure', invalidToken: 'Unregistered' });
    expect(outcomes.get('device-1')).toMatchObject({ sendResult: 'failure', invalidToken: 'BadDeviceToken' });
    expect(outcomes.get('device-2')).toMatchObject({
      sendResult: 'failure',
      invalidToken: 'DeviceTokenNotForTopic',
    });
    expect(outcomes.get('device-0')?.failureReason).toContain('removed from the device');
    expect(outcomes.get('device-2')?.failureReason).toContain('another app');
    expect(outcomes.get('device-3')).toMatchObject({ sendResult: 'success' });
  });

  test('a token that is not hex fails locally and never reaches APNs', async () => {
    const hostile: BatchDevice[] = [
      { deviceId: 'traversal', pushToken: '../../x', channel: 'apns' },
      { deviceId: 'query', pushToken: `${token(9)}?x=1`, channel: 'apns' },
      { deviceId: 'slash', pushToken: `${token(9)}/../${token(8)}`, channel: 'apns' },
      { deviceId: 'empty', pushToken: '', channel: 'apns' },
    ];
    const result = await provider().sendBatch(request({ devices: [...hostile, ...devices(1)] }));
    const outcomes = byDevice(result.outcomes);
    for (const { deviceId } of hostile) {
      expect(outcomes.get(deviceId)).toMatchObject({ sendResult: 'failure', invalidToken: 'BadDeviceToken' });
    }
    expect(outcomes.get('device-0')?.sendResult).toBe('success');
    expect(fake.requests).toBe(1);
    expect(fake.sends.map((s) => s.token)).toEqual([token(0)]);
  });

  test('429 TooManyRequests, 500 and 503 are retried after Retry-After or the backoff', async () => {
    fake.failNext(1, { status: 429, reason: 'TooManyRequests' });
    fake.failNext(1, { status: 500, reason: 'InternalServerError', retryAfter: '7' });
    fake.failNext(1, { status: 503, reason: 'ServiceUnavailable' });
    const result = await provider().sendBatch(request({ devices: devices(1) }));
    expect(result.outcomes).toEqual([
      { deviceId: 'device-0', sendResult: 'success', providerRef: fake.sends[0]!.headers['apns-id'] },
    ]);
    expect(fake.requests).toBe(4);
    expect(waits).toEqual([1000, 7000, 4000]);
    // The device keeps its notification ID across its retries.
    expect(fake.sends).toHaveLength(1);
  });

  test('a device still refused after the last attempt stops the batch as retryable', async () => {
    fake.failNext(5, { status: 503, reason: 'Shutdown' });
    const error = await providerError(
      provider({ maxAttempts: 3 }).sendBatch(request({ devices: devices(1) })),
    );
    expect(error.code).toBe('APNS_Shutdown');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('APNs is unavailable');
  });

  test('BadTopic stops the batch with a non-retryable error naming the problem', async () => {
    const reported: DeviceSendOutcome[] = [];
    const error = await providerError(
      provider().sendBatch(
        request({
          app: apnsApp({ bundleId: 'com.example.other', concurrency: 5 }),
          devices: devices(50),
          onAnswered: (o) => reported.push(o),
        }),
      ),
    );
    expect(error.code).toBe('APNS_BadTopic');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('bundle ID');
    expect(reported).toEqual([]);
    // Only the requests already in flight went out; no new one started after the refusal.
    expect(fake.requests).toBeLessThanOrEqual(5);
  });

  test('413 PayloadTooLarge and unknown 400 reasons stop the batch as APNS_<reason>', async () => {
    const apns = provider();
    fake.failNext(1, { status: 413, reason: 'PayloadTooLarge' });
    const large = await providerError(apns.sendBatch(request({ devices: devices(1) })));
    expect([large.code, large.retryable]).toEqual(['APNS_PayloadTooLarge', false]);
    fake.failNext(1, { status: 400, reason: 'SomethingNew' });
    const unknown = await providerError(apns.sendBatch(request({ devices: devices(1) })));
    expect([unknown.code, unknown.retryable]).toEqual(['APNS_SomethingNew', false]);
    expect(unknown.message).toContain('HTTP 400');
  });
});
