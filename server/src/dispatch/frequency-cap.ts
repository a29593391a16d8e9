/**
 * Fatigue control at write-ahead (README step 1, docs/delivery-controls.md#fatigue-control): the
 * devices of a marketing task's batch that are at their app's frequency cap are held back with the
 * send result `capped`, and the others are noted in `frequency_sends`, in the batch's transaction.
 *
 * Concurrency: on PostgreSQL the app's row is locked (`for no key update`) before the check, so two
 * batches of one app — two tasks sending at once, in one worker or two — check and note one after
 * the other, and the second sees the first's rows (each statement of a read-committed transaction
 * reads what was committed before it). The lock is the app's, not the devices': a batch's devices
 * are thousands of rows, the app one, and batches of an app are short transactions that already
 * take turns on its counters' rows. `no key update` does not block what only references the app
 * (registering devices, creating tasks). SQLite has one writer at a time: nothing to lock.
 */
import { type Kysely, sql } from 'kysely';
import { type FrequencyCap, readFrequencyCap } from '../domain/delivery-settings.ts';
import type { BatchDevice } from '../providers/provider.ts';
import type { Database } from '../storage/database.ts';
import { isPostgres, jsonArrayRows } from '../storage/dialect.ts';
import type { TaskSend } from './dispatch-store.ts';

const DAY_MS = 24 * 3_600_000;

/** How long a hand-over counts for a cap: the longest window a cap has (a rolling week). */
export const FREQUENCY_WINDOW_MS = 7 * DAY_MS;

/** The audience range a batch is taken from, as `prepare-store.ts` read it. */
export interface CapRange {
  first: string;
  last: string;
  /** Whether the app's devices in the range are all in the batch (the check then scans the range). */
  denseRange: boolean;
  devices: BatchDevice[];
}

/** The reason recorded on a capped device's result: the cap it hit. */
export function cappedReason(cap: FrequencyCap, window: 'day' | 'week'): string {
  return window === 'day' ? `frequency cap: ${cap.perDay} per day` : `frequency cap: ${cap.perWeek} per week`;
}

/**
 * The app's frequency cap when it applies to `send` (a marketing task of an app with a cap), else
 * null; on PostgreSQL it locks the app's row for the rest of the transaction (see the file's header).
 */
async function capInForce(trx: Kysely<Database>, send: TaskSend): Promise<FrequencyCap | null> {
  if (send.content.category === 'service') return null;
  const query = trx.selectFrom('apps').select('frequency_cap').where('id', '=', send.app.id);
  const row = await (isPostgres(trx) ? query.forNoKeyUpdate() : query).executeTakeFirst();
  return readFrequencyCap(row?.frequency_cap ?? null);
}

/**
 * The devices of the range at their cap at `now`, each with the window it is full in: one query,
 * over the range of `frequency_sends` when the range is dense, else from the range's audience members.
 */
async function devicesAtCap(
  trx: Kysely<Database>,
  send: TaskSend,
  cap: FrequencyCap,
  range: CapRange,
  now: string,
): Promise<Map<string, 'day' | 'week'>> {
  const at = Date.parse(now);
  const dayAgo = new Date(at - DAY_MS).toISOString();
  const since = cap.perWeek === undefined ? dayAgo : new Date(at - FREQUENCY_WINDOW_MS).toISOString();
  const inDay = sql<number>`sum(case when f.sent_at > ${dayAgo} then 1 else 0 end)`;
  const full = [
    ...(cap.perDay === undefined ? [] : [sql`${inDay} >= ${cap.perDay}`]),
    ...(cap.perWeek === undefined ? [] : [sql`count(*) >= ${cap.perWeek}`]),
  ];
  const from = range.denseRange
    ? sql`frequency_sends f
        where f.app_id = ${send.app.id} and f.device_id >= ${range.first} and f.device_id <= ${range.last}
          and f.sent_at > ${since}`
    : sql`audience_members m
        join frequency_sends f on f.app_id = ${send.app.id} and f.device_id = m.device_id and f.sent_at > ${since}
        where m.audience_id = ${send.audienceId} and m.device_id >= ${range.first} and m.device_id <= ${range.last}`;
  const { rows } = await sql<{ device_id: string; day: number | string }>`
    select f.device_id, ${inDay} as day from ${from}
    group by f.device_id having ${sql.join(full, sql` or `)}`.execute(trx);
  const atCap = new Map<string, 'day' | 'week'>();
  for (const row of rows) {
    atCap.set(row.device_id, cap.perDay !== undefined && Number(row.day) >= cap.perDay ? 'day' : 'week');
  }
  return atCap;
}

/**
 * Holds back the devices of a batch at their app's frequency cap, inside the batch's write-ahead
 * transaction: each gets its device result `capped` (batch 0, the cap as reason) and moves from
 * `pending` to `capped`. Answers the devices that go into the batch (all of them for a service task
 * or an app without a cap), how many were held back, and the cap in force (null: none applies).
 */
export async function holdBackCapped(
  trx: Kysely<Database>,
  send: TaskSend,
  range: CapRange,
  now: string,
): Promise<{ devices: BatchDevice[]; capped: number; cap: FrequencyCap | null }> {
  const cap = range.devices.length > 0 ? await capInForce(trx, send) : null;
  if (cap === null) return { devices: range.devices, capped: 0, cap };
  const atCap = await devicesAtCap(trx, send, cap, range, now);
  if (atCap.size === 0) return { devices: range.devices, capped: 0, cap };
  const devices: BatchDevice[] = [];
  const capped: [string, string, string][] = [];
  for (const device of range.devices) {
    const window = atCap.get(device.deviceId);
    if (window === undefined) devices.push(device);
    else capped.push([device.deviceId, device.channel, cappedReason(cap, window)]);
  }
  if (capped.length === 0) return { devices, capped: 0, cap };
  // One statement for the batch: the rows go as one JSON parameter, not one bound value each.
  await sql`
    insert into device_results (task_id, device_id, batch_seq, channel, send_result, failure_reason)
    select ${send.taskId}, value ->> 0, 0, value ->> 1, 'capped', value ->> 2
    from ${jsonArrayRows(trx, JSON.stringify(capped))} as j`.execute(trx);
  await trx
    .updateTable('tasks')
    .set((eb) => ({ capped: eb('capped', '+', capped.length), pending: eb('pending', '-', capped.length) }))
    .where('id', '=', send.taskId)
    .execute();
  return { devices, capped: capped.length, cap };
}

/**
 * Notes that the devices of batch `seq` are handed the task (what later checks of the cap count), in
 * the batch's write-ahead transaction, as one statement. Called only while a cap is in force
 * (`holdBackCapped` found one): service tasks and apps without a cap note nothing, so a cap counts
 * the marketing tasks handed over from when it was set.
 */
export async function noteFrequencySends(
  trx: Kysely<Database>,
  send: TaskSend,
  seq: number,
  devices: readonly BatchDevice[],
  now: string,
): Promise<void> {
  if (devices.length === 0) return;
  await sql`
    insert into frequency_sends (app_id, device_id, sent_at, task_id, batch_seq)
    select ${send.app.id}, value ->> 0, ${now}, ${send.taskId}, ${seq}
    from ${jsonArrayRows(trx, JSON.stringify(devices.map((d) => [d.deviceId])))} as j`.execute(trx);
}

/**
 * Gives back the `frequency_sends` rows of batches of a task that were never handed over (a stop
 * cancels them), so they do not count against later tasks; in the caller's transaction. Each batch
 * is deleted by its device range, a range of the table's key.
 */
export async function forgetFrequencySends(
  trx: Kysely<Database>,
  appId: string,
  taskId: string,
  batches: readonly { seq: number; firstDeviceId: string; lastDeviceId: string }[],
): Promise<void> {
  for (const batch of batches) {
    await trx
      .deleteFrom('frequency_sends')
      .where('app_id', '=', appId)
      .where('device_id', '>=', batch.firstDeviceId)
      .where('device_id', '<=', batch.lastDeviceId)
      .where('task_id', '=', taskId)
      .where('batch_seq', '=', batch.seq)
      .execute();
  }
}

/** The devices of a batch range already held back by the cap (they have their `capped` result). */
export async function cappedInRange(
  executor: Kysely<Database>,
  taskId: string,
  first: string,
  last: string,
): Promise<Set<string>> {
  const rows = await executor
    .selectFrom('device_results')
    .select('device_id')
    .where('task_id', '=', taskId)
    .where('device_id', '>=', first)
    .where('device_id', '<=', last)
    .where('send_result', '=', 'capped')
    .execute();
  return new Set(rows.map((r) => r.device_id));
}
