/**
 * The embedded backend: Kysely over one better-sqlite3 file in WAL mode. The file and its `-wal` and
 * `-shm` companions are readable by their owner only (0600), a folder it creates is 0700, and app
 * secrets are sealed in it (`sealed-columns.ts`).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  SqliteDialect,
  SqliteDriver,
} from 'kysely';
import { createSecretBox, loadSecretKey } from '../security/secret-box.ts';
import type { Db } from './database.ts';
import { SealedColumnsPlugin } from './sealed-columns.ts';

/** Options of a SQLite store besides its file. */
export interface SqliteOptions {
  /**
   * The key app secrets are sealed with (`Config.secretKey`); absent: the key file `secret.key`
   * beside the database file, created on first open.
   */
  secretKey?: Buffer;
}

/** Mode of the database file and its companions: the owner reads and writes, nobody else. */
const FILE_MODE = 0o600;

/**
 * Opens (creating if needed) the SQLite file at `file` with the pragmas Pushboard relies on, its app
 * secrets sealed with `options.secretKey` or the key file beside it.
 */
export function openSqlite(file: string, options: SqliteOptions = {}): Db {
  let key = options.secretKey;
  if (file !== ':memory:') {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database file's
    // mode. Files of older versions (0644 under the usual umask) are narrowed too.
    fs.closeSync(fs.openSync(file, 'a', FILE_MODE));
    for (const companion of [file, `${file}-wal`, `${file}-shm`]) {
      if (fs.existsSync(companion)) fs.chmodSync(companion, FILE_MODE);
    }
    key = loadSecretKey(key, path.dirname(file));
  }
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
  // An in-memory store dies with the process: a key of its own is all it needs.
  const box = createSecretBox(key ?? randomBytes(32));
  return new Kysely({
    dialect: new ImmediateSqliteDialect({ database }),
    plugins: [new SealedColumnsPlugin(box)],
  });
}

/**
 * Transactions that take the write lock when they begin (`BEGIN IMMEDIATE`). The embedded mode has
 * two connections to its file, the main thread's and the receipt writer's (receipts/receipt-writer.ts):
 * a deferred transaction that reads, then writes after the other connection committed fails at once
 * with SQLITE_BUSY (its snapshot is stale; the busy timeout does not apply), while an immediate one
 * waits for the lock within the busy timeout.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];

  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
