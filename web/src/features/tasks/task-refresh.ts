/**
 * How the console keeps tasks current without a live stream: how often a task can still change (it is
 * sending, about to be due, or still collecting receipts), and a ticking clock so that a scheduled task
 * becoming due, or a countdown, is noticed without a reload. Used by the details page and the list.
 */
import { useEffect, useState } from 'react';
import type { Task } from '../../api/types.ts';

/** Polling period while a task sends or is about to, in ms. */
export const SENDING_REFRESH_MS = 2000;
/** Polling period while a task's statistics window is open (receipts still count), in ms. */
export const COLLECTING_REFRESH_MS = 15_000;
/** How often a page looks again whether a scheduled task has become due, in ms. */
export const DUE_CHECK_MS = 15_000;
/** A scheduled task due within this many ms is polled as if it were sending. */
const DUE_SOON_MS = 60_000;

/** How often a task read is polled, or false while it cannot change (final, or due later). */
export function refreshInterval(task: Task | undefined, now = Date.now()): number | false {
  if (!task) return false;
  if (task.status === 'sending') return SENDING_REFRESH_MS;
  if (task.status === 'scheduled') {
    const due = task.scheduledAt === null || Date.parse(task.scheduledAt) - now < DUE_SOON_MS;
    return due ? SENDING_REFRESH_MS : false;
  }
  if (task.statisticsFinalAt && Date.parse(task.statisticsFinalAt) > now) return COLLECTING_REFRESH_MS;
  return false;
}

/** The current time, ticking every `periodMs`. */
export function useNow(periodMs: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(timer);
  }, [periodMs]);
  return now;
}
