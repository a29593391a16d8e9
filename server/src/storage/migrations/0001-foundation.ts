/**
 * The foundation schema: tenancy, apps, devices, audiences, campaigns and tasks.
 * Written with Kysely's schema builder only, so the same migration runs on every backend.
 */
import { type Kysely, SqliteAdapter, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Creates the foundation tables and their indexes. */
export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('workspaces')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('memberships')
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('memberships_pk', ['workspace_id', 'user_id'])
    .execute();
  await db.schema.createIndex('memberships_user').on('memberships').column('user_id').execute();

  await db.schema
    .createTable('access_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_hint', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('workspace_id', 'text', (c) => c.references('workspaces.id').onDelete('cascade'))
    .addColumn('role', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('access_tokens_workspace').on('access_tokens').column('workspace_id').execute();

  await db.schema
    .createTable('login_failures')
    .addColumn('username', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('last_failure_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('apps')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('platform', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('provider_config', 'text', (c) => c.notNull())
    .addColumn('receipt_secret', 'text', (c) => c.notNull())
    .addColumn('sdk_key', 'text', (c) => c.notNull().unique())
    .addColumn('sdk_secret', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('apps_workspace').on('apps').columns(['workspace_id', 'created_at']).execute();

  await db.schema
    .createTable('devices')
    .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('push_token', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('devices_pk', ['app_id', 'device_id'])
    // Like `audience_members`: on SQLite the rows live in the primary key's B-tree (no rowid copy).
    .$call((table) =>
      db.getExecutor().adapter instanceof SqliteAdapter ? table.modifyEnd(sql`without rowid`) : table,
    )
    .execute();
  // Device listings page through millions of rows: newest first, and newest first within a channel
  // (which also serves the per-channel counts). The primary key serves deviceId order and prefix search.
  await db.schema
    .createIndex('devices_app_created')
    .on('devices')
    .columns(['app_id', 'created_at', 'device_id'])
    .execute();
  await db.schema
    .createIndex('devices_app_channel')
    .on('devices')
    .columns(['app_id', 'channel', 'created_at', 'device_id'])
    .execute();

  await db.schema
    .createTable('device_imports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  // Staged lines of an import in progress: nothing reaches `devices` until the whole file is valid.
  // Keyed in file order, so that staging only ever appends (a key on device_id makes every batch
  // rewrite pages all over the B-tree: measured 8x slower); applying sorts bounded ranges of lines.
  await db.schema
    .createTable('device_import_rows')
    .addColumn('import_id', 'text', (c) => c.notNull().references('device_imports.id').onDelete('cascade'))
    .addColumn('line', 'integer', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('push_token', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('device_import_rows_pk', ['import_id', 'line'])
    .$call((table) =>
      db.getExecutor().adapter instanceof SqliteAdapter ? table.modifyEnd(sql`without rowid`) : table,
    )
    .execute();

  await db.schema
    .createTable('audiences')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('file_name', 'text')
    .addColumn('source_task_id', 'text')
    .addColumn('source_filter', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('audiences_workspace')
    .on('audiences')
    .columns(['workspace_id', 'created_at'])
    .execute();

  // Audiences reach tens of millions of members. The primary key de-duplicates on insert and serves
  // keyset paging; on SQLite the table is WITHOUT ROWID so it is stored once, as that key's B-tree,
  // instead of as a rowid table plus an index (half the disk, one B-tree write per member).
  // Members are deleted in bounded chunks (audience-store.ts) before their audience row, so the
  // cascade below only ever finds the leftovers of an interrupted delete.
  await db.schema
    .createTable('audience_members')
    .addColumn('audience_id', 'text', (c) => c.notNull().references('audiences.id').onDelete('cascade'))
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('audience_members_pk', ['audience_id', 'device_id'])
    .$call((table) =>
      db.getExecutor().adapter instanceof SqliteAdapter ? table.modifyEnd(sql`without rowid`) : table,
    )
    .execute();

  await db.schema
    .createTable('campaigns')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('campaigns_workspace')
    .on('campaigns')
    .columns(['workspace_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('sub_campaigns')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('campaign_id', 'text', (c) => c.references('campaigns.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('sub_campaigns_workspace')
    .on('sub_campaigns')
    .columns(['workspace_id', 'campaign_id'])
    .execute();

  await db.schema
    .createTable('tasks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('app_id', 'text', (c) => c.notNull().references('apps.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('click_action', 'text', (c) => c.notNull())
    // No foreign key: a finished task keeps its history after its audience is deleted.
    .addColumn('audience_id', 'text', (c) => c.notNull())
    .addColumn('send_type', 'text', (c) => c.notNull())
    .addColumn('scheduled_at', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('failure_reason', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('completed_at', 'text')
    .addColumn('planned_sends', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('unmatched', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('total_sent', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('deliveries', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('failures', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('no_feedback', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('impressions', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('opens', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('dismissals', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('pending', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('late', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  // The task list's default order (newest first, ties by ID) reads this index without sorting.
  await db.schema
    .createIndex('tasks_workspace_created')
    .on('tasks')
    .columns(['workspace_id', 'created_at', 'id'])
    .execute();
  await db.schema
    .createIndex('tasks_workspace_status')
    .on('tasks')
    .columns(['workspace_id', 'status', 'created_at'])
    .execute();
  // The task list's "sent between" filter and its sort by start time.
  await db.schema
    .createIndex('tasks_workspace_started')
    .on('tasks')
    .columns(['workspace_id', 'started_at'])
    .execute();
  await db.schema.createIndex('tasks_audience').on('tasks').columns(['audience_id', 'status']).execute();
  await db.schema.createIndex('tasks_app').on('tasks').column('app_id').execute();

  await db.schema
    .createTable('task_sub_campaigns')
    .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('sub_campaign_id', 'text', (c) => c.notNull().references('sub_campaigns.id'))
    .addPrimaryKeyConstraint('task_sub_campaigns_pk', ['task_id', 'sub_campaign_id'])
    .execute();
  // Covers the task list's sub-campaign filter (task IDs of one sub-campaign) without touching the table.
  await db.schema
    .createIndex('task_sub_campaigns_sub')
    .on('task_sub_campaigns')
    .columns(['sub_campaign_id', 'task_id'])
    .execute();
}

/** Drops the foundation tables, dependents first. */
export async function down(db: AnyDb): Promise<void> {
  for (const table of [
    'task_sub_campaigns',
    'tasks',
    'sub_campaigns',
    'campaigns',
    'audience_members',
    'audiences',
    'device_import_rows',
    'device_imports',
    'devices',
    'apps',
    'login_failures',
    'access_tokens',
    'memberships',
    'users',
    'workspaces',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
