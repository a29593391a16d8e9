/**
 * Receipt ingestion (SPEC §5): checks each receipt of a request against its task, then applies the
 * good ones in one transaction and answers what became of every receipt. Nothing is acknowledged
 * before it is stored: the answer is computed from the committed transaction.
 *
 * A receipt is
 * - `accepted` when it changed a device result (or was held for a batch not recorded yet);
 * - `duplicate` when its device already had that receipt (a replay, a repeat, a concurrent copy);
 * - `late` when it arrived after the task's statistics window for a device of the send that would
 *   have taken it, the first time for that (task, device, kind) (counted on the task, nowhere else);
 * - `rejected` with a code otherwise: an unknown task or another app's, a device that was not in
 *   the task's send, a device the provider rejected, a kind the platform does not report (iOS
 *   dismissals), a time in the future, a task whose device details are gone, an item that could not
 *   be read.
 *
 * A late receipt is checked like any other — against the device results — so it needs them: once
 * the retention job has deleted a task's device results (or, for a device whose result is already
 * gone, once the retention window has passed) nobody can tell a device of the send from a made-up
 * one, nor a replay from a first report, so late receipts are then rejected as
 * `DEVICE_DETAILS_EXPIRED` and counted nowhere. With the default windows (statistics = retention =
 * 72 h) late receipts therefore count only until the retention job runs; a deployment that wants
 * them counted longer keeps retention longer than the statistics window.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Platform } from '../domain/task-content.ts';
import { areDetailsExpired, isStatisticsFinal, type WindowSettings } from '../domain/windows.ts';
import { newId } from '../ids.ts';
import type { Db, ReceiptKind } from '../storage/database.ts';
import { isPostgres, jsonArrayRows } from '../storage/dialect.ts';
import {
  type ApplicableReceipt,
  applyImpliedDeliveries,
  applyKind,
  type CounterMoves,
  existingResults,
  moveCounters,
  noMoves,
  pairKey,
  RECEIPT_KINDS,
  recordLate,
  taskOfPair,
} from './receipt-apply.ts';

/** Why a receipt was rejected: stable codes, listed per item in the answer's `errors`. */
export type RejectionCode =
  /** The item is not a receipt (missing or malformed fields). */
  | 'INVALID_RECEIPT'
  /** The task does not exist or belongs to another app. */
  | 'UNKNOWN_TASK'
  /** The task has not started sending: no device has been sent to. */
  | 'TASK_NOT_SENT'
  /** The device (or token) was not in the task's send. */
  | 'DEVICE_NOT_IN_SEND'
  /** The provider rejected the device: nothing was delivered to it. */
  | 'DEVICE_SEND_FAILED'
  /** The platform never reports this kind (iOS dismissals). */
  | 'KIND_NOT_SUPPORTED'
  /** The receipt's `at` is later than its arrival by more than `RECEIPT_CLOCK_SKEW_MS`. */
  | 'RECEIPT_TIME_IN_FUTURE'
  /** The task's device details are past retention: whether the device was in the send is unknown. */
  | 'DEVICE_DETAILS_EXPIRED';

/** One receipt of a request, at its position in the request body. */
export interface IncomingReceipt {
  /** Position in the request's list, echoed in `errors`. */
  index: number;
  taskId: string | null;
  deviceId: string | null;
  /** A provider's device token, for receipts that name no device ID (Umeng). */
  pushToken?: string | null;
  /** The batch ID the send carried (Umeng `thirdparty_id`), for receipts that name no task. */
  batchId?: string;
  /** A provider's reference of the send, for receipts that name no task (Umeng `msg_id`/`task_id`). */
  providerRef?: string;
  kind: ReceiptKind;
  at: Date;
  /** The channel the provider reports the device was reached through; kept on the device result. */
  channel?: string;
}

/** What became of a request's receipts (the SPEC §6.1 answer). */
export interface ReceiptTally {
  accepted: number;
  duplicate: number;
  rejected: number;
  late: number;
  errors: { index: number; code: RejectionCode }[];
}

/** The app the receipts are for (the one that authenticated the request). */
export interface ReceiptApp {
  id: string;
  platform: Platform;
}

interface TaskFacts {
  appId: string;
  startedAt: string | null;
  detailsPurgedAt: string | null;
}

/**
 * How far a receipt's `at` may be ahead of its arrival, in milliseconds: device clocks drift a
 * little, and such a time is kept as the arrival. Further ahead, the receipt is refused
 * (`RECEIPT_TIME_IN_FUTURE`): a time in the future is no fact, and it must not decide the window.
 */
export const RECEIPT_CLOCK_SKEW_MS = 5 * 60_000;

/** A checked receipt on its way to the device results, with what its checks found. */
interface Candidate extends ApplicableReceipt {
  index: number;
  /** After the statistics window: recorded in `late_receipts` instead of applied. */
  late: boolean;
  /** Past the retention window: a device without a result can no longer be checked. */
  detailsExpired: boolean;
}

// Bound variables per statement stay far below every backend's limit.
const LOOKUP_CHUNK = 500;

/** Receipts applied per transaction: short enough that other requests never wait long behind one. */
export const RECEIPTS_PER_TRANSACTION = 250;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Most unreadable receipts one app keeps (SPEC §9); more are counted, not stored. */
export const UNREADABLE_ROWS_PER_APP = 10_000;

/** Most bytes of unreadable payload one app keeps (SPEC §9: 50 MB). */
export const UNREADABLE_BYTES_PER_APP = 50_000_000;

/** Longest payload kept of one unreadable item, in characters: a pathological item is cut, not refused. */
const UNREADABLE_PAYLOAD_CHARS = 64 * 1024;

/**
 * Keeps the raw form of callback items nobody could read, for an operator to look at, within the
 * app's cap: in arrival order until `UNREADABLE_ROWS_PER_APP` rows or `UNREADABLE_BYTES_PER_APP`
 * bytes are held, the rest counted in the app's `dropped` tally only (the request's answer counts
 * every one of them either way). Answers how many were stored and how many dropped. The tally row is
 * read and moved in the transaction that inserts, locked on PostgreSQL, so concurrent callbacks
 * never overshoot the cap together.
 */
export async function keepUnreadable(
  db: Db,
  appId: string,
  items: unknown[],
  now: Date,
): Promise<{ stored: number; dropped: number }> {
  if (items.length === 0) return { stored: 0, dropped: 0 };
  const receivedAt = now.toISOString();
  return db.transaction().execute(async (trx) => {
    await trx
      .insertInto('unreadable_receipt_counts')
      .values({ app_id: appId, stored_rows: 0, stored_bytes: 0, dropped: 0 })
      .onConflict((oc) => oc.column('app_id').doNothing())
      .execute();
    const read = trx
      .selectFrom('unreadable_receipt_counts')
      .select(['stored_rows', 'stored_bytes'])
      .where('app_id', '=', appId);
    // SQLite has one writer at a time and no FOR UPDATE.
    const held = await (isPostgres(trx) ? read.forUpdate() : read).executeTakeFirstOrThrow();
    let rows = Number(held.stored_rows);
    let bytes = Number(held.stored_bytes);
    const kept: { payload: string; bytes: number }[] = [];
    for (const item of items) {
      const payload = (JSON.stringify(item) ?? 'null').slice(0, UNREADABLE_PAYLOAD_CHARS);
      const size = Buffer.byteLength(payload);
      if (rows + 1 > UNREADABLE_ROWS_PER_APP || bytes + size > UNREADABLE_BYTES_PER_APP) break;
      kept.push({ payload, bytes: size });
      rows++;
      bytes += size;
    }
    for (const part of chunks(kept, LOOKUP_CHUNK)) {
      await trx
        .insertInto('unreadable_receipts')
        .values(
          part.map((k) => ({
            id: newId('rcp'),
            app_id: appId,
            received_at: receivedAt,
            payload: k.payload,
            payload_bytes: k.bytes,
          })),
        )
        .execute();
    }
    const dropped = items.length - kept.length;
    await trx
      .updateTable('unreadable_receipt_counts')
      .set({ stored_rows: rows, stored_bytes: bytes, dropped: sql`dropped + ${dropped}` })
      .where('app_id', '=', appId)
      .execute();
    return { stored: kept.length, dropped };
  });
}

/** A batch as a provider receipt finds it: its task, and the audience device range it was taken from. */
interface BatchRange {
  taskId: string;
  firstDeviceId: string;
  lastDeviceId: string;
}

/**
 * The task ID and batch number of a batch ID: the inverse of `batchIdOf` in dispatch/sender.ts
 * (`<taskId>-<seq>`), or null when `batchId` cannot be one.
 */
export function parseBatchId(batchId: string): { taskId: string; seq: number } | null {
  const dash = batchId.lastIndexOf('-');
  const seq = Number(batchId.slice(dash + 1));
  if (dash <= 0 || !/^\d{1,9}$/.test(batchId.slice(dash + 1)) || !Number.isSafeInteger(seq)) return null;
  return { taskId: batchId.slice(0, dash), seq };
}

/** The batches of the app named by batch IDs (Umeng `thirdparty_id`), by batch ID. */
async function batchesById(db: Db, appId: string, batchIds: string[]): Promise<Map<string, BatchRange>> {
  const found = new Map<string, BatchRange>();
  const wanted = batchIds.flatMap((id) => {
    const parsed = parseBatchId(id);
    return parsed ? [{ id, ...parsed }] : [];
  });
  for (const part of chunks(wanted, LOOKUP_CHUNK / 2)) {
    const rows = await db
      .selectFrom('batches')
      .innerJoin('tasks', 'tasks.id', 'batches.task_id')
      .select(['batches.task_id', 'batches.seq', 'batches.first_device_id', 'batches.last_device_id'])
      .where('tasks.app_id', '=', appId)
      .where((eb) =>
        eb.or(part.map((b) => eb.and([eb('batches.task_id', '=', b.taskId), eb('batches.seq', '=', b.seq)]))),
      )
      .execute();
    for (const row of rows) {
      found.set(`${row.task_id}-${Number(row.seq)}`, {
        taskId: row.task_id,
        firstDeviceId: row.first_device_id,
        lastDeviceId: row.last_device_id,
      });
    }
  }
  return found;
}

/** The batches of the app by the provider reference recorded with them (Umeng `msg_id`/`task_id`). */
async function batchesByRef(db: Db, appId: string, refs: string[]): Promise<Map<string, BatchRange>> {
  const found = new Map<string, BatchRange>();
  for (const part of chunks(refs, LOOKUP_CHUNK)) {
    const rows = await db
      .selectFrom('batches')
      .innerJoin('tasks', 'tasks.id', 'batches.task_id')
      .select([
        'batches.provider_ref',
        'batches.task_id',
        'batches.first_device_id',
        'batches.last_device_id',
      ])
      .where('batches.provider_ref', 'in', part)
      .where('tasks.app_id', '=', appId)
      .execute();
    for (const row of rows) {
      found.set(row.provider_ref!, {
        taskId: row.task_id,
        firstDeviceId: row.first_device_id,
        lastDeviceId: row.last_device_id,
      });
    }
  }
  return found;
}

/**
 * Gives task and device IDs to receipts that name a batch (`batchId`, else the provider's reference)
 * and device tokens instead (Umeng). A token becomes every device of the app holding it within the
 * batch's device range — one receipt each, at the same index — so a receipt moves exactly the devices
 * of that batch whose tokens it names. A receipt whose batch is unknown keeps a null task (rejected
 * as `UNKNOWN_TASK`); a token no device of the batch holds keeps a null device (`DEVICE_NOT_IN_SEND`).
 */
async function resolveProviderReceipts(
  db: Db,
  appId: string,
  receipts: IncomingReceipt[],
): Promise<IncomingReceipt[]> {
  const unnamed = receipts.filter((r) => !r.taskId);
  const byId = await batchesById(db, appId, [
    ...new Set(unnamed.flatMap((r) => (r.batchId ? [r.batchId] : []))),
  ]);
  const byRef = await batchesByRef(db, appId, [
    ...new Set(
      unnamed.flatMap((r) => (r.providerRef && !(r.batchId && byId.has(r.batchId)) ? [r.providerRef] : [])),
    ),
  ]);
  const tokens = [...new Set(receipts.filter((r) => !r.deviceId && r.pushToken).map((r) => r.pushToken!))];
  const devicesOfToken = new Map<string, string[]>();
  for (const part of chunks(tokens, LOOKUP_CHUNK)) {
    const rows = await db
      .selectFrom('devices')
      .select(['device_id', 'push_token'])
      .where('app_id', '=', appId)
      .where('push_token', 'in', part)
      .execute();
    for (const row of rows) {
      const ids = devicesOfToken.get(row.push_token) ?? [];
      ids.push(row.device_id);
      devicesOfToken.set(row.push_token, ids);
    }
  }
  const resolved: IncomingReceipt[] = [];
  for (const receipt of receipts) {
    const batch =
      receipt.taskId === null
        ? ((receipt.batchId ? byId.get(receipt.batchId) : undefined) ??
          (receipt.providerRef ? byRef.get(receipt.providerRef) : undefined))
        : undefined;
    const taskId = receipt.taskId ?? batch?.taskId ?? null;
    if (receipt.deviceId || !receipt.pushToken) {
      resolved.push({ ...receipt, taskId });
      continue;
    }
    const holders = (devicesOfToken.get(receipt.pushToken) ?? []).filter(
      (id) => batch === undefined || (id >= batch.firstDeviceId && id <= batch.lastDeviceId),
    );
    if (holders.length === 0) resolved.push({ ...receipt, taskId, deviceId: null });
    for (const deviceId of holders) resolved.push({ ...receipt, taskId, deviceId });
  }
  return resolved;
}

async function loadTasks(db: Db, taskIds: string[]): Promise<Map<string, TaskFacts>> {
  const tasks = new Map<string, TaskFacts>();
  for (const part of chunks(taskIds, LOOKUP_CHUNK)) {
    const rows = await db
      .selectFrom('tasks')
      .select(['id', 'app_id', 'started_at', 'details_purged_at'])
      .where('id', 'in', part)
      .execute();
    for (const row of rows) {
      tasks.set(row.id, {
        appId: row.app_id,
        startedAt: row.started_at,
        detailsPurgedAt: row.details_purged_at,
      });
    }
  }
  return tasks;
}

/**
 * Checks and applies one request's receipts for `app` at `now`; answers what became of each.
 * Receipt times are kept as reported, but never before the task started nor after `now` (a device's
 * clock can be a little wrong; more than `RECEIPT_CLOCK_SKEW_MS` ahead is refused); the window is
 * judged by both the reported time and the arrival.
 */
export async function ingestReceipts(
  db: Db,
  app: ReceiptApp,
  receipts: IncomingReceipt[],
  now: Date,
  windows: WindowSettings,
): Promise<ReceiptTally> {
  const tally: ReceiptTally = { accepted: 0, duplicate: 0, rejected: 0, late: 0, errors: [] };
  const reject = (receipt: IncomingReceipt, code: RejectionCode) => {
    tally.rejected++;
    tally.errors.push({ index: receipt.index, code });
  };
  if (receipts.some((r) => !r.taskId || !r.deviceId)) {
    receipts = await resolveProviderReceipts(db, app.id, receipts);
  }
  const tasks = await loadTasks(db, [...new Set(receipts.flatMap((r) => (r.taskId ? [r.taskId] : [])))]);

  const candidates: Candidate[] = [];
  for (const receipt of receipts) {
    const task = receipt.taskId ? tasks.get(receipt.taskId) : undefined;
    if (!receipt.taskId || !task || task.appId !== app.id) reject(receipt, 'UNKNOWN_TASK');
    else if (task.startedAt === null) reject(receipt, 'TASK_NOT_SENT');
    else if (!receipt.deviceId) reject(receipt, 'DEVICE_NOT_IN_SEND');
    else if (receipt.kind === 'dismissal' && app.platform === 'ios') reject(receipt, 'KIND_NOT_SUPPORTED');
    else if (receipt.at.getTime() > now.getTime() + RECEIPT_CLOCK_SKEW_MS)
      reject(receipt, 'RECEIPT_TIME_IN_FUTURE');
    // Purged: on PostgreSQL the rows may still sit in their day partition, but they are gone for good.
    else if (task.detailsPurgedAt !== null) reject(receipt, 'DEVICE_DETAILS_EXPIRED');
    else {
      const at = Math.min(Math.max(receipt.at.getTime(), Date.parse(task.startedAt)), now.getTime());
      candidates.push({
        index: receipt.index,
        taskId: receipt.taskId,
        deviceId: receipt.deviceId,
        kind: receipt.kind,
        at: new Date(at).toISOString(),
        ...(receipt.channel !== undefined && { channel: receipt.channel }),
        late:
          isStatisticsFinal(task.startedAt, now, windows) ||
          isStatisticsFinal(task.startedAt, receipt.at, windows),
        detailsExpired: areDetailsExpired(task.startedAt, now, windows),
      });
    }
  }

  // Sorted by device result key, the conditional writes walk the B-tree in order. Applied in short
  // transactions with a yield between them: better-sqlite3 is synchronous, and one long transaction
  // would hold every other request (a console page, another receipt batch) for its whole length. A
  // crash between two of them leaves part of the request stored and unacknowledged; the sender's
  // retry then finds those as duplicates, so nothing counts twice.
  candidates.sort((a, b) =>
    a.taskId === b.taskId
      ? a.deviceId < b.deviceId
        ? -1
        : a.deviceId > b.deviceId
          ? 1
          : 0
      : a.taskId < b.taskId
        ? -1
        : 1,
  );
  const outcome = { accepted: 0, duplicate: 0, late: 0, errors: [] as ReceiptTally['errors'] };
  for (let start = 0; start < candidates.length; start += RECEIPTS_PER_TRANSACTION) {
    if (start > 0) await yieldToEventLoop();
    const chunk = candidates.slice(start, start + RECEIPTS_PER_TRANSACTION);
    const part = await db.transaction().execute((trx) => applyChunk(trx, app.id, chunk));
    outcome.accepted += part.accepted;
    outcome.duplicate += part.duplicate;
    outcome.late += part.late;
    outcome.errors.push(...part.errors);
  }

  tally.accepted = outcome.accepted;
  tally.duplicate = outcome.duplicate;
  tally.late = outcome.late;
  tally.rejected += outcome.errors.length;
  tally.errors.push(...outcome.errors);
  tally.errors.sort((a, b) => a.index - b.index);
  return tally;
}

/**
 * Applies (or records late) one transaction's worth of checked receipts and moves the counters;
 * answers what became of them.
 */
async function applyChunk(
  trx: Db,
  appId: string,
  candidates: Candidate[],
): Promise<{ accepted: number; duplicate: number; late: number; errors: ReceiptTally['errors'] }> {
  const moves = new Map<string, CounterMoves>();
  const movesOf = (taskId: string) => {
    let m = moves.get(taskId);
    if (!m) {
      m = noMoves();
      moves.set(taskId, m);
    }
    return m;
  };
  const lateByTask = new Map<string, number>();
  let accepted = 0;
  let late = 0;
  const unchanged: Candidate[] = [];
  if (isPostgres(trx) && candidates.length > 0) {
    // The updates below lock rows kind by kind, so two concurrent requests could take the same rows
    // in opposite orders and deadlock. Locking the chunk's rows first, in key order, makes every
    // request take them in one order (SQLite has one writer and never gets there).
    const keys = JSON.stringify(candidates.map((c) => [c.taskId, c.deviceId]));
    await sql`
      select 1 from device_results as r
      where (r.task_id, r.device_id) in (select value ->> 0, value ->> 1 from ${jsonArrayRows(trx, keys)} as j)
      order by r.task_id, r.device_id
      for update`.execute(trx);
  }
  for (const kind of RECEIPT_KINDS) {
    const inWindow = candidates.filter((c) => c.kind === kind && !c.late);
    // Kinds come delivered first, so a real delivery receipt of the request keeps its own time.
    for (const pair of await applyImpliedDeliveries(trx, inWindow)) movesOf(taskOfPair(pair)).delivered++;
    const changed = await applyKind(trx, kind, inWindow);
    for (const receipt of inWindow) {
      // The first receipt of a changed pair counts; its copies in the same request are duplicates.
      if (changed.delete(pairKey(receipt.taskId, receipt.deviceId))) {
        accepted++;
        movesOf(receipt.taskId)[kind]++;
      } else unchanged.push(receipt);
    }
    const afterWindow = candidates.filter((c) => c.kind === kind && c.late);
    const recorded = await recordLate(trx, kind, afterWindow);
    for (const receipt of afterWindow) {
      if (recorded.delete(pairKey(receipt.taskId, receipt.deviceId))) {
        late++;
        lateByTask.set(receipt.taskId, (lateByTask.get(receipt.taskId) ?? 0) + 1);
      } else unchanged.push(receipt);
    }
  }

  const errors: ReceiptTally['errors'] = [];
  let duplicate = 0;
  const found = await existingResults(trx, unchanged);
  for (const receipt of unchanged) {
    const sendResult = found.get(pairKey(receipt.taskId, receipt.deviceId));
    if (sendResult === 'failure') errors.push({ index: receipt.index, code: 'DEVICE_SEND_FAILED' });
    else if (sendResult !== undefined) duplicate++;
    else if (receipt.detailsExpired) errors.push({ index: receipt.index, code: 'DEVICE_DETAILS_EXPIRED' });
    // Only a recorded device result can vouch for a late receipt: none is held for a later batch.
    else if (receipt.late) errors.push({ index: receipt.index, code: 'DEVICE_NOT_IN_SEND' });
    else if (await hold(trx, appId, receipt)) accepted++;
    else if (await isHeld(trx, receipt)) duplicate++;
    else errors.push({ index: receipt.index, code: 'DEVICE_NOT_IN_SEND' });
  }

  // Task rows too are locked in one order (their IDs sorted), for the same reason.
  for (const taskId of [...new Set([...moves.keys(), ...lateByTask.keys()])].sort()) {
    await moveCounters(trx, taskId, moves.get(taskId) ?? noMoves(), lateByTask.get(taskId) ?? 0);
  }
  return { accepted, duplicate, late, errors };
}

/**
 * Holds a receipt for a matched device of a batch that is written ahead but not recorded yet; the
 * recording applies it. Answers false when no such batch covers the device or it was held already.
 */
async function hold(trx: Db, appId: string, receipt: ApplicableReceipt): Promise<boolean> {
  const batch = await trx
    .selectFrom('batches')
    .select('seq')
    .where('task_id', '=', receipt.taskId)
    .where('status', '=', 'prepared')
    .where('first_device_id', '<=', receipt.deviceId)
    .where('last_device_id', '>=', receipt.deviceId)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('devices')
          .select('device_id')
          .where('app_id', '=', appId)
          .where('device_id', '=', receipt.deviceId),
      ),
    )
    .executeTakeFirst();
  if (!batch) return false;
  const inserted = await trx
    .insertInto('held_receipts')
    .values({
      task_id: receipt.taskId,
      batch_seq: batch.seq,
      device_id: receipt.deviceId,
      kind: receipt.kind,
      at: receipt.at,
      channel: receipt.channel ?? null,
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Whether the same receipt is already held (a repeat of a held one). */
async function isHeld(trx: Db, receipt: ApplicableReceipt): Promise<boolean> {
  const row = await trx
    .selectFrom('held_receipts')
    .select('task_id')
    .where('task_id', '=', receipt.taskId)
    .where('device_id', '=', receipt.deviceId)
    .where('kind', '=', receipt.kind)
    .executeTakeFirst();
  return row !== undefined;
}
