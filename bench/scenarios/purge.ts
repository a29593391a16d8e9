/**
 * `purge` (BENCH.md): the retention purge of 10M expired device results (ten tasks of 1M, started
 * past the retention window; 1M with --quick) by `purgeExpiredDetails`, run inside the API server
 * process as its retention job runs it, while receipts keep arriving for another, unexpired task
 * (1M results) — and the p99 latency of those receipt requests during the purge against its idle value.
 *
 * The receipts are paced at a quarter of the server's capacity (one 1,000-receipt batch, 30 %
 * duplicates, every four single-client service times, measured first; up to four in flight): a
 * steady, heavy flow that leaves the purge room to run. Paced, not back to back: batches sent back to
 * back would measure their own queue, and take the whole event loop from the purge (a load that uses
 * a share u of the server makes the purge take at least probe ÷ (1 − u): at u = ½ the 2 × target
 * could never be met).
 *
 * Probe, in the same run: the raw chunked DELETE — `DELETE FROM device_results WHERE task_id = ? AND
 * device_id IN (SELECT device_id … ORDER BY device_id LIMIT n)` in a loop, same chunk size — on an
 * identical copy of the file, with better-sqlite3, nothing else running. Targets: purge ≤ 2 × probe
 * (ratio = probe ÷ purge ≥ 0.5), receipts p99 during the purge ≤ 2 × idle p99.
 */
import path from 'node:path';
import type SQLite from 'better-sqlite3';
import { loadConfig } from '../../server/src/config.ts';
import { PURGE_CHUNK_ROWS } from '../../server/src/retention/retention.ts';
import { startApiServer } from '../api-server.ts';
import type { BenchContext, ScenarioResult } from '../harness.ts';
import { httpClient, ms, percentile } from '../http-load.ts';
import { ReceiptStream, sendReceipts } from '../receipt-stream.ts';
import {
  benchFixture,
  copyDatabase,
  DETAILS_TASK,
  openRaw,
  RECEIPT_TASKS,
  removeDatabase,
  storePragmas,
} from '../results-fixture.ts';
import { RECEIPT_CLIENTS } from './receipts.ts';

/** Target of BENCH.md: the purge takes at most twice the raw chunked DELETE… */
const TARGET_RATIO = 0.5;
/** …and receipts p99 during the purge is at most twice its idle value. */
const MAX_P99_GROWTH = 2;
/** The receipts take one service time in this many: a quarter of the server's capacity. */
const LOAD_SHARE_INVERSE = 4;
/** Hours past the retention window the expired tasks started. */
const EXPIRED_BY_HOURS = 28;

/** Moves the receipt tasks' start back past retention: their results are due for the purge. */
function expireReceiptTasks(database: SQLite.Database, retentionHours: number): void {
  const startedAt = new Date(Date.now() - (retentionHours + EXPIRED_BY_HOURS) * 3_600_000).toISOString();
  const update = database.prepare(
    'update tasks set created_at = ?, started_at = ?, completed_at = ?, updated_at = ? where id = ?',
  );
  for (const id of RECEIPT_TASKS) update.run(startedAt, startedAt, startedAt, startedAt, id);
  database.pragma('wal_checkpoint(truncate)');
}

/** The raw chunked DELETE of the expired tasks' results; answers seconds and rows. */
function rawPurge(database: SQLite.Database, chunkRows: number): { seconds: number; rows: number } {
  const chunk = database.prepare(
    `delete from device_results where task_id = ? and device_id in (
       select device_id from device_results where task_id = ? order by device_id limit ?)`,
  );
  const started = performance.now();
  let rows = 0;
  for (const id of RECEIPT_TASKS) {
    for (;;) {
      const { changes } = chunk.run(id, id, chunkRows);
      rows += changes;
      if (changes < chunkRows) break;
    }
  }
  return { seconds: (performance.now() - started) / 1000, rows };
}

/** Runs the `purge` scenario. */
export async function purgeScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const fixture = await benchFixture(ctx);
  const expired = fixture.resultsPerTask * RECEIPT_TASKS.length;
  // The bench server's settings: the defaults (`api-server.ts` passes no environment).
  const { retentionHours } = loadConfig({}, {});
  const pragmas = await storePragmas(fixture.file);
  const serverFile = path.join(ctx.workDir, 'purge-server.db');
  const probeFile = path.join(ctx.workDir, 'purge-probe.db');
  copyDatabase(fixture.file, serverFile);
  const setup = openRaw(serverFile, pragmas);
  try {
    expireReceiptTasks(setup, retentionHours);
  } finally {
    setup.close();
  }
  copyDatabase(serverFile, probeFile);

  ctx.log(`purge: raw chunked DELETE of ${expired.toLocaleString('en')} rows…`);
  const raw = openRaw(probeFile, pragmas);
  let probe: { seconds: number; rows: number };
  try {
    probe = rawPurge(raw, PURGE_CHUNK_ROWS);
  } finally {
    raw.close();
    removeDatabase(probeFile);
  }
  if (probe.rows !== expired) throw new Error(`the raw purge deleted ${probe.rows} rows, not ${expired}`);

  const server = await startApiServer(serverFile);
  const client = httpClient(server.base, RECEIPT_CLIENTS);
  try {
    // Receipts for the details task only: it stays inside both windows.
    const stream = new ReceiptStream([DETAILS_TASK], fixture.resultsPerTask);
    await sendReceipts({ client, stream, clients: RECEIPT_CLIENTS, batches: 12 });
    const alone = await sendReceipts({ client, stream, clients: 1, batches: 6 });
    const intervalMs = (LOAD_SHARE_INVERSE * (alone.seconds * 1000)) / alone.requests;
    const paced = (options: { batches?: number; stop?: () => boolean }) =>
      sendReceipts({ client, stream, clients: RECEIPT_CLIENTS, intervalMs, ...options });

    ctx.log(`purge: idle receipts, one batch every ${intervalMs.toFixed(0)} ms…`);
    const idle = await paced({ batches: ctx.quick ? 20 : 100 });
    ctx.log(
      `purge: purging ${expired.toLocaleString('en')} device results in the server, receipts going on…`,
    );
    let purging = true;
    const during = paced({ stop: () => !purging });
    const report = await server.purge(new Date(), PURGE_CHUNK_ROWS).finally(() => {
      purging = false;
    });
    const busy = await during;
    if (report.deviceResults !== expired || report.tasks !== RECEIPT_TASKS.length) {
      throw new Error(`the purge deleted ${report.deviceResults} results of ${report.tasks} tasks`);
    }
    for (const run of [idle, busy]) {
      if (run.tally.rejected > 0 || run.tally.late > 0) {
        throw new Error(`receipts were refused: ${JSON.stringify(run.tally)}`);
      }
    }
    const idleP99 = percentile(idle.latencies, 0.99);
    const busyP99 = percentile(busy.latencies, 0.99);
    const ratio = probe.seconds / report.seconds;
    const growth = busyP99 / idleP99;
    const rate = (run: { receipts: number; seconds: number }) => Math.round(run.receipts / run.seconds);
    return {
      value: Number(report.seconds.toFixed(2)),
      unit: 's',
      probe: Number(probe.seconds.toFixed(2)),
      ratio: Number(ratio.toFixed(3)),
      target: TARGET_RATIO,
      pass: ratio >= TARGET_RATIO && growth <= MAX_P99_GROWTH,
      details: {
        deviceResultsPurged: report.deviceResults,
        deviceResultsStored: fixture.deviceResults,
        chunkRows: PURGE_CHUNK_ROWS,
        purgeRowsPerSecond: Math.round(report.deviceResults / report.seconds),
        probeRowsPerSecond: Math.round(probe.rows / probe.seconds),
        receipts: {
          intervalMs: ms(intervalMs),
          idle: { batches: idle.requests, p50Ms: ms(percentile(idle.latencies, 0.5)), p99Ms: ms(idleP99) },
          duringPurge: {
            batches: busy.requests,
            p50Ms: ms(percentile(busy.latencies, 0.5)),
            p99Ms: ms(busyP99),
          },
          p99Growth: Number(growth.toFixed(3)),
          maxP99Growth: MAX_P99_GROWTH,
          receiptsPerSecond: { idle: rate(idle), duringPurge: rate(busy) },
        },
      },
    };
  } finally {
    client.close();
    await server.stop();
    removeDatabase(serverFile);
  }
}
