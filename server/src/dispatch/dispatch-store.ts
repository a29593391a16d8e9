/**
 * What the dispatcher needs from storage, and its Kysely implementation. Every write that moves a
 * task's statistics happens in the same transaction as the rows it counts, so a reader sees the
 * docs/statistics.md#invariants invariants hold at every moment:
 *   plannedSends = unmatched + capped + totalSent + pending + cancelled;
 *   totalSent = deliveries + failures + noFeedback.
 */
import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { ProviderConfig } from '../apps/provider-config.ts';
import type { TaskCounts } from '../domain/statistics.ts';
import type { TaskContent } from '../domain/task-content.ts';
import { applyTaskEvent } from '../domain/task-state.ts';
import type { BatchDevice, DeviceSendOutcome } from '../providers/provider.ts';
import type { AppRow, Database, Db, DeviceResultRow } from '../storage/database.ts';
import { COUNTER_COLUMN_NAMES, taskCountsOf } from '../storage/task-counts.ts';
import { createDeferralStore, type DeferralStore } from './deferral.ts';
import { createJournalStore } from './journal-store.ts';
import { createPacingStore, type PacingStore } from './pacing.ts';
import { createPrepareStore } from './prepare-store.ts';
import { createRecordStore } from './record-store.ts';
import { createStopStore } from './stop-store.ts';

/** A task in `sending`, with what sending it needs. */
export interface TaskSend {
  taskId: string;
  audienceId: string;
  app: Pick<AppRow, 'id' | 'platform' | 'provider'> & { config: ProviderConfig; receiptSecret: string };
  content: TaskContent;
  /** Last audience device ID taken; null before the first batch. */
  cursor: string | null;
  /** Batches written so far. */
  batches: number;
  /** The provider error that stopped the send, if one did. */
  sendError: string | null;
  /** Whether the last range read was dense: the next one is then read by scanning (`prepareBatch`). */
  lastRangeDense?: boolean;
}

/** A batch written ahead, with the devices to hand over. */
export interface PreparedBatch {
  seq: number;
  firstDeviceId: string;
  lastDeviceId: string;
  /** Matched devices counted when the batch was written (its share of `pending`). */
  preparedCount: number;
  /** The devices to hand over, in device ID order. */
  devices: BatchDevice[];
  /** When `devices` was read: devices changed later are not what was handed over. */
  readAt: string;
  /**
   * Whether the app has no other devices in the batch's range than these (a send to all devices, or
   * to a large share of them): the results are then copied from the devices' range, no lookup needed.
   */
  denseRange: boolean;
  /** Provider calls already made for it (non-zero only for a batch interrupted by a restart). */
  attempts: number;
  /**
   * Devices of the range the frequency cap held back (they have their `capped` result, which
   * recording the batch from its range skips; `denseRange` counts them as the batch's). Absent when
   * none were.
   */
  capped?: number;
}

/** One device result that differs from its batch's common outcome. */
export interface ResultException {
  deviceId: string;
  channel: string;
  sendResult: DeviceResultRow['send_result'];
  failureReason: string | null;
  deliveredAt: string | null;
}

/** A push token a provider called invalid while sending a batch (docs/devices.md#push-token-lifecycle). */
export interface InvalidToken {
  deviceId: string;
  /** The token that was sent: the mark is not set if the device registered another one meanwhile. */
  pushToken: string;
  /** The provider's word (`UNREGISTERED`, `BadDeviceToken`, `4020`…). */
  reason: string;
}

/** How a batch ended, ready to record. */
export interface BatchRecord {
  status: 'sent' | 'failed';
  providerRef: string | null;
  /** The result of every device not listed in `exceptions` (on its registered channel). */
  common: Omit<ResultException, 'deviceId' | 'channel'>;
  exceptions: ResultException[];
  /** Totals over all the batch's devices. */
  counts: { deliveries: number; failures: number; noFeedback: number };
  error: { code: string; message: string } | null;
  /** Tokens to mark invalid, in the same transaction as the results. */
  invalidTokens: InvalidToken[];
  at: string;
}

/** Storage operations of the dispatcher (pacing's in `pacing.ts`, quiet hours' in `deferral.ts`). */
export interface DispatchStore extends PacingStore, DeferralStore {
  /**
   * IDs of scheduled tasks due at `now` (immediate ones, and scheduled ones whose time has come),
   * except those quiet hours deferred to a later time.
   */
  dueTasks(now: string, limit: number): Promise<string[]>;
  /** IDs of the tasks in `sending`: the sends to resume at start-up. */
  sendingTasks(): Promise<string[]>;
  /**
   * Moves a scheduled task to `sending`, its planned sends and pending set to its audience's size,
   * only if it is still scheduled (a delete may have won); answers whether it did.
   */
  startTask(taskId: string, now: string): Promise<boolean>;
  /** The task and its send state, or undefined unless it is `sending`. */
  loadSend(taskId: string): Promise<TaskSend | undefined>;
  /** Batches written ahead and not recorded, in order, with their devices read again. */
  preparedBatches(send: TaskSend, now: string): Promise<PreparedBatch[]>;
  /** Batch `seq` of the task if it is still `prepared` (re-read like `preparedBatches`), else null. */
  preparedBatch(send: TaskSend, seq: number, now: string): Promise<PreparedBatch | null>;
  /** Which of the batches `seqs` of a task are still `prepared` (not recorded yet). */
  unrecordedBatches(taskId: string, seqs: number[]): Promise<Set<number>>;
  /**
   * Takes up to `size` audience members after the cursor: counts the unmatched ones, writes the
   * batch of the matched ones ahead (none when every one is unmatched) and advances the cursor, in
   * one transaction. `handingOver` counts the provider call that follows at once as the batch's first
   * attempt, in the same write. Answers null when the audience is exhausted, else the batch (null when
   * every member was unmatched) and the send advanced past it (`send` itself is left unchanged), or
   * `stopped` without writing anything once the task's stop was acknowledged.
   */
  prepareBatch(
    send: TaskSend,
    size: number,
    now: string,
    handingOver: boolean,
  ): Promise<{ batch: PreparedBatch | null; send: TaskSend; stopped?: true } | null>;
  /**
   * Counts one more provider call of batch `seq`, before it is made, unless the stop forbids it: a
   * batch never handed over (`attempts = 0`) of a task whose stop was acknowledged is cancelled
   * instead, in the same transaction (`stop-store.ts`). `gone`: the batch is not prepared any more.
   */
  claimHandOver(send: TaskSend, seq: number, now: string): Promise<'counted' | 'cancelled' | 'gone'>;
  /**
   * Once a stop was acknowledged: cancels every device never handed over (prepared batches not
   * claimed, the audience beyond the cursor) and ends the task `stopped` if nothing is pending any
   * more (batches still being handed over are waited for, then this is called again). Answers null
   * when the task was not stopped.
   */
  cancelUnsent(send: TaskSend, now: string): Promise<{ cancelled: number; stopped: boolean } | null>;
  /**
   * Journals a group of device answers of a batch in flight (providers that answer each device), in
   * one row; when a device has several, the first one journaled counts. Recording the batch deletes them.
   */
  journalAnswers(taskId: string, seq: number, answers: readonly JournaledAnswer[]): Promise<void>;
  /** The journaled device answers of a batch (those given before a retry, a crash or a restart). */
  journaledAnswers(taskId: string, seq: number): Promise<JournaledAnswer[]>;
  /** Keeps a provider error on the batch (and, when it stops the send, on the task). */
  noteError(
    taskId: string,
    seq: number,
    error: { code: string; message: string },
    stopsSend: string | null,
  ): Promise<void>;
  /** Stops a task's send with `reason` (the first reason stays): the rest is recorded as not sent. */
  stopSend(taskId: string, reason: string): Promise<void>;
  /**
   * Writes a batch's device results, marks it `sent`/`failed`, moves the counters, marks the tokens
   * the provider called invalid and drops the batch's journaled answers, in one transaction.
   */
  recordBatch(send: TaskSend, batch: PreparedBatch, record: BatchRecord): Promise<void>;
  /** The statistics counters of a task. */
  counts(taskId: string): Promise<TaskCounts>;
  /** The most frequent failure reason among a task's device results. */
  topFailureReason(taskId: string): Promise<string | null>;
  /**
   * Ends a send: `completed`, or `failed` with a reason; only if still sending with nothing pending
   * and not stopped (a stopped task ends `stopped`, `cancelUnsent`).
   */
  finishTask(
    taskId: string,
    outcome: 'complete' | 'fail',
    reason: string | null,
    now: string,
  ): Promise<boolean>;
  /** Drops what is still pending from a task's planned sends (its audience shrank during the send). */
  dropPending(taskId: string): Promise<number>;
}

/**
 * A device's answer as the journal keeps it: with the push token it was sent to, so that a batch
 * resumed after the device registered another token marks only the token that was refused.
 */
export type JournaledAnswer = DeviceSendOutcome & { pushToken: string };

/**
 * The dispatch store over Kysely: the task queries here, writing batches ahead in `prepare-store.ts`,
 * recording them in `record-store.ts`, the answer journal in `journal-store.ts`. `clock` (the
 * dispatcher's) dates what the store dates itself: the journal groups.
 */
export function createDispatchStore(db: Db, clock: () => Date): DispatchStore {
  async function stopSend(executor: Kysely<Database>, taskId: string, reason: string): Promise<void> {
    await executor
      .updateTable('task_dispatch')
      .set({ send_error: reason })
      .where('task_id', '=', taskId)
      .where('send_error', 'is', null)
      .execute();
  }

  return {
    ...createPrepareStore(db),
    ...createRecordStore(db),
    ...createJournalStore(db, clock),
    ...createStopStore(db),
    ...createPacingStore(db),
    ...createDeferralStore(db),

    async dueTasks(now, limit) {
      const rows = await db
        .selectFrom('tasks')
        .select('id')
        .where('status', '=', 'scheduled')
        .where((eb) => eb.or([eb('send_type', '=', 'immediate'), eb('scheduled_at', '<=', now)]))
        .where((eb) => eb.or([eb('deferred_until', 'is', null), eb('deferred_until', '<=', now)]))
        .orderBy('created_at')
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },

    async sendingTasks() {
      const rows = await db
        .selectFrom('tasks')
        .select('id')
        .where('status', '=', 'sending')
        .orderBy('started_at')
        .execute();
      return rows.map((r) => r.id);
    },

    startTask: (taskId, now) =>
      db.transaction().execute(async (trx) => {
        // Conditional on `scheduled` in the statement itself: a delete (conditional the same way)
        // and a start can never both win. The audience is frozen, so its size is the planned sends.
        const audienceSize = (eb: ExpressionBuilder<Database, 'tasks'>) =>
          eb.fn.coalesce(
            eb
              .selectFrom('audiences')
              .select('audiences.size')
              .whereRef('audiences.id', '=', 'tasks.audience_id')
              .where('audiences.status', '=', 'ready'),
            eb.lit(0),
          );
        const result = await trx
          .updateTable('tasks')
          .set((eb) => ({
            status: applyTaskEvent('scheduled', 'start'),
            started_at: now,
            updated_at: now,
            planned_sends: audienceSize(eb),
            pending: audienceSize(eb),
          }))
          .where('id', '=', taskId)
          .where('status', '=', 'scheduled')
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return false;
        await trx
          .insertInto('task_dispatch')
          .values({ task_id: taskId, cursor: null, batches: 0, send_error: null, updated_at: now })
          .onConflict((oc) => oc.column('task_id').doNothing())
          .execute();
        return true;
      }),

    async loadSend(taskId) {
      const row = await db
        .selectFrom('tasks')
        .innerJoin('apps', 'apps.id', 'tasks.app_id')
        .leftJoin('task_dispatch', 'task_dispatch.task_id', 'tasks.id')
        .select([
          'tasks.id',
          'tasks.status',
          'tasks.audience_id',
          'tasks.title',
          'tasks.content',
          'tasks.click_action',
          'tasks.ttl_seconds',
          'tasks.category',
          'apps.id as app_id',
          'apps.platform',
          'apps.provider',
          'apps.provider_config',
          'apps.receipt_secret',
          'task_dispatch.cursor',
          'task_dispatch.batches',
          'task_dispatch.send_error',
        ])
        .where('tasks.id', '=', taskId)
        .executeTakeFirst();
      // Every started task has its dispatch row (written with the start), hence the null checks only
      // satisfy the outer join's types.
      if (row?.status !== 'sending' || row.batches === null) return undefined;
      return {
        taskId: row.id,
        audienceId: row.audience_id,
        app: {
          id: row.app_id,
          platform: row.platform,
          provider: row.provider,
          config: JSON.parse(row.provider_config) as ProviderConfig,
          receiptSecret: row.receipt_secret,
        },
        content: {
          title: row.title,
          content: row.content,
          clickAction: JSON.parse(row.click_action),
          ttlSeconds: Number(row.ttl_seconds),
          category: row.category,
        },
        cursor: row.cursor,
        batches: Number(row.batches),
        sendError: row.send_error,
      };
    },
    async unrecordedBatches(taskId, seqs) {
      if (seqs.length === 0) return new Set();
      const rows = await db
        .selectFrom('batches')
        .select('seq')
        .where('task_id', '=', taskId)
        .where('seq', 'in', seqs)
        .where('status', '=', 'prepared')
        .execute();
      return new Set(rows.map((r) => r.seq));
    },
    async noteError(taskId, seq, error, stopsSend) {
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('batches')
          .set({ error_code: error.code, error_message: error.message })
          .where('task_id', '=', taskId)
          .where('seq', '=', seq)
          .execute();
        if (stopsSend !== null) await stopSend(trx, taskId, stopsSend);
      });
    },

    stopSend: (taskId, reason) => stopSend(db, taskId, reason),
    async counts(taskId) {
      const row = await db
        .selectFrom('tasks')
        .select(COUNTER_COLUMN_NAMES)
        .where('id', '=', taskId)
        .executeTakeFirstOrThrow();
      return taskCountsOf(row);
    },

    async topFailureReason(taskId) {
      const row = await db
        .selectFrom('device_results')
        .select(['failure_reason', (eb) => eb.fn.countAll<number>().as('n')])
        .where('task_id', '=', taskId)
        .where('send_result', '=', 'failure')
        .groupBy('failure_reason')
        .orderBy('n', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row?.failure_reason ?? null;
    },

    async finishTask(taskId, outcome, reason, now) {
      const result = await db
        .updateTable('tasks')
        .set({
          status: applyTaskEvent('sending', outcome),
          failure_reason: reason,
          completed_at: now,
          updated_at: now,
        })
        .where('id', '=', taskId)
        .where('status', '=', 'sending')
        .where('pending', '=', 0)
        .where('stopped_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async dropPending(taskId) {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('tasks')
          .select('pending')
          .where('id', '=', taskId)
          .executeTakeFirstOrThrow();
        const pending = Number(row.pending);
        await trx
          .updateTable('tasks')
          .set((eb) => ({ planned_sends: eb('planned_sends', '-', pending), pending: sql<number>`0` }))
          .where('id', '=', taskId)
          .execute();
        return pending;
      });
    },
  };
}
