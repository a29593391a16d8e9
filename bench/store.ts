/**
 * Where a bench server, trial or probe keeps its data, in either mode: an SQLite file (embedded) or a
 * PostgreSQL database of the run (`--scaled`). Child processes get it as one command-line argument
 * (`storeLocation`: the file's path or the database's URL). Also the PostgreSQL side of the raw
 * probes: a plain node-postgres connection, and the statements a store runs, captured to be replayed.
 */
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database, Db } from '../server/src/storage/database.ts';
import { openPostgres } from '../server/src/storage/postgres.ts';
import { openSqlite } from '../server/src/storage/sqlite.ts';
import type { BenchContext } from './harness.ts';
import { type CapturedQuery, copyDatabase, removeDatabase } from './results-fixture.ts';
import type { BenchDatabase } from './scaled.ts';

/** A store of the bench: an SQLite file, or a PostgreSQL database of the run. */
export type BenchStore = { kind: 'sqlite'; file: string } | ({ kind: 'postgres' } & BenchDatabase);

/** The store as a child process takes it on its command line: the file's path or the database's URL. */
export function storeLocation(store: BenchStore): string {
  return store.kind === 'sqlite' ? store.file : store.url;
}

/** Whether a command-line store location names a PostgreSQL database. */
export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

/** Opens the product's store (`Db`) on a location given by `storeLocation`. */
export async function openStoreAt(location: string, poolSize?: number): Promise<Db> {
  return isPostgresLocation(location)
    ? openPostgres(location, poolSize === undefined ? {} : { poolSize })
    : openSqlite(location);
}

/**
 * A copy of `from` for one scenario or trial: the file copied into the scenario's folder (`file` is
 * checkpointed, so it is the whole database), or the database cloned. Nothing may be connected to
 * `from` while it is cloned.
 */
export async function copyStore(ctx: BenchContext, from: BenchStore, label: string): Promise<BenchStore> {
  if (from.kind === 'sqlite') {
    const file = path.join(ctx.workDir, `${label}.db`);
    copyDatabase(from.file, file);
    return { kind: 'sqlite', file };
  }
  if (!ctx.scaled) throw new Error('a PostgreSQL store outside the scaled mode');
  return { kind: 'postgres', ...(await ctx.scaled.cloneDatabase(from, label)) };
}

/** Removes a copy made by `copyStore` (the file and its WAL, or the database). */
export async function removeStore(ctx: BenchContext, store: BenchStore): Promise<void> {
  if (store.kind === 'sqlite') {
    removeDatabase(store.file);
    return;
  }
  await ctx.scaled?.dropDatabase(store);
}

/** A plain node-postgres connection for a raw probe: no pool, no Kysely, nothing between the SQL and the server. */
export async function rawPostgres(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'pushboard-bench-probe' });
  // An idle connection the server cuts (an interrupted run dropping its databases) emits an error;
  // without a listener that would end the process. A query on it still fails as it should.
  client.on('error', () => {});
  await client.connect();
  return client;
}

/**
 * A store over a PostgreSQL database that records the SQL it sends (the PostgreSQL twin of
 * `captureQueries`), so that a probe can time exactly the statements a request runs: `take` answers
 * the statements sent since the last `take`.
 */
export function postgresCapture(url: string): {
  db: Db;
  take(): CapturedQuery[];
  close(): Promise<void>;
} {
  let captured: CapturedQuery[] = [];
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    log: (event) => {
      if (event.level === 'query')
        captured.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  return {
    db: db as unknown as Db,
    take() {
      const taken = captured;
      captured = [];
      return taken;
    },
    close: () => db.destroy(),
  };
}

/** Runs store code over a PostgreSQL database and answers the SQL it sent (see `postgresCapture`). */
export async function capturePostgresQueries(
  url: string,
  run: (db: Db) => Promise<unknown>,
): Promise<CapturedQuery[]> {
  const capture = postgresCapture(url);
  try {
    await run(capture.db);
    return capture.take();
  } finally {
    await capture.close();
  }
}

/**
 * Captured statements as named (server-side prepared) statements of `client`: parsed and planned
 * once, then only executed, as better-sqlite3's prepared statements are on the embedded side.
 */
export function preparedStatements(
  client: pg.Client,
  queries: readonly CapturedQuery[],
  namePrefix: string,
): (() => Promise<unknown>)[] {
  const names = new Map<string, string>();
  return queries.map((query) => {
    let name = names.get(query.sql);
    if (name === undefined) {
      name = `${namePrefix}_${names.size + 1}`;
      names.set(query.sql, name);
    }
    const config = { name, text: query.sql, values: [...query.parameters] };
    return () => client.query(config);
  });
}
