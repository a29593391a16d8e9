/**
 * A task's delivery statistics (docs/statistics.md#counters): the counters kept per task, the rates derived from
 * them, and the invariants that must hold at every moment — the dispatcher and receipt ingestion
 * check them while sending, and tests check them everywhere.
 */
import { AppError } from '../errors.ts';
import type { Platform } from './task-content.ts';
import type { TaskStatus } from './task-state.ts';

/**
 * The counters stored per task, in the order the API shows them, each with what it counts; every
 * one counts devices, each device at most once. The one list of counters: the storage columns
 * (`storage/task-counts.ts`), the API schema and the console's types all derive from it.
 */
export const COUNTERS = {
  plannedSends: 'Devices in the target audience at send time.',
  unmatched: 'Audience devices with no registered push token for the app (matching loss).',
  capped: "Audience devices not handed over because they had reached the app's frequency cap.",
  totalSent: 'Devices handed to the provider.',
  deliveries: 'Devices with send result success.',
  failures: 'Devices the provider rejected.',
  noFeedback: 'Android only: accepted by the provider, no delivery receipt (yet).',
  impressions: 'Devices with an impression receipt.',
  opens: 'Devices with an open receipt.',
  dismissals: 'Android only: devices that dismissed the notification individually.',
  pending: 'Audience devices neither handed to the provider nor found unmatched or capped yet.',
  cancelled: 'Audience devices never handed over because the task was stopped.',
  late: 'Receipts that arrived after the statistics window closed; not counted anywhere else.',
} as const;

/** The name of one task counter. */
export type CounterName = keyof typeof COUNTERS;

/** Every counter name, in the order of `COUNTERS`. */
export const COUNTER_NAMES = Object.keys(COUNTERS) as readonly CounterName[];

/** The counters of one task, by name (see `COUNTERS` for what each one counts). */
export type TaskCounts = Record<CounterName, number>;

/** The counters plus their rates over deliveries: fractions in [0, 1], or null when nothing was delivered. */
export interface TaskStatistics extends TaskCounts {
  impressionRate: number | null;
  openRate: number | null;
  dismissalRate: number | null;
}

/** The statistics of a task that has not started sending. */
export const ZERO_COUNTS: Readonly<TaskCounts> = Object.freeze(
  Object.fromEntries(COUNTER_NAMES.map((name) => [name, 0])) as TaskCounts,
);

/** `count ÷ denominator` as a fraction, or null over a zero denominator so no caller ever sees NaN. */
export function rate(count: number, denominator: number): number | null {
  return denominator > 0 ? count / denominator : null;
}

/** The statistics object of docs/api.md#shapes: the counters and their rates over deliveries. */
export function taskStatistics(counts: TaskCounts): TaskStatistics {
  return {
    ...counts,
    impressionRate: rate(counts.impressions, counts.deliveries),
    openRate: rate(counts.opens, counts.deliveries),
    dismissalRate: rate(counts.dismissals, counts.deliveries),
  };
}

/** What the invariant check may know about the task beyond its counters. */
export interface StatisticsContext {
  platform?: Platform;
  status?: TaskStatus;
}

/**
 * Every docs/statistics.md#invariants invariant the counters break, as readable sentences (empty when consistent).
 * Returning a list rather than throwing lets tests and logs show every problem at once.
 */
export function statisticsViolations(counts: TaskCounts, context: StatisticsContext = {}): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(counts)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      problems.push(`${name} must be a non-negative integer, got ${value}`);
    }
  }
  const { plannedSends, unmatched, capped, totalSent, pending, cancelled } = counts;
  const { deliveries, failures, noFeedback } = counts;
  if (plannedSends !== unmatched + capped + totalSent + pending + cancelled) {
    problems.push(
      `plannedSends (${plannedSends}) must equal unmatched + capped + totalSent + pending + cancelled ` +
        `(${unmatched} + ${capped} + ${totalSent} + ${pending} + ${cancelled})`,
    );
  }
  if (totalSent !== deliveries + failures + noFeedback) {
    problems.push(
      `totalSent (${totalSent}) must equal deliveries + failures + noFeedback (${deliveries} + ${failures} + ${noFeedback})`,
    );
  }
  // A receipt only ever counts a device that was handed to the provider, so no receipt kind can
  // outnumber the devices actually sent to.
  for (const kind of ['impressions', 'opens', 'dismissals'] as const) {
    if (counts[kind] > totalSent)
      problems.push(`${kind} (${counts[kind]}) cannot exceed totalSent (${totalSent})`);
  }
  if (context.platform === 'ios') {
    if (noFeedback !== 0) problems.push(`noFeedback must be 0 on iOS, got ${noFeedback}`);
    if (counts.dismissals !== 0) problems.push(`dismissals must be 0 on iOS, got ${counts.dismissals}`);
  }
  if (context.status !== undefined && context.status !== 'sending' && pending !== 0) {
    problems.push(`pending must be 0 unless the task is sending (it is ${context.status}), got ${pending}`);
  }
  // Only a stop cancels devices; a stopped task may have cancelled none (it was stopped on its last batch).
  if (
    context.status !== undefined &&
    context.status !== 'sending' &&
    context.status !== 'stopped' &&
    cancelled !== 0
  ) {
    problems.push(
      `cancelled must be 0 unless the task was stopped (it is ${context.status}), got ${cancelled}`,
    );
  }
  return problems;
}

/** Throws `INTERNAL` naming every broken invariant; a broken invariant is a bug, never a user error. */
export function assertStatisticsConsistent(counts: TaskCounts, context: StatisticsContext = {}): void {
  const problems = statisticsViolations(counts, context);
  if (problems.length > 0) {
    throw new AppError('INTERNAL', `Task statistics are inconsistent: ${problems.join('; ')}.`, {
      problems,
    });
  }
}
