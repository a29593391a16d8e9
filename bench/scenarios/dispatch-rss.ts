/**
 * `dispatch_rss` (docs/benchmarks.md): the peak resident memory of the real server (`pushboard serve`, a child
 * process) while it sends one task to 1,000,000 devices, then — in a fresh process — to 10,000,000
 * (100,000 and 1,000,000 with --quick), through the built-in simulator provider. Memory must not grow
 * with the audience: target ≤ 256 MB, and RSS(10M) ≤ 1.1 × RSS(1M). Linux only (reads /proc).
 *
 * `--scaled`: two real processes on PostgreSQL and Redis, `pushboard serve --role api` (the task is
 * created through it) and `pushboard serve --role worker` (which sends it); the figure is the worker's
 * peak RSS, the one that holds the send. The API's peak is in the details.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sql } from 'kysely';
import { loadConfig } from '../../server/src/config.ts';
import type { Db } from '../../server/src/storage/database.ts';
import { migrateToLatest } from '../../server/src/storage/migrations/index.ts';
import { openPostgres } from '../../server/src/storage/postgres.ts';
import { openSqlite } from '../../server/src/storage/sqlite.ts';
import { bootstrapTenancy, DEFAULT_WORKSPACE_ID } from '../../server/src/tenancy/bootstrap.ts';
import { seedFleet } from '../fleet.ts';
import type { BenchContext, ScenarioResult } from '../harness.ts';

const PASSWORD = 'bench-admin-password';
const APP = 'app_benchrss000000000000000000';
/** Target of docs/benchmarks.md, in MB (10^6 bytes). */
const TARGET_MB = 256;
/** Largest growth allowed from the small send to the ten-times larger one. */
const MAX_GROWTH = 1.1;
/** Sampling period of the server's RSS, in milliseconds. */
const SAMPLE_MS = 100;

/** CPU seconds (user + system) process `pid` has used so far, from /proc (clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number {
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The resident memory of process `pid` (VmRSS, in bytes). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

async function call(
  base: string,
  method: string,
  url: string,
  token?: string,
  body?: unknown,
): Promise<unknown> {
  const response = await fetch(base + url, {
    method,
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Kills `child` if the bench process exits first (an interrupted run must not leave servers behind). */
function killOnExit(child: ChildProcess): void {
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  child.once('exit', () => process.off('exit', kill));
}

/** The environment of the `pushboard serve` processes: the data folder, and (scaled) the store and queues. */
export type ServerEnv = Record<string, string>;

/**
 * Starts `pushboard serve --role worker` (scaled mode) and resolves once it says it has started (it
 * serves no HTTP to ask), so that its idle RSS is that of a worker ready to send.
 */
async function startWorker(root: string, env: ServerEnv): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [path.join(root, 'server/bin/pushboard.js'), 'serve', '--role', 'worker'],
    {
      env: { ...process.env, ...env, PUSHBOARD_SEED_DEMO: 'false', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  killOnExit(child);
  let out = '';
  let started = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the worker did not start within 60 s')), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      // Only the start is looked for; the rest of its log is read (or the pipe would fill) and dropped.
      if (started) return;
      out += chunk.toString();
      if (out.includes('"worker started"')) {
        started = true;
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited with ${code}`));
    });
  });
  return child;
}

/** Starts `pushboard serve` (`--role api` in the scaled mode) and resolves once it answers /health. */
async function startServer(
  root: string,
  env: ServerEnv,
  role?: 'api',
): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const args = [path.join(root, 'server/bin/pushboard.js'), 'serve', ...(role ? ['--role', role] : [])];
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUSHBOARD_SEED_DEMO: 'false',
      PUSHBOARD_ADMIN_PASSWORD: PASSWORD,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  killOnExit(child);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/api/v1/health`)).ok) return { child, base };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error('the server did not answer /api/v1/health within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Creates an immediate task of `appId` to `audienceId` over HTTP and reads it every `pollMs` until it
 * has ended; answers it, having checked that it completed with `devices` sent.
 */
async function sendAndWait(
  base: string,
  token: string,
  appId: string,
  audienceId: string,
  devices: number,
  pollMs: number,
) {
  const tasks = `/api/v1/workspaces/${DEFAULT_WORKSPACE_ID}/tasks`;
  const { id } = (await call(base, 'POST', tasks, token, {
    name: `RSS ${devices}`,
    appId,
    title: 'Bench',
    content: 'A benchmark push',
    clickAction: { type: 'open_app' },
    audienceId,
    sendType: 'immediate',
  })) as { id: string };
  let task: { status: string; completedAt: string | null; statistics: { totalSent: number } };
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    task = (await call(base, 'GET', `${tasks}/${id}`, token)) as typeof task;
    if (task.status === 'completed' || task.status === 'failed') break;
  }
  if (task.status !== 'completed' || task.statistics.totalSent !== devices) {
    throw new Error(
      `the send ended ${task.status} with ${task.statistics.totalSent} of ${devices} devices sent`,
    );
  }
  return task;
}

/** How `measureSend` sends, beyond its defaults. */
export interface SendOptions {
  /** The app of the task: the simulator app of this scenario by default. */
  appId?: string;
  /**
   * How often the task is read while it sends (500 ms). The duration ends at the task's `completedAt`
   * whatever the period; reading it more often only costs the server more requests.
   */
  pollMs?: number;
  /**
   * An untimed send to this audience of the same app first, in the same server processes: the timed
   * send then runs in a warm server, as in one that has been running (JIT-compiled, caches filled).
   */
  warmUp?: { audienceId: string; devices: number };
}

/**
 * Sends one task to `audienceId` in a fresh server process (scaled: fresh API and worker processes);
 * answers the idle and peak RSS of the process that sends, the duration from the task's creation
 * to its completion, and the CPU time the sending process used in it.
 */
export async function measureSend(
  ctx: BenchContext,
  env: ServerEnv,
  audienceId: string,
  devices: number,
  { appId = APP, pollMs = 500, warmUp }: SendOptions = {},
) {
  const { child, base } = await startServer(ctx.root, env, ctx.scaled ? 'api' : undefined);
  const worker = ctx.scaled
    ? await startWorker(ctx.root, env).catch(async (error: unknown) => {
        child.kill('SIGTERM');
        throw error;
      })
    : undefined;
  const pid = (worker ?? child).pid as number;
  const apiPid = child.pid as number;
  try {
    const { token } = (await call(base, 'POST', '/api/v1/auth/login', undefined, {
      username: 'admin',
      password: PASSWORD,
    })) as { token: string };
    if (warmUp) await sendAndWait(base, token, appId, warmUp.audienceId, warmUp.devices, pollMs);
    const idle = rssBytes(pid);
    let peak = idle;
    let apiPeak = rssBytes(apiPid);
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(pid));
      if (worker) apiPeak = Math.max(apiPeak, rssBytes(apiPid));
    }, SAMPLE_MS);
    const cpuBefore = cpuSecondsOf(pid);
    // Wall-clock time, as the server's `completedAt` is (same machine): the duration ends when the
    // server finished the task, not when a poll noticed it.
    const started = Date.now();
    let completedAt: string | null;
    try {
      ({ completedAt } = await sendAndWait(base, token, appId, audienceId, devices, pollMs));
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.parse(completedAt ?? new Date().toISOString()) - started) / 1000;
    const cpuSeconds = cpuSecondsOf(pid) - cpuBefore;
    peak = Math.max(peak, rssBytes(pid));
    ctx.log(
      `dispatch_rss: ${devices.toLocaleString('en')} devices in ${seconds.toFixed(1)} s, ` +
        `RSS idle ${(idle / 1e6).toFixed(0)} MB, peak ${(peak / 1e6).toFixed(0)} MB` +
        (worker ? ` (worker; API peak ${(apiPeak / 1e6).toFixed(0)} MB)` : ''),
    );
    return { idle, peak, seconds, cpuSeconds, apiPeak: worker ? apiPeak : undefined };
  } finally {
    for (const server of worker ? [worker, child] : [child]) {
      server.kill('SIGTERM');
      if (server.exitCode === null) await once(server, 'exit');
    }
  }
}

/**
 * Opens a scenario's store: the SQLite file of the data folder, or (scaled) a new database of the run
 * named after `scenario`; `env` is what the servers need to use it.
 */
export async function openScenarioStore(
  ctx: BenchContext,
  dataDir: string,
  scenario = 'dispatch_rss',
): Promise<{ db: Db; env: ServerEnv; dispose(): Promise<void> }> {
  if (!ctx.scaled) {
    const config = loadConfig({ dataDir }, {});
    return { db: openSqlite(config.sqliteFile), env: { PUSHBOARD_DATA_DIR: dataDir }, async dispose() {} };
  }
  const scaled = ctx.scaled;
  // The scaled mode refuses to start without the deployment's sealing key (main.ts); the seeding
  // connection seals with the same one, so the servers read the apps it writes.
  const secretKey = randomBytes(32);
  const database = await scaled.createDatabase(scenario);
  const prefix = scaled.redisPrefix(scenario);
  fs.mkdirSync(dataDir, { recursive: true });
  return {
    async dispose() {
      await scaled.dropDatabase(database);
      await scaled.deleteRedisPrefix(prefix);
    },
    db: await openPostgres(database.url, { secretKey }),
    env: {
      PUSHBOARD_DATA_DIR: dataDir,
      PUSHBOARD_SECRET_KEY: secretKey.toString('base64'),
      DATABASE_URL: database.url,
      REDIS_URL: ctx.scaled.redisUrl,
      PUSHBOARD_REDIS_PREFIX: prefix,
    },
  };
}

/** Runs the `dispatch_rss` scenario. */
export async function dispatchRssScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const small = ctx.scale(1_000_000);
  const large = ctx.scale(10_000_000);
  const dataDir = path.join(ctx.workDir, 'data');
  const { db, env, dispose } = await openScenarioStore(ctx, dataDir);
  ctx.log(`dispatch_rss: seeding ${large.toLocaleString('en')} devices…`);
  try {
    await migrateToLatest(db);
    await bootstrapTenancy(db, PASSWORD, new Date());
    await seedFleet(db, {
      workspaceId: DEFAULT_WORKSPACE_ID,
      appId: APP,
      devices: large,
      audiences: [
        { id: 'aud_benchsmall0000000000000000', size: small },
        { id: 'aud_benchlarge0000000000000000', size: large },
      ],
      now: new Date(),
      // This scenario measures the send. With its default funnel the simulator would also plan ~2.3
      // receipts per device into its outbox and post them back while the send runs — receipt
      // ingestion, which the `receipts` scenario measures on its own. No delivery and no impression
      // means no receipt at all.
      providerConfig: { seed: 1, deliveryRate: 0, impressionRate: 0 },
    });
    if (ctx.scaled) await sql`vacuum (analyze)`.execute(db);
    else await sql`pragma wal_checkpoint(truncate)`.execute(db);
  } finally {
    await db.destroy();
  }
  let first: Awaited<ReturnType<typeof measureSend>>;
  let second: typeof first;
  try {
    first = await measureSend(ctx, env, 'aud_benchsmall0000000000000000', small);
    second = await measureSend(ctx, env, 'aud_benchlarge0000000000000000', large);
  } finally {
    await dispose();
  }
  const peakMb = Math.max(first.peak, second.peak) / 1e6;
  const growth = second.peak / first.peak;
  const mib = (bytes: number) => Number((bytes / 1024 ** 2).toFixed(1));
  return {
    value: Number((second.peak / 1e6).toFixed(1)),
    unit: 'MB',
    probe: null,
    ratio: Number(growth.toFixed(3)),
    target: TARGET_MB,
    pass: peakMb <= TARGET_MB && growth <= MAX_GROWTH,
    details: {
      devices: { small, large },
      peakMB: { small: Number((first.peak / 1e6).toFixed(1)), large: Number((second.peak / 1e6).toFixed(1)) },
      peakMiB: { small: mib(first.peak), large: mib(second.peak) },
      idleMB: { small: Number((first.idle / 1e6).toFixed(1)), large: Number((second.idle / 1e6).toFixed(1)) },
      seconds: { small: Number(first.seconds.toFixed(1)), large: Number(second.seconds.toFixed(1)) },
      ...(ctx.scaled && {
        measured: 'pushboard serve --role worker',
        apiPeakMB: {
          small: Number(((first.apiPeak ?? 0) / 1e6).toFixed(1)),
          large: Number(((second.apiPeak ?? 0) / 1e6).toFixed(1)),
        },
      }),
    },
  };
}
