/**
 * The push-token lifecycle (docs/devices.md#push-token-lifecycle) and the hand-over journal of per-device providers (FCM, APNs):
 * a device's token may be marked invalid by a provider, and each device's answer is journaled while
 * its batch is in flight so that a resumed batch does not send it again (dispatch/README.md).
 */
import { type Kysely, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Adds the token status columns and the journal. */
export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .alterTable('devices')
    .addColumn('token_status', 'text', (c) => c.notNull().defaultTo('active'))
    .execute();
  await db.schema.alterTable('devices').addColumn('token_invalid_at', 'text').execute();
  await db.schema.alterTable('devices').addColumn('token_invalid_reason', 'text').execute();
  // Few devices are invalid at a time: a partial index lists and counts them without a scan.
  await db.schema
    .createIndex('devices_app_invalid')
    .on('devices')
    .columns(['app_id', 'device_id'])
    .where(sql.ref('token_status'), '=', 'invalid')
    .execute();

  // The journal holds one row per group of answers (a JSON array), not one per device: a million
  // devices cost a few thousand short inserts and deletes instead of two million row writes.
  await db.schema
    .createTable('handover_answers')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('batch_seq', 'integer', (c) => c.notNull())
    .addColumn('group_id', 'text', (c) => c.notNull())
    .addColumn('answers', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('handover_answers_pk', ['task_id', 'batch_seq', 'group_id'])
    .execute();
}

/** Drops them again. */
export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('handover_answers').execute();
  await db.schema.dropIndex('devices_app_invalid').execute();
  await db.schema.alterTable('devices').dropColumn('token_invalid_reason').execute();
  await db.schema.alterTable('devices').dropColumn('token_invalid_at').execute();
  await db.schema.alterTable('devices').dropColumn('token_status').execute();
}
