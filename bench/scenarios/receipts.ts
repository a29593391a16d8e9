/**
 * `receipts` (docs/benchmarks.md): receipts per second through the public receipt endpoints over loopback HTTP
 * — batches of 1,000, 30 % duplicates, provider callbacks (`delivered`) and SDK batches (impression,
 * open, dismissal) — for ten tasks of 1M device results each (100k with --quick; 11M results in the
 * table), sent by four concurrent clients; and the p99 latency of those requests (target ≤ 250 ms).
 *
 * Probe, in the same run: the lower of
 * - the raw conditional UPDATE rate: the same receipts applied with better-sqlite3 prepared statements,
 *   one `UPDATE device_results SET open_at = ? WHERE task_id = ? AND device_id = ? AND open_at IS NULL
 *   …` per receipt (the same condition as the ingestion's), 1,000 per transaction, same pragmas, on an
 *   identical copy of the database;
 * - a no-op Fastify route of the same server taking the same bodies (read and JSON-parsed), × 1,000.
 * No-op, served and raw trials alternate three times after a warm-up; the best of each counts.
 *
 * `--scaled`: the server is an API process on PostgreSQL (receipts are applied in the request, as
 * there), and the raw probe is PostgreSQL's own limit for the same work: per batch, one transaction
 * of one set-based `UPDATE device_results AS r SET open_at = j.at FROM unnest($1, $2, $3) AS j(…)
 * WHERE r.task_id = j.task AND r.device_id = j.device AND r.open_at IS NULL AND r.send_result <>
 * 'failure'` per receipt kind (prepared; one statement per row would measure round trips instead),
 * on a clone of the same database.
 */
import type SQLite from 'better-sqlite3';
import type pg from 'pg';
import type { ReceiptKind } from '../../server/src/storage/database.ts';
import { startApiServer } from '../api-server.ts';
import type { BenchContext, ScenarioResult } from '../harness.ts';
import { httpClient, ms, percentile } from '../http-load.ts';
import { BATCH_RECEIPTS, type ReceiptBatch, ReceiptStream, sendReceipts } from '../receipt-stream.ts';
import {
  benchFixture,
  openRaw,
  type ResultsFixture,
  resultsFixture,
  storePragmas,
} from '../results-fixture.ts';
import { copyStore, rawPostgres, removeStore, storeLocation } from '../store.ts';

/** Target of issue #17 (docs/benchmarks.md had 0.5): at least 0.7 of the probe's rate… */
const TARGET_RATIO = 0.7;
/** …and a p99 request latency of at most 250 ms. */
const TARGET_P99_MS = 250;
/** Concurrent HTTP clients, for the receipts and the no-op probe alike. */
export const RECEIPT_CLIENTS = 4;
const ROUNDS = 3;
/** Untimed batches first: a running server has compiled its code and warmed its caches. */
const WARMUP_BATCHES = 8;

/** The raw conditional UPDATE of each receipt kind: the ingestion's condition, one row per statement. */
function rawUpdates(database: SQLite.Database): Record<ReceiptKind, SQLite.Statement> {
  const update = (column: string) =>
    database.prepare(
      `update device_results set ${column} = ? where task_id = ? and device_id = ? and ${column} is null and send_result <> 'failure'`,
    );
  return {
    delivered: database.prepare(
      `update device_results set delivered_at = ?, send_result = 'success' where task_id = ? and device_id = ? and send_result = 'no_feedback'`,
    ),
    impression: update('impression_at'),
    open: update('open_at'),
    dismissal: update('dismissal_at'),
  };
}

/** Applies `count` batches of `stream` with raw UPDATEs, one transaction per batch; answers receipts/s. */
function rawTrial(database: SQLite.Database, stream: ReceiptStream, count: number) {
  const updates = rawUpdates(database);
  const apply = database.transaction((batch: ReceiptBatch) => {
    let changed = 0;
    for (const r of batch.receipts) changed += updates[r.kind].run(r.at, r.taskId, r.deviceId).changes;
    return changed;
  });
  const batches = Array.from({ length: count }, () => stream.next());
  const started = performance.now();
  let changed = 0;
  for (const batch of batches) changed += apply(batch);
  const seconds = (performance.now() - started) / 1000;
  return { rate: (count * BATCH_RECEIPTS) / seconds, changed };
}

/** The receipt column of each kind (`receipt-apply.ts`). */
const TIME_COLUMN: Record<ReceiptKind, string> = {
  delivered: 'delivered_at',
  impression: 'impression_at',
  open: 'open_at',
  dismissal: 'dismissal_at',
};

/**
 * The raw set-based conditional UPDATE of each receipt kind on PostgreSQL, as a prepared statement
 * taking the batch's receipts of that kind as three arrays: the ingestion's condition, nothing else.
 */
function rawPostgresUpdate(kind: ReceiptKind, receipts: ReceiptBatch['receipts']) {
  const column = TIME_COLUMN[kind];
  const condition =
    kind === 'delivered'
      ? `r.send_result = 'no_feedback'`
      : `r.${column} is null and r.send_result <> 'failure'`;
  return {
    name: `bench_receipts_${kind}`,
    text: `update device_results as r set ${column} = j.at${kind === 'delivered' ? `, send_result = 'success'` : ''}
      from unnest($1::text[], $2::text[], $3::text[]) as j(task, device, at)
      where r.task_id = j.task and r.device_id = j.device and ${condition}`,
    values: [receipts.map((r) => r.taskId), receipts.map((r) => r.deviceId), receipts.map((r) => r.at)],
  };
}

/** `rawTrial` on PostgreSQL: `count` batches, one transaction each, one UPDATE per receipt kind. */
async function rawPostgresTrial(client: pg.Client, stream: ReceiptStream, count: number) {
  const kinds: ReceiptKind[] = ['delivered', 'impression', 'open', 'dismissal'];
  const statements = Array.from({ length: count }, () => {
    const { receipts } = stream.next();
    return kinds
      .map((kind) => receipts.filter((r) => r.kind === kind))
      .flatMap((some, k) => (some.length > 0 ? [rawPostgresUpdate(kinds[k]!, some)] : []));
  });
  const started = performance.now();
  let changed = 0;
  for (const batch of statements) {
    await client.query('begin');
    for (const statement of batch) changed += (await client.query(statement)).rowCount ?? 0;
    await client.query('commit');
  }
  const seconds = (performance.now() - started) / 1000;
  return { rate: (count * BATCH_RECEIPTS) / seconds, changed };
}

/** The raw probe of either mode: better-sqlite3 on a copy of the file, or node-postgres on a clone. */
async function openProbe(ctx: BenchContext, location: string, fixtureFile: string | undefined) {
  if (ctx.scaled) {
    const client = await rawPostgres(location);
    return {
      trial: (stream: ReceiptStream, count: number) => rawPostgresTrial(client, stream, count),
      close: () => client.end(),
    };
  }
  const raw = openRaw(location, await storePragmas(fixtureFile as string));
  return {
    trial: async (stream: ReceiptStream, count: number) => rawTrial(raw, stream, count),
    close: async () => raw.close(),
  };
}

/** Runs the `receipts` scenario. */
export async function receiptsScenario(ctx: BenchContext): Promise<ScenarioResult> {
  return measureReceipts(ctx, await benchFixture(ctx), {
    batches: ctx.quick ? 20 : 100,
    probe: 'lower',
    targetRatio: TARGET_RATIO,
  });
}

/**
 * Device results per seeded task of `receipts_warm`: its ten receipt tasks and the details task make a
 * 300,003-row table (the independent check of issue #17 used 300,000 rows).
 */
const WARM_RESULTS_PER_TASK = 27_273;
/** Target of `receipts_warm` (issue #17): half the raw conditional UPDATE's rate. */
const WARM_TARGET_RATIO = 0.5;

/**
 * Runs `receipts_warm`: the `receipts` load on a table small enough to stay in the caches
 * (300,003 device results), judged against the raw conditional UPDATE of the same receipts alone —
 * what ingestion costs beyond the writes themselves, with no cold page reads to hide it. The same size
 * with --quick (it seeds in about a second).
 */
export async function receiptsWarmScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const fixture = await resultsFixture(
    { resultsPerTask: WARM_RESULTS_PER_TASK, tasks: 100 },
    ctx.log,
    ctx.scaled,
  );
  return measureReceipts(ctx, fixture, {
    batches: ctx.quick ? 30 : 100,
    probe: 'raw',
    targetRatio: WARM_TARGET_RATIO,
  });
}

/**
 * The receipts load on a copy of `fixture`, beside its probes. `probe`: what the ratio is judged
 * against — the lower of the raw UPDATE and the no-op route (`receipts`), or the raw UPDATE alone.
 */
async function measureReceipts(
  ctx: BenchContext,
  fixture: ResultsFixture,
  options: { batches: number; probe: 'lower' | 'raw'; targetRatio: number },
): Promise<ScenarioResult> {
  const perTask = fixture.resultsPerTask;
  const { batches } = options;
  const serverStore = await copyStore(ctx, fixture.store, 'receipts-server');
  const probeStore = await copyStore(ctx, fixture.store, 'receipts-probe');
  const server = await startApiServer(storeLocation(serverStore));
  const client = httpClient(server.base, RECEIPT_CLIENTS);
  const raw = await openProbe(
    ctx,
    storeLocation(probeStore),
    fixture.store.kind === 'sqlite' ? fixture.store.file : undefined,
  );
  try {
    // Server and probe get the same batches, from two streams with the same seed.
    const served = new ReceiptStream(fixture.receiptTasks, perTask);
    const probed = new ReceiptStream(fixture.receiptTasks, perTask);
    const noop = new ReceiptStream(fixture.receiptTasks, perTask, 2);
    const send = (clients: number, count: number) =>
      sendReceipts({ client, stream: served, clients, batches: count });
    const sendNoop = (count: number) =>
      sendReceipts({ client, stream: noop, clients: RECEIPT_CLIENTS, batches: count, path: '/bench/noop' });
    ctx.log(`receipts: warming up (${WARMUP_BATCHES} batches each)…`);
    await send(RECEIPT_CLIENTS, WARMUP_BATCHES);
    await sendNoop(WARMUP_BATCHES);
    await raw.trial(probed, WARMUP_BATCHES);
    // One client alone: the latency of a batch without queueing behind the others.
    const alone = await send(1, Math.ceil(batches / 3));

    const trials: { served: number; noop: number; raw: number; serverCpuMsPerBatch: number }[] = [];
    const latencies: number[] = [];
    const tally = { accepted: 0, duplicate: 0, rejected: 0, late: 0 };
    for (let round = 1; round <= ROUNDS; round++) {
      const noopRun = await sendNoop(batches);
      const cpuBefore = await server.cpuSeconds();
      const servedRun = await send(RECEIPT_CLIENTS, batches);
      const cpu = (await server.cpuSeconds()) - cpuBefore;
      const rawRun = await raw.trial(probed, batches);
      latencies.push(...servedRun.latencies);
      for (const key of Object.keys(tally) as (keyof typeof tally)[]) tally[key] += servedRun.tally[key];
      trials.push({
        served: servedRun.receipts / servedRun.seconds,
        noop: noopRun.receipts / noopRun.seconds,
        raw: rawRun.rate,
        serverCpuMsPerBatch: (cpu * 1000) / batches,
      });
      const t = trials.at(-1)!;
      ctx.log(
        `receipts: round ${round}: served ${Math.round(t.served).toLocaleString('en')}/s ` +
          `(p99 ${percentile(servedRun.latencies, 0.99).toFixed(0)} ms, server CPU ${t.serverCpuMsPerBatch.toFixed(0)} ms/batch), ` +
          `raw UPDATE ${Math.round(t.raw).toLocaleString('en')}/s, no-op route ${Math.round(t.noop).toLocaleString('en')}/s`,
      );
    }
    if (tally.rejected > 0 || tally.late > 0) {
      throw new Error(
        `receipts were refused: ${JSON.stringify(tally)} (the fixture and the stream disagree)`,
      );
    }
    const value = Math.max(...trials.map((t) => t.served));
    const rawRate = Math.max(...trials.map((t) => t.raw));
    const noopRate = Math.max(...trials.map((t) => t.noop));
    const probe = options.probe === 'raw' ? rawRate : Math.min(rawRate, noopRate);
    const ratio = value / probe;
    const p99 = percentile(latencies, 0.99);
    return {
      value: Math.round(value),
      unit: 'receipts/s',
      probe: Math.round(probe),
      ratio: Number(ratio.toFixed(3)),
      target: options.targetRatio,
      pass: ratio >= options.targetRatio && p99 <= TARGET_P99_MS,
      details: {
        p99Ms: ms(p99),
        p50Ms: ms(percentile(latencies, 0.5)),
        targetP99Ms: TARGET_P99_MS,
        clients: RECEIPT_CLIENTS,
        oneClient: {
          receiptsPerSecond: Math.round(alone.receipts / alone.seconds),
          p50Ms: ms(percentile(alone.latencies, 0.5)),
          p99Ms: ms(percentile(alone.latencies, 0.99)),
        },
        deviceResultsStored: fixture.deviceResults,
        judgedAgainst: options.probe === 'raw' ? 'raw UPDATE' : 'lower of raw UPDATE and no-op route',
        batchesPerTrial: batches,
        receiptsPerBatch: BATCH_RECEIPTS,
        answers: tally,
        probes: {
          rawUpdate: Math.round(rawRate),
          noopRoute: Math.round(noopRate),
          rawUpdateForm: ctx.scaled
            ? 'set-based UPDATE … FROM unnest, one per kind'
            : 'one UPDATE per receipt',
        },
        trials: trials.map((t) => ({
          served: Math.round(t.served),
          rawUpdate: Math.round(t.raw),
          noopRoute: Math.round(t.noop),
          serverCpuMsPerBatch: Math.round(t.serverCpuMsPerBatch),
        })),
      },
    };
  } finally {
    client.close();
    await raw.close();
    await server.stop();
    await removeStore(ctx, serverStore);
    await removeStore(ctx, probeStore);
  }
}
