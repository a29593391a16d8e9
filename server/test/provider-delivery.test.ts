/**
 * FCM and APNs end to end in one process: apps made through the API with a key pointing at a local
 * fake of the service (HTTP/2 over TLS, trusted through the providers' `ca` test option), fleets and
 * audiences in the store, the real dispatcher and the real adapters, on whichever backend the run
 * uses. Every good token is sent once, a quota answer is retried, tokens the service calls invalid
 * are marked and left out of the next send, a refused key fails the task in words, and a base URL the
 * deployment no longer allows sends nothing.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createApnsProvider } from '../src/providers/apns.ts';
import { createFcmProvider } from '../src/providers/fcm.ts';
import type { Provider } from '../src/providers/provider.ts';
import {
  createTask,
  expectConsistentSend,
  readTask,
  sendFixture,
  testDispatcher,
  waitFor,
} from './dispatch-fixtures.ts';
import { type FakeApns, startFakeApns } from './fake-apns.ts';
import { type FakeFcm, startFakeFcm } from './fake-fcm.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';
import { createTestCertificate, type TestCertificate } from './tls-fixture.ts';

const ALLOWLIST = 'https://127.0.0.1:';
const DEVICES = 400;
/** Devices whose token the service calls invalid on the first send. */
const REFUSED = [7, 150, 399];

let cert: TestCertificate;
beforeAll(() => {
  cert = createTestCertificate();
});
afterAll(() => cert.remove());

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance({ PUSHBOARD_PROVIDER_URL_ALLOWLIST: ALLOWLIST });
});
afterEach(async () => {
  await t.close();
});

const WS = () => `/api/v1/workspaces/${t.workspaceId}`;

/**
 * What differs between the two services for these scenarios: how to start the fake and make an app
 * for it, how it is told to refuse a token or a key, and what it accepted.
 */
interface ServiceKit {
  name: 'fcm' | 'apns';
  platform: 'android' | 'ios';
  /** The device channel of the fleet and the form of its tokens. */
  fleet: { channel: string; tokenPrefix: string; tokenDigits: number };
  /** The result of an accepted device: FCM acceptance is not delivery, APNs' is. */
  accepted: 'noFeedback' | 'deliveries';
  /** The provider's word for an uninstalled app's token. */
  unregistered: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  providerConfig(): Record<string, unknown>;
  provider(urlAllowlist: readonly string[]): Provider;
  unregister(token: string): void;
  /** The next `n` sends are answered "too many requests, come back in 1 s". */
  throttleNext(n: number): void;
  /** From now on the service refuses the app's key. */
  refuseKey(): void;
  /** Tokens of the sends the fake accepted, in order. */
  acceptedTokens(): string[];
  /** Send requests the fake received, answered or not. */
  requests(): number;
}

const tokenOf = (kit: ServiceKit, i: number) =>
  `${kit.fleet.tokenPrefix}${String(i).padStart(kit.fleet.tokenDigits, '0')}`;

function fcmKit(): ServiceKit {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const account = {
    project_id: 'pushboard-e2e',
    private_key_id: 'e2e-key-1',
    client_email: 'sender@pushboard-e2e.iam.gserviceaccount.com',
  };
  let fake: FakeFcm;
  return {
    name: 'fcm',
    platform: 'android',
    fleet: { channel: 'fcm', tokenPrefix: 'fcm-token-', tokenDigits: 140 },
    accepted: 'noFeedback',
    unregistered: 'UNREGISTERED',
    async start() {
      fake = await startFakeFcm({
        accounts: [{ ...account, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
        cert,
      });
    },
    stop: () => fake.close(),
    providerConfig: () => ({
      serviceAccount: {
        type: 'service_account',
        ...account,
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        token_uri: fake.tokenUri,
      },
      baseUrl: fake.baseUrl,
    }),
    provider: (urlAllowlist) => createFcmProvider({ urlAllowlist, ca: cert.cert }),
    unregister: (token) => fake.unregistered.add(token),
    throttleNext: (n) => fake.failNext(n, { httpStatus: 429, errorCode: 'QUOTA_EXCEEDED', retryAfter: '1' }),
    refuseKey: () => {
      fake.refuseGrant = true;
    },
    acceptedTokens: () => fake.sends.map((s) => s.token),
    requests: () => fake.sendRequests,
  };
}

function apnsKit(): ServiceKit {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = { teamId: 'E2ETEAM001', keyId: 'E2EKEY0001' };
  let fake: FakeApns;
  return {
    name: 'apns',
    platform: 'ios',
    fleet: { channel: 'apns', tokenPrefix: '', tokenDigits: 64 },
    accepted: 'deliveries',
    unregistered: 'Unregistered',
    async start() {
      fake = await startFakeApns({
        keys: [{ ...key, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
        bundleIds: ['com.example.e2e'],
        cert,
      });
    },
    stop: () => fake.close(),
    providerConfig: () => ({
      ...key,
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      bundleId: 'com.example.e2e',
      environment: 'sandbox',
      baseUrl: fake.baseUrl,
    }),
    provider: (urlAllowlist) => createApnsProvider({ urlAllowlist, ca: cert.cert }),
    unregister: (token) => fake.unregistered.add(token),
    throttleNext: (n) => fake.failNext(n, { status: 429, reason: 'TooManyRequests', retryAfter: '1' }),
    refuseKey: () => fake.revokeKey(key.keyId),
    acceptedTokens: () => fake.sends.map((s) => s.token),
    requests: () => fake.requests,
  };
}

describe.each([
  ['fcm', fcmKit],
  ['apns', apnsKit],
] as const)('%s', (_, makeKit) => {
  const kit = makeKit();

  beforeEach(() => kit.start());
  afterEach(() => kit.stop());

  /** An app of the kit's service made through the API, with its fleet and an audience of all of it. */
  async function fixture() {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/apps`,
      body: {
        name: `${kit.name} e2e`,
        platform: kit.platform,
        provider: kit.name,
        providerConfig: kit.providerConfig(),
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    const appId = res.json().id as string;
    return sendFixture(t, { platform: kit.platform, devices: DEVICES, appId, fleet: kit.fleet });
  }

  async function send(app: { appId: string; audienceId: string }, urlAllowlist = [ALLOWLIST]) {
    const taskId = await createTask(t, app);
    const dispatcher = testDispatcher(t, {
      providers: { [kit.name]: kit.provider(urlAllowlist) },
      settings: { batchSize: 100 },
    });
    await dispatcher.start();
    const task = await waitFor(
      () => readTask(t.db, taskId),
      (task) => task.status === 'completed' || task.status === 'failed',
    );
    await dispatcher.stop();
    return { taskId, task };
  }

  test('every good token once, a quota answer retried, invalid tokens marked and skipped next time', async () => {
    const app = await fixture();
    for (const i of REFUSED) kit.unregister(tokenOf(kit, i));
    kit.throttleNext(3);

    const first = await send(app);
    expect(first.task.status).toBe('completed');
    expect(first.task.counts).toMatchObject({
      plannedSends: DEVICES,
      unmatched: 0,
      totalSent: DEVICES,
      failures: REFUSED.length,
      [kit.accepted]: DEVICES - REFUSED.length,
    });
    await expectConsistentSend(t.db, first.taskId, kit.platform);
    const good = Array.from({ length: DEVICES }, (_, i) => i)
      .filter((i) => !REFUSED.includes(i))
      .map((i) => tokenOf(kit, i));
    expect(kit.acceptedTokens().sort()).toEqual(good.sort());

    const invalid = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS()}/apps/${app.appId}/devices?tokenStatus=invalid&sort=deviceId`,
    });
    expect(invalid.json().items).toMatchObject(
      REFUSED.map((i) => ({
        deviceId: `dev-${String(i).padStart(7, '0')}`,
        tokenStatus: 'invalid',
        tokenInvalidReason: kit.unregistered,
      })),
    );
    const appRead = await t.request(t.adminToken, { method: 'GET', url: `${WS()}/apps/${app.appId}` });
    expect(appRead.json()).toMatchObject({ devices: DEVICES, invalidTokens: REFUSED.length });

    // The next send leaves the invalid tokens out: unmatched, never handed over.
    const requestsBefore = kit.requests();
    const second = await send(app);
    expect(second.task.status).toBe('completed');
    expect(second.task.counts).toMatchObject({
      plannedSends: DEVICES,
      unmatched: REFUSED.length,
      totalSent: DEVICES - REFUSED.length,
      failures: 0,
    });
    expect(kit.requests() - requestsBefore).toBe(DEVICES - REFUSED.length);
    expect(kit.acceptedTokens().slice(good.length).sort()).toEqual(good.sort());
  });

  test('a key the service refuses fails the task in words and sends nothing', async () => {
    const app = await fixture();
    kit.refuseKey();
    const { taskId, task } = await send(app);
    expect(task.status).toBe('failed');
    expect(task.failureReason).toMatch(/key/i);
    expect(task.failureReason).toMatch(/workspace owner/i);
    expect(task.failureReason).not.toMatch(/PRIVATE KEY|BEGIN/);
    expect(kit.acceptedTokens()).toEqual([]);
    expect(task.counts).toMatchObject({ totalSent: DEVICES, failures: DEVICES });
    await expectConsistentSend(t.db, taskId, kit.platform);
  });

  test('a parameter FCM reserves is refused when the task is made, not when it is sent', async () => {
    const app = await fixture();
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/tasks`,
      body: {
        name: 'Reserved key',
        appId: app.appId,
        title: 'Hello',
        content: 'World',
        clickAction: { type: 'open_app', params: { from: 'newsletter' } },
        audienceId: app.audienceId,
        sendType: 'immediate',
      },
    });
    if (kit.name === 'fcm') {
      expect(res.statusCode).toBe(400);
      expect(res.json().error.details).toMatchObject([{ field: 'clickAction.params.from' }]);
    } else {
      expect(res.statusCode, res.body).toBe(201);
    }
  });

  test('a base URL the deployment no longer allows sends nothing', async () => {
    const app = await fixture();
    // Stored while the allowlist named the fake; this process's providers allow only the real service.
    const { task } = await send(app, []);
    expect(task.status).toBe('failed');
    expect(task.failureReason).toContain('PUSHBOARD_PROVIDER_URL_ALLOWLIST');
    expect(kit.requests()).toBe(0);
  });
});
