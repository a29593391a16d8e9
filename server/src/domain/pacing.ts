/**
 * Pacing (docs/delivery-controls.md#pacing): when each part of a paced task's audience may be handed
 * over. Pure: the schedule depends only on when the task started, how long it is spread over and how
 * far the send has come, so a restarted send keeps it.
 */

/** Hand-overs per second a paced task aims at: batches are cut small enough for this many. */
const PACED_BATCHES_PER_SECOND = 1;

/**
 * The batch size of a paced task: at most the audience's share of one second of the spread, so that
 * the hand-over is even (a batch a second) rather than a burst every minute; never more than `size`.
 */
export function pacedBatchSize(size: number, plannedSends: number, spreadMinutes: number): number {
  const perSecond = plannedSends / (spreadMinutes * 60 * PACED_BATCHES_PER_SECOND);
  return Math.max(1, Math.min(size, Math.ceil(perSecond)));
}

/**
 * The earliest instant (ms since the epoch) audience member number `offset` (0-based, in dispatch
 * order) of `plannedSends` may be handed over: `startedAt + spread × offset / plannedSends`.
 */
export function pacedHandOverAt(
  startedAtMs: number,
  spreadMinutes: number,
  offset: number,
  plannedSends: number,
): number {
  if (plannedSends <= 0) return startedAtMs;
  return startedAtMs + Math.floor((spreadMinutes * 60_000 * Math.min(offset, plannedSends)) / plannedSends);
}
