/**
 * Limits on what receipts can make the store hold or count (docs/operations.md#receipts-streams-and-exports): the late receipts counted per
 * (task, device, kind), so that a replayed late receipt counts once (`late_receipts`); the size of
 * each unreadable receipt and a per-app tally of them, so that an app's unreadable receipts are
 * capped and purged by age (`unreadable_receipt_counts`).
 */
import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../dialect.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Creates the late receipts and the unreadable receipts' tally; sizes the unreadable receipts kept. */
export async function up(db: AnyDb): Promise<void> {
  // One row per late receipt counted: its key is what makes a replay a duplicate. Only devices with a
  // device result get one, and the retention job deletes a task's rows with its device results.
  await db.schema
    .createTable('late_receipts')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('late_receipts_pk', ['task_id', 'device_id', 'kind'])
    .execute();

  // Bytes of the stored payload (UTF-8), so the per-app cap and the purge keep an exact tally.
  await db.schema
    .alterTable('unreadable_receipts')
    .addColumn('payload_bytes', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // Dialect branch: the two databases name "length in bytes" differently.
  const bytes = isPostgres(db) ? sql`octet_length(payload)` : sql`length(cast(payload as blob))`;
  await sql`update unreadable_receipts set payload_bytes = ${bytes}`.execute(db);
  // Retention deletes them by age across apps.
  await db.schema
    .createIndex('unreadable_receipts_received')
    .on('unreadable_receipts')
    .column('received_at')
    .execute();

  // Per app: what its unreadable receipts hold now, and how many were counted but not kept (cap).
  await db.schema
    .createTable('unreadable_receipt_counts')
    .addColumn('app_id', 'text', (c) => c.primaryKey())
    .addColumn('stored_rows', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('stored_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('dropped', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`
    insert into unreadable_receipt_counts (app_id, stored_rows, stored_bytes, dropped)
    select app_id, count(*), sum(payload_bytes), 0 from unreadable_receipts group by app_id`.execute(db);
}

/** Drops the late receipts, the tally and the payload size. */
export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('unreadable_receipt_counts').ifExists().execute();
  await db.schema.dropIndex('unreadable_receipts_received').ifExists().execute();
  await db.schema.alterTable('unreadable_receipts').dropColumn('payload_bytes').execute();
  await db.schema.dropTable('late_receipts').ifExists().execute();
}
