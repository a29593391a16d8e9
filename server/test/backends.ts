/**
 * The storage backend of this test run, and the storage backends every contract suite runs against.
 *
 * The suite runs twice in CI: embedded (SQLite files, in-process queue) and scaled
 * (`PUSHBOARD_TEST_SCALED=1`: PostgreSQL and Redis on the machine). A scaled run works in its own
 * database (`global-setup.ts` creates and drops it) and gives every store its own schema and Redis
 * key prefix, so that tests and runs never see each other's data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../src/storage/database.ts';
import { migrateToLatest } from '../src/storage/migrations/index.ts';
import { openPostgres } from '../src/storage/postgres.ts';
import { openSqlite } from '../src/storage/sqlite.ts';
import { tempDir } from './helpers.ts';
import { ensurePostgres, ensureRedis, POSTGRES_ADMIN_URL, REDIS_TEST_URL } from './services.ts';

/** Whether this run is the scaled one (PostgreSQL + BullMQ). */
export const SCALED = process.env.PUSHBOARD_TEST_SCALED === '1';

/** The database of this scaled run; `global-setup.ts` names it and creates it. */
export function runDatabaseName(): string {
  const name = process.env.PUSHBOARD_TEST_DATABASE;
  if (!name)
    throw new Error('PUSHBOARD_TEST_DATABASE is not set: run the tests through vitest (global-setup.ts)');
  return name;
}

/** `url` with its database replaced by `database`. */
function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

let counter = 0;

/**
 * `PUSHBOARD_SECRET_KEY` of every scaled test store (the scaled mode needs one): a fixed test key, so
 * that a test opening a store beside a `pushboard` process reads the same secrets.
 */
export const TEST_SECRET_KEY = Buffer.alloc(32, 7).toString('base64');

/**
 * The environment that points a Pushboard process at a fresh, empty store of this run's backend:
 * a data folder (always), plus in a scaled run a new PostgreSQL schema and Redis prefix.
 */
export interface StoreEnv {
  env: Record<string, string>;
  /** Throws the store away (the caller closes its own connections first). */
  dispose(): Promise<void>;
}

/** Makes a fresh store environment in `dir` (see `StoreEnv`); the schema is not migrated yet. */
export async function freshStoreEnv(dir: string): Promise<StoreEnv> {
  if (!SCALED) {
    return { env: { PUSHBOARD_DATA_DIR: dir }, async dispose() {} };
  }
  await Promise.all([ensurePostgres(), ensureRedis()]);
  const database = runDatabaseName();
  const schema = `s${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const runUrl = withDatabase(POSTGRES_ADMIN_URL, database);
  const client = new pg.Client({ connectionString: runUrl });
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  const url = new URL(runUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const prefix = `pbt-${database}-${schema}`;
  return {
    env: {
      PUSHBOARD_DATA_DIR: dir,
      DATABASE_URL: url.toString(),
      REDIS_URL: REDIS_TEST_URL,
      PUSHBOARD_REDIS_PREFIX: prefix,
      PUSHBOARD_SECRET_KEY: TEST_SECRET_KEY,
    },
    async dispose() {
      const admin = new pg.Client({ connectionString: runUrl });
      await admin.connect();
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
      await deleteRedisPrefix(prefix);
    },
  };
}

const storesByDir = new Map<string, Promise<StoreEnv>>();

/**
 * The store environment of the data folder `dir`, made on first use: a folder names one store for
 * the whole test file, so that a server restarted on the same folder finds its data again. In a
 * scaled run its schema is dropped with the run's database.
 */
export async function storeEnvFor(dir: string): Promise<Record<string, string>> {
  let store = storesByDir.get(dir);
  if (!store) {
    store = freshStoreEnv(dir);
    storesByDir.set(dir, store);
  }
  return (await store).env;
}

/** Opens the store a `pushboard` process with environment `env` works on (without migrating it). */
export async function openStoreOf(env: Record<string, string>): Promise<Db> {
  return env.DATABASE_URL
    ? openPostgres(env.DATABASE_URL, { secretKey: Buffer.from(TEST_SECRET_KEY, 'base64') })
    : openSqlite(path.join(env.PUSHBOARD_DATA_DIR as string, 'pushboard.db'));
}

/**
 * A second handle on a test instance's store that refuses every write, as a full disk or a read-only
 * database does: on PostgreSQL every session of its pool defaults to read-only transactions, on
 * SQLite its connection is query-only.
 */
export async function openReadOnlyStore(instance: { env: Record<string, string>; dir: string }): Promise<Db> {
  if (instance.env.DATABASE_URL) {
    const url = new URL(instance.env.DATABASE_URL);
    const options = `${url.searchParams.get('options') ?? ''} -c default_transaction_read_only=on`;
    url.searchParams.set('options', options.trim());
    return openPostgres(url.toString(), { secretKey: Buffer.from(TEST_SECRET_KEY, 'base64') });
  }
  const db = openSqlite(path.join(instance.dir, 'pushboard.db'));
  await sql`pragma query_only = on`.execute(db);
  return db;
}

/** Deletes every Redis key of `prefix` (a store's jobs and rate-limit buckets). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_TEST_URL, { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A migrated, empty store of one backend, and how to throw it away. */
export interface BackendHandle {
  db: Db;
  /** Environment that points a `pushboard` process at this same store. */
  env: Record<string, string>;
  dispose(): Promise<void>;
}

/** Opens a migrated, empty store of this run's backend, with its files in `dir`. */
export async function openTestStore(dir: string): Promise<BackendHandle> {
  const store = await freshStoreEnv(dir);
  const db = SCALED
    ? await openPostgres(store.env.DATABASE_URL as string, {
        secretKey: Buffer.from(TEST_SECRET_KEY, 'base64'),
      })
    : openSqlite(path.join(dir, 'pushboard.db'));
  await migrateToLatest(db);
  return {
    db,
    env: store.env,
    async dispose() {
      await db.destroy();
      await store.dispose();
    },
  };
}

/** One storage backend the contract suites run against. */
export interface Backend {
  name: string;
  open(): Promise<BackendHandle>;
}

/** The backend of this run: the contract suites run on SQLite in the embedded run, on PostgreSQL in the scaled one. */
export const BACKENDS: Backend[] = [
  {
    name: SCALED ? 'postgres' : 'sqlite',
    async open() {
      const dir = tempDir('pushboard-store-');
      const handle = await openTestStore(dir);
      return {
        ...handle,
        async dispose() {
          await handle.dispose();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];
