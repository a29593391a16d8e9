/**
 * The receipts schema: receipts that arrive before their device's result is recorded
 * (`held_receipts`), the raw form of provider callback items nobody could read
 * (`unreadable_receipts`), the simulator's outbox of receipts it will report (`simulator_receipts`),
 * the retention job's mark on tasks, and the lookups receipts need (a token's device, a provider
 * reference's batch).
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Creates the receipt tables and indexes. */
export async function up(db: AnyDb): Promise<void> {
  // Set when the retention job has deleted the task's device results; the aggregates stay.
  await db.schema.alterTable('tasks').addColumn('details_purged_at', 'text').execute();
  // The retention job looks for started tasks whose results are still held, oldest first.
  await db.schema
    .createIndex('tasks_retention')
    .on('tasks')
    .columns(['details_purged_at', 'started_at'])
    .execute();

  // Umeng may report a device by its token and a send by its own reference only.
  await db.schema.createIndex('devices_app_token').on('devices').columns(['app_id', 'push_token']).execute();
  await db.schema.createIndex('batches_provider_ref').on('batches').column('provider_ref').execute();

  // A receipt for a device of a batch that is handed over but not yet recorded (the provider or the
  // SDK can be faster than the recording, and a restart leaves batches prepared). It is stored here,
  // acknowledged, and applied in the transaction that records the batch. One row per device and kind.
  await db.schema
    .createTable('held_receipts')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('batch_seq', 'integer', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('held_receipts_pk', ['task_id', 'batch_seq', 'device_id', 'kind'])
    .execute();

  // Provider callback items that could not be read, kept as received so an operator can look at them.
  await db.schema
    .createTable('unreadable_receipts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('unreadable_receipts_app')
    .on('unreadable_receipts')
    .columns(['app_id', 'received_at'])
    .execute();

  // The simulator's outbox: every receipt its funnel planned, with the time it is due. Its poster
  // takes what is due, posts it to the public receipt endpoints and deletes what was answered, so a
  // restart continues where it stopped and memory never holds a whole task's receipts.
  await db.schema
    .createTable('simulator_receipts')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('due_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('simulator_receipts_pk', ['task_id', 'device_id', 'kind'])
    .execute();
  await db.schema
    .createIndex('simulator_receipts_due')
    .on('simulator_receipts')
    .columns(['due_at'])
    .execute();
}

/** Drops the receipt tables and indexes. */
export async function down(db: AnyDb): Promise<void> {
  for (const table of ['simulator_receipts', 'unreadable_receipts', 'held_receipts']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
  for (const index of ['batches_provider_ref', 'devices_app_token', 'tasks_retention']) {
    await db.schema.dropIndex(index).ifExists().execute();
  }
  await db.schema.alterTable('tasks').dropColumn('details_purged_at').execute();
}
