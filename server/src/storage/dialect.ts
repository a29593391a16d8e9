/**
 * The few places where SQLite and PostgreSQL need different SQL, as small helpers, so that the
 * stores stay one code path: which backend a handle is, and a JSON array as a table.
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
