/**
 * Fatigue control (docs/delivery-controls.md#fatigue-control): `frequency_sends`, one row per device
 * handed a marketing task of an app, kept 7 days — longer than the device results (72 hours), which a
 * rolling 7-day cap could not be counted from.
 */
import { type Kysely, SqliteAdapter, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Creates the table, keyed for the cap check, and the index the retention purge deletes by. */
export async function up(db: AnyDb): Promise<void> {
  // The check reads an app's devices of one batch and their hand-overs since a time: the primary key
  // (app, device, time) answers it from the key alone. On SQLite the table is its key's B-tree
  // (`without rowid`), one write per row. `task_id` keeps the key unique (one row per task and
  // device) and `batch_seq` lets a batch that is never handed over give its rows back.
  await db.schema
    .createTable('frequency_sends')
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text', (c) => c.notNull())
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('batch_seq', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('frequency_sends_pk', ['app_id', 'device_id', 'sent_at', 'task_id'])
    .$call((table) =>
      db.getExecutor().adapter instanceof SqliteAdapter ? table.modifyEnd(sql`without rowid`) : table,
    )
    .execute();
  await db.schema.createIndex('frequency_sends_sent_at').on('frequency_sends').column('sent_at').execute();
}

/** Drops it again. */
export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('frequency_sends').ifExists().execute();
}
