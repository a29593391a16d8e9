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
  type SqliteDatabase,
  SqliteDialect,
  SqliteDriver,
  type SqliteStatement,
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
  const statements = withStatementCache(database);
  return new Kysely({
    dialect: new ImmediateSqliteDialect({ database: statements }, statements),
    plugins: [new SealedColumnsPlugin(box)],
  });
}

/** Prepared statements kept per connection, most recently used first out last. */
export const STATEMENT_CACHE_SIZE = 256;

/**
 * The connection as Kysely's driver sees it, with its prepared statements kept by SQL text: the driver
 * prepares every statement again on each call (about a twentieth of a receipt batch's time in a
 * profile), while a statement it ran before only needs binding again. At most `size` statements are
 * kept, the least recently used dropped first (the SQL of an `IN (…)` list differs by its length, so
 * the texts are not a fixed set). A statement still being iterated (a streamed query) is busy and is
 * not shared: the same text gets a statement of its own meanwhile. Whether a statement returns rows
 * (`reader`) is fixed by its text, so a kept one answers as a fresh one would. Closing the connection
 * finalizes every statement (better-sqlite3 does on `close`).
 */
export function withStatementCache(database: SQLite.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const kept = new Map<string, SQLite.Statement>();
  return {
    prepare(text: string): SqliteStatement {
      const found = kept.get(text);
      if (found && !found.busy) {
        kept.delete(text);
        kept.set(text, found);
        return found;
      }
      const statement = database.prepare(text);
      if (!found) {
        kept.set(text, statement);
        if (kept.size > size) kept.delete(kept.keys().next().value as string);
      }
      return statement;
    },
    close() {
      kept.clear();
      database.close();
    },
  };
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
  readonly #statements: SqliteDatabase;

  constructor(config: ConstructorParameters<typeof SqliteDialect>[0], statements: SqliteDatabase) {
    super(config);
    this.#config = config;
    this.#statements = statements;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config, this.#statements);
  }
}

/** The statements of each connection `openSqlite` made, for `changesPerRow`. */
const statementsOf = new WeakMap<DatabaseConnection, SqliteDatabase>();

class ImmediateSqliteDriver extends SqliteDriver {
  readonly #statements: SqliteDatabase;

  constructor(config: ConstructorParameters<typeof SqliteDialect>[0], statements: SqliteDatabase) {
    super(config);
    this.#statements = statements;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    statementsOf.set(connection, this.#statements);
    return connection;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * Runs the compiled write `statement` once per row of `rows` (each the statement's parameters) on
 * `executor`'s connection, in order, and answers for each row whether it changed a row; undefined when
 * `executor` is not an embedded store opened by `openSqlite` (PostgreSQL), whose caller writes
 * set-based instead. A conditional write of a few thousand rows costs SQLite less one row per run of
 * one prepared statement than as one `UPDATE … FROM json_each(…) RETURNING` (about 1.6 × less on a
 * 300,000-row table, bench/README.md): there is no round trip to save, and no join to materialise.
 */
export async function changesPerRow(
  executor: Pick<Db, 'getExecutor'>,
  statement: CompiledQuery,
  rows: readonly (readonly unknown[])[],
): Promise<boolean[] | undefined> {
  return executor.getExecutor().provideConnection(async (connection) => {
    const statements = statementsOf.get(connection);
    if (!statements) return undefined;
    const prepared = statements.prepare(statement.sql);
    return rows.map((row) => Number(prepared.run(row).changes) > 0);
  });
}
