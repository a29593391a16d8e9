/**
 * `dispatch_rss` (BENCH.md): the peak resident memory of the real server (`pushboard serve`, a child
 * process) while it sends one task to 1,000,000 devices, then — in a fresh process — to 10,000,000
 * (100,000 and 1,000,000 with --quick), through the built-in simulator provider. Memory must not grow
 * with the audience: target ≤ 256 MB, and RSS(10M) ≤ 1.1 × RSS(1M). Linux only (reads /proc).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sql } from 'kysely';
import { loadConfig } from '../../server/src/config.ts';
import { migrateToLatest } from '../../server/src/storage/migrations/index.ts';
import { openSqlite } from '../../server/src/storage/sqlite.ts';
import { bootstrapTenancy, DEFAULT_WORKSPACE_ID } from '../../server/src/tenancy/bootstrap.ts';
import { seedFleet } from '../fleet.ts';
import type { BenchContext, ScenarioResult } from '../harness.ts';

const PASSWORD = 'bench-admin-password';
const APP = 'app_benchrss000000000000000000';
/** Target of BENCH.md, in MB (10^6 bytes). */
const TARGET_MB = 256;
/** Largest growth allowed from the small send to the ten-times larger one. */
const MAX_GROWTH = 1.1;
/** Sampling period of the server's RSS, in milliseconds. */
const SAMPLE_MS = 100;

function rssBytes(pid: number): number {
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

/** Starts `pushboard serve` on the data folder and resolves once it answers /health. */
async function startServer(root: string, dataDir: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(root, 'server/bin/pushboard.js'), 'serve'], {
    env: {
      ...process.env,
      PUSHBOARD_DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUSHBOARD_SEED_DEMO: 'false',
      PUSHBOARD_ADMIN_PASSWORD: PASSWORD,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
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

/** Sends one task to `audienceId` in a fresh server process; answers its idle and peak RSS and duration. */
async function measureSend(ctx: BenchContext, dataDir: string, audienceId: string, devices: number) {
  const { child, base } = await startServer(ctx.root, dataDir);
  const pid = child.pid as number;
  try {
    const { token } = (await call(base, 'POST', '/api/v1/auth/login', undefined, {
      username: 'admin',
      password: PASSWORD,
    })) as { token: string };
    const idle = rssBytes(pid);
    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(pid));
    }, SAMPLE_MS);
    const started = performance.now();
    const tasks = `/api/v1/workspaces/${DEFAULT_WORKSPACE_ID}/tasks`;
    const { id } = (await call(base, 'POST', tasks, token, {
      name: `RSS ${devices}`,
      appId: APP,
      title: 'Bench',
      content: 'A benchmark push',
      clickAction: { type: 'open_app' },
      audienceId,
      sendType: 'immediate',
    })) as { id: string };
    let task: { status: string; statistics: { totalSent: number } };
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      task = (await call(base, 'GET', `${tasks}/${id}`, token)) as typeof task;
      if (task.status === 'completed' || task.status === 'failed') break;
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, rssBytes(pid));
    if (task.status !== 'completed' || task.statistics.totalSent !== devices) {
      throw new Error(
        `the send ended ${task.status} with ${task.statistics.totalSent} of ${devices} devices sent`,
      );
    }
    ctx.log(
      `dispatch_rss: ${devices.toLocaleString('en')} devices in ${seconds.toFixed(1)} s, ` +
        `RSS idle ${(idle / 1e6).toFixed(0)} MB, peak ${(peak / 1e6).toFixed(0)} MB`,
    );
    return { idle, peak, seconds };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
  }
}

/** Runs the `dispatch_rss` scenario. */
export async function dispatchRssScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const small = ctx.scale(1_000_000);
  const large = ctx.scale(10_000_000);
  const dataDir = path.join(ctx.workDir, 'data');
  const config = loadConfig({ dataDir }, {});
  const db = openSqlite(config.sqliteFile);
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
    await sql`pragma wal_checkpoint(truncate)`.execute(db);
  } finally {
    await db.destroy();
  }
  const first = await measureSend(ctx, dataDir, 'aud_benchsmall0000000000000000', small);
  const second = await measureSend(ctx, dataDir, 'aud_benchlarge0000000000000000', large);
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
    },
  };
}
