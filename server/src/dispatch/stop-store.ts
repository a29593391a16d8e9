/**
 * A stopped send (docs/delivery-controls.md#stop, README "When a send stops"): the store's writes that
 * decide a batch's first provider call against the stop, cancel what was never handed over and end
 * the task `stopped`. Each checks the task's `stopped_at` in its own transaction with the task row
 * locked (PostgreSQL; SQLite has one writer), so it is serialised against the stop's UPDATE: once
 * the stop is acknowledged, no batch is claimed for a first hand-over.
 */
import type { Kysely } from 'kysely';
import { applyTaskEvent } from '../domain/task-state.ts';
import type { Database, Db } from '../storage/database.ts';
import { isPostgres, selectForUpdate } from '../storage/dialect.ts';
import { matchedInRange } from './device-ranges.ts';
import type { DispatchStore, TaskSend } from './dispatch-store.ts';
import { forgetFrequencySends } from './frequency-cap.ts';

/**
 * Whether the task's stop was acknowledged, read with the task row locked until the transaction
 * ends: a stop waits for the transaction, or the transaction sees the stop.
 */
export async function stopAcknowledged(trx: Kysely<Database>, taskId: string): Promise<boolean> {
  const row = await selectForUpdate(
    trx,
    trx.selectFrom('tasks').select('stopped_at').where('id', '=', taskId),
  ).executeTakeFirst();
  return row?.stopped_at != null;
}

/** The columns of a `prepared` batch that cancelling it needs. */
interface CancellableBatch {
  seq: number;
  first_device_id: string;
  last_device_id: string;
  device_count: number;
}

/**
 * Cancels one batch written ahead and never handed over (`attempts = 0`, still `prepared`): one
 * `cancelled` device result per matched device of its range (but those the frequency cap held back),
 * written by `INSERT … SELECT`, its frequency-cap rows forgotten, and the counters moved in the same
 * transaction. A device that left the app since the batch was written
 * counts `unmatched`, as recording does. Answers the devices cancelled, 0 when the batch was not
 * cancellable any more (claimed or recorded meanwhile).
 */
async function cancelBatch(trx: Kysely<Database>, send: TaskSend, b: CancellableBatch, now: string) {
  const marked = await trx
    .updateTable('batches')
    .set({ status: 'cancelled', sent_at: now })
    .where('task_id', '=', send.taskId)
    .where('seq', '=', b.seq)
    .where('status', '=', 'prepared')
    .where('attempts', '=', 0)
    .executeTakeFirst();
  if (Number(marked.numUpdatedRows) !== 1) return 0;
  const inserted = await trx
    .insertInto('device_results')
    .columns(['task_id', 'device_id', 'batch_seq', 'channel', 'send_result'])
    .expression(
      matchedInRange(trx, send, b.first_device_id, b.last_device_id).select((eb) => [
        eb.val(send.taskId).as('task_id'),
        'd.device_id',
        // Never handed over: in no batch (storage/database.ts DeviceResultRow).
        eb.val(0).as('batch_seq'),
        'd.channel',
        eb.val('cancelled').as('send_result'),
      ]),
    )
    // A device of the range the frequency cap held back has its `capped` result already.
    .onConflict((oc) => oc.columns(['task_id', 'device_id']).doNothing())
    .executeTakeFirst();
  const cancelled = Number(inserted.numInsertedOrUpdatedRows);
  // Never handed over, so the batch's devices did not use up their frequency cap.
  await forgetFrequencySends(trx, send.app.id, send.taskId, [
    { seq: b.seq, firstDeviceId: b.first_device_id, lastDeviceId: b.last_device_id },
  ]);
  await trx
    .updateTable('tasks')
    .set((eb) => ({
      pending: eb('pending', '-', b.device_count),
      unmatched: eb('unmatched', '+', b.device_count - cancelled),
      cancelled: eb('cancelled', '+', cancelled),
    }))
    .where('id', '=', send.taskId)
    .execute();
  return cancelled;
}

/**
 * Cancels the audience beyond the dispatch cursor: one `cancelled` result per member, with or
 * without a push token (never handed over either way; saved as an audience they may be sent later),
 * by one `INSERT … SELECT`, and moves the cursor past them. Answers how many.
 */
async function cancelBeyondCursor(trx: Kysely<Database>, send: TaskSend, now: string): Promise<number> {
  const dispatch = await trx
    .selectFrom('task_dispatch')
    .select('cursor')
    .where('task_id', '=', send.taskId)
    .executeTakeFirstOrThrow();
  const after = dispatch.cursor ?? '';
  const inserted = await trx
    .insertInto('device_results')
    .columns(['task_id', 'device_id', 'batch_seq', 'channel', 'send_result'])
    .expression(
      trx
        .selectFrom('audience_members as m')
        .leftJoin('devices as d', (join) =>
          join.on('d.app_id', '=', send.app.id).onRef('d.device_id', '=', 'm.device_id'),
        )
        .where('m.audience_id', '=', send.audienceId)
        .where('m.device_id', '>', after)
        .select((eb) => [
          eb.val(send.taskId).as('task_id'),
          'm.device_id',
          eb.val(0).as('batch_seq'),
          // A member the app does not know has no channel.
          eb.fn.coalesce('d.channel', eb.val('')).as('channel'),
          eb.val('cancelled').as('send_result'),
        ]),
    )
    .executeTakeFirst();
  const cancelled = Number(inserted.numInsertedOrUpdatedRows);
  if (cancelled === 0) return 0;
  // Past the last member: nothing is derived as `pending` from beyond the cursor any more.
  await trx
    .updateTable('task_dispatch')
    .set((eb) => ({
      cursor: eb
        .selectFrom('audience_members')
        .select((m) => m.fn.max('device_id').as('last'))
        .where('audience_id', '=', send.audienceId),
      updated_at: now,
    }))
    .where('task_id', '=', send.taskId)
    .execute();
  await trx
    .updateTable('tasks')
    .set((eb) => ({ pending: eb('pending', '-', cancelled), cancelled: eb('cancelled', '+', cancelled) }))
    .where('id', '=', send.taskId)
    .execute();
  return cancelled;
}

/** The store's operations of a stopped send. */
export function createStopStore(db: Db): Pick<DispatchStore, 'claimHandOver' | 'cancelUnsent'> {
  return {
    claimHandOver: (send, seq, now) =>
      db.transaction().execute(async (trx) => {
        // The batch row first, then the task row: the order recording locks them in.
        const batch = await selectForUpdate(
          trx,
          trx
            .selectFrom('batches')
            .select(['seq', 'first_device_id', 'last_device_id', 'device_count', 'attempts'])
            .where('task_id', '=', send.taskId)
            .where('seq', '=', seq)
            .where('status', '=', 'prepared'),
        ).executeTakeFirst();
        if (!batch) return 'gone';
        // A batch whose hand-over began before the stop is finished; any other is never begun.
        if (batch.attempts === 0 && (await stopAcknowledged(trx, send.taskId))) {
          await cancelBatch(trx, send, batch, now);
          return 'cancelled';
        }
        await trx
          .updateTable('batches')
          .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
          .where('task_id', '=', send.taskId)
          .where('seq', '=', seq)
          .execute();
        return 'counted';
      }),

    cancelUnsent: (send, now) =>
      db.transaction().execute(async (trx) => {
        if (!(await stopAcknowledged(trx, send.taskId))) return null;
        // Batches being recorded right now are skipped (their record wins); the others were never
        // handed over and never will be: claiming one needs this task row, locked above.
        const batches = await trx
          .selectFrom('batches')
          .select(['seq', 'first_device_id', 'last_device_id', 'device_count'])
          .where('task_id', '=', send.taskId)
          .where('status', '=', 'prepared')
          .where('attempts', '=', 0)
          .orderBy('seq')
          .$call((q) => (isPostgres(trx) ? q.forUpdate().skipLocked() : q))
          .execute();
        let cancelled = 0;
        for (const b of batches) cancelled += await cancelBatch(trx, send, b, now);
        cancelled += await cancelBeyondCursor(trx, send, now);
        // Ends the task once nothing is pending: batches still being handed over are recorded first.
        const ended = await trx
          .updateTable('tasks')
          .set({ status: applyTaskEvent('sending', 'stop'), completed_at: now, updated_at: now })
          .where('id', '=', send.taskId)
          .where('status', '=', 'sending')
          .where('pending', '=', 0)
          .executeTakeFirst();
        return { cancelled, stopped: Number(ended.numUpdatedRows) === 1 };
      }),
  };
}
