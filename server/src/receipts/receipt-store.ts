/**
 * Every SQL statement of receipt ingestion, behind the `ReceiptStore` interface: the lookups that
 * resolve and check a request's receipts, the conditional writes that apply them to device results,
 * the held and late receipts, and the unreadable items kept for an operator. The ingestion logic
 * (`receipt-ingest.ts`) and the dispatcher's recording of a batch (`applyHeldReceipts`) talk to
 * storage through it only.
 *
 * The writes make every receipt kind count a device at most once per task, however often, in
 * whatever order and however concurrently it is reported: a write only changes a row that does not
 * have the receipt yet, and only the rows it changed move the task's counters — in the same
 * transaction, so statistics and device results always agree. They are set-based: one statement per
 * receipt kind for a whole transaction, its rows passed as one JSON parameter, so a batch of
 * thousands of receipts costs a handful of statements.
 */
import { type Kysely, sql } from 'kysely';
import { newId } from '../ids.ts';
import type { Database, Db, ReceiptKind } from '../storage/database.ts';
import { jsonArrayRows, lockRowsInKeyOrder, selectForUpdate } from '../storage/dialect.ts';
import { changesPerRow } from '../storage/sqlite.ts';
import {
  type ApplicableReceipt,
  type CounterMoves,
  impliedDeliveries,
  noMoves,
  pairKey,
  RECEIPT_KINDS,
  type TaskFacts,
} from './receipt-classification.ts';

/** The app a provider callback is addressed to, with what its authentication needs. */
export interface ReceivingApp {
  id: string;
  platform: string;
  provider: string;
  receipt_secret: string;
}

/** A batch as a provider receipt finds it: its task, and the audience device range it was taken from. */
export interface BatchRange {
  taskId: string;
  firstDeviceId: string;
  lastDeviceId: string;
}

/** A batch named by its batch ID (Umeng `thirdparty_id`), already split into task and number. */
export interface NamedBatch {
  /** The batch ID as the receipt gave it: the key of the answer. */
  id: string;
  taskId: string;
  seq: number;
}

/** The send result a device result holds (`capped`, `cancelled`: never handed over). */
export type SendResult = 'success' | 'failure' | 'no_feedback' | 'capped' | 'cancelled';

/** The statements of one receipt transaction; see `ReceiptStore.transaction`. */
export interface ReceiptTransaction {
  /**
   * Locks the device results of `receipts` in key order before any write (PostgreSQL; SQLite has one
   * writer and needs none), so two concurrent transactions never take the same rows in opposite orders.
   */
  lockDeviceResults(receipts: readonly ApplicableReceipt[]): Promise<void>;
  /** Applies the deliveries `receipts` imply to results still `no_feedback`; answers the pairs it turned `success`. */
  applyImpliedDeliveries(receipts: readonly ApplicableReceipt[]): Promise<Set<string>>;
  /** Writes the receipts of one kind to the results that do not have it yet; answers the pairs it changed. */
  applyKind(kind: ReceiptKind, receipts: readonly ApplicableReceipt[]): Promise<Set<string>>;
  /** Records late receipts of one kind, once per (task, device, kind) ever; answers the pairs it recorded. */
  recordLate(kind: ReceiptKind, receipts: readonly ApplicableReceipt[]): Promise<Set<string>>;
  /** The send result of each receipt's device result, by `pairKey`; devices without one are absent. */
  existingResults(receipts: readonly ApplicableReceipt[]): Promise<Map<string, SendResult>>;
  /** Holds a receipt for a prepared batch covering its device of `appId`; answers false when none does or it was held already. */
  hold(appId: string, receipt: ApplicableReceipt): Promise<boolean>;
  /** Whether the same receipt (task, device, kind) is already held. */
  isHeld(receipt: ApplicableReceipt): Promise<boolean>;
  /** Adds one task's moves (and `late` receipts) to its counters. */
  moveCounters(taskId: string, moves: CounterMoves, late: number): Promise<void>;
}

/** Receipt storage: what ingestion reads, and the transaction it writes in. */
export interface ReceiptStore {
  /** The app `appId`, or undefined when there is none. */
  receivingApp(appId: string): Promise<ReceivingApp | undefined>;
  /** Keeps the raw form of unreadable callback items within the app's cap; see `keepUnreadable` below. */
  keepUnreadable(appId: string, items: unknown[], now: Date): Promise<{ stored: number; dropped: number }>;
  /** The batches of the app named by batch IDs, by batch ID. */
  batchesById(appId: string, batches: readonly NamedBatch[]): Promise<Map<string, BatchRange>>;
  /** The batches of the app by the provider reference recorded with them. */
  batchesByRef(appId: string, refs: readonly string[]): Promise<Map<string, BatchRange>>;
  /** The IDs of the app's devices holding each of `tokens`, by token. */
  devicesOfTokens(appId: string, tokens: readonly string[]): Promise<Map<string, string[]>>;
  /** The facts of the tasks `taskIds` that exist, by task ID. */
  taskFacts(taskIds: readonly string[]): Promise<Map<string, TaskFacts>>;
  /** Runs `work` in one transaction: everything it writes commits together, or nothing does. */
  transaction<T>(work: (tx: ReceiptTransaction) => Promise<T>): Promise<T>;
}

// Bound variables per statement stay far below every backend's limit.
const LOOKUP_CHUNK = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The receipt store over `db`. */
export function createReceiptStore(db: Db): ReceiptStore {
  return {
    receivingApp: (appId) =>
      db
        .selectFrom('apps')
        .select(['id', 'platform', 'provider', 'receipt_secret'])
        .where('id', '=', appId)
        .executeTakeFirst(),
    keepUnreadable: (appId, items, now) => keepUnreadable(db, appId, items, now),
    batchesById: (appId, batches) => batchesById(db, appId, batches),
    batchesByRef: (appId, refs) => batchesByRef(db, appId, refs),
    devicesOfTokens: (appId, tokens) => devicesOfTokens(db, appId, tokens),
    taskFacts: (taskIds) => taskFacts(db, taskIds),
    transaction: (work) => db.transaction().execute((trx) => work(receiptTransaction(trx))),
  };
}

function receiptTransaction(trx: Db): ReceiptTransaction {
  return {
    lockDeviceResults: (receipts) => lockDeviceResults(trx, receipts),
    applyImpliedDeliveries: (receipts) => applyKind(trx, 'delivered', impliedDeliveries(receipts)),
    applyKind: (kind, receipts) => applyKind(trx, kind, receipts),
    recordLate: (kind, receipts) => recordLate(trx, kind, receipts),
    existingResults: (receipts) => existingResults(trx, receipts),
    hold: (appId, receipt) => hold(trx, appId, receipt),
    isHeld: (receipt) => isHeld(trx, receipt),
    moveCounters: (taskId, moves, late) => moveCounters(trx, taskId, moves, late),
  };
}

/**
 * Applies the receipts held for a batch that was not recorded when they arrived, inside the
 * transaction that records it (after its device results are written), and forgets them. A held
 * receipt for a device that turned out not to be in the batch changes nothing.
 */
export async function applyHeldReceipts(
  trx: Kysely<Database>,
  taskId: string,
  batchSeq: number,
): Promise<CounterMoves> {
  const moves = noMoves();
  const held = await trx
    .selectFrom('held_receipts')
    .select(['device_id', 'kind', 'at', 'channel'])
    .where('task_id', '=', taskId)
    .where('batch_seq', '=', batchSeq)
    .execute();
  if (held.length === 0) return moves;
  for (const kind of RECEIPT_KINDS) {
    const receipts = held
      .filter((h) => h.kind === kind)
      .map((h) => ({ taskId, deviceId: h.device_id, kind, at: h.at, channel: h.channel ?? null }));
    moves.delivered += (await applyKind(trx, 'delivered', impliedDeliveries(receipts))).size;
    moves[kind] += (await applyKind(trx, kind, receipts)).size;
  }
  await moveCounters(trx, taskId, moves);
  await trx
    .deleteFrom('held_receipts')
    .where('task_id', '=', taskId)
    .where('batch_seq', '=', batchSeq)
    .execute();
  return moves;
}

/** The receipt column of each kind a device result records its time in. */
const TIME_COLUMN = {
  delivered: 'delivered_at',
  impression: 'impression_at',
  open: 'open_at',
  dismissal: 'dismissal_at',
} as const satisfies Record<ReceiptKind, string>;

/**
 * Writes the receipts of one kind to the device results that do not have it yet and answers the
 * (task, device) pairs it changed. A delivery receipt turns `no_feedback` into `success` (and is a
 * no-op on a device already `success`, e.g. on iOS where acceptance is delivery); the other kinds set
 * their time once. No kind applies to a device the provider rejected. Several receipts for the same
 * device in `receipts` change its row once.
 */
async function applyKind(
  executor: Kysely<Database>,
  kind: ReceiptKind,
  receipts: readonly ApplicableReceipt[],
): Promise<Set<string>> {
  const changed = new Set<string>();
  if (receipts.length === 0) return changed;
  const target = sql.id(TIME_COLUMN[kind]);
  const condition = takesReceipt(kind);
  const setResult = kind === 'delivered' ? sql`, send_result = 'success'` : sql``;
  // The channel a delivery receipt reports (Umeng `channel`: the vendor channel that delivered)
  // replaces the registered one; a receipt without one leaves it. Other kinds say nothing of delivery.
  // Embedded: one prepared statement per receipt, the cheaper form in-process (`changesPerRow`). A
  // receipt whose device already took one of the same kind (a copy earlier in `receipts`) changes
  // nothing, so a device is updated once, with the first of them.
  const perRow = await changesPerRow(
    executor,
    sql`update device_results as r set ${target} = ${''}${setResult}${
      kind === 'delivered' ? sql`, channel = coalesce(${''}, r.channel)` : sql``
    } where r.task_id = ${''} and r.device_id = ${''} and ${condition}`.compile(executor),
    receipts.map((r) =>
      kind === 'delivered' ? [r.at, r.channel ?? null, r.taskId, r.deviceId] : [r.at, r.taskId, r.deviceId],
    ),
  );
  if (perRow) {
    perRow.forEach((took, i) => {
      if (took) changed.add(pairKey(receipts[i]!.taskId, receipts[i]!.deviceId));
    });
    return changed;
  }
  const rows = JSON.stringify(receipts.map((r) => [r.taskId, r.deviceId, r.at, r.channel ?? null]));
  // UPDATE … FROM (SQLite and PostgreSQL alike): the JSON rows drive the join and each finds its device
  // result by primary key. When several rows match one device, it is updated once, with one of them.
  // The JSON columns have names of their own: SQLite's RETURNING takes only unqualified columns of the
  // updated table, and PostgreSQL would find `task_id` ambiguous.
  const setChannel = kind === 'delivered' ? sql`, channel = coalesce(j.for_channel, r.channel)` : sql``;
  const result = await sql<{ task_id: string; device_id: string }>`
    update device_results as r
    set ${target} = j.at${setResult}${setChannel}
    from (
      select value ->> 0 as for_task, value ->> 1 as for_device, value ->> 2 as at,
        value ->> 3 as for_channel
      from ${jsonArrayRows(executor, rows)} as e
    ) as j
    where r.task_id = j.for_task and r.device_id = j.for_device and ${condition}
    returning task_id, device_id`.execute(executor);
  for (const row of result.rows) changed.add(pairKey(row.task_id, row.device_id));
  return changed;
}

/**
 * The condition on a device result `r` under which a receipt of `kind` changes it: it does not have
 * that receipt yet (a delivery: it is still `no_feedback`), and it was handed over (not `capped` or
 * `cancelled`) and the provider did not reject it.
 */
function takesReceipt(kind: ReceiptKind) {
  return kind === 'delivered'
    ? sql`r.send_result = 'no_feedback'`
    : sql`${sql.ref(`r.${TIME_COLUMN[kind]}`)} is null and r.send_result not in ('failure', 'capped', 'cancelled')`;
}

/**
 * Records late receipts of one kind (docs/operations.md#receipts-streams-and-exports) and answers the (task, device) pairs it recorded: each
 * pair once per kind, ever (`late_receipts` is keyed so), and only for a device result that would
 * have taken the receipt inside the window — a device of the send, not rejected by the provider,
 * without that receipt. A recorded pair moves the task's `late` counter and nothing else.
 */
async function recordLate(
  executor: Kysely<Database>,
  kind: ReceiptKind,
  receipts: readonly ApplicableReceipt[],
): Promise<Set<string>> {
  const recorded = new Set<string>();
  if (receipts.length === 0) return recorded;
  const rows = JSON.stringify(receipts.map((r) => [r.taskId, r.deviceId]));
  // The join to the device results is the membership check; the primary key the de-duplication,
  // against copies in this statement (DISTINCT), earlier requests and concurrent ones (ON CONFLICT).
  // The WHERE also lets SQLite tell the upsert's ON from a join's.
  const result = await sql<{ task_id: string; device_id: string }>`
    insert into late_receipts (task_id, device_id, kind)
    select distinct r.task_id, r.device_id, cast(${kind} as text)
    from (
      select value ->> 0 as for_task, value ->> 1 as for_device
      from ${jsonArrayRows(executor, rows)} as e
    ) as j
    join device_results as r on r.task_id = j.for_task and r.device_id = j.for_device
    where ${takesReceipt(kind)}
    on conflict do nothing
    returning task_id, device_id`.execute(executor);
  for (const row of result.rows) recorded.add(pairKey(row.task_id, row.device_id));
  return recorded;
}

/** What each receipt that did not change a row found instead: its result's send result, or nothing. */
async function existingResults(
  executor: Kysely<Database>,
  receipts: readonly ApplicableReceipt[],
): Promise<Map<string, SendResult>> {
  const found = new Map<string, SendResult>();
  if (receipts.length === 0) return found;
  const rows = JSON.stringify(receipts.map((r) => [r.taskId, r.deviceId]));
  const result = await sql<{ task_id: string; device_id: string; send_result: string }>`
    select r.task_id, r.device_id, r.send_result
    from ${jsonArrayRows(executor, rows)} as j
    join device_results as r on r.task_id = j.value ->> 0 and r.device_id = j.value ->> 1`.execute(executor);
  for (const row of result.rows) {
    found.set(pairKey(row.task_id, row.device_id), row.send_result as SendResult);
  }
  return found;
}

/** Adds the moves of one task to its counters (and `late` receipts, which count nowhere else). */
async function moveCounters(
  executor: Kysely<Database>,
  taskId: string,
  moves: CounterMoves,
  late = 0,
): Promise<void> {
  if (moves.delivered + moves.impression + moves.open + moves.dismissal + late === 0) return;
  await executor
    .updateTable('tasks')
    .set((eb) => ({
      deliveries: eb('deliveries', '+', moves.delivered),
      no_feedback: eb('no_feedback', '-', moves.delivered),
      impressions: eb('impressions', '+', moves.impression),
      opens: eb('opens', '+', moves.open),
      dismissals: eb('dismissals', '+', moves.dismissal),
      late: eb('late', '+', late),
    }))
    .where('id', '=', taskId)
    .execute();
}

/** Most unreadable receipts one app keeps (docs/operations.md#receipts-streams-and-exports); more are counted, not stored. */
export const UNREADABLE_ROWS_PER_APP = 10_000;

/** Most bytes of unreadable payload one app keeps (docs/operations.md#receipts-streams-and-exports: 50 MB). */
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
    const held = await selectForUpdate(trx, read).executeTakeFirstOrThrow();
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

/** The batches of the app named by batch IDs (Umeng `thirdparty_id`), by batch ID. */
async function batchesById(
  db: Db,
  appId: string,
  wanted: readonly NamedBatch[],
): Promise<Map<string, BatchRange>> {
  const found = new Map<string, BatchRange>();
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
async function batchesByRef(
  db: Db,
  appId: string,
  refs: readonly string[],
): Promise<Map<string, BatchRange>> {
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

async function devicesOfTokens(
  db: Db,
  appId: string,
  tokens: readonly string[],
): Promise<Map<string, string[]>> {
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
  return devicesOfToken;
}

async function taskFacts(db: Db, taskIds: readonly string[]): Promise<Map<string, TaskFacts>> {
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

async function lockDeviceResults(trx: Db, receipts: readonly ApplicableReceipt[]): Promise<void> {
  // The updates lock rows kind by kind, so two concurrent requests could take the same rows in
  // opposite orders and deadlock. Locking the chunk's rows first, in key order, makes every request
  // take them in one order (SQLite has one writer and never gets there).
  await lockRowsInKeyOrder(
    trx,
    'device_results',
    ['task_id', 'device_id'],
    receipts.map((c) => [c.taskId, c.deviceId]),
  );
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
