/**
 * What a device says about itself when it registers through the SDK (docs/devices.md#device-profile): its time zone, its
 * locale and its app's version. Devices registered before keep nulls until they register again.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Adds the three nullable device columns. */
export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable('devices').addColumn('time_zone', 'text').execute();
  await db.schema.alterTable('devices').addColumn('locale', 'text').execute();
  await db.schema.alterTable('devices').addColumn('app_version', 'text').execute();
}

/** Drops them again. */
export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable('devices').dropColumn('app_version').execute();
  await db.schema.alterTable('devices').dropColumn('locale').execute();
  await db.schema.alterTable('devices').dropColumn('time_zone').execute();
}
