/**
 * The two time windows of docs/statistics.md#windows, both counted from the moment a task started sending: the
 * statistics window (receipts after it are `late`) and the device-detail retention (device results
 * are deleted after it). A task that has not started has neither.
 */

const MS_PER_HOUR = 3_600_000;

/** Window lengths of this deployment, in hours (from `Config`). */
export interface WindowSettings {
  statisticsWindowHours: number;
  retentionHours: number;
}

/** When a task's statistics become final and when its device results expire (ISO 8601), null until started. */
export interface TaskWindows {
  statisticsFinalAt: string | null;
  detailsExpireAt: string | null;
}

function addHours(startedAt: string, hours: number): Date {
  return new Date(new Date(startedAt).getTime() + hours * MS_PER_HOUR);
}

/** The windows of a task that started at `startedAt` (ISO 8601), or nulls when it has not started. */
export function taskWindows(startedAt: string | null, settings: WindowSettings): TaskWindows {
  if (startedAt === null) return { statisticsFinalAt: null, detailsExpireAt: null };
  return {
    statisticsFinalAt: addHours(startedAt, settings.statisticsWindowHours).toISOString(),
    detailsExpireAt: addHours(startedAt, settings.retentionHours).toISOString(),
  };
}

/** Whether a receipt at `at` is too late to count: the statistics window closed (its end is exclusive). */
export function isStatisticsFinal(startedAt: string | null, at: Date, settings: WindowSettings): boolean {
  return startedAt !== null && at >= addHours(startedAt, settings.statisticsWindowHours);
}

/** Whether a task's device results are past retention at `at` (its end is exclusive). */
export function areDetailsExpired(startedAt: string | null, at: Date, settings: WindowSettings): boolean {
  return startedAt !== null && at >= addHours(startedAt, settings.retentionHours);
}
