/**
 * The scaled backend: Kysely over a pool of PostgreSQL connections (`DATABASE_URL`).
 *
 * The database must sort text by bytes (`LC_COLLATE` `C`, or glibc's `C.UTF-8`): device IDs, task IDs
 * and ISO times are compared in SQL and in JavaScript alike (keyset cursors, batch ranges, the
 * audience order), and a linguistic collation would order them differently from JavaScript and from
 * SQLite. `createPostgresDatabase` makes such a database; `openPostgres` refuses any other.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { ConfigError } from '../config.ts';
import { createSecretBox } from '../security/secret-box.ts';
import type { Db } from './database.ts';
import { SealedColumnsPlugin } from './sealed-columns.ts';

/** Connections a process opens to PostgreSQL at most (the API's requests and the workers' jobs share them). */
export const POSTGRES_POOL_SIZE = 10;

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Counters are `bigint` and `count(*)`/`sum()` answer int8/numeric, which node-postgres hands over as
 * strings to be safe beyond 2^53. Pushboard's counts stay far below that (the sum of all counters of
 * a workspace), so they are read as numbers, as SQLite answers them.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    // biome-ignore lint/suspicious/noExplicitAny: pg's own overloads are not expressible here.
    return (pg.types.getTypeParser as any)(oid, format);
  },
};

/** Strings a linguistic collation orders differently from their bytes (case, punctuation, accents). */
const COLLATION_PROBE = ['é', 'a', '_', 'B', 'z', '-', '0', 'tsk_b', 'tsk-a'];

/** The probe in byte order, as JavaScript and SQLite compare strings. */
const BYTE_ORDER = [...COLLATION_PROBE].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

/** Options of a PostgreSQL store besides its URL. */
export interface PostgresOptions {
  /** Largest number of connections of this process (default `POSTGRES_POOL_SIZE`). */
  poolSize?: number;
  /**
   * The key app secrets are sealed with (`Config.secretKey`). Every process of a deployment must
   * have the same one; `main.ts` refuses to start the scaled mode without it. Absent (tools and
   * benchmarks that never touch secrets): columns are stored and read as they are.
   */
  secretKey?: Buffer;
}

/** Opens a pool on `url` and checks that the database sorts text by bytes. */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? POSTGRES_POOL_SIZE,
    types,
    // Every statement is short; one that hangs this long is a bug or a lock cycle, not work.
    statement_timeout: 600_000,
    application_name: 'pushboard',
  });
  // An idle pooled connection that PostgreSQL ends (a restart, a terminated backend, a timeout) is
  // reported here; without a listener it would crash the process. The pool replaces it on next use.
  pool.on('error', (error) => {
    process.stderr.write(`pushboard: an idle PostgreSQL connection was lost: ${error.message}\n`);
  });
  const plugins = options.secretKey ? [new SealedColumnsPlugin(createSecretBox(options.secretKey))] : [];
  const db = new Kysely<never>({
    dialect: new PostgresDialect({ pool, cursor: Cursor }),
    plugins,
  }) as unknown as Db;
  try {
    // Asked of the database itself rather than read off its collation's name: "C", "POSIX" and
    // glibc's "C.UTF-8" all sort by bytes (code points), a linguistic collation does not.
    const { rows } = await sql<{ sorted: string[]; collate: string; schema: string | null }>`
      select array_agg(x order by x) as sorted, current_schema() as schema,
        (select case when datlocprovider = 'i' then 'ICU ' || daticulocale else datcollate end
         from pg_database where datname = current_database()) as collate
      from unnest(${COLLATION_PROBE}::text[]) as x`.execute(db);
    const probe = rows[0];
    if (probe && probe.schema === null) {
      throw new ConfigError(
        'DATABASE_URL: its search_path names no schema that exists; create the schema (CREATE SCHEMA name) or fix the URL',
      );
    }
    if (!probe || probe.sorted.join(' ') !== BYTE_ORDER.join(' ')) {
      throw new ConfigError(
        `DATABASE_URL: the PostgreSQL database sorts text with collation "${probe?.collate}", not by bytes as Pushboard needs. ` +
          `Create it with: CREATE DATABASE pushboard TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8';`,
      );
    }
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

/**
 * Creates database `name` with the collation Pushboard needs (see the top of this file), unless it
 * exists; `adminUrl` is any database of the same server (e.g. `postgres`).
 */
export async function createPostgresDatabase(adminUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount) return;
    // LC_CTYPE stays UTF-8 aware so that lower() folds all of Unicode, as search expects.
    await client.query(
      `create database ${name} template template0 encoding 'UTF8' lc_collate 'C' lc_ctype 'C.UTF-8'`,
    );
  } finally {
    await client.end();
  }
}

/** Drops database `name` (closing its other sessions first); nothing happens if it does not exist. */
export async function dropPostgresDatabase(adminUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}
