/**
 * The retention rule of docs/statistics.md#windows: a task's device results are deleted once its retention window
 * has passed (`retentionHours` after `startedAt`); its aggregate statistics stay forever, and so does
 * its breakdown, counted from the results just before they go (`kept_breakdowns`). Unreadable
 * receipts older than the same window go too (docs/operations.md#receipts-streams-and-exports). The job runs periodically in the server and
 * on demand as `pushboard purge --as-of <time>`.
 *
 * Results are deleted in bounded chunks, each its own short transaction, so a purge of tens of
 * millions of rows never holds the database for long and receipts keep flowing while it runs. The
 * task is marked `details_purged_at` only after its last chunk: an interrupted purge is finished by
 * the next run, and the API answers `410 DEVICE_DETAILS_EXPIRED` by the clock before that anyway.
 * Embedded, a server's job runs the purge on the receipt writer thread's connection
 * (`receipts/receipt-writer.ts`), so its deletes never hold the HTTP event loop.
 *
 * On PostgreSQL the results live in one partition per day of task creation: a purge marks the
 * expired tasks, deletes row by row only what sits in the default partition, and drops every day
 * partition whose tasks are all purged (`storage/result-partitions.ts`). The rows of a purged task
 * are unreadable at once and gone with their partition, at most a day or so later.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { sql } from 'kysely';
import { FREQUENCY_WINDOW_MS } from '../dispatch/frequency-cap.ts';
import type { WindowSettings } from '../domain/windows.ts';
import type { JobQueue } from '../queue/queue.ts';
import { createBreakdownStore } from '../results/breakdown-store.ts';
import { countBreakdown } from '../results/task-breakdown.ts';
import type { Db } from '../storage/database.ts';
import { resultsDeletedRowByRow, rotateResultPartitions } from '../storage/result-partitions.ts';
import { createTenancyStore } from '../tenancy/tenancy-store.ts';

/**
 * Device results deleted per statement. Each statement holds the (synchronous) SQLite connection and
 * the event loop: 2,500 rows take about 10 ms, so receipts arriving during a purge wait little
 * (bench/README.md, `purge`: 10,000-row chunks tripled their p99).
 */
export const PURGE_CHUNK_ROWS = 2_500;

/** What a purge did. */
export interface PurgeReport {
  /** Tasks whose device results were deleted (and which are now marked purged). */
  tasks: number;
  /** Device results deleted row by row. */
  deviceResults: number;
  /** PostgreSQL: day partitions of device results dropped whole. */
  partitionsDropped: number;
  /** Unreadable receipts deleted for being older than the retention window. */
  unreadableReceipts: number;
  /** Login throttle counts deleted for being old enough to be forgotten (a day without failures). */
  loginThrottles: number;
  /** Frequency-cap hand-overs deleted for being older than the longest cap window (7 days). */
  frequencySends: number;
}

/** Progress callback: called after every chunk with the running totals. */
export type PurgeProgress = (report: PurgeReport & { taskId: string }) => void;

/** The latest `startedAt` whose retention window has passed at `asOf`. */
function startedBefore(asOf: Date, settings: WindowSettings): string {
  return new Date(asOf.getTime() - settings.retentionHours * 3_600_000).toISOString();
}

/**
 * Deletes the device results (and anything else held per device: held and late receipts, the
 * simulator's unsent receipts) of every task whose retention window has passed at `asOf`, and marks those tasks;
 * also the unreadable receipts past the window, the login throttle counts old enough to be forgotten,
 * and the frequency-cap hand-overs older than the longest cap window (7 days, whatever the retention).
 */
export async function purgeExpiredDetails(
  db: Db,
  asOf: Date,
  settings: WindowSettings,
  options: { chunkRows?: number; onProgress?: PurgeProgress; signal?: AbortSignal } = {},
): Promise<PurgeReport> {
  const chunkRows = options.chunkRows ?? PURGE_CHUNK_ROWS;
  const report: PurgeReport = {
    tasks: 0,
    deviceResults: 0,
    partitionsDropped: 0,
    unreadableReceipts: 0,
    loginThrottles: 0,
    frequencySends: 0,
  };
  // Row by row only where rows are not dropped with their partition.
  const rowsTable = sql.table(resultsDeletedRowByRow(db));
  const due = await db
    .selectFrom('tasks')
    .innerJoin('apps', 'apps.id', 'tasks.app_id')
    .select(['tasks.id', 'tasks.started_at', 'apps.platform'])
    .where('tasks.details_purged_at', 'is', null)
    .where('tasks.started_at', 'is not', null)
    .where('tasks.started_at', '<=', startedBefore(asOf, settings))
    .orderBy('tasks.started_at')
    .execute();
  const breakdowns = createBreakdownStore(db);
  for (const task of due) {
    const taskId = task.id;
    // The breakdown outlives the results it is counted from; kept once, before the first chunk goes.
    await breakdowns.keep(taskId, await countBreakdown(breakdowns, task, asOf, settings), asOf.toISOString());
    for (;;) {
      if (options.signal?.aborted) return report;
      // Primary-key order within the task: each chunk is a contiguous range of the B-tree.
      const deleted = await sql`
        delete from ${rowsTable}
        where task_id = ${taskId} and device_id in (
          select device_id from ${rowsTable} where task_id = ${taskId} order by device_id limit ${chunkRows}
        )`.execute(db);
      const rows = Number(deleted.numAffectedRows ?? 0);
      report.deviceResults += rows;
      options.onProgress?.({ ...report, taskId });
      if (rows < chunkRows) break;
      // Let requests (receipts, reads) in between chunks.
      await yieldToEventLoop();
    }
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('held_receipts').where('task_id', '=', taskId).execute();
      // Late receipts are checked against the device results: without them they mean nothing.
      await trx.deleteFrom('late_receipts').where('task_id', '=', taskId).execute();
      await trx.deleteFrom('simulator_receipts').where('task_id', '=', taskId).execute();
      // Recording a batch deletes its journal; what is left (a batch job run twice in the scaled mode
      // journals after the record) belongs to no batch in flight any more.
      await trx.deleteFrom('handover_answers').where('task_id', '=', taskId).execute();
      await trx
        .updateTable('tasks')
        .set({ details_purged_at: asOf.toISOString() })
        .where('id', '=', taskId)
        .execute();
    });
    report.tasks++;
  }
  report.unreadableReceipts = await purgeUnreadable(
    db,
    startedBefore(asOf, settings),
    chunkRows,
    options.signal,
  );
  report.loginThrottles = await createTenancyStore(db).forgetLoginAttempts(asOf.getTime());
  report.frequencySends = await purgeFrequencySends(
    db,
    new Date(asOf.getTime() - FREQUENCY_WINDOW_MS).toISOString(),
    chunkRows,
    options.signal,
  );
  if (!options.signal?.aborted) {
    // Partitions follow the real time task IDs are made at, not the as-of time of the rule.
    report.partitionsDropped = await rotateResultPartitions(db, new Date());
  }
  return report;
}

/**
 * Deletes the unreadable receipts received before `receivedBefore` (docs/operations.md#receipts-streams-and-exports), in chunks, each in one
 * transaction with the apps' tallies it frees, so the per-app cap always counts what is held.
 * Answers how many it deleted.
 */
async function purgeUnreadable(
  db: Db,
  receivedBefore: string,
  chunkRows: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  return inChunks(chunkRows, signal, () =>
    db.transaction().execute(async (trx) => {
      const gone = await sql<{ app_id: string; payload_bytes: number }>`
        delete from unreadable_receipts
        where id in (
          select id from unreadable_receipts where received_at < ${receivedBefore}
          order by received_at limit ${chunkRows}
        )
        returning app_id, payload_bytes`.execute(trx);
      const freed = new Map<string, { rows: number; bytes: number }>();
      for (const row of gone.rows) {
        const app = freed.get(row.app_id) ?? { rows: 0, bytes: 0 };
        app.rows++;
        app.bytes += Number(row.payload_bytes);
        freed.set(row.app_id, app);
      }
      // Apps in one order, so that two purges never lock their tallies crosswise.
      for (const [appId, app] of [...freed].sort(([a], [b]) => (a < b ? -1 : 1))) {
        await trx
          .updateTable('unreadable_receipt_counts')
          .set((eb) => ({
            stored_rows: eb('stored_rows', '-', app.rows),
            stored_bytes: eb('stored_bytes', '-', app.bytes),
          }))
          .where('app_id', '=', appId)
          .execute();
      }
      return gone.rows.length;
    }),
  );
}

/**
 * Deletes the frequency-cap hand-overs noted before `sentBefore` (docs/delivery-controls.md#fatigue-control):
 * no cap window reaches them any more. In chunks by the `sent_at` index, each one statement.
 */
async function purgeFrequencySends(
  db: Db,
  sentBefore: string,
  chunkRows: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  return inChunks(chunkRows, signal, async () => {
    const gone = await sql`
      delete from frequency_sends
      where (app_id, device_id, sent_at, task_id) in (
        select app_id, device_id, sent_at, task_id from frequency_sends where sent_at < ${sentBefore}
        order by sent_at limit ${chunkRows}
      )`.execute(db);
    return Number(gone.numAffectedRows ?? 0);
  });
}

/**
 * Runs `deleteChunk` (which answers the rows it deleted) until a chunk comes back short or `signal`
 * aborts, letting requests in between chunks; answers the rows deleted in all.
 */
async function inChunks(
  chunkRows: number,
  signal: AbortSignal | undefined,
  deleteChunk: () => Promise<number>,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    if (signal?.aborted) return deleted;
    const rows = await deleteChunk();
    deleted += rows;
    if (rows < chunkRows) return deleted;
    await yieldToEventLoop();
  }
}

/** The periodic retention job of a server. */
export interface RetentionJob {
  /** Runs one purge now (also what the timer runs). */
  runOnce(): Promise<PurgeReport>;
  start(): void;
  stop(): Promise<void>;
}

/** A run of the retention job queued in the scaled mode; it carries nothing. */
export type RetentionRun = Record<string, never>;

/**
 * Creates the job that purges expired device results every `intervalMs` (and once at start). With a
 * `queue` (scaled mode) each interval becomes one job of that shared queue, named after the interval
 * it belongs to, so that however many workers tick, one of them runs it.
 */
export function createRetentionJob(options: {
  db: Db;
  settings: WindowSettings;
  intervalMs: number;
  clock?: () => Date;
  queue?: JobQueue<RetentionRun>;
  /**
   * Where a purge runs: the embedded mode's receipt writer thread (`ReceiptWriter.purge`), whose own
   * connection deletes while the HTTP event loop keeps serving; absent, `purgeExpiredDetails` over `db`.
   */
  purge?: (asOf: Date, signal: AbortSignal) => Promise<PurgeReport>;
  logger: { info(details: object, message: string): void; error(details: object, message: string): void };
}): RetentionJob {
  const clock = options.clock ?? (() => new Date());
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<PurgeReport> | undefined;

  const runOnce = () => {
    running ??= (
      options.purge
        ? options.purge(clock(), stopping.signal)
        : purgeExpiredDetails(options.db, clock(), options.settings, { signal: stopping.signal })
    ).finally(() => {
      running = undefined;
    });
    return running;
  };
  const report = (run: Promise<PurgeReport>) =>
    run.then(
      (report) => {
        if (
          report.tasks > 0 ||
          report.partitionsDropped > 0 ||
          report.unreadableReceipts > 0 ||
          report.loginThrottles > 0 ||
          report.frequencySends > 0
        )
          options.logger.info(report, 'expired device results purged');
      },
      (error: unknown) => options.logger.error({ err: error }, 'retention purge failed; retried next time'),
    );
  const { queue } = options;
  const tick = () => {
    if (!queue) return report(runOnce());
    const slot = Math.floor(clock().getTime() / options.intervalMs);
    queue
      .add(`retention-${slot}`, {})
      .catch((error: unknown) => options.logger.error({ err: error }, 'queueing the retention purge failed'));
  };
  return {
    runOnce,
    start() {
      if (timer) return;
      queue?.process(async () => {
        await report(runOnce());
      }, 1);
      tick();
      timer = setInterval(tick, options.intervalMs);
      timer.unref();
    },
    async stop() {
      stopping.abort();
      if (timer) clearInterval(timer);
      await queue?.close();
      await running?.catch(() => undefined);
    },
  };
}
