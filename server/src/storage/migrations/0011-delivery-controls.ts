/**
 * Delivery controls (docs/delivery-controls.md): the counters of devices a frequency cap held back
 * (`capped`) and a stop cancelled (`cancelled`), when a stop was acknowledged, how long a task's
 * hand-over is spread, where quiet hours defer a due task to; and an app's frequency cap and quiet hours.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Adds the columns; existing tasks have capped and cancelled nothing, existing apps have no cap. */
export async function up(db: AnyDb): Promise<void> {
  for (const counter of ['capped', 'cancelled']) {
    await db.schema
      .alterTable('tasks')
      .addColumn(counter, 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
  }
  await db.schema.alterTable('tasks').addColumn('spread_minutes', 'integer').execute();
  await db.schema.alterTable('tasks').addColumn('deferred_until', 'text').execute();
  await db.schema.alterTable('tasks').addColumn('stopped_at', 'text').execute();
  await db.schema.alterTable('apps').addColumn('frequency_cap', 'text').execute();
  await db.schema.alterTable('apps').addColumn('quiet_hours', 'text').execute();
}

/** Drops them again. */
export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable('apps').dropColumn('quiet_hours').execute();
  await db.schema.alterTable('apps').dropColumn('frequency_cap').execute();
  for (const column of ['stopped_at', 'deferred_until', 'spread_minutes', 'cancelled', 'capped']) {
    await db.schema.alterTable('tasks').dropColumn(column).execute();
  }
}
