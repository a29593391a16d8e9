/**
 * A task's breakdown (docs/console.md task details): its device results counted per channel, and its receipts
 * counted per time bucket since the send started. Both are one aggregate query each over the task's
 * `device_results` (a GROUP BY inside the database); only the grouped counts — a row per channel, a
 * row per (bucket, receipt kind) — come back to JavaScript, whatever the size of the task. When the
 * retention job deletes the results, the breakdown counted just before is kept (`kept_breakdowns`).
 */
import { type Kysely, type RawBuilder, SqliteAdapter, sql } from 'kysely';
import type { TaskCounts } from '../domain/statistics.ts';
import type { Platform } from '../domain/task-content.ts';
import type { Database, Db } from '../storage/database.ts';

/** The counts of one channel, in the words of the task statistics (docs/statistics.md#counters). */
export interface ChannelCounts
  extends Pick<
    TaskCounts,
    'totalSent' | 'deliveries' | 'failures' | 'noFeedback' | 'impressions' | 'opens' | 'dismissals'
  > {
  /** The channel the devices were reached through; '' when the app did not know it. */
  channel: string;
}

/** The receipts of one time bucket: devices whose receipt time falls in `[at, at + bucketMinutes)`. */
export interface TimelineBucket
  extends Pick<TaskCounts, 'deliveries' | 'impressions' | 'opens' | 'dismissals'> {
  /** Start of the bucket (ISO 8601): the task's `startedAt` plus a whole number of buckets. */
  at: string;
}

/** The receipts of a task over time since its send started. */
export interface Timeline {
  bucketMinutes: number;
  buckets: TimelineBucket[];
}

/** The task a breakdown is about, already found in the caller's workspace. */
export interface BreakdownTask {
  id: string;
  platform: Platform;
  started_at: string | null;
}

/**
 * Bucket sizes a timeline can use, in minutes, finest first: a young task is drawn minute by minute,
 * a task with its whole statistics window behind it hour by hour.
 */
export const TIMELINE_BUCKET_MINUTES = [1, 5, 15, 30, 60] as const;

/** Most buckets a timeline has: 72 hourly buckets cover the default 72-hour statistics window. */
export const MAX_TIMELINE_BUCKETS = 72;

const MINUTE_MS = 60_000;

/**
 * The finest bucket size that covers `spanMs` in at most `MAX_TIMELINE_BUCKETS` buckets; a window
 * longer than 72 hours (it is configurable) gets whole hours per bucket.
 */
export function timelineBucketMinutes(spanMs: number): number {
  for (const minutes of TIMELINE_BUCKET_MINUTES) {
    if (spanMs <= minutes * MINUTE_MS * MAX_TIMELINE_BUCKETS) return minutes;
  }
  return 60 * Math.ceil(spanMs / (60 * MINUTE_MS * MAX_TIMELINE_BUCKETS));
}

/**
 * Whole milliseconds from the ISO time `start` to the ISO time in `column`, as an SQL integer. The
 * one dialect branch: SQLite counts in Julian days (rounded to the millisecond, so that a receipt
 * exactly on a bucket boundary never lands in the bucket before), PostgreSQL in epoch seconds.
 */
function millisecondsSince(db: Kysely<Database>, column: string, start: string): RawBuilder<number> {
  const ref = sql.ref(column);
  if (db.getExecutor().adapter instanceof SqliteAdapter) {
    return sql<number>`cast(round((julianday(${ref}) - julianday(${start})) * 86400000) as integer)`;
  }
  const seconds = sql`extract(epoch from (${ref}::timestamptz - ${start}::timestamptz))`;
  return sql<number>`cast(round(${seconds} * 1000) as bigint)`;
}

/** The receipt kinds of a timeline and the result column holding each one's time. */
const TIMELINE_COLUMNS = {
  deliveries: 'r.delivered_at',
  impressions: 'r.impression_at',
  opens: 'r.open_at',
  dismissals: 'r.dismissal_at',
} as const;

type TimelineKind = keyof typeof TIMELINE_COLUMNS;

/** Storage reads of the breakdown. */
export interface BreakdownStore {
  /** The task's device results counted per channel, most devices first. */
  channels(task: BreakdownTask): Promise<ChannelCounts[]>;
  /**
   * The task's receipts counted per bucket of `bucketMinutes` from its `startedAt`, `bucketCount`
   * buckets, empty ones included. A receipt time before the start (a device clock behind) counts in
   * the first bucket, one after the last bucket (a clock ahead) in the last.
   */
  timeline(task: BreakdownTask, bucketMinutes: number, bucketCount: number): Promise<Timeline>;
  /** The `limit` most frequent failure reasons of the task's devices, most devices first. */
  failureReasons(task: BreakdownTask, limit: number): Promise<FailureReasonCount[]>;
  /**
   * Keeps `breakdown` as the task's for good (the retention job, before it deletes the results it
   * was counted from); a breakdown kept already stays: it was counted from every result.
   */
  keep(taskId: string, breakdown: TaskBreakdown, keptAt: string): Promise<void>;
  /** The task's kept breakdown, or undefined when none was kept (its results are still held). */
  kept(taskId: string): Promise<TaskBreakdown | undefined>;
}

/** A whole breakdown: per channel, over time, and the top failure reasons. */
export interface TaskBreakdown {
  channels: ChannelCounts[];
  timeline: Timeline;
  failureReasons: FailureReasonCount[];
}

/** How many of a task's devices failed for one reason. */
export interface FailureReasonCount {
  reason: string;
  devices: number;
}

/** The breakdown store over Kysely. */
export function createBreakdownStore(db: Db): BreakdownStore {
  return {
    async channels(task) {
      const ios = task.platform === 'ios';
      const rows = await db
        .selectFrom('device_results as r')
        .where('r.task_id', '=', task.id)
        // Only the devices handed over: a capped or cancelled device was sent through no channel.
        .where('r.send_result', 'in', ['success', 'failure', 'no_feedback'])
        .groupBy('r.channel')
        .select((eb) => {
          // COUNT skips nulls: a CASE without ELSE counts the rows of one send result.
          const withResult = (result: 'success' | 'failure' | 'no_feedback') =>
            eb.fn.count<number>(eb.case().when('r.send_result', '=', result).then(1).end());
          return [
            'r.channel',
            eb.fn.countAll<number>().as('total_sent'),
            withResult('success').as('deliveries'),
            withResult('failure').as('failures'),
            withResult('no_feedback').as('no_feedback'),
            eb.fn.count<number>('r.impression_at').as('impressions'),
            eb.fn.count<number>('r.open_at').as('opens'),
            eb.fn.count<number>('r.dismissal_at').as('dismissals'),
          ];
        })
        .orderBy('total_sent', 'desc')
        .orderBy('r.channel')
        .execute();
      return rows.map((row) => ({
        channel: row.channel,
        totalSent: Number(row.total_sent),
        deliveries: Number(row.deliveries),
        failures: Number(row.failures),
        noFeedback: Number(row.no_feedback),
        impressions: Number(row.impressions),
        opens: Number(row.opens),
        // iOS has no dismissal receipts (docs/statistics.md#counters): 0, whatever a row holds.
        dismissals: ios ? 0 : Number(row.dismissals),
      }));
    },

    async failureReasons(task, limit) {
      const rows = await db
        .selectFrom('device_results as r')
        .where('r.task_id', '=', task.id)
        .where('r.send_result', '=', 'failure')
        .groupBy('r.failure_reason')
        .select((eb) => ['r.failure_reason', eb.fn.countAll<number>().as('n')])
        .orderBy('n', 'desc')
        // Ties by reason, a missing one first in both dialects (they order NULL differently).
        .orderBy(sql`coalesce(r.failure_reason, '')`)
        .limit(limit)
        .execute();
      return rows.map((row) => ({
        reason: row.failure_reason ?? 'rejected by the provider',
        devices: Number(row.n),
      }));
    },

    async keep(taskId, breakdown, keptAt) {
      await db
        .insertInto('kept_breakdowns')
        .values({ task_id: taskId, breakdown: JSON.stringify(breakdown), kept_at: keptAt })
        .onConflict((oc) => oc.column('task_id').doNothing())
        .execute();
    },

    async kept(taskId) {
      const row = await db
        .selectFrom('kept_breakdowns')
        .select('breakdown')
        .where('task_id', '=', taskId)
        .executeTakeFirst();
      return row === undefined ? undefined : (JSON.parse(row.breakdown) as TaskBreakdown);
    },

    async timeline(task, bucketMinutes, bucketCount) {
      const startedAt = task.started_at;
      if (startedAt === null || bucketCount < 1) return { bucketMinutes, buckets: [] };
      const bucketMs = bucketMinutes * MINUTE_MS;
      const kinds = (Object.keys(TIMELINE_COLUMNS) as TimelineKind[]).filter(
        (kind) => !(kind === 'dismissals' && task.platform === 'ios'),
      );
      // One branch per receipt kind, each a range read of the task's primary key; the union is grouped
      // once. The bucket size is a literal integer, so that `/` is an integer division in both dialects.
      const branch = (kind: TimelineKind) => {
        const since = millisecondsSince(db, TIMELINE_COLUMNS[kind], startedAt);
        return db
          .selectFrom('device_results as r')
          .where('r.task_id', '=', task.id)
          .where(TIMELINE_COLUMNS[kind], 'is not', null)
          .select([sql<number>`${since} / ${sql.lit(bucketMs)}`.as('bucket'), sql.lit(kind).as('kind')]);
      };
      const [first, ...rest] = kinds.map(branch);
      const union = rest.reduce((query, next) => query.unionAll(next), first!);
      const rows = await db
        .selectFrom(union.as('t'))
        .select((eb) => ['t.bucket', 't.kind', eb.fn.countAll<number>().as('n')])
        .groupBy(['t.bucket', 't.kind'])
        .execute();

      const start = Date.parse(startedAt);
      const buckets: TimelineBucket[] = Array.from({ length: bucketCount }, (_, i) => ({
        at: new Date(start + i * bucketMs).toISOString(),
        deliveries: 0,
        impressions: 0,
        opens: 0,
        dismissals: 0,
      }));
      for (const row of rows) {
        const index = Math.min(bucketCount - 1, Math.max(0, Number(row.bucket)));
        buckets[index]![row.kind as TimelineKind] += Number(row.n);
      }
      return { bucketMinutes, buckets };
    },
  };
}
