/**
 * Delivery options of a task that every provider receives (docs/tasks.md#delivery-options): how long the push may
 * wait for its device (`ttl_seconds`) and whether it is a marketing or a service push (`category`);
 * and the channel a provider reports with a receipt that arrives before its batch is recorded, so the
 * held receipt keeps it (docs/providers.md#umeng).
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Umeng's and Pushboard's default time to live, in seconds (3 days). */
const DEFAULT_TTL_SECONDS = 259_200;

/** Adds the task columns (existing tasks get the defaults) and the held receipt's channel. */
export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .alterTable('tasks')
    .addColumn('ttl_seconds', 'integer', (c) => c.notNull().defaultTo(DEFAULT_TTL_SECONDS))
    .execute();
  await db.schema
    .alterTable('tasks')
    .addColumn('category', 'text', (c) => c.notNull().defaultTo('marketing'))
    .execute();
  await db.schema.alterTable('held_receipts').addColumn('channel', 'text').execute();
}

/** Drops them again. */
export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable('held_receipts').dropColumn('channel').execute();
  await db.schema.alterTable('tasks').dropColumn('category').execute();
  await db.schema.alterTable('tasks').dropColumn('ttl_seconds').execute();
}
