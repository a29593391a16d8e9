/**
 * The dispatch schema: where a task's send stands (`task_dispatch`), its provider requests
 * (`batches`), one result per device (`device_results`), the index the scheduler polls, and the
 * built-in simulator's record of the batches it accepted (`simulator_batches`).
 * Written with Kysely's schema builder; the one dialect branch (WITHOUT ROWID) is commented.
 */
import { type CreateTableBuilder, type Kysely, SqliteAdapter, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

// SQLite only: store the table once, as its primary key's B-tree, instead of a rowid table plus an
// index on the key (half the disk, one B-tree write per row). Other backends ignore the branch.
function withoutRowid<T extends string, C extends string>(
  db: AnyDb,
  table: CreateTableBuilder<T, C>,
): CreateTableBuilder<T, C> {
  return db.getExecutor().adapter instanceof SqliteAdapter ? table.modifyEnd(sql`without rowid`) : table;
}

/** Creates the dispatch tables and the scheduler's index. */
export async function up(db: AnyDb): Promise<void> {
  // The scheduler polls "scheduled tasks that are due" every few hundred milliseconds.
  await db.schema
    .createIndex('tasks_status_scheduled')
    .on('tasks')
    .columns(['status', 'scheduled_at'])
    .execute();

  // One row per task that has started sending, written with the start. The cursor is the last
  // audience device ID taken into a batch (audience order = device ID order): everything up to it has
  // been counted as unmatched or written ahead as a batch, so a restart continues after it.
  // `send_error` is the provider error that stopped the send; the rest of the audience is then
  // recorded as failures with it, without calling the provider again.
  await db.schema
    .createTable('task_dispatch')
    .addColumn('task_id', 'text', (c) => c.primaryKey().references('tasks.id').onDelete('cascade'))
    .addColumn('cursor', 'text')
    .addColumn('batches', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('send_error', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  // One provider request of a task. Written ahead as `prepared` (device range and count known) before
  // the provider sees it, then `sent` or `failed` in the same transaction as its device results.
  // No foreign key to tasks: a task with batches has started and can no longer be deleted.
  await db.schema
    .createTable('batches')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    // Range of audience device IDs (inclusive) the batch was taken from; its matched devices are the
    // devices of the app in that range.
    .addColumn('first_device_id', 'text', (c) => c.notNull())
    .addColumn('last_device_id', 'text', (c) => c.notNull())
    .addColumn('device_count', 'integer', (c) => c.notNull())
    .addColumn('provider_ref', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text')
    .addPrimaryKeyConstraint('batches_pk', ['task_id', 'seq'])
    .execute();

  // One row per (task, matched device), written once when its batch is recorded. The primary key
  // serves every per-task read (device lists, receipts by device, purge of a task's results); no
  // other index, since each one would cost as much again on every send. `batch_seq` names the batch
  // within the task (the batch ID is derived from task ID and seq) to keep rows narrow; the platform
  // is the task's app's. No foreign key: results are purged per task, in bounded chunks.
  await db.schema
    .createTable('device_results')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('batch_seq', 'integer', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('send_result', 'text', (c) => c.notNull())
    .addColumn('failure_reason', 'text')
    .addColumn('delivered_at', 'text')
    .addColumn('impression_at', 'text')
    .addColumn('open_at', 'text')
    .addColumn('dismissal_at', 'text')
    .addPrimaryKeyConstraint('device_results_pk', ['task_id', 'device_id'])
    .$call((table) => withoutRowid(db, table))
    .execute();

  // The simulator provider's own memory, as a real push service keeps one: every batch ID it has
  // accepted, so that a batch sent again (after a restart) is recognised and never handed over twice.
  await db.schema
    .createTable('simulator_batches')
    .addColumn('batch_id', 'text', (c) => c.primaryKey())
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('device_count', 'integer', (c) => c.notNull())
    // How many times the batch was sent; every send after the first was recognised as a repeat.
    .addColumn('sends', 'integer', (c) => c.notNull())
    .addColumn('accepted_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('simulator_batches_task').on('simulator_batches').column('task_id').execute();
}

/** Drops the dispatch tables and the scheduler's index. */
export async function down(db: AnyDb): Promise<void> {
  for (const table of ['simulator_batches', 'device_results', 'batches', 'task_dispatch']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
  await db.schema.dropIndex('tasks_status_scheduled').ifExists().execute();
}
