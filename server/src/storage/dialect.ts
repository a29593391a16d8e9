/**
 * The few places where SQLite and PostgreSQL need different SQL, as small helpers, so that the
 * stores stay one code path: which backend a handle is, a JSON array as a table, and row locks.
 * Row locks matter only where write transactions run at the same time (PostgreSQL); SQLite has one
 * writer at a time and no `FOR UPDATE`, so there every lock helper leaves the query as it is.
 */
import { PostgresAdapter, type RawBuilder, sql } from 'kysely';
import type { Db } from './database.ts';

/** Whether `db` (or a transaction of it) talks to PostgreSQL; otherwise it is the embedded SQLite. */
export function isPostgres(db: Pick<Db, 'getExecutor'>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * A JSON array (given as its text) as a table with one column `value`, one row per element, for
 * `FROM`: `select value ->> 0 from ${jsonArrayRows(db, json)} as j`. Bulk writes pass thousands of
 * rows as one such parameter instead of thousands of bound values (cheaper to build and to parse).
 */
export function jsonArrayRows(db: Pick<Db, 'getExecutor'>, json: string): RawBuilder<unknown> {
  return isPostgres(db) ? sql`jsonb_array_elements(${json}::jsonb)` : sql`json_each(${json})`;
}

/** A select query that can take row locks (Kysely's `SelectQueryBuilder`). */
interface LockableQuery<Q> {
  forUpdate(): Q;
  forShare(): Q;
}

/**
 * `query` taking an exclusive lock on the rows it reads until the transaction ends (PostgreSQL): the
 * read-then-write of a counter row no concurrent transaction may interleave with.
 */
export function selectForUpdate<Q extends LockableQuery<Q>>(db: Pick<Db, 'getExecutor'>, query: Q): Q {
  return isPostgres(db) ? query.forUpdate() : query;
}

/**
 * `query` taking a shared lock on the rows it reads until the transaction ends (PostgreSQL): they
 * stay as read (another transaction's exclusive lock waits) while other readers go on.
 */
export function selectForShare<Q extends LockableQuery<Q>>(db: Pick<Db, 'getExecutor'>, query: Q): Q {
  return isPostgres(db) ? query.forShare() : query;
}

/**
 * Locks the rows `query` selects for the rest of the transaction, making a concurrent writer that
 * locks them first finish before this one reads on (PostgreSQL). On SQLite it runs nothing.
 */
export async function lockRowsForUpdate<Q extends LockableQuery<Q> & { execute(): Promise<unknown> }>(
  db: Pick<Db, 'getExecutor'>,
  query: Q,
): Promise<void> {
  if (isPostgres(db)) await query.forUpdate().execute();
}

/**
 * Locks the rows of `table` whose key (`columns`, text) is one of `keys`, in key order, for the rest of
 * the transaction (PostgreSQL; nothing on SQLite). Writers that then update them in any order cannot
 * deadlock each other: every one took its locks in the same order.
 */
export async function lockRowsInKeyOrder(
  db: Db,
  table: string,
  columns: readonly string[],
  keys: readonly (readonly string[])[],
): Promise<void> {
  if (!isPostgres(db) || keys.length === 0) return;
  const key = sql.join(columns.map((column) => sql.ref(`r.${column}`)));
  const fields = sql.join(columns.map((_, i) => sql`value ->> ${sql.lit(i)}`));
  await sql`
      select 1 from ${sql.table(table)} as r
      where (${key}) in (select ${fields} from ${jsonArrayRows(db, JSON.stringify(keys))} as j)
      order by ${key}
      for update`.execute(db);
}

/**
 * The end of a subquery that picks rows to claim: on PostgreSQL it locks them and skips the rows
 * another transaction is claiming right now, rather than waiting for it (`for update skip locked`).
 */
export function skipLockedRows(db: Pick<Db, 'getExecutor'>): RawBuilder<unknown> {
  return isPostgres(db) ? sql`for update skip locked` : sql``;
}

/**
 * How many rows a long set-based write (an `INSERT … SELECT` of up to millions of rows) should take
 * per statement: `sqliteRows` on SQLite, where a statement holds the database's one write lock until
 * it commits, so other writers get their turn between chunks; undefined (all of them in one
 * statement) on PostgreSQL, where a write locks only its own rows and each chunk would cost a
 * statement, a commit and the keyset lookup of where the next one starts.
 */
export function rowsPerLongWrite(db: Pick<Db, 'getExecutor'>, sqliteRows: number): number | undefined {
  return isPostgres(db) ? undefined : sqliteRows;
}
