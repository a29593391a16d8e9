/**
 * `send_300k` (issue 17): a send to 300,000 devices (30,000 with --quick) end to end, as a console
 * user starts one — a real `pushboard serve` child process (scaled: its API and worker processes),
 * the task created through `POST …/tasks` over HTTP and read back until it is `completed` — through
 * the built-in simulator (which plans no receipts here, so only the send is measured). The figure is
 * devices per second from the creation request to the task's `completedAt`: task creation, audience matching, the
 * scheduler's wake-up, the send's start, batches and final counters, all of it. Each server first
 * sends, untimed, to the 20,000-device warm-up audience, as the probe first writes 20,000 rows: the
 * figure is a running server's, not that of one compiling its code on its first task.
 *
 * Probe, in the same run: the raw INSERT of the same device-result rows (`dispatch-trial.ts probe`:
 * same table, indexes and pragmas, rows per transaction; scaled, the faster of COPY and multi-row
 * INSERT). Every trial runs on a fresh copy of one seeded store; probe and send alternate and the best
 * of each counts, as in `dispatch`. Target: ratio ≥ 0.6 (the in-process `dispatch` target).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { loadConfig } from '../../server/src/config.ts';
import { migrateToLatest } from '../../server/src/storage/migrations/index.ts';
import { openPostgres } from '../../server/src/storage/postgres.ts';
import { openSqlite } from '../../server/src/storage/sqlite.ts';
import { bootstrapTenancy, DEFAULT_WORKSPACE_ID } from '../../server/src/tenancy/bootstrap.ts';
import { seedFleet } from '../fleet.ts';
import type { BenchContext, ScenarioResult } from '../harness.ts';
import { type BenchStore, copyStore, removeStore } from '../store.ts';
import { ROUNDS, storePragmas, trialOnCopy } from './dispatch.ts';
import { measureSend, type ServerEnv } from './dispatch-rss.ts';
import { APP, AUDIENCE, WARMUP_AUDIENCE, WARMUP_DEVICES } from './dispatch-trial.ts';

/** Target of issue 17: the end-to-end send at least 0.6 of the raw insert rate. */
const TARGET_RATIO = 0.6;
/** How often the task is read while it sends (the duration ends at its `completedAt` anyway). */
const POLL_MS = 250;
/** The administrator's password `measureSend` logs in with (`dispatch-rss.ts`). */
const PASSWORD = 'bench-admin-password';

/**
 * Seeds the template store: the default workspace and its admin, the fleet, its audience and the
 * probe's warm-up audience. Answers the SQLite pragmas the store runs with, for the probe.
 */
async function seedTemplate(ctx: BenchContext, template: BenchStore, devices: number): Promise<string[]> {
  const db = template.kind === 'sqlite' ? openSqlite(template.file) : await openPostgres(template.url);
  try {
    await migrateToLatest(db);
    await bootstrapTenancy(db, PASSWORD, new Date());
    await seedFleet(db, {
      workspaceId: DEFAULT_WORKSPACE_ID,
      appId: APP,
      devices,
      audiences: [
        { id: AUDIENCE, size: devices },
        { id: WARMUP_AUDIENCE, size: Math.min(WARMUP_DEVICES, devices) },
      ],
      now: new Date(),
      // No delivery and no impression: the simulator plans no receipts, so that receipt ingestion
      // (the `receipts` scenario's) does not run during the send. Every device accepted, as the
      // probe's rows say (its default 3 % of failures would add writes the probe does not make:
      // explicit failure rows and invalid tokens marked on the devices).
      providerConfig: { seed: 1, acceptRate: 1, deliveryRate: 0, impressionRate: 0 },
    });
    ctx.log(`send_300k: seeded ${devices.toLocaleString('en')} devices`);
    if (template.kind === 'postgres') {
      await sql`vacuum (analyze)`.execute(db);
      return [];
    }
    await sql`pragma wal_checkpoint(truncate)`.execute(db);
    return await storePragmas(db);
  } finally {
    await db.destroy();
  }
}

/** One end-to-end send in fresh server processes on a fresh copy of the template; seconds. */
async function sendOnCopy(ctx: BenchContext, template: BenchStore, devices: number, round: number) {
  const copy = await copyStore(ctx, template, `send-300k-${round}`);
  const dataDir = path.join(ctx.workDir, `send-${round}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const prefix = ctx.scaled?.redisPrefix('send_300k');
  const env: ServerEnv =
    copy.kind === 'sqlite'
      ? { PUSHBOARD_DATA_DIR: dataDir, PUSHBOARD_SQLITE_FILE: copy.file }
      : {
          PUSHBOARD_DATA_DIR: dataDir,
          DATABASE_URL: copy.url,
          REDIS_URL: ctx.scaled?.redisUrl ?? '',
          PUSHBOARD_REDIS_PREFIX: prefix ?? '',
          // Every process of a scaled deployment must share one (config.ts); this send's own.
          PUSHBOARD_SECRET_KEY: randomBytes(32).toString('base64'),
        };
  try {
    return await measureSend(ctx, env, AUDIENCE, devices, {
      appId: APP,
      pollMs: POLL_MS,
      warmUp: { audienceId: WARMUP_AUDIENCE, devices: Math.min(WARMUP_DEVICES, devices) },
    });
  } finally {
    await removeStore(ctx, copy);
    if (prefix) await ctx.scaled?.deleteRedisPrefix(prefix);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Runs the `send_300k` scenario. */
export async function send300kScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const devices = ctx.scale(300_000);
  const batchSize = loadConfig({}, process.env).dispatch.batchSize;
  const template: BenchStore = ctx.scaled
    ? { kind: 'postgres', ...(await ctx.scaled.createDatabase('send_300k')) }
    : { kind: 'sqlite', file: path.join(ctx.workDir, 'send-300k-template.db') };
  try {
    const pragmas = await seedTemplate(ctx, template, devices);
    const probes: number[] = [];
    const sends: number[] = [];
    const probeCpu: number[] = [];
    const sendCpu: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const raw = await trialOnCopy(ctx, template, 'probe', devices, batchSize, pragmas);
      probes.push(raw.rate);
      probeCpu.push(raw.cpuSeconds);
      const { seconds, cpuSeconds } = await sendOnCopy(ctx, template, devices, round);
      sends.push(devices / seconds);
      sendCpu.push(cpuSeconds);
      ctx.log(
        `send_300k: round ${round}: end to end ${Math.round(sends.at(-1)!).toLocaleString('en')} devices/s ` +
          `(${seconds.toFixed(2)} s, ${cpuSeconds.toFixed(2)} s CPU), raw insert ` +
          `${Math.round(raw.rate).toLocaleString('en')} rows/s (${raw.cpuSeconds.toFixed(2)} s CPU)`,
      );
    }
    const value = Math.max(...sends);
    const probe = Math.max(...probes);
    const ratio = value / probe;
    return {
      value: Math.round(value),
      unit: 'devices/s',
      probe: Math.round(probe),
      ratio: Number(ratio.toFixed(3)),
      target: TARGET_RATIO,
      pass: ratio >= TARGET_RATIO,
      details: {
        devices,
        batchSize,
        seconds: Number((devices / value).toFixed(2)),
        sends: sends.map(Math.round),
        probes: probes.map(Math.round),
        sendCpuSeconds: sendCpu.map((c) => Number(c.toFixed(2))),
        probeCpuSeconds: probeCpu.map((c) => Number(c.toFixed(2))),
        // The same ratio on CPU time (the server process's; the probe's), which other processes on a
        // shared machine disturb less. Embedded only: scaled, most of the work is PostgreSQL's.
        ...(!ctx.scaled && {
          cpuRatio: Number((Math.min(...probeCpu) / Math.min(...sendCpu)).toFixed(3)),
        }),
        pollMs: POLL_MS,
      },
    };
  } finally {
    await removeStore(ctx, template);
  }
}
