/**
 * A task's whole breakdown as `GET …/breakdown` answers it, counted from its device results: the one
 * place that picks the timeline's buckets, shared by the route and by the retention job, which keeps
 * the breakdown before it deletes the results (docs/statistics.md#windows).
 */
import { taskWindows, type WindowSettings } from '../domain/windows.ts';
import {
  type BreakdownStore,
  type BreakdownTask,
  type TaskBreakdown,
  timelineBucketMinutes,
} from './breakdown-store.ts';
import { FAILURE_REASONS_SHOWN } from './device-result-schemas.ts';

/**
 * Counts the breakdown of `task` as of `now`: the timeline covers the time since the start up to
 * `now` or the end of the statistics window, whichever is first (the bucket holding `now` included,
 * so it fills in while a page looks at it). A task not started has empty parts.
 */
export async function countBreakdown(
  store: BreakdownStore,
  task: BreakdownTask,
  now: Date,
  settings: WindowSettings,
): Promise<TaskBreakdown> {
  if (task.started_at === null) {
    return {
      channels: [],
      timeline: { bucketMinutes: timelineBucketMinutes(0), buckets: [] },
      failureReasons: [],
    };
  }
  const start = Date.parse(task.started_at);
  const windowEnd = Date.parse(taskWindows(task.started_at, settings).statisticsFinalAt as string);
  const span = Math.max(0, Math.min(now.getTime(), windowEnd) - start);
  const bucketMinutes = timelineBucketMinutes(span);
  const bucketCount = Math.max(1, Math.ceil(span / (bucketMinutes * 60_000)));
  const [channels, timeline, failureReasons] = await Promise.all([
    store.channels(task),
    store.timeline(task, bucketMinutes, bucketCount),
    store.failureReasons(task, FAILURE_REASONS_SHOWN),
  ]);
  return { channels, timeline, failureReasons };
}
