/**
 * Keeping an open task page current while its statistics can still change: the task's live
 * statistics stream (server-sent events) written into the query cache as each event arrives, with
 * polling as the fallback while the stream is down, and throttled refreshes of the heavier reads
 * (device list, breakdown) when the statistics move.
 */
import { type QueryKey, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api } from '../../api/client.ts';
import { ApiError } from '../../api/http.ts';
import type { Task, TaskLiveStatistics } from '../../api/types.ts';

/** How the page follows the task: not at all, opening the stream, streaming, or polling instead. */
export type LiveState = 'off' | 'connecting' | 'live' | 'fallback';

/** The query key of one task read; the live stream writes into it. */
export function taskQueryKey(workspaceId: string, taskId: string): QueryKey {
  return ['ws', workspaceId, 'task', taskId];
}

/** Longest wait before opening a dropped stream again, in ms; polling covers the gap. */
const MAX_RECONNECT_MS = 30_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Follows the task's `…/events` stream while `follow` is true: each `statistics` event replaces the
 * status, statistics and windows in the cached task read (and a changed status fetches the whole task
 * again, for its times); `end` stops. A dropped stream is opened again with a growing delay; a refused
 * one (401, 404…) is not. Answers the state, so that the caller polls unless it is `live`.
 */
export function useTaskEvents(workspaceId: string, taskId: string, follow: boolean): LiveState {
  const queryClient = useQueryClient();
  const [state, setState] = useState<LiveState>('off');

  useEffect(() => {
    if (!follow) {
      setState('off');
      return;
    }
    const stop = new AbortController();
    const key = taskQueryKey(workspaceId, taskId);
    const onStatistics = (live: TaskLiveStatistics) => {
      const before = queryClient.getQueryData<Task>(key);
      queryClient.setQueryData<Task>(key, (task) => task && { ...task, ...live });
      if (before && before.status !== live.status) void queryClient.invalidateQueries({ queryKey: key });
    };
    void (async () => {
      let failures = 0;
      while (!stop.signal.aborted) {
        setState(failures === 0 ? 'connecting' : 'fallback');
        let ended = false;
        try {
          await api.tasks.events(
            workspaceId,
            taskId,
            (event) => {
              if (event.event === 'statistics') {
                failures = 0;
                setState('live');
                onStatistics(JSON.parse(event.data) as TaskLiveStatistics);
              } else if (event.event === 'end') {
                ended = true;
              }
            },
            stop.signal,
          );
        } catch (error) {
          if (stop.signal.aborted) return;
          if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
            setState('fallback');
            return;
          }
        }
        if (ended) {
          // Final (or failed, or deleted): one last read of the whole task, then nothing can change.
          setState('off');
          void queryClient.invalidateQueries({ queryKey: key });
          return;
        }
        failures++;
        setState('fallback');
        await sleep(Math.min(MAX_RECONNECT_MS, 1000 * 2 ** failures), stop.signal);
      }
    })();
    return () => stop.abort();
  }, [workspaceId, taskId, follow, queryClient]);

  return follow ? state : 'off';
}

/**
 * Least time between two refreshes of a read that costs in proportion to the task's size (the
 * breakdown's GROUP BY, a filtered count): 2 s for small tasks, up to a minute for millions of devices.
 */
export function refreshGapMs(totalSent: number): number {
  return Math.min(60_000, Math.max(2000, totalSent / 50));
}

/**
 * Calls `refetch` when `signature` changes (the task's statistics moved), at most once per `gapMs`
 * after the data was last updated (`updatedAt`), and never while `enabled` is false.
 */
export function useRefreshOnChange(
  signature: string,
  refetch: () => unknown,
  updatedAt: number,
  gapMs: number,
  enabled: boolean,
): void {
  const [seen, setSeen] = useState(signature);
  useEffect(() => {
    if (!enabled || signature === seen || updatedAt === 0) return;
    const timer = setTimeout(
      () => {
        setSeen(signature);
        void refetch();
      },
      Math.max(0, gapMs - (Date.now() - updatedAt)),
    );
    return () => clearTimeout(timer);
  }, [signature, seen, refetch, updatedAt, gapMs, enabled]);
}

/** The part of a task that changes as it sends and collects receipts, as one comparable string. */
export function statisticsSignature(task: Task): string {
  const s = task.statistics;
  return [
    task.status,
    s.totalSent,
    s.deliveries,
    s.failures,
    s.noFeedback,
    s.impressions,
    s.opens,
    s.dismissals,
    s.pending,
  ].join('|');
}
