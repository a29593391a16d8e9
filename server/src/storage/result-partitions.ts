/**
 * PostgreSQL only: `device_results` is partitioned by task ID range, one partition per UTC day of
 * task creation (task IDs begin with their creation time, `ids.ts`), so that all results of a task
 * live in one partition and retention drops a whole partition — a file unlink — instead of deleting
 * tens of millions of rows. Rows of tasks outside every day partition (made before the partitions
 * existed) land in `device_results_default`, which retention empties row by row as on SQLite.
 *
 * Partitions are made ahead (`PARTITION_DAYS_AHEAD` days) by the migration and by every retention
 * run, and dropped once the day is over and none of its tasks still has or may get results to keep.
 */
import { sql } from 'kysely';
import { idFloor } from '../ids.ts';
import type { Db } from './database.ts';
import { isPostgres } from './dialect.ts';

/** Day partitions kept ready beyond today, so a task created tomorrow already has its partition. */
export const PARTITION_DAYS_AHEAD = 2;

const DAY_MS = 86_400_000;

/** The partition of the tasks created on the UTC day of `day`: its table name and task ID range. */
export function dayPartition(day: Date): { table: string; from: string; to: string } {
  const start = Math.floor(day.getTime() / DAY_MS) * DAY_MS;
  const stamp = new Date(start).toISOString().slice(0, 10).replaceAll('-', '');
  return {
    table: `device_results_p${stamp}`,
    from: idFloor('tsk', new Date(start)),
    to: idFloor('tsk', new Date(start + DAY_MS)),
  };
}

/** The day partitions that exist, with their ranges (read from the catalogue). */
async function dayPartitions(db: Db): Promise<{ table: string; from: string; to: string }[]> {
  const { rows } = await sql<{ table: string; bound: string }>`
    select c.relname as table, pg_get_expr(c.relpartbound, c.oid) as bound
    from pg_inherits i
    join pg_class c on c.oid = i.inhrelid
    join pg_class p on p.oid = i.inhparent
    where p.relname = 'device_results' and p.relnamespace = current_schema()::regnamespace
      and c.relname like 'device\\_results\\_p%'`.execute(db);
  return rows.flatMap(({ table, bound }) => {
    const match = /FROM \('([^']*)'\) TO \('([^']*)'\)/.exec(bound);
    return match ? [{ table, from: match[1] as string, to: match[2] as string }] : [];
  });
}

/**
 * Makes the day partitions of `now`'s day and the next `PARTITION_DAYS_AHEAD` days, if missing.
 * Answers the tables it made. A day whose rows already sit in the default partition keeps them there
 * (PostgreSQL refuses to carve a partition out of a default that holds rows of its range).
 */
export async function ensureResultPartitions(db: Db, now: Date): Promise<string[]> {
  const made: string[] = [];
  const existing = new Set((await dayPartitions(db)).map((p) => p.table));
  for (let d = 0; d <= PARTITION_DAYS_AHEAD; d++) {
    const part = dayPartition(new Date(now.getTime() + d * DAY_MS));
    if (existing.has(part.table)) continue;
    const create = async (trx: Db) => {
      // Processes starting together would otherwise race on the catalogue.
      await sql`select pg_advisory_xact_lock(hashtext(${part.table}))`.execute(trx);
      await sql`
        create table if not exists ${sql.id(part.table)} partition of device_results
        for values from (${sql.lit(part.from)}) to (${sql.lit(part.to)})`.execute(trx);
    };
    try {
      // The migration calls this inside its own transaction.
      if (db.isTransaction) await create(db);
      else await db.transaction().execute(create);
      made.push(part.table);
    } catch (error) {
      if (!/default partition|would be violated/i.test(String(error))) throw error;
    }
  }
  return made;
}

/**
 * Drops the day partitions that are over (their day has passed, so no new task can fall in them)
 * and whose every task either had its details purged or can never have results (a task that never
 * started and cannot start any more does not exist: only `scheduled` tasks are unstarted). Answers
 * the tables dropped.
 */
export async function dropExpiredResultPartitions(db: Db, now: Date): Promise<string[]> {
  const dropped: string[] = [];
  const today = dayPartition(now).from;
  for (const part of await dayPartitions(db)) {
    if (part.to > today) continue;
    const kept = await db
      .selectFrom('tasks')
      .select('id')
      .where('id', '>=', part.from)
      .where('id', '<', part.to)
      .where('details_purged_at', 'is', null)
      .limit(1)
      .executeTakeFirst();
    if (kept) continue;
    await sql`drop table if exists ${sql.id(part.table)}`.execute(db);
    dropped.push(part.table);
  }
  return dropped;
}

/**
 * The table retention deletes device results from row by row: on PostgreSQL only the default
 * partition (the day partitions are dropped whole), on SQLite the one `device_results` table.
 */
export function resultsDeletedRowByRow(db: Db): 'device_results_default' | 'device_results' {
  return isPostgres(db) ? 'device_results_default' : 'device_results';
}

/**
 * Retention's partition step: drops the expired day partitions and makes the ones ahead; answers how
 * many it dropped. SQLite has no partitions: nothing to do, 0.
 */
export async function rotateResultPartitions(db: Db, now: Date): Promise<number> {
  if (!isPostgres(db)) return 0;
  const dropped = (await dropExpiredResultPartitions(db, now)).length;
  await ensureResultPartitions(db, now);
  return dropped;
}
