/**
 * `npm run bench` — runs the BENCH.md scenarios of the embedded mode, prints a table with the machine,
 * Node, SQLite and commit, and writes `bench/results/latest.json`:
 *   { commit, machine, mode, node, sqlite, quick, date, scenarios: { <name>: { value, unit, probe, ratio, target, pass } } }
 *
 *   npm run bench [-- --quick] [-- --only dispatch,dispatch_rss]
 *
 * `--quick` runs every scenario at a tenth of its size (bench/README.md says how long each takes). `--scaled`
 * (PostgreSQL + Redis) arrives with the PostgreSQL backend.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeEnvironment } from './environment.ts';
import type { BenchContext, Scenario, ScenarioResult } from './harness.ts';
import { devicePageScenario } from './scenarios/device-page.ts';
import { dispatchScenario } from './scenarios/dispatch.ts';
import { dispatchRssScenario } from './scenarios/dispatch-rss.ts';
import { generateAudienceScenario } from './scenarios/generate-audience.ts';
import { purgeScenario } from './scenarios/purge.ts';
import { receiptsScenario } from './scenarios/receipts.ts';
import { taskListScenario } from './scenarios/task-list.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench/results/latest.json');

/** Every scenario, in BENCH.md order. */
const SCENARIOS: Scenario[] = [
  {
    name: 'dispatch',
    what: (quick) => `send to ${quick ? '100k' : '1M'} devices, no-op provider`,
    targetText: 'ratio ≥ 0.6',
    run: dispatchScenario,
  },
  {
    name: 'dispatch_rss',
    what: (quick) => `peak server RSS, send to ${quick ? '100k / 1M' : '1M / 10M'}`,
    targetText: '≤ 256 MB, 10M ≤ 1.1 × 1M',
    run: dispatchRssScenario,
  },
  {
    name: 'receipts',
    what: (quick) =>
      `receipts/s, 1,000 per request, 30 % duplicates, ${quick ? '1.1M' : '11M'} results stored`,
    targetText: 'ratio ≥ 0.5, p99 ≤ 250 ms',
    run: receiptsScenario,
  },
  {
    name: 'task_list',
    what: (quick) => `p99 of a task-list page over ${quick ? '1,000' : '10,000'} tasks while receipts run`,
    targetText: 'p99 ≤ 20 ms',
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
];

function parseArgs(argv: string[]): { quick: boolean; only: string[] | undefined } {
  if (argv.includes('--scaled') || argv.includes('--peer')) {
    process.stderr.write(
      'bench: --scaled and --peer arrive with the PostgreSQL backend; only the embedded mode exists.\n',
    );
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
  return { quick: argv.includes('--quick'), only };
}

function formatNumber(value: number | null): string {
  if (value === null) return '—';
  return Number.isInteger(value)
    ? value.toLocaleString('en')
    : value.toLocaleString('en', { maximumFractionDigits: 3 });
}

function printTable(rows: { scenario: Scenario; result: ScenarioResult | Error }[], quick: boolean): void {
  const header = ['scenario', 'what', 'value', 'probe', 'ratio', 'target', 'pass'];
  const lines = rows.map(({ scenario, result }) =>
    result instanceof Error
      ? [scenario.name, scenario.what(quick), `error: ${result.message}`, '', '', scenario.targetText, 'FAIL']
      : [
          scenario.name,
          scenario.what(quick),
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
  const { quick, only } = parseArgs(process.argv.slice(2));
  const environment = describeEnvironment(ROOT);
  const selected = SCENARIOS.filter((s) => !only || only.includes(s.name));
  const log = (message: string) => process.stderr.write(`${message}\n`);
  log(`bench (${quick ? 'quick, sizes ÷ 10' : 'full'}): ${selected.map((s) => s.name).join(', ')}`);

  const rows: { scenario: Scenario; result: ScenarioResult | Error }[] = [];
  for (const scenario of selected) {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `pushboard-bench-${scenario.name}-`));
    const ctx: BenchContext = {
      quick,
      scale: (size) => (quick ? Math.round(size / 10) : size),
      workDir,
      root: ROOT,
      log,
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

  console.log(
    `\nPushboard bench — ${new Date().toISOString()} — embedded mode${quick ? ', quick (sizes ÷ 10)' : ''}`,
  );
  console.log(`machine  ${environment.machine}`);
  console.log(`runtime  Node ${environment.node}, SQLite ${environment.sqlite}`);
  console.log(`commit   ${environment.commit}\n`);
  printTable(rows, quick);

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
        mode: 'embedded',
        node: environment.node,
        sqlite: environment.sqlite,
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
