/**
 * The one ordered migration list, shared by every storage backend. Append only: a migration that
 * has shipped is never edited.
 */
import { type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { Db } from '../database.ts';
import * as foundation from './0001-foundation.ts';
import * as dispatch from './0002-dispatch.ts';
import * as receipts from './0003-receipts.ts';

const MIGRATIONS: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0002-dispatch': dispatch,
  '0003-receipts': receipts,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Applies every migration not yet applied, in order; returns the names it applied. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
