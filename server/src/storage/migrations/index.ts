/**
 * The one ordered migration list, shared by every storage backend. Append only: a migration that
 * has shipped is never edited.
 */
import { type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import type { Db } from '../database.ts';
import { isPostgres } from '../dialect.ts';
import * as foundation from './0001-foundation.ts';
import * as dispatch from './0002-dispatch.ts';
import * as receipts from './0003-receipts.ts';
import * as scaleOut from './0004-scale-out.ts';
import * as authHardening from './0005-auth-hardening.ts';
import * as receiptLimits from './0006-receipt-limits.ts';
import * as refusedImports from './0007-refused-imports.ts';
import * as tokenLifecycle from './0008-token-lifecycle.ts';
import * as umengDelivery from './0009-umeng-delivery.ts';
import * as deviceProfile from './0010-device-profile.ts';
import * as deliveryControls from './0011-delivery-controls.ts';
import * as frequencySends from './0012-frequency-sends.ts';
import * as audienceMemberCheck from './0013-audience-member-check.ts';
import * as keptBreakdowns from './0014-kept-breakdowns.ts';

const MIGRATIONS: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0002-dispatch': dispatch,
  '0003-receipts': receipts,
  '0004-scale-out': scaleOut,
  '0005-auth-hardening': authHardening,
  '0006-receipt-limits': receiptLimits,
  '0007-refused-imports': refusedImports,
  '0008-token-lifecycle': tokenLifecycle,
  '0009-umeng-delivery': umengDelivery,
  '0010-device-profile': deviceProfile,
  '0011-delivery-controls': deliveryControls,
  '0012-frequency-sends': frequencySends,
  '0013-audience-member-check': audienceMemberCheck,
  '0014-kept-breakdowns': keptBreakdowns,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Any 64-bit number only Pushboard's migrations lock with (PostgreSQL advisory locks are global). */
const MIGRATION_LOCK_KEY = 7_305_418_262_001n;

/**
 * Applies every migration not yet applied, in order; returns the names it applied. On PostgreSQL
 * several processes may start at once (an API and its workers): they take turns on an advisory lock,
 * so the first migrates and the others find nothing left to do. Kysely's bookkeeping tables live in
 * the schema the connection works in (`search_path`), so that two schemas of one database (two
 * deployments, or two test stores) each keep their own.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  if (!isPostgres(db)) return migrate(db, undefined);
  return db.connection().execute(async (connection) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(connection);
    try {
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(connection);
      return await migrate(connection, rows[0]?.schema);
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(connection);
    }
  });
}

async function migrate(db: Db, schema: string | undefined): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider,
    ...(schema !== undefined && { migrationTableSchema: schema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
