/**
 * The embedded backend: Kysely over one better-sqlite3 file in WAL mode.
 */
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Db } from './database.ts';

/** Opens (creating if needed) the SQLite file at `file` with the pragmas Pushboard relies on. */
export function openSqlite(file: string): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const database = new SQLite(file);
  // WAL lets readers run while a writer commits; NORMAL sync is durable across process crashes.
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  // A 64 MiB page cache keeps big imports and audience scans off the disk without growing with them.
  database.pragma('cache_size = -65536');
  database.pragma('temp_store = FILE');
  return new Kysely({ dialect: new SqliteDialect({ database }) });
}
