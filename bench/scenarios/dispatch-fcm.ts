/**
 * `dispatch_fcm` (issue 12): one task to 1,000,000 Android devices (100,000 with --quick) through the
 * real `fcm` provider of a real `pushboard serve` child process, against a local FCM fake (its own
 * child process: OAuth token endpoint and `messages:send` over HTTP/2 + TLS, answering at once). The
 * figure is devices per second from the task's creation to `completed`; the probe is the simulator
 * dispatch of the same number of devices by the same server build in the same run (the simulator
 * answers a batch in one call, FCM takes one request per device). Target: ratio ≥ 0.5 and the server's
 * peak RSS ≤ 256 MB. Beside it, the physical limit of the request path: a bare HTTP/2 client posting
 * the same messages to the same fake (`rawHttp2Probe`), which FCM dispatch cannot exceed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { sql } from 'kysely';
import { FCM_SCOPE } from '../../server/src/providers/fcm.ts';
import { readPrivateKey, signJwt } from '../../server/src/providers/jwt.ts';
import { migrateToLatest } from '../../server/src/storage/migrations/index.ts';
import { bootstrapTenancy, DEFAULT_WORKSPACE_ID } from '../../server/src/tenancy/bootstrap.ts';
import { seedFleet } from '../fleet.ts';
import type { BenchContext, ScenarioResult } from '../harness.ts';
import { measureSend, openScenarioStore } from './dispatch-rss.ts';

const PASSWORD = 'bench-admin-password';
const SIMULATOR_APP = 'app_benchrss000000000000000000';
const FCM_APP = 'app_benchfcm000000000000000000';
const SIMULATOR_AUDIENCE = 'aud_benchsimulator000000000000';
const FCM_AUDIENCE = 'aud_benchfcm000000000000000000';
/** Target of the issue: FCM dispatch at least half as fast as the simulator's. */
const TARGET_RATIO = 0.5;
/** Target peak RSS, in MB. */
const TARGET_MB = 256;

/** Where the fake listens and the service account it knows, as it prints them on start. */
interface FakeFcmAddress {
  baseUrl: string;
  tokenUri: string;
  certPath: string;
  serviceAccount: Record<string, string>;
}

/** Starts the FCM fake as a child process in its lean mode; resolves with its address once it listens. */
async function startFakeFcm(root: string): Promise<{ child: ChildProcess; address: FakeFcmAddress }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'server/test/fake-fcm.ts'), '--lean'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  child.once('exit', () => process.off('exit', kill));
  const address = await new Promise<FakeFcmAddress>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the FCM fake did not start within 30 s')), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.trim().startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as FakeFcmAddress);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the FCM fake exited with ${code}`));
    });
  });
  return { child, address };
}

/** Requests in flight in the raw HTTP/2 probe: the fcm provider's default concurrency. */
const PROBE_STREAMS = 100;

/**
 * The physical limit beside the figure: a bare `node:http2` client in this process, with
 * `PROBE_STREAMS` requests in flight on one connection, POSTing `count` messages of the same shape to
 * the same fake — no dispatcher, no storage, no retries. Returns requests per second.
 */
async function rawHttp2Probe(address: FakeFcmAddress, count: number): Promise<number> {
  const ca = readFileSync(address.certPath);
  const account = address.serviceAccount;
  const tokenUri = new URL(address.tokenUri);
  const session = http2.connect(new URL(address.baseUrl).origin, { ca });
  const post = (urlPath: string, headers: Record<string, string>, body: string) =>
    new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': urlPath, ...headers });
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        text += chunk;
      });
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
      stream.end(body);
    });
  try {
    const iat = Math.floor(Date.now() / 1000);
    const assertion = signJwt(
      'RS256',
      { kid: account.private_key_id },
      { iss: account.client_email, scope: FCM_SCOPE, aud: tokenUri.href, iat, exp: iat + 3600 },
      readPrivateKey(String(account.private_key)),
    );
    const grant = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion,
    }).toString();
    const { access_token: accessToken } = JSON.parse(
      await post(tokenUri.pathname, { 'content-type': 'application/x-www-form-urlencoded' }, grant),
    ) as { access_token: string };
    const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
    const sendPath = `/v1/projects/${account.project_id}/messages:send`;
    const tail = JSON.stringify({
      notification: { title: 'Bench', body: 'A message of the usual size' },
      data: { pb_task: 'tsk_bench', pb_batch: 'tsk_bench-1', pb_click: 'open_app' },
      android: { priority: 'high', ttl: '259200s', notification: { tag: 'tsk_bench' } },
    }).slice(1);
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: PROBE_STREAMS }, async () => {
        while (next < count) {
          const token = `bench-token-${next++}`;
          await post(sendPath, headers, `{"message":{"token":"${token}",${tail}}`);
        }
      }),
    );
    return count / ((performance.now() - started) / 1000);
  } finally {
    session.close();
  }
}

/** Runs the `dispatch_fcm` scenario. */
export async function dispatchFcmScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const devices = ctx.scale(1_000_000);
  const dataDir = path.join(ctx.workDir, 'data');
  const fake = await startFakeFcm(ctx.root);
  try {
    const { db, env, dispose } = await openScenarioStore(ctx, dataDir, 'dispatch_fcm');
    try {
      ctx.log(`dispatch_fcm: seeding 2 × ${devices.toLocaleString('en')} devices…`);
      try {
        await migrateToLatest(db);
        await bootstrapTenancy(db, PASSWORD, new Date());
        const now = new Date();
        await seedFleet(db, {
          workspaceId: DEFAULT_WORKSPACE_ID,
          appId: SIMULATOR_APP,
          devices,
          audiences: [{ id: SIMULATOR_AUDIENCE, size: devices }],
          now,
          // No receipts: the send is measured, not receipt ingestion (as dispatch_rss).
          providerConfig: { seed: 1, deliveryRate: 0, impressionRate: 0 },
        });
        await seedFleet(db, {
          workspaceId: DEFAULT_WORKSPACE_ID,
          appId: FCM_APP,
          devices,
          audiences: [{ id: FCM_AUDIENCE, size: devices }],
          now,
          provider: 'fcm',
          providerConfig: {
            serviceAccount: fake.address.serviceAccount,
            baseUrl: fake.address.baseUrl,
          },
        });
        if (ctx.scaled) await sql`vacuum (analyze)`.execute(db);
        else await sql`pragma wal_checkpoint(truncate)`.execute(db);
      } finally {
        await db.destroy();
      }
      const serverEnv = {
        ...env,
        NODE_EXTRA_CA_CERTS: fake.address.certPath,
        PUSHBOARD_PROVIDER_URL_ALLOWLIST: 'https://127.0.0.1:',
      };
      const simulator = await measureSend(ctx, serverEnv, SIMULATOR_AUDIENCE, devices, {
        appId: SIMULATOR_APP,
      });
      const fcm = await measureSend(ctx, serverEnv, FCM_AUDIENCE, devices, { appId: FCM_APP });
      const rawRate = await rawHttp2Probe(fake.address, Math.min(devices, 100_000));
      const fcmRate = devices / fcm.seconds;
      const simulatorRate = devices / simulator.seconds;
      const ratio = fcmRate / simulatorRate;
      const peakMb = fcm.peak / 1e6;
      ctx.log(
        `dispatch_fcm: ${Math.round(fcmRate).toLocaleString('en')} devices/s through FCM, ` +
          `${Math.round(simulatorRate).toLocaleString('en')} through the simulator (ratio ${ratio.toFixed(3)}), ` +
          `peak RSS ${peakMb.toFixed(0)} MB; a bare HTTP/2 client: ${Math.round(rawRate).toLocaleString('en')} requests/s ` +
          `(FCM dispatch at ${(fcmRate / rawRate).toFixed(2)} of it)`,
      );
      return {
        value: Math.round(fcmRate),
        unit: 'devices/s',
        probe: Math.round(simulatorRate),
        ratio: Number(ratio.toFixed(3)),
        target: TARGET_RATIO,
        pass: ratio >= TARGET_RATIO && peakMb <= TARGET_MB,
        details: {
          devices,
          seconds: { fcm: Number(fcm.seconds.toFixed(1)), simulator: Number(simulator.seconds.toFixed(1)) },
          peakMB: { fcm: Number(peakMb.toFixed(1)), simulator: Number((simulator.peak / 1e6).toFixed(1)) },
          rawHttp2: { requestsPerSecond: Math.round(rawRate), ratio: Number((fcmRate / rawRate).toFixed(3)) },
          ...(fcm.apiPeak !== undefined && { measured: 'pushboard serve --role worker' }),
        },
      };
    } finally {
      await dispose();
    }
  } finally {
    fake.child.kill('SIGTERM');
  }
}
