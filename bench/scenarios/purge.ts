/**
 * `purge` (docs/benchmarks.md): the retention purge of 10M expired device results (ten tasks of 1M, started
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
 *
 * `--scaled`: the receipts go to an API process and the purge runs in a worker process (where the
 * scaled mode's retention job runs), both on PostgreSQL. There the ten expired tasks' results fill the
 * day partition of the day they were created (`results-fixture.ts`), and `purgeExpiredDetails` marks
 * the tasks, finds nothing of theirs in the default partition, and drops that day's partition whole
 * (with the empty ones after it). The probe is the physical limit of that: a raw `DROP TABLE` of the
 * same partition on an identical clone, nothing else running. A purge of a few hundred milliseconds
 * overlaps only one or two paced receipt batches, so the receipts sent from its start go on until as
 * many have been sent as in the idle sample: the p99 during and idle then come from samples of the
 * same size, where the p99 is the largest latency (20 samples) or the second largest (100), so a
 * batch held up by the drop shows.
 */
import type SQLite from 'better-sqlite3';
import type pg from 'pg';
import { loadConfig } from '../../server/src/config.ts';
import { PURGE_CHUNK_ROWS } from '../../server/src/retention/retention.ts';
import { startApiServer } from '../api-server.ts';
import type { BenchContext, ScenarioResult } from '../harness.ts';
import { httpClient, ms, percentile } from '../http-load.ts';
import { ReceiptStream, sendReceipts } from '../receipt-stream.ts';
import { benchFixture, expiredStart, openRaw, storePragmas } from '../results-fixture.ts';
import { type BenchStore, copyStore, rawPostgres, removeStore, storeLocation } from '../store.ts';
import { RECEIPT_CLIENTS } from './receipts.ts';

/** Target of docs/benchmarks.md: the purge takes at most twice the raw chunked DELETE… */
const TARGET_RATIO = 0.5;
/** …and receipts p99 during the purge is at most twice its idle value. */
const MAX_P99_GROWTH = 2;
/** The receipts take one service time in this many: a quarter of the server's capacity. */
const LOAD_SHARE_INVERSE = 4;

/** Moves the receipt tasks' start back past retention: their results are due for the purge. */
function expireReceiptTasks(database: SQLite.Database, retentionHours: number, receiptTasks: string[]): void {
  const startedAt = expiredStart(Date.now(), retentionHours).toISOString();
  const update = database.prepare(
    'update tasks set created_at = ?, started_at = ?, completed_at = ?, updated_at = ? where id = ?',
  );
  for (const id of receiptTasks) update.run(startedAt, startedAt, startedAt, startedAt, id);
  database.pragma('wal_checkpoint(truncate)');
}

/** `expireReceiptTasks` on PostgreSQL. */
async function expireReceiptTasksPostgres(url: string, retentionHours: number, receiptTasks: string[]) {
  const client = await rawPostgres(url);
  try {
    const startedAt = expiredStart(Date.now(), retentionHours).toISOString();
    await client.query(
      'update tasks set created_at = $1, started_at = $1, completed_at = $1, updated_at = $1 where id = any($2)',
      [startedAt, receiptTasks],
    );
  } finally {
    await client.end();
  }
}

/** The raw drop of the expired tasks' day partition (the rows are counted first, untimed); answers seconds and rows. */
async function rawPartitionDrop(
  client: pg.Client,
  partition: string,
): Promise<{ seconds: number; rows: number }> {
  const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${partition}`);
  const started = performance.now();
  await client.query(`drop table ${partition}`);
  return { seconds: (performance.now() - started) / 1000, rows: Number(rows[0]?.n ?? 0) };
}

/** The raw chunked DELETE of the expired tasks' results; answers seconds and rows. */
function rawPurge(
  database: SQLite.Database,
  chunkRows: number,
  receiptTasks: string[],
): { seconds: number; rows: number } {
  const chunk = database.prepare(
    `delete from device_results where task_id = ? and device_id in (
       select device_id from device_results where task_id = ? order by device_id limit ?)`,
  );
  const started = performance.now();
  let rows = 0;
  for (const id of receiptTasks) {
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
  const { receiptTasks } = fixture;
  const expired = fixture.resultsPerTask * receiptTasks.length;
  // The bench server's settings: the defaults (`api-server.ts` passes no environment).
  const { retentionHours } = loadConfig({}, {});
  const serverStore = await copyStore(ctx, fixture.store, 'purge-server');
  let probe: { seconds: number; rows: number };
  if (serverStore.kind === 'sqlite') {
    const pragmas = await storePragmas((fixture.store as { file: string }).file);
    const setup = openRaw(serverStore.file, pragmas);
    try {
      expireReceiptTasks(setup, retentionHours, receiptTasks);
    } finally {
      setup.close();
    }
    const probeStore = await copyStore(ctx, serverStore, 'purge-probe');
    ctx.log(`purge: raw chunked DELETE of ${expired.toLocaleString('en')} rows…`);
    const raw = openRaw((probeStore as { file: string }).file, pragmas);
    try {
      probe = rawPurge(raw, PURGE_CHUNK_ROWS, receiptTasks);
    } finally {
      raw.close();
      await removeStore(ctx, probeStore);
    }
  } else {
    const partition = fixture.receiptPartition as string;
    await expireReceiptTasksPostgres(serverStore.url, retentionHours, receiptTasks);
    const probeStore = await copyStore(ctx, serverStore, 'purge-probe');
    ctx.log(`purge: raw DROP TABLE ${partition} (${expired.toLocaleString('en')} rows)…`);
    const raw = await rawPostgres((probeStore as { url: string }).url);
    try {
      probe = await rawPartitionDrop(raw, partition);
    } finally {
      await raw.end();
      await removeStore(ctx, probeStore);
    }
  }
  if (probe.rows !== expired) throw new Error(`the raw purge removed ${probe.rows} rows, not ${expired}`);

  const server = await startApiServer(storeLocation(serverStore));
  const client = httpClient(server.base, RECEIPT_CLIENTS);
  let purger = server;
  try {
    // Scaled: the retention job runs in a worker process, not in the API process receiving the receipts.
    if (ctx.scaled) purger = await startApiServer(storeLocation(serverStore), { worker: true });
    // Receipts for the details task only: it stays inside both windows.
    const stream = new ReceiptStream([fixture.detailsTask], fixture.resultsPerTask);
    await sendReceipts({ client, stream, clients: RECEIPT_CLIENTS, batches: 12 });
    const alone = await sendReceipts({ client, stream, clients: 1, batches: 6 });
    const intervalMs = (LOAD_SHARE_INVERSE * (alone.seconds * 1000)) / alone.requests;
    const paced = (options: { batches?: number; stop?: () => boolean }) =>
      sendReceipts({ client, stream, clients: RECEIPT_CLIENTS, intervalMs, ...options });

    ctx.log(`purge: idle receipts, one batch every ${intervalMs.toFixed(0)} ms…`);
    const idleBatches = ctx.quick ? 20 : 100;
    const idle = await paced({ batches: idleBatches });
    ctx.log(
      `purge: purging ${expired.toLocaleString('en')} device results in the server, receipts going on…`,
    );
    let purging = true;
    // Embedded: receipts while the purge runs. Scaled: from its start until it is over and as many
    // batches were sent as in the idle sample (see the top of this file).
    const minimum = ctx.scaled ? idleBatches : 0;
    let started = 0;
    let startedWhilePurging = 0;
    const during = paced({
      stop: () => {
        if (!purging && started >= minimum) return true;
        started++;
        if (purging) startedWhilePurging++;
        return false;
      },
    });
    const report = await purger.purge(new Date(), PURGE_CHUNK_ROWS).finally(() => {
      purging = false;
    });
    const busy = await during;
    if (report.tasks !== receiptTasks.length) {
      throw new Error(`the purge purged ${report.tasks} tasks, not ${receiptTasks.length}`);
    }
    if (serverStore.kind === 'sqlite' && report.deviceResults !== expired) {
      throw new Error(`the purge deleted ${report.deviceResults} results, not ${expired}`);
    }
    if (serverStore.kind === 'postgres') await expectPartitionDropped(serverStore, fixture, report);
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
    // A partition drop takes a fraction of a second: milliseconds matter there.
    const digits = ctx.scaled ? 3 : 2;
    return {
      value: Number(report.seconds.toFixed(digits)),
      unit: 's',
      probe: Number(probe.seconds.toFixed(digits)),
      ratio: Number(ratio.toFixed(3)),
      target: TARGET_RATIO,
      pass: ratio >= TARGET_RATIO && growth <= MAX_P99_GROWTH,
      details: {
        deviceResultsPurged: ctx.scaled ? expired : report.deviceResults,
        deviceResultsStored: fixture.deviceResults,
        chunkRows: PURGE_CHUNK_ROWS,
        purgeRowsPerSecond: Math.round((ctx.scaled ? expired : report.deviceResults) / report.seconds),
        probeRowsPerSecond: Math.round(probe.rows / probe.seconds),
        ...(ctx.scaled && {
          probe: `DROP TABLE ${fixture.receiptPartition}`,
          deletedRowByRow: report.deviceResults,
          partitionsDropped: report.partitionsDropped,
          receiptBatchesStartedWhilePurging: startedWhilePurging,
        }),
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
    if (purger !== server) await purger.stop();
    await removeStore(ctx, serverStore);
  }
}

/**
 * PostgreSQL: the purge must have removed the expired tasks' results by dropping their day partition
 * (not row by row), and left none of them readable.
 */
async function expectPartitionDropped(
  store: BenchStore & { kind: 'postgres' },
  fixture: { receiptTasks: string[]; receiptPartition?: string },
  report: { deviceResults: number; partitionsDropped: number },
): Promise<void> {
  const client = await rawPostgres(store.url);
  try {
    const { rows } = await client.query<{ left: string; partition: string | null }>(
      'select (select count(*) from device_results where task_id = any($1)) as left, to_regclass($2)::text as partition',
      [fixture.receiptTasks, fixture.receiptPartition],
    );
    const left = Number(rows[0]?.left ?? -1);
    if (
      report.partitionsDropped < 1 ||
      report.deviceResults !== 0 ||
      left !== 0 ||
      rows[0]?.partition !== null
    ) {
      throw new Error(
        `the purge dropped ${report.partitionsDropped} partitions and deleted ${report.deviceResults} rows one by one; ` +
          `${left} results of the expired tasks are left, partition ${fixture.receiptPartition} ${rows[0]?.partition === null ? 'gone' : 'still there'}`,
      );
    }
  } finally {
    await client.end();
  }
}
