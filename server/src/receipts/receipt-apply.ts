/**
 * Applying receipts to device results: the conditional writes that make every receipt kind count a
 * device at most once per task, however often, in whatever order and however concurrently it is
 * reported. A write only changes a row that does not have the receipt yet, and only the rows it
 * changed move the task's counters — in the same transaction, so statistics and device results
 * always agree.
 *
 * The writes are set-based: one statement per receipt kind for a whole request, its rows passed as
 * one JSON parameter, so a batch of thousands of receipts costs a handful of statements.
 */
import { type Kysely, sql } from 'kysely';
import type { Database, ReceiptKind } from '../storage/database.ts';
import { jsonArrayRows } from '../storage/dialect.ts';

/** A receipt about to be applied (or recorded late): for a device of a started task of the right app. */
export interface ApplicableReceipt {
  taskId: string;
  deviceId: string;
  kind: ReceiptKind;
  /** ISO 8601 time of the receipt. */
  at: string;
  /** The channel a delivery receipt reports the device was reached through; replaces the result's channel. */
  channel?: string | null;
}

/** How one device's receipts changed the task's counters, summed per task. */
export interface CounterMoves {
  /** Android `no_feedback` devices a delivery receipt turned into `success`. */
  delivered: number;
  impression: number;
  open: number;
  dismissal: number;
}

/** The receipt column of each kind a device result records its time in. */
const TIME_COLUMN = {
  delivered: 'delivered_at',
  impression: 'impression_at',
  open: 'open_at',
  dismissal: 'dismissal_at',
} as const satisfies Record<ReceiptKind, string>;

/** Receipt kinds in a fixed order, so statements run in the same order in every transaction. */
export const RECEIPT_KINDS: readonly ReceiptKind[] = ['delivered', 'impression', 'open', 'dismissal'];

/** `task\u0000device`: the key of a (task, device) pair in maps and sets. */
export function pairKey(taskId: string, deviceId: string): string {
  return `${taskId}\u0000${deviceId}`;
}

/** The task ID of a `pairKey`. */
export function taskOfPair(key: string): string {
  return key.slice(0, key.indexOf('\u0000'));
}

/**
 * Receipt kinds only a notification that reached the device can have: it was shown (impression),
 * opened, or shown and swiped away (dismissal). Each is also a delivery (SPEC §4.2, §11): a provider
 * that reports none (FCM) or a delivery receipt that never came must not leave such a device
 * `no_feedback`, nor let impressions outnumber deliveries.
 */
const SHOWS_DELIVERY: ReadonlySet<ReceiptKind> = new Set(['impression', 'open', 'dismissal']);

/**
 * Applies the delivery each receipt of `receipts` shows (`SHOWS_DELIVERY`) to the device results
 * still `no_feedback`, at the receipt's time and keeping the channel; answers the (task, device)
 * pairs it turned into `success`, each to be counted as a delivery. Run before the receipts' own
 * kinds, after the request's real delivery receipts (which keep their own time and channel).
 */
export async function applyImpliedDeliveries(
  executor: Kysely<Database>,
  receipts: readonly ApplicableReceipt[],
): Promise<Set<string>> {
  const implied = receipts
    .filter((r) => SHOWS_DELIVERY.has(r.kind))
    .map((r) => ({ taskId: r.taskId, deviceId: r.deviceId, kind: 'delivered' as const, at: r.at }));
  return applyKind(executor, 'delivered', implied);
}

/**
 * Writes the receipts of one kind to the device results that do not have it yet and answers the
 * (task, device) pairs it changed. A delivery receipt turns `no_feedback` into `success` (and is a
 * no-op on a device already `success`, e.g. on iOS where acceptance is delivery); the other kinds set
 * their time once. No kind applies to a device the provider rejected. Several receipts for the same
 * device in `receipts` change its row once.
 */
export async function applyKind(
  executor: Kysely<Database>,
  kind: ReceiptKind,
  receipts: readonly ApplicableReceipt[],
): Promise<Set<string>> {
  const changed = new Set<string>();
  if (receipts.length === 0) return changed;
  const rows = JSON.stringify(receipts.map((r) => [r.taskId, r.deviceId, r.at, r.channel ?? null]));
  const target = sql.id(TIME_COLUMN[kind]);
  // UPDATE … FROM (SQLite and PostgreSQL alike): the JSON rows drive the join and each finds its device
  // result by primary key. When several rows match one device, it is updated once, with one of them.
  // The JSON columns have names of their own: SQLite's RETURNING takes only unqualified columns of the
  // updated table, and PostgreSQL would find `task_id` ambiguous.
  const condition = takesReceipt(kind);
  const setResult = kind === 'delivered' ? sql`, send_result = 'success'` : sql``;
  // The channel a delivery receipt reports (Umeng `channel`: the vendor channel that delivered)
  // replaces the registered one; a receipt without one leaves it. Other kinds say nothing of delivery.
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
 * that receipt yet (a delivery: it is still `no_feedback`), and the provider did not reject it.
 */
function takesReceipt(kind: ReceiptKind) {
  return kind === 'delivered'
    ? sql`r.send_result = 'no_feedback'`
    : sql`${sql.ref(`r.${TIME_COLUMN[kind]}`)} is null and r.send_result <> 'failure'`;
}

/**
 * Records late receipts of one kind (SPEC §9) and answers the (task, device) pairs it recorded: each
 * pair once per kind, ever (`late_receipts` is keyed so), and only for a device result that would
 * have taken the receipt inside the window — a device of the send, not rejected by the provider,
 * without that receipt. A recorded pair moves the task's `late` counter and nothing else.
 */
export async function recordLate(
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
export async function existingResults(
  executor: Kysely<Database>,
  receipts: readonly ApplicableReceipt[],
): Promise<Map<string, 'success' | 'failure' | 'no_feedback'>> {
  const found = new Map<string, 'success' | 'failure' | 'no_feedback'>();
  if (receipts.length === 0) return found;
  const rows = JSON.stringify(receipts.map((r) => [r.taskId, r.deviceId]));
  const result = await sql<{ task_id: string; device_id: string; send_result: string }>`
    select r.task_id, r.device_id, r.send_result
    from ${jsonArrayRows(executor, rows)} as j
    join device_results as r on r.task_id = j.value ->> 0 and r.device_id = j.value ->> 1`.execute(executor);
  for (const row of result.rows) {
    found.set(pairKey(row.task_id, row.device_id), row.send_result as 'success' | 'failure' | 'no_feedback');
  }
  return found;
}

/** Adds the moves of one task to its counters (and `late` receipts, which count nowhere else). */
export async function moveCounters(
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

/** Empty counter moves. */
export function noMoves(): CounterMoves {
  return { delivered: 0, impression: 0, open: 0, dismissal: 0 };
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
    moves.delivered += (await applyImpliedDeliveries(trx, receipts)).size;
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
