/**
 * `idle_rss` (issue 17): the resident memory of a real `pushboard serve` child process that has just
 * started on an empty store and has nothing to do — a fresh SQLite file, no demo data
 * (`PUSHBOARD_SEED_DEMO=0`) — once it answers `/api/v1/health` and has settled for `SETTLE_MS`.
 * Three fresh processes, each on its own store; the value is their median VmRSS (the best is in the
 * details). The probe, in the same run and measured the same way, is a bare Node HTTP server (`node
 * -e`, no dependency): the memory no Node server can go below; ratio = value ÷ probe. Target ≤ 150 MB.
 * Linux only (reads /proc).
 *
 * Beside them (details, `sourcesThroughTsxMB`), the same server run from its TypeScript sources
 * through the tsx loader, as `pushboard` ran before the build existed: what the build saves.
 *
 * `--scaled`: the same process on PostgreSQL and Redis (`serve`, role `all`), a new database per trial.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { BenchContext, ScenarioResult } from '../harness.ts';
import { openScenarioStore, rssBytes } from './dispatch-rss.ts';

/** Target of issue 17, in MB (10^6 bytes). */
const TARGET_MB = 150;
/** How long a process idles after its first answer before its RSS is read, in milliseconds. */
const SETTLE_MS = 8000;
/** Processes started of each kind (Pushboard, probe). */
const TRIALS = 3;
/** How long a process may take to answer its first request, in milliseconds. */
const START_TIMEOUT_MS = 60_000;

/** The bare Node HTTP server of the probe: prints its port once it listens. */
const PROBE_SERVER = `
const server = require('node:http').createServer((request, response) => response.end('ok'));
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** One measured process: its RSS after settling, and how long it took to answer its first request. */
interface Trial {
  rss: number;
  startMs: number;
}

/** Kills `child` if the bench process exits first (an interrupted run must not leave servers behind). */
function killOnExit(child: ChildProcess): void {
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  child.once('exit', () => process.off('exit', kill));
}

/**
 * Waits until `url` answers (any status), then `SETTLE_MS`, and answers the child's RSS then and the
 * time from `started` to the first answer; stops the child whatever happens.
 */
async function settleAndMeasure(child: ChildProcess, url: () => string | undefined, started: number) {
  killOnExit(child);
  try {
    let startMs: number | undefined;
    const deadline = started + START_TIMEOUT_MS;
    while (startMs === undefined) {
      if (child.exitCode !== null) throw new Error(`the process exited with ${child.exitCode}`);
      if (performance.now() > deadline) throw new Error(`no answer within ${START_TIMEOUT_MS} ms`);
      const target = url();
      if (target) {
        try {
          await (await fetch(target)).arrayBuffer();
          startMs = performance.now() - started;
          break;
        } catch {
          // Not listening yet.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return { rss: rssBytes(child.pid as number), startMs };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
}

/**
 * Starts `pushboard serve` on a new empty store and measures it: the command as installed, or with
 * `fromSources` its TypeScript sources through the tsx loader.
 */
async function measurePushboard(ctx: BenchContext, trial: number, fromSources = false): Promise<Trial> {
  const dataDir = path.join(ctx.workDir, `data-${trial}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const store = await openScenarioStore(ctx, dataDir, `idle_rss_${fromSources ? 'tsx' : 'build'}_${trial}`);
  // The server creates and migrates the store itself, as on a first start: nothing is kept open here.
  await store.db.destroy();
  try {
    const started = performance.now();
    const command = fromSources
      ? ['--import', 'tsx', path.join(ctx.root, 'server/src/cli.ts')]
      : [path.join(ctx.root, 'server/bin/pushboard.js')];
    const child = spawn(process.execPath, [...command, 'serve', '--port', '0', '--host', '127.0.0.1'], {
      env: {
        ...process.env,
        ...store.env,
        PUSHBOARD_SEED_DEMO: '0',
        PUSHBOARD_ADMIN_PASSWORD: 'bench-admin-password',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let base: string | undefined;
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      // Only the address is looked for; the rest of the log is read (or the pipe would fill) and dropped.
      if (base) return;
      out += chunk.toString();
      base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    });
    return await settleAndMeasure(child, () => base && `${base}/api/v1/health`, started);
  } finally {
    await store.dispose();
  }
}

/** Starts the probe's bare Node HTTP server and measures it. */
async function measureProbe(): Promise<Trial> {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', PROBE_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  let port: string | undefined;
  child.stdout?.on('data', (chunk: Buffer) => {
    port ??= /\d+/.exec(chunk.toString())?.[0];
  });
  return settleAndMeasure(child, () => port && `http://127.0.0.1:${port}/`, started);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const mb = (bytes: number) => Number((bytes / 1e6).toFixed(1));

/** Runs the `idle_rss` scenario. */
export async function idleRssScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const pushboard: Trial[] = [];
  const probe: Trial[] = [];
  const sources: Trial[] = [];
  // Alternating, so that a busy stretch of the machine falls on both kinds alike.
  for (let trial = 0; trial < TRIALS; trial++) {
    pushboard.push(await measurePushboard(ctx, trial));
    probe.push(await measureProbe());
    sources.push(await measurePushboard(ctx, trial, true));
    ctx.log(
      `idle_rss: trial ${trial + 1}: pushboard ${mb(pushboard[trial]!.rss)} MB ` +
        `(answered after ${pushboard[trial]!.startMs.toFixed(0)} ms), bare node ${mb(probe[trial]!.rss)} MB, ` +
        `sources through tsx ${mb(sources[trial]!.rss)} MB (${sources[trial]!.startMs.toFixed(0)} ms)`,
    );
  }
  const value = median(pushboard.map((t) => t.rss));
  const probeValue = median(probe.map((t) => t.rss));
  return {
    value: mb(value),
    unit: 'MB',
    probe: mb(probeValue),
    ratio: Number((value / probeValue).toFixed(2)),
    target: TARGET_MB,
    pass: value / 1e6 <= TARGET_MB,
    details: {
      measured: `median VmRSS of ${TRIALS} fresh \`pushboard serve\` processes, ${SETTLE_MS / 1000} s after their first answer`,
      probe: 'the same of a bare `node -e` HTTP server',
      pushboardMB: pushboard.map((t) => mb(t.rss)),
      bestMB: mb(Math.min(...pushboard.map((t) => t.rss))),
      probeMB: probe.map((t) => mb(t.rss)),
      firstAnswerMs: pushboard.map((t) => Math.round(t.startMs)),
      sourcesThroughTsxMB: sources.map((t) => mb(t.rss)),
      sourcesThroughTsxMedianMB: mb(median(sources.map((t) => t.rss))),
      sourcesThroughTsxFirstAnswerMs: sources.map((t) => Math.round(t.startMs)),
    },
  };
}
