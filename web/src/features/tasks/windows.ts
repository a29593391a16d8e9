/**
 * How long statistics collect and device details are kept, in hours, as the console names them. The
 * windows are set per deployment (PUSHBOARD_STATISTICS_WINDOW_HOURS, PUSHBOARD_RETENTION_HOURS), so the
 * texts never say "72 hours" on their own: a started task's own windows come from its times, anything
 * else from the deployment's settings in `GET /auth/me`.
 */
import { useQuery } from '@tanstack/react-query';
import { api } from '../../api/client.ts';
import type { Task } from '../../api/types.ts';

/** The two windows, in hours. */
export interface WindowHours {
  statisticsHours: number;
  retentionHours: number;
}

/** The server's defaults, shown only until `GET /auth/me` has answered. */
const DEFAULT_HOURS: WindowHours = { statisticsHours: 72, retentionHours: 72 };
const HOUR_MS = 3_600_000;

/** The deployment's windows (the same `me` query the layout reads). */
export function useDeploymentWindows(): WindowHours {
  const me = useQuery({ queryKey: ['me'], queryFn: api.auth.me, staleTime: 300_000 });
  return me.data?.windows ?? DEFAULT_HOURS;
}

/** A task's windows: from its own times once it has started, else the deployment's. */
export function useTaskWindows(task: Task): WindowHours {
  const deployment = useDeploymentWindows();
  if (!task.startedAt || !task.statisticsFinalAt || !task.detailsExpireAt) return deployment;
  const started = Date.parse(task.startedAt);
  return {
    statisticsHours: Math.round((Date.parse(task.statisticsFinalAt) - started) / HOUR_MS),
    retentionHours: Math.round((Date.parse(task.detailsExpireAt) - started) / HOUR_MS),
  };
}
