/**
 * `npm run bench -- --peer` (issue 17): a push to 100,000 installations (10,000 with --quick) by Parse
 * Server beside Pushboard's scaled send to as many devices, on the same PostgreSQL, in one run.
 *
 * Parse Server (`PARSE_VERSION`, npm `parse-server`) is not a dependency of the project: it is installed
 * once into a cache folder (`PUSHBOARD_BENCH_PEER_CACHE`, default `~/.cache/pushboard-bench`) and
 * reused while present. It runs in a process of its own (`peer-parse-server.ts`) on a database of this
 * run with its PostgreSQL adapter and a no-op push adapter. Its installations are seeded untimed: one
 * through its REST API (so that Parse creates `_Installation` with its own schema), the others by one
 * `INSERT … SELECT generate_series` into that table. Timed: from `POST /parse/push` (master key, all
 * Android installations) until its `_PushStatus` reads `succeeded` (read every `PARSE_POLL_MS`) —
 * the last step of Parse's push: its push queue counts the installations, queues batches of 100, and its worker
 * queries each batch, hands it to the adapter and records it on the `_PushStatus`, which turns
 * `succeeded` when the last batch is recorded. The adapter must have received every installation.
 *
 * Pushboard: `pushboard serve --role api` and `--role worker` on another database of the run (and a
 * Redis key prefix), the same number of devices seeded untimed, timed from the task's creation over
 * HTTP until its `completedAt` (`measureSend` of `dispatch_rss`, polling as often). Value:
 * Pushboard's devices/s; probe: Parse's installations/s; ratio: Pushboard ÷ Parse; target ≥ 50.
 * Every database is the run's (`scaled.ts`), dropped however the run ends; both processes are stopped
 * first.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { migrateToLatest } from '../server/src/storage/migrations/index.ts';
import { openPostgres } from '../server/src/storage/postgres.ts';
import { bootstrapTenancy, DEFAULT_WORKSPACE_ID } from '../server/src/tenancy/bootstrap.ts';
import { seedFleet } from './fleet.ts';
import type { BenchContext, Scenario, ScenarioResult } from './harness.ts';
import { PARSE_APP_ID, PARSE_MASTER_KEY, type PeerMessage } from './peer-parse-server.ts';
import { measureSend } from './scenarios/dispatch-rss.ts';

/** The Parse Server release compared against (its `engines` take Node 20.19 and later 20s). */
export const PARSE_VERSION = '9.10.0';
/** Target of issue 17: Pushboard at least 50 times as fast as Parse Server. */
const TARGET_RATIO = 50;
/** How often Pushboard's task is read while it sends (its duration ends at its `completedAt` anyway). */
const POLL_MS = 250;
/**
 * How often Parse's `_PushStatus` is read while it pushes: its end is seen at most this late (its
 * `updatedAt` does not say when it turned `succeeded`), a fraction of a percent of a 30-second push.
 */
const PARSE_POLL_MS = 100;
/** The administrator's password `measureSend` logs in with (`dispatch-rss.ts`). */
const PASSWORD = 'bench-admin-password';
const APP = 'app_benchpeer00000000000000000';
const AUDIENCE = 'aud_benchpeer00000000000000000';

/** The folder Parse Server is installed into: one per version, so that a newer pin installs afresh. */
function installFolder(): string {
  const cache = process.env.PUSHBOARD_BENCH_PEER_CACHE ?? path.join(os.homedir(), '.cache/pushboard-bench');
  return path.join(cache, `parse-server-${PARSE_VERSION}`);
}

/**
 * Installs `parse-server@PARSE_VERSION` into its cache folder unless it is there already, with npm and
 * without install scripts (its only one prints a banner); answers the folder.
 */
function ensureParseServer(log: (message: string) => void): string {
  const folder = installFolder();
  const manifest = path.join(folder, 'node_modules/parse-server/package.json');
  if (fs.existsSync(manifest)) {
    const { version } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string };
    if (version === PARSE_VERSION) return folder;
  }
  log(`peer: installing parse-server@${PARSE_VERSION} into ${folder} (once; a few minutes)…`);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(
    path.join(folder, 'package.json'),
    `${JSON.stringify({ name: 'pushboard-bench-peer', private: true }, null, 2)}\n`,
  );
  execFileSync(
    'npm',
    ['install', '--ignore-scripts', '--no-audit', '--no-fund', `parse-server@${PARSE_VERSION}`],
    { cwd: folder, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return folder;
}

/** A running Parse Server process. */
interface ParseProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>/parse` */
  base: string;
  /** Installations and adapter calls the no-op adapter has received so far. */
  received(): Promise<{ installations: number; sends: number }>;
  stop(): Promise<void>;
}

/** Starts `peer-parse-server.ts` on `databaseUrl`; resolves once it listens. */
async function startParse(ctx: BenchContext, folder: string, databaseUrl: string): Promise<ParseProcess> {
  const script = path.join(ctx.root, 'bench/peer-parse-server.ts');
  // Parse writes its log files under the working folder: the scenario's, removed after the run.
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), script, folder, databaseUrl],
    {
      cwd: ctx.workDir,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    },
  );
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  child.once('exit', () => process.off('exit', kill));
  // Its deprecation notices are noise unless it fails: kept, and shown then.
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const messages: ((message: PeerMessage) => void)[] = [];
  child.on('message', (message: PeerMessage) => messages.shift()?.(message));
  const next = () =>
    new Promise<PeerMessage>((resolve, reject) => {
      messages.push(resolve);
      child.once('exit', (code) => reject(new Error(`Parse Server exited with ${code}: ${stderr.trim()}`)));
    });
  const listening = await next();
  if (listening.type !== 'listening') throw new Error(`Parse Server said ${listening.type} first`);
  return {
    child,
    base: `http://127.0.0.1:${listening.port}/parse`,
    async received() {
      child.send({ type: 'received' });
      const message = await next();
      if (message.type !== 'received') throw new Error(`Parse Server answered ${message.type}`);
      return { installations: message.installations, sends: message.sends };
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** A call to Parse's REST API with the master key; answers the JSON body and the headers. */
async function parseCall(base: string, method: string, url: string, body?: unknown) {
  const response = await fetch(base + url, {
    method,
    headers: {
      'X-Parse-Application-Id': PARSE_APP_ID,
      'X-Parse-Master-Key': PARSE_MASTER_KEY,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`Parse ${method} ${url}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return { body: JSON.parse(text) as Record<string, unknown>, headers: response.headers };
}

/**
 * Seeds `count` Android installations, untimed: the first through the REST API, which has Parse
 * create `_Installation` as its schema says, the others in one statement into that table (object IDs
 * of ten characters, UUID installation IDs, 44-character tokens, as its own rows).
 */
async function seedInstallations(parse: ParseProcess, databaseUrl: string, count: number): Promise<void> {
  await parseCall(parse.base, 'POST', '/installations', {
    deviceType: 'android',
    pushType: 'gcm',
    installationId: '00000000-0000-4000-8000-000000000000',
    deviceToken: 'bench-token-0000000000000000000000000000000',
  });
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `insert into "_Installation" ("objectId", "createdAt", "updatedAt", "installationId", "deviceToken", "deviceType", "pushType")
       select 'b' || lpad(i::text, 9, '0'), now(), now(), md5(i::text)::uuid::text,
              encode(sha256(i::text::bytea), 'base64'), 'android', 'gcm'
       from generate_series(1, $1::int) as i`,
      [count - 1],
    );
    await client.query('vacuum (analyze) "_Installation"');
  } finally {
    await client.end();
  }
}

/** Pushes to every installation and answers the seconds until `_PushStatus` reads `succeeded`. */
async function timeParsePush(
  parse: ParseProcess,
  count: number,
): Promise<{ seconds: number; peakMb: number }> {
  const pid = parse.child.pid as number;
  const rss = () =>
    Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  let peak = rss();
  const started = performance.now();
  const { headers } = await parseCall(parse.base, 'POST', '/push', {
    where: { deviceType: 'android' },
    data: { alert: 'A benchmark push', title: 'Bench' },
  });
  const statusId = headers.get('x-parse-push-status-id');
  if (!statusId) throw new Error('Parse answered the push without its X-Parse-Push-Status-Id');
  let status: Record<string, unknown>;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, PARSE_POLL_MS));
    peak = Math.max(peak, rss());
    status = (await parseCall(parse.base, 'GET', `/classes/_PushStatus/${statusId}`)).body;
    if (status.status === 'succeeded' || status.status === 'failed') break;
  }
  const seconds = (performance.now() - started) / 1000;
  const received = await parse.received();
  if (status.status !== 'succeeded' || received.installations !== count || status.numSent !== count) {
    throw new Error(
      `the Parse push ended ${String(status.status)} with ${String(status.numSent)} sent; ` +
        `the adapter received ${received.installations} of ${count} installations`,
    );
  }
  return { seconds, peakMb: peak / 1e6 };
}

/** Parse Server's push to `count` installations on a database of the run; seconds and its peak RSS. */
async function parsePush(ctx: BenchContext, count: number) {
  const scaled = ctx.scaled!;
  const folder = ensureParseServer(ctx.log);
  const database = await scaled.createDatabase('peer_parse');
  try {
    const parse = await startParse(ctx, folder, database.url);
    try {
      ctx.log(`peer: seeding ${count.toLocaleString('en')} Parse installations…`);
      await seedInstallations(parse, database.url, count);
      ctx.log(`peer: Parse Server ${PARSE_VERSION} pushing to ${count.toLocaleString('en')} installations…`);
      return await timeParsePush(parse, count);
    } finally {
      await parse.stop();
    }
  } finally {
    await scaled.dropDatabase(database);
  }
}

/** Pushboard's scaled send to `count` devices (API and worker processes) on a database of the run; seconds. */
async function pushboardSend(ctx: BenchContext, count: number) {
  const scaled = ctx.scaled!;
  const database = await scaled.createDatabase('peer_pushboard');
  const prefix = scaled.redisPrefix('peer');
  const dataDir = path.join(ctx.workDir, 'pushboard');
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    const db = await openPostgres(database.url);
    try {
      await migrateToLatest(db);
      await bootstrapTenancy(db, PASSWORD, new Date());
      await seedFleet(db, {
        workspaceId: DEFAULT_WORKSPACE_ID,
        appId: APP,
        devices: count,
        audiences: [{ id: AUDIENCE, size: count }],
        now: new Date(),
        // No receipts planned: the send alone is measured, as Parse's.
        providerConfig: { seed: 1, deliveryRate: 0, impressionRate: 0 },
      });
      await sql`vacuum (analyze)`.execute(db);
    } finally {
      await db.destroy();
    }
    ctx.log(`peer: Pushboard (scaled) sending to ${count.toLocaleString('en')} devices…`);
    const env = {
      PUSHBOARD_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      REDIS_URL: scaled.redisUrl,
      PUSHBOARD_REDIS_PREFIX: prefix,
      // Every process of a scaled deployment must share one (config.ts); this run's own.
      PUSHBOARD_SECRET_KEY: randomBytes(32).toString('base64'),
    };
    return await measureSend(ctx, env, AUDIENCE, count, { appId: APP, pollMs: POLL_MS });
  } finally {
    await scaled.dropDatabase(database);
    await scaled.deleteRedisPrefix(prefix);
  }
}

/** Runs the peer comparison (scaled mode only: it needs the machine's PostgreSQL and Redis). */
async function peerScenario(ctx: BenchContext): Promise<ScenarioResult> {
  if (!ctx.scaled) throw new Error('--peer runs on PostgreSQL and Redis (the scaled mode)');
  const count = ctx.scale(100_000);
  const parse = await parsePush(ctx, count);
  const pushboard = await pushboardSend(ctx, count);
  const parseRate = count / parse.seconds;
  const pushboardRate = count / pushboard.seconds;
  const ratio = pushboardRate / parseRate;
  ctx.log(
    `peer: Parse Server ${parse.seconds.toFixed(2)} s (${Math.round(parseRate).toLocaleString('en')}/s, ` +
      `peak RSS ${parse.peakMb.toFixed(0)} MB), Pushboard ${pushboard.seconds.toFixed(2)} s ` +
      `(${Math.round(pushboardRate).toLocaleString('en')}/s): ${ratio.toFixed(1)} ×`,
  );
  return {
    value: Math.round(pushboardRate),
    unit: 'devices/s',
    probe: Math.round(parseRate),
    ratio: Number(ratio.toFixed(2)),
    target: TARGET_RATIO,
    pass: ratio >= TARGET_RATIO,
    details: {
      devices: count,
      parseServer: PARSE_VERSION,
      seconds: { parse: Number(parse.seconds.toFixed(2)), pushboard: Number(pushboard.seconds.toFixed(2)) },
      peakMB: {
        parse: Number(parse.peakMb.toFixed(1)),
        pushboardWorker: Number((pushboard.peak / 1e6).toFixed(1)),
      },
      pollMs: { parse: PARSE_POLL_MS, pushboard: POLL_MS },
    },
  };
}

/** `--peer`: the one scenario the flag runs, outside the `SCENARIOS` list (it installs the peer). */
export const PEER_SCENARIO: Scenario = {
  name: 'peer_parse',
  what: (quick) =>
    `push to ${quick ? '10k' : '100k'} devices: Pushboard scaled ÷ Parse Server ${PARSE_VERSION} (no-op adapters)`,
  targetText: 'Pushboard ≥ 50 × faster',
  run: peerScenario,
};
