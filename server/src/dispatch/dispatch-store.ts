/**
 * What the dispatcher needs from storage, and its Kysely implementation. Every write that moves a
 * task's statistics happens in the same transaction as the rows it counts, so a reader sees the
 * SPEC §2.3 invariants hold at every moment:
 *   plannedSends = unmatched + totalSent + pending;   totalSent = deliveries + failures + noFeedback.
 */
import { randomBytes } from 'node:crypto';
import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { ProviderConfig } from '../apps/provider-config.ts';
import { bulkWriter } from '../devices/device-store.ts';
import type { TaskCounts } from '../domain/statistics.ts';
import type { Platform, TaskContent } from '../domain/task-content.ts';
import { applyTaskEvent } from '../domain/task-state.ts';
import type { BatchDevice, DeviceSendOutcome } from '../providers/provider.ts';
import { applyHeldReceipts } from '../receipts/receipt-store.ts';
import type { AppRow, Database, Db, DeviceResultRow } from '../storage/database.ts';

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
}

/** One device result that differs from its batch's common outcome. */
export interface ResultException {
  deviceId: string;
  channel: string;
  sendResult: DeviceResultRow['send_result'];
  failureReason: string | null;
  deliveredAt: string | null;
}

/** A push token a provider called invalid while sending a batch (SPEC §4.4). */
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

/** Storage operations of the dispatcher. */
export interface DispatchStore {
  /** IDs of scheduled tasks due at `now` (immediate ones, and scheduled ones whose time has come). */
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
   * attempt, in the same write. Answers null when the audience is exhausted; updates `send` in place.
   */
  prepareBatch(
    send: TaskSend,
    size: number,
    now: string,
    handingOver: boolean,
  ): Promise<{ batch: PreparedBatch | null } | null>;
  /** Counts one more provider call of a batch, before it is made. */
  noteHandOver(taskId: string, seq: number): Promise<void>;
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
  /** Ends a send: `completed`, or `failed` with a reason; only if still sending with nothing pending. */
  finishTask(
    taskId: string,
    outcome: 'complete' | 'fail',
    reason: string | null,
    now: string,
  ): Promise<boolean>;
  /** Drops what is still pending from a task's planned sends (its audience shrank during the send). */
  dropPending(taskId: string): Promise<number>;
}

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

/**
 * A device's answer as the journal keeps it: with the push token it was sent to, so that a batch
 * resumed after the device registered another token marks only the token that was refused.
 */
export type JournaledAnswer = DeviceSendOutcome & { pushToken: string };

/**
 * One journaled answer, as a compact tuple: device ID, push token sent to, send result, failure
 * reason, channel, the provider's word on an invalid token, the provider's reference of the message.
 */
type JournalEntry = [
  string,
  string,
  DeviceSendOutcome['sendResult'],
  string | null,
  string | null,
  string | null,
  string | null,
];

/** Time-ordered unique IDs for journal groups: the time in ms, a per-process counter, a random tail. */
let journalGroups = 0;
const journalProcessTag = randomBytes(4).toString('hex');
function nextJournalGroup(): string {
  journalGroups = (journalGroups + 1) % 1e9;
  return `${Date.now().toString(36).padStart(9, '0')}-${journalGroups.toString(36).padStart(6, '0')}-${journalProcessTag}`;
}

/** The dispatch store over Kysely. */
export function createDispatchStore(db: Db): DispatchStore {
  /** A `prepared` batch with its devices re-read from the audience and the app (after a restart, or in another worker). */
  async function readPrepared(
    send: TaskSend,
    b: {
      seq: number;
      first_device_id: string;
      last_device_id: string;
      device_count: number;
      attempts: number;
    },
    now: string,
  ): Promise<PreparedBatch> {
    const devices = await matchedInRange(db, send, b.first_device_id, b.last_device_id)
      .select(['d.device_id as deviceId', 'd.push_token as pushToken', 'd.channel'])
      .orderBy('m.device_id')
      .execute();
    const inRange = await countDevicesInRange(db, send, b.first_device_id, b.last_device_id);
    return {
      seq: b.seq,
      firstDeviceId: b.first_device_id,
      lastDeviceId: b.last_device_id,
      preparedCount: b.device_count,
      devices,
      readAt: now,
      denseRange: inRange === devices.length,
      attempts: b.attempts,
    };
  }

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

  // The matched devices of an audience range: the audience's device IDs (its primary key, in order)
  // joined to the app's devices (their primary key), read in one pass of both B-trees. A device whose
  // token a provider called invalid has no token to send to: it is not matched (SPEC §4.4).
  const matchedInRange = (executor: Kysely<Database>, send: TaskSend, first: string, last: string) =>
    executor
      .selectFrom('audience_members as m')
      .innerJoin('devices as d', (join) =>
        join
          .on('d.app_id', '=', send.app.id)
          .onRef('d.device_id', '=', 'm.device_id')
          .on('d.token_status', '=', 'active'),
      )
      .where('m.audience_id', '=', send.audienceId)
      .where('m.device_id', '>=', first)
      .where('m.device_id', '<=', last);

  // The app's devices with an active token in a range, without the audience: a plain scan of the
  // devices' primary key.
  const devicesInRange = (executor: Kysely<Database>, send: TaskSend, first: string, last: string) =>
    executor
      .selectFrom('devices as d')
      .where('d.app_id', '=', send.app.id)
      .where('d.device_id', '>=', first)
      .where('d.device_id', '<=', last)
      .where('d.token_status', '=', 'active');

  async function countDevicesInRange(
    executor: Kysely<Database>,
    send: TaskSend,
    first: string,
    last: string,
  ) {
    const row = await devicesInRange(executor, send, first, last)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * The next `size` audience members after the cursor and the app's devices among them. When the last
   * range was dense, both ranges are scanned and merged here (two sequential reads); otherwise, or
   * when the app has more devices in the range than were taken (a sparse audience), the audience is
   * joined to the devices (one lookup per member).
   */
  async function readRange(
    trx: Kysely<Database>,
    send: TaskSend,
    size: number,
  ): Promise<{
    members: number;
    first: string;
    last: string;
    devices: BatchDevice[];
    denseRange: boolean;
  } | null> {
    const after = send.cursor ?? '';
    if (send.lastRangeDense !== false) {
      const ids = await trx
        .selectFrom('audience_members')
        .select('device_id')
        .where('audience_id', '=', send.audienceId)
        .where('device_id', '>', after)
        .orderBy('device_id')
        .limit(size)
        .execute();
      if (ids.length === 0) return null;
      const first = ids[0]!.device_id;
      const last = ids[ids.length - 1]!.device_id;
      const inRange = await devicesInRange(trx, send, first, last)
        .select(['d.device_id as deviceId', 'd.push_token as pushToken', 'd.channel'])
        .orderBy('d.device_id')
        .limit(size + 1)
        .execute();
      if (inRange.length <= size) {
        // Both lists are in device ID order: one pass keeps the devices that are audience members.
        const devices: BatchDevice[] = [];
        let i = 0;
        for (const device of inRange) {
          while (i < ids.length && ids[i]!.device_id < device.deviceId) i++;
          if (i < ids.length && ids[i]!.device_id === device.deviceId) devices.push(device);
        }
        return { members: ids.length, first, last, devices, denseRange: devices.length === inRange.length };
      }
    }
    const rows = await trx
      .selectFrom('audience_members as m')
      .leftJoin('devices as d', (join) =>
        join
          .on('d.app_id', '=', send.app.id)
          .onRef('d.device_id', '=', 'm.device_id')
          .on('d.token_status', '=', 'active'),
      )
      .select(['m.device_id as deviceId', 'd.push_token as pushToken', 'd.channel'])
      .where('m.audience_id', '=', send.audienceId)
      .where('m.device_id', '>', after)
      .orderBy('m.device_id')
      .limit(size)
      .execute();
    if (rows.length === 0) return null;
    // The matched rows already have the shape of a batch device: kept as they are, not copied.
    const devices = rows.filter((r): r is BatchDevice => r.pushToken !== null && r.channel !== null);
    const first = rows[0]!.deviceId;
    const last = rows[rows.length - 1]!.deviceId;
    const denseRange =
      devices.length > 0 && (await countDevicesInRange(trx, send, first, last)) === devices.length;
    return { members: rows.length, first, last, devices, denseRange };
  }

  async function stopSend(executor: Kysely<Database>, taskId: string, reason: string): Promise<void> {
    await executor
      .updateTable('task_dispatch')
      .set({ send_error: reason })
      .where('task_id', '=', taskId)
      .where('send_error', 'is', null)
      .execute();
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
      const sent = batch.devices.length;
      // A device that vanished from the app between writing the batch ahead and re-reading it after a
      // restart was not handed over: it moves from pending to unmatched (negative when one appeared).
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
      await markInvalidTokens(trx, send, record);
      await trx
        .deleteFrom('handover_answers')
        .where('task_id', '=', send.taskId)
        .where('batch_seq', '=', batch.seq)
        .execute();
      // Receipts that arrived before this record (a fast provider or SDK, or a restart) apply now.
      await applyHeldReceipts(trx, send.taskId, batch.seq);
    });
  }

  return {
    async dueTasks(now, limit) {
      const rows = await db
        .selectFrom('tasks')
        .select('id')
        .where('status', '=', 'scheduled')
        .where((eb) => eb.or([eb('send_type', '=', 'immediate'), eb('scheduled_at', '<=', now)]))
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

    async preparedBatches(send, now) {
      const batches = await db
        .selectFrom('batches')
        .select(['seq', 'first_device_id', 'last_device_id', 'device_count', 'attempts'])
        .where('task_id', '=', send.taskId)
        .where('status', '=', 'prepared')
        .orderBy('seq')
        .execute();
      const prepared: PreparedBatch[] = [];
      for (const b of batches) prepared.push(await readPrepared(send, b, now));
      return prepared;
    },

    async preparedBatch(send, seq, now) {
      const b = await db
        .selectFrom('batches')
        .select(['seq', 'first_device_id', 'last_device_id', 'device_count', 'attempts'])
        .where('task_id', '=', send.taskId)
        .where('seq', '=', seq)
        .where('status', '=', 'prepared')
        .executeTakeFirst();
      return b ? readPrepared(send, b, now) : null;
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

    async prepareBatch(send, size, now, handingOver) {
      return db.transaction().execute(async (trx) => {
        const range = await readRange(trx, send, size);
        if (range === null) return null;
        const { devices, first, last, denseRange } = range;
        const unmatched = range.members - devices.length;
        send.lastRangeDense = denseRange;
        const seq = devices.length > 0 ? send.batches + 1 : send.batches;

        // Advancing the cursor is conditional on it being where this run left it, so two runners of
        // one task could never take the same range twice.
        const moved = await trx
          .updateTable('task_dispatch')
          .set({ cursor: last, batches: seq, updated_at: now })
          .where('task_id', '=', send.taskId)
          .where((eb) => (send.cursor === null ? eb('cursor', 'is', null) : eb('cursor', '=', send.cursor)))
          .executeTakeFirst();
        if (Number(moved.numUpdatedRows) !== 1) {
          throw new Error(`the send of task ${send.taskId} was advanced by someone else`);
        }
        if (devices.length > 0) {
          await trx
            .insertInto('batches')
            .values({
              task_id: send.taskId,
              seq,
              status: 'prepared',
              first_device_id: first,
              last_device_id: last,
              device_count: devices.length,
              provider_ref: null,
              error_code: null,
              error_message: null,
              attempts: handingOver ? 1 : 0,
              created_at: now,
              sent_at: null,
            })
            .execute();
        }
        if (unmatched > 0) {
          await trx
            .updateTable('tasks')
            .set((eb) => ({
              unmatched: eb('unmatched', '+', unmatched),
              pending: eb('pending', '-', unmatched),
            }))
            .where('id', '=', send.taskId)
            .execute();
        }
        send.cursor = last;
        send.batches = seq;
        const batch: PreparedBatch | null =
          devices.length > 0
            ? {
                seq,
                firstDeviceId: first,
                lastDeviceId: last,
                preparedCount: devices.length,
                devices,
                readAt: now,
                denseRange,
                attempts: handingOver ? 1 : 0,
              }
            : null;
        return { batch };
      });
    },

    async noteHandOver(taskId, seq) {
      await db
        .updateTable('batches')
        .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
        .where('task_id', '=', taskId)
        .where('seq', '=', seq)
        .execute();
    },

    async journalAnswers(taskId, seq, answers) {
      if (answers.length === 0) return;
      const entries = answers.map(
        (o): JournalEntry => [
          o.deviceId,
          o.pushToken,
          o.sendResult,
          o.failureReason ?? null,
          o.channel ?? null,
          o.invalidToken ?? null,
          o.providerRef ?? null,
        ],
      );
      await db
        .insertInto('handover_answers')
        .values({
          task_id: taskId,
          batch_seq: seq,
          group_id: nextJournalGroup(),
          answers: JSON.stringify(entries),
        })
        .execute();
    },

    async journaledAnswers(taskId, seq) {
      const groups = await db
        .selectFrom('handover_answers')
        .select('answers')
        .where('task_id', '=', taskId)
        .where('batch_seq', '=', seq)
        .orderBy('group_id')
        .execute();
      // A device answered twice (sent again after a crash before its answer was written) keeps its first answer.
      const answers = new Map<string, JournaledAnswer>();
      for (const group of groups) {
        for (const [
          deviceId,
          pushToken,
          sendResult,
          failureReason,
          channel,
          invalidToken,
          providerRef,
        ] of JSON.parse(group.answers) as JournalEntry[]) {
          if (answers.has(deviceId)) continue;
          answers.set(deviceId, {
            deviceId,
            pushToken,
            sendResult,
            ...(failureReason !== null && { failureReason }),
            ...(channel !== null && { channel }),
            ...(invalidToken !== null && { invalidToken }),
            ...(providerRef !== null && { providerRef }),
          });
        }
      }
      return [...answers.values()];
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

    async recordBatch(send, batch, record) {
      try {
        await recordOnce(send, batch, record, false);
      } catch (error) {
        if (!(error instanceof RangeChanged)) throw error;
        await recordOnce(send, batch, record, true);
      }
    },

    async counts(taskId) {
      const row = await db
        .selectFrom('tasks')
        .select([
          'planned_sends',
          'unmatched',
          'total_sent',
          'deliveries',
          'failures',
          'no_feedback',
          'impressions',
          'opens',
          'dismissals',
          'pending',
          'late',
        ])
        .where('id', '=', taskId)
        .executeTakeFirstOrThrow();
      // Counter columns are bigint: PostgreSQL answers strings.
      return {
        plannedSends: Number(row.planned_sends),
        unmatched: Number(row.unmatched),
        totalSent: Number(row.total_sent),
        deliveries: Number(row.deliveries),
        failures: Number(row.failures),
        noFeedback: Number(row.no_feedback),
        impressions: Number(row.impressions),
        opens: Number(row.opens),
        dismissals: Number(row.dismissals),
        pending: Number(row.pending),
        late: Number(row.late),
      };
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

/** The platform's result for a device the provider accepted without saying more. */
export function acceptedResult(platform: Platform): 'success' | 'no_feedback' {
  return platform === 'ios' ? 'success' : 'no_feedback';
}
