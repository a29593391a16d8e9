/**
 * Opening the configured store for a process or a CLI command: the one place that picks the backend
 * from the config, brings the schema up to date and seals secrets left in clear.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Config, ConfigError, MAKE_SECRET_KEY } from '../config.ts';
import { createSecretBox, loadSecretKey } from '../security/secret-box.ts';
import type { Db } from './database.ts';
import { migrateToLatest } from './migrations/index.ts';
import { sealStoredSecrets } from './sealed-columns.ts';
import { openSqlite } from './sqlite.ts';

/**
 * Opens the configured store (PostgreSQL with `DATABASE_URL`, else the SQLite file), brings its schema
 * up to date and seals the app secrets an older version left in clear (proving the key opens the
 * sealed ones). The data folder is made 0700.
 */
export async function openStore(config: Config): Promise<Db> {
  const { secretKey } = config;
  if (config.databaseUrl && !secretKey) {
    // A key file would differ from machine to machine: each process would seal with its own key.
    throw new ConfigError(
      'PUSHBOARD_SECRET_KEY is required with DATABASE_URL: every process of a scaled deployment seals and opens ' +
        `app secrets with the same key; ${MAKE_SECRET_KEY}`,
    );
  }
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(config.dataDir, 0o700);
  const key = secretKey ?? loadSecretKey(undefined, path.dirname(config.sqliteFile));
  const db = config.databaseUrl
    ? // pg is loaded only when a PostgreSQL store is configured: the embedded mode never loads it.
      await (await import('./postgres.ts')).openPostgres(config.databaseUrl, { secretKey: key })
    : openSqlite(config.sqliteFile, { secretKey: key });
  try {
    await migrateToLatest(db);
    const sealed = await sealStoredSecrets(db, createSecretBox(key));
    if (sealed > 0)
      process.stderr.write(`pushboard: sealed the secrets of ${sealed} app(s) stored in clear\n`);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}
