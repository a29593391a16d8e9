/**
 * What the device-details API (docs/statistics.md#device-results) needs from storage, and its Kysely implementation. Every
 * read walks the `device_results` primary key (task_id, device_id) in device ID order from a keyset
 * bound: no other index exists on that table (each one would cost as much again on every send), and
 * a keyset page costs the same however deep it is. Devices not sent yet (`pending`) have no result
 * row: they are derived from the task's audience beyond the dispatch cursor and its prepared batches.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { type Expression, type ExpressionBuilder, type Kysely, type SqlBool, sql } from 'kysely';
import type { TaskStatus } from '../domain/task-state.ts';
import type { Database, Db, DeviceResultRow } from '../storage/database.ts';
import { rowsPerLongWrite } from '../storage/dialect.ts';

/**
 * Send results a device list can be filtered on; `pending` devices have no result row yet, `capped`
 * and `cancelled` ones were never handed over (docs/delivery-controls.md).
 */
export const SEND_RESULT_FILTERS = [
  'success',
  'failure',
  'no_feedback',
  'pending',
  'capped',
  'cancelled',
] as const;

/** Receipt kinds a device list can be filtered on (has it, or lacks it). */
export const RECEIPT_FILTERS = ['impression', 'open', 'dismissal'] as const;

/** A send result to filter on. */
export type SendResultFilter = (typeof SEND_RESULT_FILTERS)[number];

/** A receipt kind to filter on. */
export type ReceiptFilter = (typeof RECEIPT_FILTERS)[number];

/** The device filter of docs/api.md#shapes; every part is optional and they combine with AND. */
export interface DeviceFilter {
  sendResult?: SendResultFilter;
  /** The device has this receipt. */
  receipt?: ReceiptFilter;
  /** The device lacks this receipt ("delivered but not opened" = success without open). */
  without?: ReceiptFilter;
  /** The device's ID starts with this text (the console's device-ID search). */
  deviceId?: string;
}

/** One device as listed: its result row, or a pending audience member (no batch, no times). */
export interface DeviceDetailRow {
  device_id: string;
  /** Null for a pending device: it is in no recorded batch yet. */
  batch_seq: number | null;
  /** The channel the device was (or will be) reached through; '' when the app does not know it. */
  channel: string;
  send_result: DeviceResultRow['send_result'];
  failure_reason: string | null;
  delivered_at: string | null;
  impression_at: string | null;
  open_at: string | null;
  dismissal_at: string | null;
}

/** The task a device-detail read is about, already found in the caller's workspace. */
export interface DetailTask {
  id: string;
  app_id: string;
  audience_id: string;
  status: TaskStatus;
}

/** Storage operations of the device-details API. */
export interface DeviceResultStore {
  /** Up to `limit` devices of the task matching `filter`, after device ID `after` (exclusive), in ID order. */
  page(
    task: DetailTask,
    filter: DeviceFilter,
    after: string | undefined,
    limit: number,
  ): Promise<DeviceDetailRow[]>;
  /** The exact number of devices matching `filter` (a COUNT over the task's rows: use the counters when they answer). */
  count(task: DetailTask, filter: DeviceFilter): Promise<number>;
  /**
   * Adds the device IDs matching `filter` to audience `audienceId` (which must be empty), set-based
   * in keyset chunks of `chunkRows` rows, each its own statement, yielding to the event loop between
   * chunks; answers how many were added. By default SQLite copies in chunks of `COPY_CHUNK_ROWS`, and
   * PostgreSQL in one statement (`rowsPerLongWrite`).
   */
  copyToAudience(
    task: DetailTask,
    filter: DeviceFilter,
    audienceId: string,
    chunkRows?: number,
  ): Promise<number>;
}

/**
 * Rows per set-based insert of Generate Audience on SQLite. Each one is a single statement (its own
 * commit) holding SQLite's write lock for about 0.1 s; 1M rows of random device IDs took 1.5 s in all.
 */
export const COPY_CHUNK_ROWS = 100_000;

/** The receipt time column of each filterable receipt kind. */
const RECEIPT_COLUMN = {
  impression: 'r.impression_at',
  open: 'r.open_at',
  dismissal: 'r.dismissal_at',
} as const satisfies Record<ReceiptFilter, string>;

type ResultExpressions = ExpressionBuilder<Database & { r: DeviceResultRow }, 'r'>;

/** Whether a filter can match nothing but result rows (everything except `pending`). */
function isPending(filter: DeviceFilter): boolean {
  return filter.sendResult === 'pending';
}

/**
 * Whether a `pending` filter can match anything: only while the task is sending, and never together
 * with a receipt (a device not handed over yet has none; "without" is then always true).
 */
function pendingCanMatch(task: DetailTask, filter: DeviceFilter): boolean {
  return task.status === 'sending' && filter.receipt === undefined;
}

/** The SQL condition of a filter over `device_results as r` (the task condition excluded). */
function resultCondition(eb: ResultExpressions, filter: DeviceFilter): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  if (filter.sendResult !== undefined && filter.sendResult !== 'pending') {
    conditions.push(eb('r.send_result', '=', filter.sendResult));
  }
  if (filter.receipt !== undefined) conditions.push(eb(RECEIPT_COLUMN[filter.receipt], 'is not', null));
  if (filter.without !== undefined) conditions.push(eb(RECEIPT_COLUMN[filter.without], 'is', null));
  if (filter.deviceId !== undefined) conditions.push(deviceIdStarts('r.device_id', filter.deviceId));
  return eb.and(conditions);
}

/**
 * `column` starts with `prefix`, exactly: a comparison of its first characters (LIKE would treat `%`
 * and `_` as patterns and, on SQLite, ignore case), the same in both dialects.
 */
function deviceIdStarts(column: string, prefix: string): Expression<SqlBool> {
  return sql<SqlBool>`substr(${sql.ref(column)}, 1, ${sql.lit([...prefix].length)}) = ${prefix}`;
}

/** The device-result store over Kysely. */
export function createDeviceResultStore(db: Db): DeviceResultStore {
  /** The task's result rows matching `filter`, in primary-key order. */
  const results = (executor: Kysely<Database>, task: DetailTask, filter: DeviceFilter) =>
    executor
      .selectFrom('device_results as r')
      .where('r.task_id', '=', task.id)
      .where((eb) => resultCondition(eb, filter));

  /**
   * The audience members of a sending task that have no result yet and are still to be sent: after
   * the dispatch cursor (not taken yet; whether they match is not known until they are), or in a
   * batch written ahead (`prepared`) and matched to the app's devices. Members at or before the
   * cursor outside prepared batches were either recorded or counted unmatched, so the scan starts at
   * the lowest of those bounds instead of at the first member.
   */
  async function pendingMembers(executor: Kysely<Database>, task: DetailTask, filter: DeviceFilter) {
    const [dispatch, prepared] = await Promise.all([
      executor.selectFrom('task_dispatch').select('cursor').where('task_id', '=', task.id).executeTakeFirst(),
      executor
        .selectFrom('batches')
        .select(['first_device_id', 'last_device_id'])
        .where('task_id', '=', task.id)
        .where('status', '=', 'prepared')
        .execute(),
    ]);
    const cursor = dispatch?.cursor ?? null;
    // Prepared batches were taken before the cursor, so the lowest of them (or else the cursor) is
    // where pending members can start.
    const lowestPrepared = prepared
      .map((b) => b.first_device_id)
      .reduce<string | null>((lowest, id) => (lowest === null || id < lowest ? id : lowest), null);
    const fromPrepared = cursor !== null && lowestPrepared !== null && lowestPrepared <= cursor;
    return executor
      .selectFrom('audience_members as m')
      .leftJoin('devices as d', (join) =>
        join.on('d.app_id', '=', task.app_id).onRef('d.device_id', '=', 'm.device_id'),
      )
      .where('m.audience_id', '=', task.audience_id)
      .$if(filter.deviceId !== undefined, (query) =>
        query.where(deviceIdStarts('m.device_id', filter.deviceId as string)),
      )
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('device_results as r')
              .select('r.device_id')
              .where('r.task_id', '=', task.id)
              .whereRef('r.device_id', '=', 'm.device_id'),
          ),
        ),
      )
      .$if(cursor !== null, (query) =>
        query
          .where((eb) =>
            eb.or([
              eb('m.device_id', '>', cursor as string),
              ...prepared.map((b) =>
                eb.and([
                  eb('m.device_id', '>=', b.first_device_id),
                  eb('m.device_id', '<=', b.last_device_id),
                  eb('d.device_id', 'is not', null),
                ]),
              ),
            ]),
          )
          // A plain bound the planner turns into a range scan of the audience's primary key.
          .where(
            'm.device_id',
            fromPrepared ? '>=' : '>',
            fromPrepared ? (lowestPrepared as string) : (cursor as string),
          ),
      );
  }

  return {
    async page(task, filter, after, limit) {
      if (isPending(filter)) {
        if (!pendingCanMatch(task, filter)) return [];
        const rows = await (await pendingMembers(db, task, filter))
          .select(['m.device_id', 'd.channel'])
          .$if(after !== undefined, (query) => query.where('m.device_id', '>', after as string))
          .orderBy('m.device_id')
          .limit(limit)
          .execute();
        return rows.map((row) => ({
          device_id: row.device_id,
          batch_seq: null,
          channel: row.channel ?? '',
          send_result: 'pending' as const,
          failure_reason: null,
          delivered_at: null,
          impression_at: null,
          open_at: null,
          dismissal_at: null,
        }));
      }
      const rows = await results(db, task, filter)
        .select([
          'r.device_id',
          'r.batch_seq',
          'r.channel',
          'r.send_result',
          'r.failure_reason',
          'r.delivered_at',
          'r.impression_at',
          'r.open_at',
          'r.dismissal_at',
        ])
        .$if(after !== undefined, (query) => query.where('r.device_id', '>', after as string))
        .orderBy('r.device_id')
        .limit(limit)
        .execute();
      return rows.map((row) => ({ ...row, batch_seq: Number(row.batch_seq) }));
    },

    async count(task, filter) {
      if (isPending(filter)) {
        if (!pendingCanMatch(task, filter)) return 0;
        const row = await (await pendingMembers(db, task, filter))
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        return Number(row.n);
      }
      const row = await results(db, task, filter)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async copyToAudience(task, filter, audienceId, chunkRows = rowsPerLongWrite(db, COPY_CHUNK_ROWS)) {
      if (isPending(filter) && !pendingCanMatch(task, filter)) return 0;
      let after: string | undefined;
      let copied = 0;
      for (;;) {
        // Rows go from one table to the other inside the database, never through JavaScript; each
        // chunk is one keyset range of the source's primary key and commits on its own.
        const source = isPending(filter)
          ? (await pendingMembers(db, task, filter))
              .select((eb) => [eb.val(audienceId).as('audience_id'), 'm.device_id'])
              .$if(after !== undefined, (query) => query.where('m.device_id', '>', after as string))
              .orderBy('m.device_id')
              .$if(chunkRows !== undefined, (query) => query.limit(chunkRows as number))
          : results(db, task, filter)
              .select((eb) => [eb.val(audienceId).as('audience_id'), 'r.device_id'])
              .$if(after !== undefined, (query) => query.where('r.device_id', '>', after as string))
              .orderBy('r.device_id')
              .$if(chunkRows !== undefined, (query) => query.limit(chunkRows as number));
        const result = await db
          .insertInto('audience_members')
          .columns(['audience_id', 'device_id'])
          .expression(source)
          .executeTakeFirst();
        const inserted = Number(result.numInsertedOrUpdatedRows ?? 0);
        copied += inserted;
        if (chunkRows === undefined || inserted < chunkRows) return copied;
        // The audience holds exactly the rows copied so far, so its highest member ends this chunk
        // (one step down its primary key).
        const last = await db
          .selectFrom('audience_members')
          .select((eb) => eb.fn.max('device_id').as('last'))
          .where('audience_id', '=', audienceId)
          .executeTakeFirstOrThrow();
        after = last.last ?? undefined;
        await yieldToEventLoop();
      }
    },
  };
}
