/**
 * A refused device import now leaves nothing behind at once (docs/operations.md#disk); older versions kept its row
 * marked `rejected`. Those rows, and any staged lines still under them, are removed.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Deletes the refused imports older versions kept. */
export async function up(db: AnyDb): Promise<void> {
  const refused = db.selectFrom('device_imports').select('id').where('status', '=', 'rejected');
  await db.deleteFrom('device_import_rows').where('import_id', 'in', refused).execute();
  await db.deleteFrom('device_imports').where('status', '=', 'rejected').execute();
}

/** Nothing to restore: the rows were records of refusals, without data. */
export async function down(): Promise<void> {}
