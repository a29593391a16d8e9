/**
 * Crash safety of the providers that answer each device (FCM, APNs) with a real process: `pushboard
 * serve` sends to a local fake of the service over HTTP/2 + TLS (trusted through
 * `NODE_EXTRA_CA_CERTS`, as a deployment trusts an extra CA), is killed with SIGKILL in the middle of
 * the send and started again on the same data folder. The task completes, every matched device has
 * exactly one result, and the devices the fake got twice are at most those whose answers were in flight
 * or not yet journaled when the process died (dispatch/README.md "What can still reach a device twice").
 */
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { JOURNAL_FLUSH_ANSWERS } from '../src/dispatch/answer-journal.ts';
import { REMOTE_BATCHES_IN_FLIGHT } from '../src/dispatch/queued-runner.ts';
import { DEFAULT_WORKSPACE_ID } from '../src/tenancy/bootstrap.ts';
import { openStoreOf, storeEnvFor } from './backends.ts';
import { expectConsistentSend, readTask, sendFixture } from './dispatch-fixtures.ts';
import { startFakeApns } from './fake-apns.ts';
import { startFakeFcm } from './fake-fcm.ts';
import { tempDir } from './helpers.ts';
import { baseUrlOf, call, killAll, LISTENING, spawnServe, WS, watchTask } from './serve-harness.ts';
import { createTestCertificate, type TestCertificate } from './tls-fixture.ts';

const PASSWORD = 'provider-crash-password';
const DEVICES = 12_000;
/** The app's requests in flight (its `concurrency`). */
const CONCURRENCY = 100;

let cert: TestCertificate;
beforeAll(() => {
  cert = createTestCertificate();
});
afterAll(() => cert.remove());
afterEach(killAll);

/** A fake service, the app config that points at it, and the tokens of its accepted sends. */
interface Service {
  platform: 'android' | 'ios';
  provider: 'fcm' | 'apns';
  fleet: { channel: string; tokenPrefix: string; tokenDigits: number };
  providerConfig: Record<string, unknown>;
  acceptedTokens(): string[];
  close(): Promise<void>;
}

async function fcmService(): Promise<Service> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const account = {
    project_id: 'pushboard-crash',
    private_key_id: 'crash-key-1',
    client_email: 'sender@pushboard-crash.iam.gserviceaccount.com',
  };
  const fake = await startFakeFcm({
    accounts: [{ ...account, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
    cert,
  });
  return {
    platform: 'android',
    provider: 'fcm',
    fleet: { channel: 'fcm', tokenPrefix: 'fcm-token-', tokenDigits: 140 },
    providerConfig: {
      serviceAccount: {
        type: 'service_account',
        ...account,
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        token_uri: fake.tokenUri,
      },
      baseUrl: fake.baseUrl,
      concurrency: CONCURRENCY,
    },
    acceptedTokens: () => fake.sends.map((s) => s.token),
    close: () => fake.close(),
  };
}

async function apnsService(): Promise<Service> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = { teamId: 'CRASHTEAM1', keyId: 'CRASHKEY01' };
  const fake = await startFakeApns({
    keys: [{ ...key, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
    bundleIds: ['com.example.crash'],
    cert,
  });
  return {
    platform: 'ios',
    provider: 'apns',
    fleet: { channel: 'apns', tokenPrefix: '', tokenDigits: 64 },
    providerConfig: {
      ...key,
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      bundleId: 'com.example.crash',
      environment: 'production',
      baseUrl: fake.baseUrl,
      concurrency: CONCURRENCY,
    },
    acceptedTokens: () => fake.sends.map((s) => s.token),
    close: () => fake.close(),
  };
}

test.each([
  ['fcm', fcmService],
  ['apns', apnsService],
])(
  '%s: kill -9 mid-send, then restart: the task completes, one result per device, repeats bounded',
  async (_, start) => {
    const service = await start();
    try {
      const dir = tempDir();
      const env = {
        ...(await storeEnvFor(dir)),
        PUSHBOARD_ADMIN_PASSWORD: PASSWORD,
        PUSHBOARD_SEED_DEMO: 'false',
        NODE_EXTRA_CA_CERTS: cert.certPath,
        PUSHBOARD_PROVIDER_URL_ALLOWLIST: 'https://127.0.0.1:',
        // About three seconds of sending, so that the kill lands in the middle.
        PUSHBOARD_DISPATCH_RATE_LIMIT: '4000',
        PUSHBOARD_DISPATCH_BATCH_SIZE: '500',
        PUSHBOARD_JOB_LOCK_MS: '2000',
        LOG_LEVEL: 'info',
      };
      const first = await spawnServe([], env, LISTENING);
      const base = baseUrlOf(first);
      const { token } = await call<{ token: string }>(base, null, 'POST', '/api/v1/auth/login', {
        username: 'admin',
        password: PASSWORD,
      });
      const app = await call<{ id: string }>(base, token, 'POST', `${WS}/apps`, {
        name: `${service.provider} crash test`,
        platform: service.platform,
        provider: service.provider,
        providerConfig: service.providerConfig,
      });
      const db = await openStoreOf(env);
      const fixture = await (async () => {
        try {
          return await sendFixture(
            { db, clock: { now: new Date() }, workspaceId: DEFAULT_WORKSPACE_ID },
            { platform: service.platform, devices: DEVICES, appId: app.id, fleet: service.fleet },
          );
        } finally {
          await db.destroy();
        }
      })();
      const { id: taskId } = await call<{ id: string }>(base, token, 'POST', `${WS}/tasks`, {
        name: 'Crash test',
        appId: app.id,
        title: 'Flash sale',
        content: 'Ends in one hour',
        clickAction: { type: 'open_app' },
        audienceId: fixture.audienceId,
        sendType: 'immediate',
      });

      await watchTask(base, token, taskId, () => service.acceptedTokens().length >= 3000);
      first.child.kill('SIGKILL');
      await once(first.child, 'exit');
      const stopped = await openStoreOf(env);
      const midway = await readTask(stopped, taskId);
      await stopped.destroy();
      expect(midway.status).toBe('sending');
      expect(midway.counts.pending).toBeGreaterThan(0);

      const second = await spawnServe([], env, LISTENING);
      const login = await call<{ token: string }>(baseUrlOf(second), null, 'POST', '/api/v1/auth/login', {
        username: 'admin',
        password: PASSWORD,
      });
      const task = await watchTask(
        baseUrlOf(second),
        login.token,
        taskId,
        (t) => t.status === 'completed' || t.status === 'failed',
        50,
      );
      expect(task.status).toBe('completed');
      expect(task.statistics).toMatchObject({
        plannedSends: DEVICES,
        totalSent: DEVICES,
        failures: 0,
        pending: 0,
      });
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');

      const after = await openStoreOf(env);
      try {
        await expectConsistentSend(after, taskId, service.platform);
        const results = await after
          .selectFrom('device_results')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('task_id', '=', taskId)
          .executeTakeFirstOrThrow();
        // The primary key forbids a second result; this says none is missing.
        expect(Number(results.n)).toBe(DEVICES);
      } finally {
        await after.destroy();
      }

      // Every device reached; a device reached twice only when its answer was in flight or not yet
      // journaled at the kill.
      const accepted = service.acceptedTokens();
      const distinct = new Set(accepted);
      expect(distinct.size).toBe(DEVICES);
      const repeats = accepted.length - distinct.size;
      expect(repeats).toBeLessThanOrEqual(CONCURRENCY + JOURNAL_FLUSH_ANSWERS * REMOTE_BATCHES_IN_FLIGHT);
      console.info(`${service.provider}: ${repeats} of ${DEVICES} devices reached twice after kill -9`);
    } finally {
      await service.close();
    }
  },
);
