/**
 * Kept breakdowns (docs/statistics.md#windows): `kept_breakdowns`, one row per task whose device
 * results the retention job deleted, holding the task's breakdown (per channel, over time, failure
 * reasons) as counted from those results just before the first of them went. The breakdown is a
 * few dozen numbers whatever the size of the task, so it is kept forever, like the statistics.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Creates the table. */
export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('kept_breakdowns')
    .addColumn('task_id', 'text', (c) => c.primaryKey())
    // The `Breakdown` answer of `GET …/breakdown` as JSON text: read whole, never queried into.
    .addColumn('breakdown', 'text', (c) => c.notNull())
    .addColumn('kept_at', 'text', (c) => c.notNull())
    .execute();
}

/** Drops it again. */
export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('kept_breakdowns').ifExists().execute();
}
