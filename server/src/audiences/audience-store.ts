/**
 * What audiences need from storage, and its Kysely implementation. Members are only ever touched
 * in bounded batches (insert-or-ignore, keyset pages, chunked deletes): an audience may hold tens of
 * millions of device IDs, and a single statement over all of them would hold the write lock for
 * minutes.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { AudienceRow, Db } from '../storage/database.ts';
import { lockRowsForUpdate } from '../storage/dialect.ts';
import { containsText } from '../storage/text-search.ts';

/** Task statuses during which a task still needs its audience (deletion is refused). */
const ACTIVE_TASK_STATUSES = ['scheduled', 'sending'] as const;

/** Rows per insert statement: 2 parameters each stays far below SQLite's and PostgreSQL's limits. */
const INSERT_ROWS = 1_000;

/** Members deleted per statement: small enough that each delete holds the write lock for milliseconds. */
const DELETE_CHUNK_MEMBERS = 5_000;

/** An audience with how many tasks target it. */
export type AudienceWithUsage = AudienceRow & {
  /** Tasks of any status that target the audience. */
  used_by_tasks: number;
  /** Tasks in `scheduled` or `sending` that target it; the audience cannot be deleted while any exist. */
  active_tasks: number;
};

/** Filters of the audience list. */
export interface AudienceFilter {
  /** Name contains (case-insensitive). */
  q?: string;
  source?: AudienceRow['source'];
}

/** Storage operations of the audiences module; reads see only `ready` audiences of one workspace. */
export interface AudienceStore {
  workspaceExists(workspaceId: string): Promise<boolean>;
  list(
    workspaceId: string,
    filter: AudienceFilter,
    offset: number,
    limit: number,
  ): Promise<{ rows: AudienceWithUsage[]; total: number }>;
  /** A `ready` audience of the workspace, or undefined (importing, deleting, foreign and unknown alike). */
  find(workspaceId: string, id: string): Promise<AudienceWithUsage | undefined>;
  rename(workspaceId: string, id: string, name: string): Promise<void>;
  /** The ready audience uploaded with a task (`POST …/tasks/upload`), if it is still there. */
  findUploadedWith(workspaceId: string, taskId: string): Promise<AudienceWithUsage | undefined>;
  /**
   * How many of the audience's device IDs have an active push token for the app: what a send would
   * match now (docs/audiences.md#matching). Counted in SQL over both primary keys; nothing is loaded.
   */
  countMatched(audienceId: string, appId: string): Promise<number>;
  /** Up to `limit` device IDs after `after` (exclusive), in device ID order. */
  listMembers(audienceId: string, after: string | undefined, limit: number): Promise<string[]>;
  /** Starts an audience in status `importing`: invisible and unusable until `finishImport`. */
  beginImport(row: Omit<AudienceRow, 'status' | 'size'>): Promise<void>;
  /** Adds device IDs to an importing audience in one transaction; IDs already present are ignored. */
  addMembers(audienceId: string, deviceIds: readonly string[]): Promise<void>;
  /**
   * Records the audience's size and makes it `ready`; returns the size. The size is counted in SQL,
   * unless the caller knows it exactly (`knownSize`: the rows it inserted into the empty audience,
   * each a distinct member), which spares a count over every member (0.3–1 s per million on PostgreSQL).
   */
  finishImport(audienceId: string, knownSize?: number): Promise<number>;
  /**
   * Marks a ready audience `deleting` unless a scheduled or sending task uses it; answers the IDs of
   * those tasks, and whether it was marked (false too when it is gone). Check and mark are one
   * transaction, which SQLite serialises with task writes; on PostgreSQL the task side will also
   * need to lock the audience row (`for update`) to close the gap.
   */
  markDeleting(workspaceId: string, id: string): Promise<{ marked: boolean; activeTaskIds: string[] }>;
  /** Deletes an audience's members in bounded chunks, then the audience itself. */
  purge(audienceId: string): Promise<void>;
  /** IDs of audiences left `deleting`, or `importing` since before `importingBefore`, by a stopped process. */
  listAbandoned(importingBefore: string): Promise<string[]>;
}

/** The audience store over Kysely. */
export function createAudienceStore(db: Db): AudienceStore {
  /** How many members the audience has, counted over its primary-key range. */
  const countMembers = async (audienceId: string) => {
    const count = await db
      .selectFrom('audience_members')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('audience_id', '=', audienceId)
      .executeTakeFirstOrThrow();
    return Number(count.n);
  };
  // Every read answers the usage counts with the row; the `tasks_audience` index keeps them cheap.
  const withUsage = () =>
    db
      .selectFrom('audiences')
      .selectAll('audiences')
      .select((eb) => [
        eb
          .selectFrom('tasks')
          .select(eb.fn.countAll<number>().as('n'))
          .whereRef('tasks.audience_id', '=', 'audiences.id')
          .whereRef('tasks.workspace_id', '=', 'audiences.workspace_id')
          .as('used_by_tasks'),
        eb
          .selectFrom('tasks')
          .select(eb.fn.countAll<number>().as('n'))
          .whereRef('tasks.audience_id', '=', 'audiences.id')
          .whereRef('tasks.workspace_id', '=', 'audiences.workspace_id')
          .where('tasks.status', 'in', ACTIVE_TASK_STATUSES)
          .as('active_tasks'),
      ]);
  const toUsage = (row: AudienceRow & { used_by_tasks: number | null; active_tasks: number | null }) => ({
    ...row,
    size: Number(row.size),
    used_by_tasks: Number(row.used_by_tasks ?? 0),
    active_tasks: Number(row.active_tasks ?? 0),
  });

  return {
    async workspaceExists(workspaceId) {
      const row = await db
        .selectFrom('workspaces')
        .select('id')
        .where('id', '=', workspaceId)
        .executeTakeFirst();
      return row !== undefined;
    },
    async list(workspaceId, filter, offset, limit) {
      let query = withUsage()
        .where('audiences.workspace_id', '=', workspaceId)
        .where('audiences.status', '=', 'ready');
      if (filter.q) query = query.where(containsText('audiences.name', filter.q));
      if (filter.source) query = query.where('audiences.source', '=', filter.source);
      const [rows, count] = await Promise.all([
        query
          .orderBy('audiences.created_at', 'desc')
          .orderBy('audiences.id', 'desc')
          .offset(offset)
          .limit(limit)
          .execute(),
        query
          .clearSelect()
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow(),
      ]);
      return { rows: rows.map(toUsage), total: Number(count.n) };
    },
    async find(workspaceId, id) {
      const row = await withUsage()
        .where('audiences.workspace_id', '=', workspaceId)
        .where('audiences.id', '=', id)
        .where('audiences.status', '=', 'ready')
        .executeTakeFirst();
      return row && toUsage(row);
    },
    async findUploadedWith(workspaceId, taskId) {
      const row = await withUsage()
        .where('audiences.workspace_id', '=', workspaceId)
        .where('audiences.source', '=', 'upload')
        .where('audiences.source_task_id', '=', taskId)
        .where('audiences.status', '=', 'ready')
        .executeTakeFirst();
      return row && toUsage(row);
    },
    async rename(workspaceId, id, name) {
      await db
        .updateTable('audiences')
        .set({ name })
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .execute();
    },
    async countMatched(audienceId, appId) {
      // The same join as a send's (dispatch/device-ranges.ts `matchedInRange`), over the whole audience.
      const count = await db
        .selectFrom('audience_members as m')
        .innerJoin('devices as d', (join) =>
          join
            .on('d.app_id', '=', appId)
            .onRef('d.device_id', '=', 'm.device_id')
            .on('d.token_status', '=', 'active'),
        )
        .where('m.audience_id', '=', audienceId)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(count.n);
    },
    async listMembers(audienceId, after, limit) {
      let query = db.selectFrom('audience_members').select('device_id').where('audience_id', '=', audienceId);
      // Keyset paging on the primary key: each page is one index range scan, however deep it is.
      if (after !== undefined) query = query.where('device_id', '>', after);
      const rows = await query.orderBy('device_id').limit(limit).execute();
      return rows.map((r) => r.device_id);
    },
    async beginImport(row) {
      await db
        .insertInto('audiences')
        .values({ ...row, status: 'importing', size: 0 })
        .execute();
    },
    async addMembers(audienceId, deviceIds) {
      if (deviceIds.length === 0) return;
      await db.transaction().execute(async (trx) => {
        for (let start = 0; start < deviceIds.length; start += INSERT_ROWS) {
          const rows = deviceIds
            .slice(start, start + INSERT_ROWS)
            .map((deviceId) => ({ audience_id: audienceId, device_id: deviceId }));
          // Duplicates, within the batch or with earlier batches, collapse on the primary key.
          await trx
            .insertInto('audience_members')
            .values(rows)
            .onConflict((oc) => oc.columns(['audience_id', 'device_id']).doNothing())
            .execute();
        }
      });
    },
    async finishImport(audienceId, knownSize) {
      const size = knownSize ?? (await countMembers(audienceId));
      await db
        .updateTable('audiences')
        .set({ size, status: 'ready' })
        .where('id', '=', audienceId)
        .where('status', '=', 'importing')
        .execute();
      return size;
    },
    async markDeleting(workspaceId, id) {
      return db.transaction().execute(async (trx) => {
        // PostgreSQL: a task being written on this audience holds a shared lock on its row
        // (task-store.ts); waiting for it here means the search below sees that task.
        await lockRowsForUpdate(
          trx,
          trx
            .selectFrom('audiences')
            .select('id')
            .where('workspace_id', '=', workspaceId)
            .where('id', '=', id),
        );
        const active = await trx
          .selectFrom('tasks')
          .select('id')
          .where('workspace_id', '=', workspaceId)
          .where('audience_id', '=', id)
          .where('status', 'in', ACTIVE_TASK_STATUSES)
          .orderBy('id')
          .execute();
        if (active.length > 0) return { marked: false, activeTaskIds: active.map((t) => t.id) };
        const result = await trx
          .updateTable('audiences')
          .set({ status: 'deleting' })
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .where('status', '=', 'ready')
          .executeTakeFirst();
        return { marked: Number(result.numUpdatedRows) > 0, activeTaskIds: [] };
      });
    },
    async purge(audienceId) {
      // One statement over every member would lock the database for as long as it takes to delete
      // tens of millions of rows (the cascade alike). Chunks of the primary-key range each commit in
      // milliseconds, and yielding between them lets other requests run.
      for (;;) {
        const result = await db
          .deleteFrom('audience_members')
          .where('audience_id', '=', audienceId)
          .where('device_id', 'in', (eb) =>
            eb
              .selectFrom('audience_members')
              .select('device_id')
              .where('audience_id', '=', audienceId)
              .orderBy('device_id')
              .limit(DELETE_CHUNK_MEMBERS),
          )
          .executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) break;
        await yieldToEventLoop();
      }
      await db.deleteFrom('audiences').where('id', '=', audienceId).execute();
    },
    async listAbandoned(importingBefore) {
      const rows = await db
        .selectFrom('audiences')
        .select('id')
        .where((eb) =>
          eb.or([
            eb('status', '=', 'deleting'),
            eb.and([eb('status', '=', 'importing'), eb('created_at', '<', importingBefore)]),
          ]),
        )
        .execute();
      return rows.map((r) => r.id);
    },
  };
}
