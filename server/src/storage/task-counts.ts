/**
 * Where the task counters (`domain/statistics.ts` `COUNTERS`) live in storage: one `tasks` column
 * per counter, and the one function that turns a row's counter columns into `TaskCounts`. Adding a
 * counter means adding it to `COUNTERS`, here, and in a migration; every read and select follows.
 */
import { COUNTER_NAMES, type CounterName, type TaskCounts } from '../domain/statistics.ts';

/** The `tasks` column of each counter. */
export const COUNTER_COLUMNS = {
  plannedSends: 'planned_sends',
  unmatched: 'unmatched',
  capped: 'capped',
  totalSent: 'total_sent',
  deliveries: 'deliveries',
  failures: 'failures',
  noFeedback: 'no_feedback',
  impressions: 'impressions',
  opens: 'opens',
  dismissals: 'dismissals',
  pending: 'pending',
  cancelled: 'cancelled',
  late: 'late',
} as const satisfies Record<CounterName, string>;

/** The name of a `tasks` counter column. */
export type CounterColumn = (typeof COUNTER_COLUMNS)[CounterName];

/** The counter columns of a `tasks` row (`bigint` in the schema, numbers once read). */
export type CounterColumns = Record<CounterColumn, number>;

/** Every counter column, in the order of `COUNTER_NAMES`: what a select of the counters lists. */
export const COUNTER_COLUMN_NAMES: readonly CounterColumn[] = COUNTER_NAMES.map(
  (name) => COUNTER_COLUMNS[name],
);

/** The counter columns of a task that has not started sending: all zero. */
export const ZERO_COUNTER_COLUMNS: Readonly<CounterColumns> = Object.freeze(
  Object.fromEntries(COUNTER_COLUMN_NAMES.map((column) => [column, 0])) as CounterColumns,
);

/**
 * The counters of a task row. Counter columns are `bigint`: PostgreSQL answers them as strings,
 * SQLite as numbers, so each is read through `Number`.
 */
export function taskCountsOf(row: Record<CounterColumn, number | string>): TaskCounts {
  return Object.fromEntries(
    COUNTER_NAMES.map((name) => [name, Number(row[COUNTER_COLUMNS[name]])]),
  ) as TaskCounts;
}

/** The row's counter columns as numbers, the rest of the row unchanged (see `taskCountsOf` on why). */
export function withNumericCounters<T extends CounterColumns>(row: T): T {
  const copy = { ...row };
  for (const column of COUNTER_COLUMN_NAMES) copy[column] = Number(row[column]) as T[CounterColumn];
  return copy;
}
