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
  // A 16 MiB page cache: SQLite's sorter also buffers up to the cache size before spilling to disk,
  // so a bigger cache costs its size twice during big imports (bench/README.md, device import).
  database.pragma('cache_size = -16384');
  database.pragma('temp_store = FILE');
  // SQLite's built-in lower() only folds ASCII; PostgreSQL's folds all of Unicode. Replacing it keeps
  // case-insensitive name search ("été" finds "Été promo") the same on both backends.
  database.function('lower', { deterministic: true }, (text: unknown) =>
    typeof text === 'string' ? text.toLowerCase() : text,
  );
  return new Kysely({ dialect: new SqliteDialect({ database }) });
}
