/**
 * Writing batches ahead (README step 1) and reading the ones still `prepared` again (after a restart,
 * or in another worker): the `DispatchStore` operations that put a batch's devices in memory.
 */
import type { Kysely } from 'kysely';
import type { BatchDevice } from '../providers/provider.ts';
import type { Database, Db } from '../storage/database.ts';
import { countDevicesInRange, devicesInRange, matchedInRange } from './device-ranges.ts';
import type { DispatchStore, PreparedBatch, TaskSend } from './dispatch-store.ts';
import { cappedInRange, holdBackCapped, noteFrequencySends } from './frequency-cap.ts';
import { stopAcknowledged } from './stop-store.ts';

/** The columns of a `batches` row that re-reading a prepared batch needs. */
interface PreparedRow {
  seq: number;
  first_device_id: string;
  last_device_id: string;
  device_count: number;
  attempts: number;
  /** The task's `capped` counter: 0 when the frequency cap held back none of its devices. */
  task_capped: number;
}

/** An audience range taken for a batch: its members, and the app's devices among them. */
interface WrittenRange {
  members: number;
  first: string;
  last: string;
  /** The app's active devices among the members. */
  devices: BatchDevice[];
  denseRange: boolean;
}

/** Thrown inside a write-ahead transaction that found the task stopped: it rolls back. */
class StopAcknowledged extends Error {}

/**
 * The devices of `inRange` that are audience members of `ids`; both lists in device ID order, so one
 * pass does it.
 */
function membersAmong(ids: readonly { device_id: string }[], inRange: BatchDevice[]): BatchDevice[] {
  const devices: BatchDevice[] = [];
  let i = 0;
  for (const device of inRange) {
    while (i < ids.length && ids[i]!.device_id < device.deviceId) i++;
    if (i < ids.length && ids[i]!.device_id === device.deviceId) devices.push(device);
  }
  return devices;
}

/** The store's operations on batches written ahead and not recorded yet. */
export function createPrepareStore(
  db: Db,
): Pick<DispatchStore, 'preparedBatches' | 'preparedBatch' | 'prepareBatch'> {
  /** The task's `prepared` batches, with the task's capped count. */
  const preparedRows = (taskId: string) =>
    db
      .selectFrom('batches as b')
      .innerJoin('tasks as t', 't.id', 'b.task_id')
      .select([
        'b.seq',
        'b.first_device_id',
        'b.last_device_id',
        'b.device_count',
        'b.attempts',
        't.capped as task_capped',
      ])
      .where('b.task_id', '=', taskId)
      .where('b.status', '=', 'prepared');

  /**
   * A `prepared` batch with its devices re-read from the audience and the app (after a restart, or in
   * another worker): the range's members and the app's devices in it are scanned and merged (two
   * sequential reads), unless the app has many more devices in the range than the batch has members
   * (a sparse audience): then the audience is joined to the devices.
   */
  async function readPrepared(send: TaskSend, b: PreparedRow, now: string): Promise<PreparedBatch> {
    const first = b.first_device_id;
    const last = b.last_device_id;
    const ids = await db
      .selectFrom('audience_members')
      .select('device_id')
      .where('audience_id', '=', send.audienceId)
      .where('device_id', '>=', first)
      .where('device_id', '<=', last)
      .orderBy('device_id')
      .execute();
    // Twice the members: a range whose devices are mostly members is still cheaper to scan than to join.
    const scanLimit = 2 * ids.length + 1;
    const inRange = await devicesInRange(db, send, first, last)
      .select(['d.device_id as deviceId', 'd.push_token as pushToken', 'd.channel'])
      .orderBy('d.device_id')
      .limit(scanLimit)
      .execute();
    let matched: BatchDevice[];
    let denseRange: boolean;
    if (inRange.length < scanLimit) {
      matched = membersAmong(ids, inRange);
      denseRange = matched.length === inRange.length;
    } else {
      matched = await matchedInRange(db, send, first, last)
        .select(['d.device_id as deviceId', 'd.push_token as pushToken', 'd.channel'])
        .orderBy('m.device_id')
        .execute();
      denseRange = false;
    }
    // Devices the frequency cap held back when the batch was written have their result already (none
    // when the task has no capped device at all).
    const capped =
      Number(b.task_capped) > 0 ? await cappedInRange(db, send.taskId, first, last) : new Set<string>();
    const devices = capped.size === 0 ? matched : matched.filter((d) => !capped.has(d.deviceId));
    return {
      ...(capped.size > 0 && { capped: capped.size }),
      seq: b.seq,
      firstDeviceId: first,
      lastDeviceId: last,
      preparedCount: b.device_count,
      devices,
      readAt: now,
      denseRange,
      attempts: b.attempts,
    };
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
  ): Promise<WrittenRange | null> {
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
        const devices = membersAmong(ids, inRange);
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

  return {
    async preparedBatches(send, now) {
      const batches = await preparedRows(send.taskId).orderBy('b.seq').execute();
      const prepared: PreparedBatch[] = [];
      for (const b of batches) prepared.push(await readPrepared(send, b, now));
      return prepared;
    },

    async preparedBatch(send, seq, now) {
      const b = await preparedRows(send.taskId).where('b.seq', '=', seq).executeTakeFirst();
      return b ? readPrepared(send, b, now) : null;
    },

    async prepareBatch(send, size, now, handingOver) {
      try {
        return await writeAhead(send, size, now, handingOver);
      } catch (error) {
        if (error instanceof StopAcknowledged) return { batch: null, send, stopped: true as const };
        throw error;
      }
    },
  };

  /** `prepareBatch` in one transaction; throws `StopAcknowledged` (writing nothing) once the task is stopped. */
  async function writeAhead(send: TaskSend, size: number, now: string, handingOver: boolean) {
    return db.transaction().execute(async (trx) => {
      const range = await readRange(trx, send, size);
      if (range === null) {
        if (await stopAcknowledged(trx, send.taskId)) throw new StopAcknowledged();
        return null;
      }
      const { first, last, denseRange } = range;
      const unmatched = range.members - range.devices.length;
      const { devices, capped, cap } = await holdBackCapped(trx, send, range, now);
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
        if (cap !== null) await noteFrequencySends(trx, send, seq, devices, now);
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
      const batch: PreparedBatch | null =
        devices.length > 0
          ? {
              seq,
              firstDeviceId: first,
              lastDeviceId: last,
              preparedCount: devices.length,
              devices,
              readAt: now,
              // Capped devices have their result already: recording skips them (`capped`).
              denseRange,
              attempts: handingOver ? 1 : 0,
              ...(capped > 0 && { capped }),
            }
          : null;
      // Serialised against the stop, last so that the task row stays locked only until the commit:
      // once the stop is acknowledged, this rolls back and nothing more is written ahead.
      if (await stopAcknowledged(trx, send.taskId)) throw new StopAcknowledged();
      // The send as it stands now: the caller's copy is left as it was read.
      return { batch, send: { ...send, cursor: last, batches: seq, lastRangeDense: denseRange } };
    });
  }
}
