/**
 * What the tasks module needs from storage, and its Kysely implementation. Edits and deletes are
 * conditional on the task still being editable/deletable in the same SQL statement, so a dispatcher
 * starting the task between a read and a write can never be overwritten. A task is written only
 * while its audience is still ready, checked under a lock on the audience row that an audience
 * delete takes too (`audience-store.ts` `markDeleting`): a task can never end up on a deleted audience.
 */
import {
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type OrderByItemBuilder,
  type SelectQueryBuilder,
  type SqlBool,
  sql,
} from 'kysely';
import type { Platform } from '../domain/task-content.ts';
import {
  DELETABLE_STATUSES,
  EDITABLE_STATUSES,
  STOPPABLE_STATUSES,
  type TaskStatus,
} from '../domain/task-state.ts';
import { validationError } from '../errors.ts';
import type { AppRow, AudienceRow, Database, Db, TaskRow } from '../storage/database.ts';
import { selectForShare } from '../storage/dialect.ts';
import { withNumericCounters, ZERO_COUNTER_COLUMNS } from '../storage/task-counts.ts';
import { containsText } from '../storage/text-search.ts';

/** The statistics counters (all zero) and retention mark (none) of a task that has not started sending. */
export const UNSENT_TASK_COUNTERS = {
  ...ZERO_COUNTER_COLUMNS,
  details_purged_at: null,
} as const satisfies Partial<TaskRow>;

/** A task row with the names the read shape shows beside it. */
export type TaskRecord = TaskRow & {
  app_name: string;
  platform: Platform;
  /** Null once the audience has been deleted (tasks keep its ID). */
  audience_name: string | null;
  /** The audience's size now; null once it has been deleted. */
  audience_size: number | null;
  /** Why the dispatcher stopped handing batches over (provider error after retries), if it did. */
  send_error: string | null;
};

/** A sub-campaign as a task shows it. */
export interface SubCampaignRef {
  id: string;
  name: string;
}

/** Filters of the task list; every one is optional and they combine with AND. */
export interface TaskFilter {
  statuses?: TaskStatus[];
  sendType?: TaskRow['send_type'];
  appId?: string;
  subCampaignId?: string;
  /** Name contains, ignoring case. */
  q?: string;
  /** Inclusive bounds on `created_at` (ISO 8601 UTC). */
  createdFrom?: string;
  createdTo?: string;
  /** Inclusive bounds on `started_at` (ISO 8601 UTC); tasks not started yet never match. */
  sentFrom?: string;
  sentTo?: string;
}

/** The orders the task list can be sorted in. */
export type TaskSortKey = 'createdAt' | 'startedAt' | 'scheduledAt' | 'name' | 'plannedSends' | 'deliveries';

/** A sort key and direction; ties are broken by ID in the same direction so pages never overlap. */
export interface TaskSort {
  key: TaskSortKey;
  order: 'asc' | 'desc';
}

/** The columns a task edit may change. */
export type TaskChanges = Partial<
  Pick<
    TaskRow,
    | 'name'
    | 'app_id'
    | 'title'
    | 'content'
    | 'click_action'
    | 'audience_id'
    | 'send_type'
    | 'scheduled_at'
    | 'ttl_seconds'
    | 'category'
    | 'spread_minutes'
    | 'deferred_until'
    | 'updated_at'
  >
>;

/** Storage operations of the tasks module; every read is scoped to one workspace. */
export interface TaskStore {
  listTasks(
    workspaceId: string,
    filter: TaskFilter,
    sort: TaskSort,
    offset: number,
    limit: number,
  ): Promise<{ rows: TaskRecord[]; total: number }>;
  findTask(workspaceId: string, id: string): Promise<TaskRecord | undefined>;
  /** The sub-campaigns of several tasks in one query, keyed by task ID, ordered by name. */
  subCampaignsOf(taskIds: string[]): Promise<Map<string, SubCampaignRef[]>>;
  findApp(
    workspaceId: string,
    id: string,
  ): Promise<Pick<AppRow, 'id' | 'name' | 'platform' | 'provider'> | undefined>;
  findAudience(
    workspaceId: string,
    id: string,
  ): Promise<Pick<AudienceRow, 'id' | 'name' | 'status'> | undefined>;
  /** Which of `ids` are sub-campaigns of the workspace. */
  existingSubCampaignIds(workspaceId: string, ids: string[]): Promise<Set<string>>;
  /** Inserts a task and its sub-campaign links in one transaction. */
  insertTask(row: TaskRow, subCampaignIds: string[]): Promise<void>;
  /**
   * Applies `changes` (and replaces the sub-campaign links when `subCampaignIds` is given) only if
   * the task is still editable; false when no such editable task exists.
   */
  updateEditableTask(
    workspaceId: string,
    id: string,
    changes: TaskChanges,
    subCampaignIds: string[] | undefined,
  ): Promise<boolean>;
  /** Deletes the task (its links cascade) only if it is still deletable; false when nothing was deleted. */
  deleteDeletableTask(workspaceId: string, id: string): Promise<boolean>;
  /**
   * Records the stop of a sending task (`stopped_at`, once: a repeat changes nothing); a task in any
   * other state is left as it is (docs/delivery-controls.md#stop). The dispatcher does the rest.
   */
  requestStop(workspaceId: string, id: string, now: string): Promise<void>;
}

type TaskExpressions = ExpressionBuilder<Database, 'tasks'>;

function filterExpression(eb: TaskExpressions, filter: TaskFilter): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  if (filter.statuses && filter.statuses.length > 0)
    conditions.push(eb('tasks.status', 'in', filter.statuses));
  if (filter.sendType) conditions.push(eb('tasks.send_type', '=', filter.sendType));
  if (filter.appId) conditions.push(eb('tasks.app_id', '=', filter.appId));
  if (filter.subCampaignId) {
    conditions.push(
      eb(
        'tasks.id',
        'in',
        eb
          .selectFrom('task_sub_campaigns')
          .select('task_sub_campaigns.task_id')
          .where('task_sub_campaigns.sub_campaign_id', '=', filter.subCampaignId),
      ),
    );
  }
  if (filter.q) conditions.push(containsText('tasks.name', filter.q));
  if (filter.createdFrom) conditions.push(eb('tasks.created_at', '>=', filter.createdFrom));
  if (filter.createdTo) conditions.push(eb('tasks.created_at', '<=', filter.createdTo));
  if (filter.sentFrom) conditions.push(eb('tasks.started_at', '>=', filter.sentFrom));
  if (filter.sentTo) conditions.push(eb('tasks.started_at', '<=', filter.sentTo));
  return eb.and(conditions);
}

type TaskQuery = SelectQueryBuilder<Database, 'tasks' | 'apps' | 'audiences' | 'task_dispatch', TaskRecord>;

function orderBy(query: TaskQuery, { key, order }: TaskSort): TaskQuery {
  // Nullable times sort last in both directions (SQLite and PostgreSQL disagree by default), so
  // tasks that have not started, or are immediate, come after the others.
  const nullsLast = (ob: OrderByItemBuilder) => (order === 'asc' ? ob.asc() : ob.desc()).nullsLast();
  let sorted: TaskQuery;
  switch (key) {
    case 'createdAt':
      sorted = query.orderBy('tasks.created_at', order);
      break;
    case 'startedAt':
      sorted = query.orderBy('tasks.started_at', nullsLast);
      break;
    case 'scheduledAt':
      sorted = query.orderBy('tasks.scheduled_at', nullsLast);
      break;
    case 'name':
      // Lower-cased so the order is the same whatever the backend's collation.
      sorted = query.orderBy(sql`lower(${sql.ref('tasks.name')})`, order);
      break;
    case 'plannedSends':
      sorted = query.orderBy('tasks.planned_sends', order);
      break;
    case 'deliveries':
      sorted = query.orderBy('tasks.deliveries', order);
      break;
  }
  return sorted.orderBy('tasks.id', order);
}

/**
 * Inside a task write: makes sure the audience is still ready, and keeps it so until the write
 * commits. On PostgreSQL the row is locked (shared): an audience delete, which locks it exclusively
 * before looking for tasks that use it, waits for this transaction and then sees the task. On SQLite
 * write transactions never interleave, so reading it is enough.
 */
async function lockReadyAudience(
  trx: Kysely<Database>,
  workspaceId: string,
  audienceId: string,
): Promise<void> {
  const audience = await trx
    .selectFrom('audiences')
    .select('status')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', audienceId)
    .$call((query) => selectForShare(trx, query))
    .executeTakeFirst();
  if (audience?.status !== 'ready') {
    throw validationError([
      {
        field: 'audienceId',
        code: 'AUDIENCE_NOT_READY',
        params: { status: audience ? audience.status : 'gone' },
        message: `Audience ${audienceId} is ${audience ? audience.status : 'gone'}; only a ready audience can be used`,
      },
    ]);
  }
}

/** A read task with its counters and audience size as numbers (PostgreSQL answers bigint as text). */
function numericRecord(row: TaskRecord): TaskRecord {
  const record = withNumericCounters(row);
  return { ...record, audience_size: row.audience_size === null ? null : Number(row.audience_size) };
}

/** The task store over Kysely. */
export function createTaskStore(db: Db): TaskStore {
  // Apps cannot be deleted while a task uses them (foreign key), so the inner join never hides a task.
  // Audiences can be deleted, hence the left join; one that is being deleted counts as gone already.
  const tasksWithNames = () =>
    db
      .selectFrom('tasks')
      .innerJoin('apps', 'apps.id', 'tasks.app_id')
      .leftJoin('audiences', (join) =>
        join
          .onRef('audiences.id', '=', 'tasks.audience_id')
          .onRef('audiences.workspace_id', '=', 'tasks.workspace_id')
          .on('audiences.status', '=', 'ready'),
      )
      .leftJoin('task_dispatch', 'task_dispatch.task_id', 'tasks.id')
      .selectAll('tasks')
      .select([
        'apps.name as app_name',
        'apps.platform as platform',
        'audiences.name as audience_name',
        'audiences.size as audience_size',
        'task_dispatch.send_error as send_error',
      ]);

  return {
    async listTasks(workspaceId, filter, sort, offset, limit) {
      const where = (eb: TaskExpressions) =>
        eb.and([eb('tasks.workspace_id', '=', workspaceId), filterExpression(eb, filter)]);
      const [rows, count] = await Promise.all([
        orderBy(tasksWithNames().where(where), sort).offset(offset).limit(limit).execute(),
        db
          .selectFrom('tasks')
          .where(where)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow(),
      ]);
      return { rows: rows.map(numericRecord), total: Number(count.n) };
    },

    async findTask(workspaceId, id) {
      const row = await tasksWithNames()
        .where('tasks.workspace_id', '=', workspaceId)
        .where('tasks.id', '=', id)
        .executeTakeFirst();
      return row && numericRecord(row);
    },

    async subCampaignsOf(taskIds) {
      const result = new Map<string, SubCampaignRef[]>();
      if (taskIds.length === 0) return result;
      const rows = await db
        .selectFrom('task_sub_campaigns')
        .innerJoin('sub_campaigns', 'sub_campaigns.id', 'task_sub_campaigns.sub_campaign_id')
        .select(['task_sub_campaigns.task_id', 'sub_campaigns.id', 'sub_campaigns.name'])
        .where('task_sub_campaigns.task_id', 'in', taskIds)
        .orderBy(sql`lower(${sql.ref('sub_campaigns.name')})`)
        .orderBy('sub_campaigns.id')
        .execute();
      for (const row of rows) {
        const list = result.get(row.task_id) ?? [];
        list.push({ id: row.id, name: row.name });
        result.set(row.task_id, list);
      }
      return result;
    },

    findApp: (workspaceId, id) =>
      db
        .selectFrom('apps')
        .select(['id', 'name', 'platform', 'provider'])
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .executeTakeFirst(),

    findAudience: (workspaceId, id) =>
      db
        .selectFrom('audiences')
        .select(['id', 'name', 'status'])
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .executeTakeFirst(),

    async existingSubCampaignIds(workspaceId, ids) {
      if (ids.length === 0) return new Set();
      const rows = await db
        .selectFrom('sub_campaigns')
        .select('id')
        .where('workspace_id', '=', workspaceId)
        .where('id', 'in', ids)
        .execute();
      return new Set(rows.map((r) => r.id));
    },

    async insertTask(row, subCampaignIds) {
      await db.transaction().execute(async (trx) => {
        await lockReadyAudience(trx, row.workspace_id, row.audience_id);
        await trx.insertInto('tasks').values(row).execute();
        if (subCampaignIds.length > 0) {
          await trx
            .insertInto('task_sub_campaigns')
            .values(
              subCampaignIds.map((subCampaignId) => ({ task_id: row.id, sub_campaign_id: subCampaignId })),
            )
            .execute();
        }
      });
    },

    updateEditableTask: (workspaceId, id, changes, subCampaignIds) =>
      db.transaction().execute(async (trx) => {
        if (changes.audience_id !== undefined) await lockReadyAudience(trx, workspaceId, changes.audience_id);
        // The status condition is what makes the edit race-free: if the dispatcher started the task
        // after the caller read it, no row matches and nothing changes.
        const result = await trx
          .updateTable('tasks')
          .set(changes)
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .where('status', 'in', EDITABLE_STATUSES)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) return false;
        if (subCampaignIds !== undefined) {
          await trx.deleteFrom('task_sub_campaigns').where('task_id', '=', id).execute();
          if (subCampaignIds.length > 0) {
            await trx
              .insertInto('task_sub_campaigns')
              .values(
                subCampaignIds.map((subCampaignId) => ({ task_id: id, sub_campaign_id: subCampaignId })),
              )
              .execute();
          }
        }
        return true;
      }),

    async deleteDeletableTask(workspaceId, id) {
      // Conditional for the same reason as edits; sub-campaign links go with the task (ON DELETE CASCADE).
      const result = await db
        .deleteFrom('tasks')
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .where('status', 'in', DELETABLE_STATUSES)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async requestStop(workspaceId, id, now) {
      // One conditional UPDATE: the dispatcher's hand-over claims lock this row, so once it commits
      // no batch is claimed for a first hand-over (dispatch/stop-store.ts).
      await db
        .updateTable('tasks')
        .set({ stopped_at: now, updated_at: now })
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .where('status', 'in', STOPPABLE_STATUSES)
        .where('stopped_at', 'is', null)
        .execute();
    },
  };
}
