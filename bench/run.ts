/**
 * `npm run bench` — runs the docs/benchmarks.md scenarios, each beside its physical-limit probe measured in the
 * same run, prints a table with the machine, Node, SQLite (and PostgreSQL) versions and the commit,
 * and writes `bench/results/latest.json`:
 *   { commit, machine, mode, node, sqlite, postgres?, redis?, quick, date, scenarios: { <name>: { value, unit, probe, ratio, target, pass } } }
 *
 *   npm run bench [-- --scaled] [-- --quick] [-- --only dispatch,dispatch_rss]
 *   npm run bench -- --peer [--quick]
 *
 * The embedded mode (default) runs on SQLite files and the in-process queue. `--scaled` runs the same
 * scenarios on the scaled backend: PostgreSQL (`PUSHBOARD_BENCH_POSTGRES_URL`, default the machine's
 * at 127.0.0.1:5432) and Redis/BullMQ (`PUSHBOARD_BENCH_REDIS_URL`, default 127.0.0.1:6379), each
 * probe on PostgreSQL too. It stops at once (exit 2) when either server does not answer; the run's
 * databases (`pushboard_bench_<pid>…`) and Redis keys (`pbbench-<pid>…`) are removed however it ends.
 * `--quick` runs every scenario at a tenth of its size (bench/README.md says how long each takes).
 * `--peer` runs only the Parse Server comparison (`peer.ts`), on the scaled mode's servers.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeEnvironment } from './environment.ts';
import type { BenchContext, Scenario, ScenarioResult } from './harness.ts';
import { PEER_SCENARIO } from './peer.ts';
import { connectScaled, type ScaledRun } from './scaled.ts';
import { devicePageScenario } from './scenarios/device-page.ts';
import { dispatchScenario } from './scenarios/dispatch.ts';
import { dispatchCappedScenario } from './scenarios/dispatch-capped.ts';
import { dispatchFcmScenario } from './scenarios/dispatch-fcm.ts';
import { dispatchRssScenario } from './scenarios/dispatch-rss.ts';
import { generateAudienceScenario } from './scenarios/generate-audience.ts';
import { idleRssScenario } from './scenarios/idle-rss.ts';
import { purgeScenario } from './scenarios/purge.ts';
import { receiptsScenario, receiptsWarmScenario } from './scenarios/receipts.ts';
import { send300kScenario } from './scenarios/send-300k.ts';
import { taskListScenario } from './scenarios/task-list.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench/results/latest.json');

/** Every scenario, in docs/benchmarks.md order. */
const SCENARIOS: Scenario[] = [
  {
    name: 'dispatch',
    what: (quick) => `send to ${quick ? '100k' : '1M'} devices, no-op provider`,
    targetText: 'ratio ≥ 0.6',
    run: dispatchScenario,
  },
  {
    name: 'dispatch_capped',
    what: (quick) => `send to ${quick ? '100k' : '1M'} devices, half at their frequency cap ÷ uncapped`,
    targetText: 'ratio ≥ 0.5',
    run: dispatchCappedScenario,
  },
  {
    name: 'dispatch_rss',
    what: (quick, scaled) =>
      `peak ${scaled ? 'worker' : 'server'} RSS, send to ${quick ? '100k / 1M' : '1M / 10M'}`,
    targetText: '≤ 256 MB, 10M ≤ 1.1 × 1M',
    run: dispatchRssScenario,
  },
  {
    name: 'dispatch_fcm',
    what: (quick) => `send to ${quick ? '100k' : '1M'} devices through FCM (local fake) ÷ simulator`,
    targetText: 'ratio ≥ 0.5, ≤ 256 MB',
    run: dispatchFcmScenario,
  },
  {
    name: 'send_300k',
    what: (quick) =>
      `send to ${quick ? '30k' : '300k'} devices end to end: HTTP task creation → completed, real server`,
    targetText: 'ratio ≥ 0.6',
    run: send300kScenario,
  },
  {
    name: 'receipts',
    what: (quick) =>
      `receipts/s, 1,000 per request, 30 % duplicates, ${quick ? '1.1M' : '11M'} results stored`,
    targetText: 'ratio ≥ 0.7, p99 ≤ 250 ms',
    run: receiptsScenario,
  },
  {
    name: 'task_list',
    what: (quick) => `p99 of a task-list page over ${quick ? '1,000' : '10,000'} tasks while receipts run`,
    targetText: 'p99 ≤ 20 ms and ≤ 3 × idle p99 + 10 ms',
    run: taskListScenario,
  },
  {
    name: 'device_page',
    what: (quick) => `p99 of a next device page, 5 filters, ${quick ? '1.1M' : '11M'} results stored`,
    targetText: 'p99 ≤ 30 ms',
    run: devicePageScenario,
  },
  {
    name: 'generate_audience',
    what: (quick) => `Generate Audience from a ${quick ? '100k' : '1M'}-device result (all, not opened)`,
    targetText: '≤ 2 s, ratio ≥ 0.5',
    run: generateAudienceScenario,
  },
  {
    name: 'purge',
    what: (quick) => `retention purge of ${quick ? '1M' : '10M'} expired results, receipts going on`,
    targetText: '≤ 2 × probe, receipts p99 ≤ 2 × idle',
    run: purgeScenario,
  },
  {
    name: 'idle_rss',
    what: (_quick, scaled) =>
      `RSS of an idle \`pushboard serve\`, empty ${scaled ? 'PostgreSQL' : 'SQLite'} store, no demo; probe bare node`,
    targetText: '≤ 150 MB',
    run: idleRssScenario,
  },
  // Last: its 300k-row fixture replaces the shared 11M one.
  {
    name: 'receipts_warm',
    what: () => 'receipts/s vs raw conditional UPDATE, same receipts, warm 300k-row table',
    targetText: 'ratio ≥ 0.5 (vs raw UPDATE), p99 ≤ 250 ms',
    run: receiptsWarmScenario,
  },
];

function parseArgs(argv: string[]): {
  quick: boolean;
  scaled: boolean;
  peer: boolean;
  only: string[] | undefined;
} {
  const peer = argv.includes('--peer');
  if (peer && argv.includes('--only')) {
    process.stderr.write('bench: --peer runs its one comparison; it takes no --only.\n');
    process.exit(2);
  }
  const index = argv.indexOf('--only');
  const only = index === -1 ? undefined : (argv[index + 1] ?? '').split(',').filter(Boolean);
  const unknown = (only ?? []).filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench: unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}\n`,
    );
    process.exit(2);
  }
  // The peer comparison is against Pushboard's scaled mode, on the same PostgreSQL.
  return { quick: argv.includes('--quick'), scaled: peer || argv.includes('--scaled'), peer, only };
}

/** Set by SIGINT/SIGTERM: the scenarios still running fail as their stores vanish, and no results are written. */
let interrupted = false;

/**
 * Makes SIGINT and SIGTERM end the run through `cleanUp` (the scaled run's databases and keys) and
 * then `exit`, whose listeners remove the temporary files; a second signal exits at once.
 */
function exitCleanlyOnSignals(cleanUp: () => Promise<void>): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(code);
      interrupted = true;
      process.stderr.write(`bench: ${signal}, cleaning up…\n`);
      // Dropping the run's databases cuts the connections still open to them (a pool's idle client
      // then emits an error nobody listens to): expected now, and no reason to stop cleaning up.
      process.on('uncaughtException', (error) =>
        process.stderr.write(`bench: while cleaning up: ${error.message}\n`),
      );
      cleanUp().finally(() => process.exit(code));
    });
  }
}

function formatNumber(value: number | null): string {
  if (value === null) return '—';
  return Number.isInteger(value)
    ? value.toLocaleString('en')
    : value.toLocaleString('en', { maximumFractionDigits: 3 });
}

function printTable(
  rows: { scenario: Scenario; result: ScenarioResult | Error }[],
  quick: boolean,
  scaled: boolean,
): void {
  const header = ['scenario', 'what', 'value', 'probe', 'ratio', 'target', 'pass'];
  const lines = rows.map(({ scenario, result }) =>
    result instanceof Error
      ? [
          scenario.name,
          scenario.what(quick, scaled),
          `error: ${result.message}`,
          '',
          '',
          scenario.targetText,
          'FAIL',
        ]
      : [
          scenario.name,
          scenario.what(quick, scaled),
          `${formatNumber(result.value)} ${result.unit}`,
          formatNumber(result.probe),
          formatNumber(result.ratio),
          scenario.targetText,
          result.pass ? 'yes' : 'NO',
        ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const format = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

async function main(): Promise<void> {
  const { quick, scaled: scaledMode, peer, only } = parseArgs(process.argv.slice(2));
  const environment = describeEnvironment(ROOT);
  const selected = peer ? [PEER_SCENARIO] : SCENARIOS.filter((s) => !only || only.includes(s.name));
  const log = (message: string) => process.stderr.write(`${message}\n`);
  // The scenarios that start `pushboard serve` measure the build a user runs, made from these sources.
  execFileSync(process.execPath, [path.join(ROOT, 'server/build/build.js')], { stdio: 'inherit' });
  let scaled: ScaledRun | undefined;
  if (scaledMode) {
    try {
      scaled = await connectScaled();
    } catch (error) {
      process.stderr.write(`bench: ${(error as Error).message}\n`);
      process.exit(2);
    }
  }
  const cleanUp = async () => {
    await scaled?.cleanUp().catch((error: unknown) => log(`bench: cleaning up failed: ${String(error)}`));
  };
  exitCleanlyOnSignals(cleanUp);
  try {
    await runScenarios({ quick, selected, environment, scaled, log });
  } finally {
    await cleanUp();
  }
}

/** Runs the selected scenarios, prints the table and writes the results file. */
async function runScenarios({
  quick,
  selected,
  environment,
  scaled,
  log,
}: {
  quick: boolean;
  selected: Scenario[];
  environment: ReturnType<typeof describeEnvironment>;
  scaled: ScaledRun | undefined;
  log: (message: string) => void;
}): Promise<void> {
  const mode = scaled ? 'scaled' : 'embedded';
  log(
    `bench (${mode}, ${quick ? 'quick, sizes ÷ 10' : 'full'}): ${selected.map((s) => s.name).join(', ')}` +
      (scaled ? ` — PostgreSQL ${scaled.postgresVersion}, Redis ${scaled.redisVersion}` : ''),
  );

  const rows: { scenario: Scenario; result: ScenarioResult | Error }[] = [];
  for (const scenario of selected) {
    if (interrupted) break;
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `pushboard-bench-${scenario.name}-`));
    const ctx: BenchContext = {
      quick,
      scale: (size) => (quick ? Math.round(size / 10) : size),
      workDir,
      root: ROOT,
      log,
      ...(scaled && { scaled }),
    };
    const started = performance.now();
    try {
      rows.push({ scenario, result: await scenario.run(ctx) });
    } catch (error) {
      rows.push({ scenario, result: error instanceof Error ? error : new Error(String(error)) });
      log(
        `${scenario.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
    log(`${scenario.name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  if (interrupted) return;
  console.log(
    `\nPushboard bench — ${new Date().toISOString()} — ${mode} mode${quick ? ', quick (sizes ÷ 10)' : ''}`,
  );
  console.log(`machine  ${environment.machine}`);
  console.log(`runtime  Node ${environment.node}, SQLite ${environment.sqlite}`);
  if (scaled) {
    const settings = Object.entries(scaled.postgresSettings)
      .map(([name, value]) => `${name} ${value}`)
      .join(', ');
    console.log(`scaled   PostgreSQL ${scaled.postgresVersion} (${settings}), Redis ${scaled.redisVersion}`);
  }
  console.log(`commit   ${environment.commit}\n`);
  printTable(rows, quick, scaled !== undefined);

  const scenarios: Record<string, ScenarioResult | { error: string }> = {};
  for (const { scenario, result } of rows) {
    scenarios[scenario.name] = result instanceof Error ? { error: result.message } : result;
  }
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  fs.writeFileSync(
    RESULTS,
    `${JSON.stringify(
      {
        commit: environment.commit,
        machine: environment.machine,
        mode,
        node: environment.node,
        sqlite: environment.sqlite,
        ...(scaled && {
          postgres: scaled.postgresVersion,
          postgresSettings: scaled.postgresSettings,
          redis: scaled.redisVersion,
        }),
        quick,
        date: new Date().toISOString(),
        scenarios,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwritten to ${path.relative(ROOT, RESULTS)}`);
  if (rows.some(({ result }) => result instanceof Error)) process.exitCode = 1;
}

await main();
