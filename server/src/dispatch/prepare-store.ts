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
}

/** The store's operations on batches written ahead and not recorded yet. */
export function createPrepareStore(
  db: Db,
): Pick<DispatchStore, 'preparedBatches' | 'preparedBatch' | 'prepareBatch'> {
  /** A `prepared` batch with its devices re-read from the audience and the app (after a restart, or in another worker). */
  async function readPrepared(send: TaskSend, b: PreparedRow, now: string): Promise<PreparedBatch> {
    const matched = await matchedInRange(db, send, b.first_device_id, b.last_device_id)
      .select(['d.device_id as deviceId', 'd.push_token as pushToken', 'd.channel'])
      .orderBy('m.device_id')
      .execute();
    // Devices the frequency cap held back when the batch was written have their result already.
    const capped = await cappedInRange(db, send.taskId, b.first_device_id, b.last_device_id);
    const devices = capped.size === 0 ? matched : matched.filter((d) => !capped.has(d.deviceId));
    const inRange = await countDevicesInRange(db, send, b.first_device_id, b.last_device_id);
    return {
      ...(capped.size > 0 && { capped: capped.size }),
      seq: b.seq,
      firstDeviceId: b.first_device_id,
      lastDeviceId: b.last_device_id,
      preparedCount: b.device_count,
      devices,
      readAt: now,
      denseRange: inRange === matched.length,
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

  return {
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

    async prepareBatch(send, size, now, handingOver) {
      return db.transaction().execute(async (trx) => {
        // Serialised against the stop: once it is acknowledged, nothing more is written ahead.
        if (await stopAcknowledged(trx, send.taskId)) return { batch: null, send, stopped: true as const };
        const range = await readRange(trx, send, size);
        if (range === null) return null;
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
        // The send as it stands now: the caller's copy is left as it was read.
        return { batch, send: { ...send, cursor: last, batches: seq, lastRangeDense: denseRange } };
      });
    },
  };
}
