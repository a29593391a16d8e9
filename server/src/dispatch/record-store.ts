/**
 * Recording a batch (README step 3): its device results, its status, the counters and the tokens the
 * provider called invalid, in one transaction — the `DispatchStore.recordBatch` operation.
 */
import type { Kysely } from 'kysely';
import { bulkWriter } from '../devices/device-store.ts';
import { applyHeldReceipts } from '../receipts/receipt-store.ts';
import type { Database, Db, DeviceResultRow } from '../storage/database.ts';
import { devicesInRange, matchedInRange } from './device-ranges.ts';
import type { BatchRecord, DispatchStore, PreparedBatch, TaskSend } from './dispatch-store.ts';

/** Thrown inside a record transaction when the devices of a range changed since they were read. */
class RangeChanged extends Error {}

const RESULT_COLUMNS = [
  'task_id',
  'device_id',
  'batch_seq',
  'channel',
  'send_result',
  'failure_reason',
  'delivered_at',
] as const;
type ResultInsert = Pick<DeviceResultRow, (typeof RESULT_COLUMNS)[number]>;

/** The store's operation that records a batch. */
export function createRecordStore(db: Db): Pick<DispatchStore, 'recordBatch'> {
  const insertResults = bulkWriter<ResultInsert>(RESULT_COLUMNS, (rows) =>
    db.insertInto('device_results').values(rows),
  );
  /** Marks the tokens a provider called invalid, unless the device has registered another token since. */
  async function markInvalidTokens(trx: Kysely<Database>, send: TaskSend, record: BatchRecord) {
    for (const token of record.invalidTokens) {
      await trx
        .updateTable('devices')
        .set({ token_status: 'invalid', token_invalid_at: record.at, token_invalid_reason: token.reason })
        .where('app_id', '=', send.app.id)
        .where('device_id', '=', token.deviceId)
        .where('push_token', '=', token.pushToken)
        .where('token_status', '=', 'active')
        .execute();
    }
  }

  function explicitRows(send: TaskSend, batch: PreparedBatch, record: BatchRecord): ResultInsert[] {
    const exceptions = new Map(record.exceptions.map((e) => [e.deviceId, e]));
    return batch.devices.map((device) => {
      const e = exceptions.get(device.deviceId);
      return {
        task_id: send.taskId,
        device_id: device.deviceId,
        batch_seq: batch.seq,
        channel: e ? e.channel : device.channel,
        send_result: e ? e.sendResult : record.common.sendResult,
        failure_reason: e ? e.failureReason : record.common.failureReason,
        delivered_at: e ? e.deliveredAt : record.common.deliveredAt,
      };
    });
  }

  async function writeResults(
    trx: Kysely<Database>,
    send: TaskSend,
    batch: PreparedBatch,
    record: BatchRecord,
    exact: boolean,
  ): Promise<void> {
    if (exact || record.exceptions.length * 2 > batch.devices.length) {
      await insertResults(trx, explicitRows(send, batch, record));
      return;
    }
    // The common outcome is written by SQL from the same range the devices were read from, so the
    // rows never pass through JavaScript (the cheapest write there is); the exceptions follow. Devices
    // changed since they were read are left out, and the count proves the rows are exactly the
    // devices handed over — otherwise the transaction is redone with explicit rows. A dense range is
    // read from the devices alone: a scan instead of one audience-to-device lookup per device.
    const except = record.exceptions.map((e) => e.deviceId);
    const { common } = record;
    const { firstDeviceId: first, lastDeviceId: last } = batch;
    const source = batch.denseRange
      ? devicesInRange(trx, send, first, last)
      : matchedInRange(trx, send, first, last);
    const inserted = await trx
      .insertInto('device_results')
      .columns([...RESULT_COLUMNS])
      .expression(
        source
          .where('d.updated_at', '<=', batch.readAt)
          .$if(except.length > 0, (q) => q.where('d.device_id', 'not in', except))
          .select((eb) => [
            eb.val(send.taskId).as('task_id'),
            'd.device_id',
            eb.val(batch.seq).as('batch_seq'),
            'd.channel',
            eb.val(common.sendResult).as('send_result'),
            eb.val(common.failureReason).as('failure_reason'),
            eb.val(common.deliveredAt).as('delivered_at'),
          ]),
      )
      // The devices of the range the frequency cap held back have their result already: skipped.
      .$if(batch.capped !== undefined, (q) => q.onConflict((oc) => oc.doNothing()))
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows) !== batch.devices.length - except.length)
      throw new RangeChanged();
    if (record.exceptions.length > 0) {
      await insertResults(
        trx,
        record.exceptions.map((e) => ({
          task_id: send.taskId,
          device_id: e.deviceId,
          batch_seq: batch.seq,
          channel: e.channel,
          send_result: e.sendResult,
          failure_reason: e.failureReason,
          delivered_at: e.deliveredAt,
        })),
      );
    }
  }

  async function recordOnce(send: TaskSend, batch: PreparedBatch, record: BatchRecord, exact: boolean) {
    await db.transaction().execute(async (trx) => {
      // Only a prepared batch is recorded: this is what makes recording it twice impossible.
      const marked = await trx
        .updateTable('batches')
        .set({
          status: record.status,
          sent_at: record.at,
          provider_ref: record.providerRef,
          device_count: batch.devices.length,
          ...(record.error !== null && {
            error_code: record.error.code,
            error_message: record.error.message,
          }),
        })
        .where('task_id', '=', send.taskId)
        .where('seq', '=', batch.seq)
        .where('status', '=', 'prepared')
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) {
        throw new Error(`batch ${batch.seq} of task ${send.taskId} is not prepared: it was recorded already`);
      }
      await writeResults(trx, send, batch, record, exact);
      await markInvalidTokens(trx, send, record);
      await trx
        .deleteFrom('handover_answers')
        .where('task_id', '=', send.taskId)
        .where('batch_seq', '=', batch.seq)
        .execute();
      const sent = batch.devices.length;
      // The counters after the batch's own rows: the task row, which every batch of the task updates,
      // stays locked only until the commit. A device that vanished from the app between writing the
      // batch ahead and re-reading it after a restart was not handed over: it moves from pending to
      // unmatched (negative when one appeared).
      await trx
        .updateTable('tasks')
        .set((eb) => ({
          pending: eb('pending', '-', batch.preparedCount),
          unmatched: eb('unmatched', '+', batch.preparedCount - sent),
          total_sent: eb('total_sent', '+', sent),
          deliveries: eb('deliveries', '+', record.counts.deliveries),
          failures: eb('failures', '+', record.counts.failures),
          no_feedback: eb('no_feedback', '+', record.counts.noFeedback),
        }))
        .where('id', '=', send.taskId)
        .execute();
      // Receipts that arrived before this record (a fast provider or SDK, or a restart) apply now.
      await applyHeldReceipts(trx, send.taskId, batch.seq);
    });
  }

  return {
    async recordBatch(send, batch, record) {
      try {
        await recordOnce(send, batch, record, false);
      } catch (error) {
        if (!(error instanceof RangeChanged)) throw error;
        await recordOnce(send, batch, record, true);
      }
    },
  };
}
