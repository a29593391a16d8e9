/**
 * The scaled mode of the bench (`--scaled`): the machine's PostgreSQL and Redis, checked before any
 * scenario runs, and the databases and Redis key prefixes of this run. Every database of the run is
 * named `pushboard_bench_<pid>…` and every Redis key starts with `pbbench-<pid>`, so that a run never
 * touches anything else on the servers; `cleanUp` removes all of them, which `run.ts` calls however
 * the run ends (success, failure, SIGINT or SIGTERM).
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { deletePrefix } from '../server/src/queue/bullmq-queue.ts';
import { createPostgresDatabase, dropPostgresDatabase } from '../server/src/storage/postgres.ts';

/** The PostgreSQL server the scaled bench uses, as its superuser (the machine's, trust auth). */
export const BENCH_POSTGRES_URL =
  process.env.PUSHBOARD_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The Redis server the scaled bench uses. */
export const BENCH_REDIS_URL = process.env.PUSHBOARD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** How long the check of each server may take before the run gives up. */
const CONNECT_TIMEOUT_MS = 3000;

/** A database of this run. */
export interface BenchDatabase {
  name: string;
  /** Its connection URL (what `DATABASE_URL` would say). */
  url: string;
}

/** The scaled mode's servers and what this run made on them. */
export interface ScaledRun {
  redisUrl: string;
  /** `server_version` of PostgreSQL, e.g. `15.20 (Debian 15.20-0+deb12u1)`. */
  postgresVersion: string;
  /** `redis_version` of Redis. */
  redisVersion: string;
  /** The settings of PostgreSQL that bear on the figures (it is the machine's, not tuned for the bench). */
  postgresSettings: Record<string, string>;
  /** Creates an empty database of this run with the collation Pushboard needs (`createPostgresDatabase`). */
  createDatabase(label: string): Promise<BenchDatabase>;
  /**
   * Creates a database of this run as a copy of `from` (`CREATE DATABASE … TEMPLATE`, a copy of its
   * files: the scaled twin of copying an SQLite file). Nobody may be connected to `from`.
   */
  cloneDatabase(from: BenchDatabase, label: string): Promise<BenchDatabase>;
  dropDatabase(database: BenchDatabase): Promise<void>;
  /** A new Redis key prefix of this run (`PUSHBOARD_REDIS_PREFIX` of a server or trial). */
  redisPrefix(label: string): string;
  /** Deletes every key of a prefix `redisPrefix` made. */
  deleteRedisPrefix(prefix: string): Promise<void>;
  /** Drops every database and deletes every Redis key of this run. */
  cleanUp(): Promise<void>;
}

/** `url` with its database replaced by `database`. */
function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A database name part made of what PostgreSQL takes unquoted. */
function plainLabel(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

async function checkPostgres(adminUrl: string) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
    const { rows } = await client.query<{ name: string; setting: string }>(
      `select name, current_setting(name) as setting from pg_settings
       where name in ('server_version', 'shared_buffers', 'work_mem', 'synchronous_commit', 'max_wal_size', 'fsync')`,
    );
    const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
    const { server_version: version = 'unknown', ...rest } = settings;
    return { version, settings: rest };
  } catch (error) {
    throw new Error(
      `--scaled needs PostgreSQL at ${adminUrl} (set PUSHBOARD_BENCH_POSTGRES_URL to another): ${(error as Error).message}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

async function checkRedis(redisUrl: string): Promise<string> {
  // Unlike the product's connections (`openRedis`), this one gives up at once instead of retrying.
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // The connection's own error says why (ECONNREFUSED…); the command's only that it closed.
  let cause: Error | undefined;
  redis.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    const info = await Promise.race([
      redis.connect().then(() => redis.info('server')),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS),
      ),
    ]);
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } catch (error) {
    throw new Error(
      `--scaled needs Redis at ${redisUrl} (set PUSHBOARD_BENCH_REDIS_URL to another): ${(cause ?? (error as Error)).message}`,
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * Checks that PostgreSQL and Redis answer (throwing an error that says which one does not and where
 * it was looked for) and answers the run's handle on them.
 */
export async function connectScaled(
  adminUrl = BENCH_POSTGRES_URL,
  redisUrl = BENCH_REDIS_URL,
): Promise<ScaledRun> {
  const [postgres, redisVersion] = await Promise.all([checkPostgres(adminUrl), checkRedis(redisUrl)]);
  const base = `pushboard_bench_${process.pid}`;
  const redisBase = `pbbench-${process.pid}`;
  const prefixes = new Set<string>();
  let databases = 0;
  let keyPrefixes = 0;
  const nextName = (label: string) => `${base}_${++databases}_${plainLabel(label)}`.slice(0, 63);
  const database = (name: string): BenchDatabase => ({ name, url: withDatabase(adminUrl, name) });

  const admin = async <T>(run: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  };

  return {
    redisUrl,
    postgresVersion: postgres.version,
    redisVersion,
    postgresSettings: postgres.settings,
    async createDatabase(label) {
      const name = nextName(label);
      await createPostgresDatabase(adminUrl, name);
      return database(name);
    },
    async cloneDatabase(from, label) {
      const name = nextName(label);
      // FILE_COPY copies the template's files after a checkpoint; the default (WAL_LOG) would write
      // the whole database through the WAL, several times slower for the gigabytes of the fixture.
      await admin((client) =>
        client.query(`create database ${name} template ${from.name} strategy file_copy`),
      );
      return database(name);
    },
    async dropDatabase(target) {
      await dropPostgresDatabase(adminUrl, target.name);
    },
    redisPrefix(label) {
      const prefix = `${redisBase}-${++keyPrefixes}-${label.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      prefixes.add(prefix);
      return prefix;
    },
    async deleteRedisPrefix(prefix) {
      await deletePrefix(redisUrl, prefix);
      prefixes.delete(prefix);
    },
    async cleanUp() {
      const names = await admin(async (client) => {
        const { rows } = await client.query<{ datname: string }>(
          'select datname from pg_database where datname = $1 or left(datname, $2) = $3',
          [base, base.length + 1, `${base}_`],
        );
        return rows.map((r) => r.datname);
      });
      for (const name of names) await dropPostgresDatabase(adminUrl, name);
      for (const prefix of prefixes) await deletePrefix(redisUrl, prefix);
      prefixes.clear();
    },
  };
}
