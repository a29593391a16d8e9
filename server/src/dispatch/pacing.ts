/**
 * Pacing of a task's hand-over (docs/delivery-controls.md#pacing): before each batch is written ahead,
 * the sender waits until the schedule of `domain/pacing.ts` lets its first audience member go. The
 * schedule is read from the store each time — when the task started and how many audience members
 * have been written ahead — never from this process's memory, so a send resumed after a restart or by
 * another worker keeps it. The wait is on top of the rate limit, which still applies to every batch.
 */
import { pacedBatchSize, pacedHandOverAt } from '../domain/pacing.ts';
import type { Db } from '../storage/database.ts';
import type { Sleep } from './rate-limit.ts';

/**
 * The longest a pacer sleeps before reading the send again: a stop acknowledged during a long wait (a
 * small audience spread over a day waits minutes between batches) is seen within this.
 */
export const PACING_CHECK_MS = 1_000;

/** Where a paced send stands, as the store knows it. */
export interface PaceState {
  startedAt: string;
  spreadMinutes: number;
  plannedSends: number;
  /** Audience members written ahead so far: every one not pending, plus those in unrecorded batches. */
  written: number;
  /** Whether the send was stopped (`stoppedAt`) or is no longer `sending`: nothing is left to wait for. */
  halted: boolean;
}

/** The store's side of pacing. */
export interface PacingStore {
  /** The pace of a sending task, or null when it is not paced (no `spreadMinutes`). */
  paceOf(taskId: string): Promise<PaceState | null>;
}

/** The pacing store over Kysely: one read of the task and its unrecorded batches. */
export function createPacingStore(db: Db): PacingStore {
  return {
    async paceOf(taskId) {
      const row = await db
        .selectFrom('tasks')
        .select((eb) => [
          'tasks.status',
          'tasks.stopped_at',
          'tasks.started_at',
          'tasks.spread_minutes',
          'tasks.planned_sends',
          'tasks.pending',
          eb
            .selectFrom('batches')
            .select((b) => b.fn.coalesce(b.fn.sum<number>('batches.device_count'), b.lit(0)).as('n'))
            .whereRef('batches.task_id', '=', 'tasks.id')
            .where('batches.status', '=', 'prepared')
            .as('unrecorded'),
        ])
        .where('tasks.id', '=', taskId)
        .executeTakeFirst();
      if (!row || row.spread_minutes === null || row.started_at === null) return null;
      const plannedSends = Number(row.planned_sends);
      return {
        startedAt: row.started_at,
        spreadMinutes: row.spread_minutes,
        plannedSends,
        written: plannedSends - Number(row.pending) + Number(row.unrecorded ?? 0),
        halted: row.stopped_at !== null || row.status !== 'sending',
      };
    },
  };
}

/** Waits for a paced task's schedule; built once per send. */
export interface Pacer {
  /** The batch size to write ahead: `size` for an unpaced task, smaller for a paced one. */
  batchSize(size: number): number;
  /**
   * Resolves once the next audience member may be written ahead and handed over, or when `signal`
   * aborts or the send was stopped (what becomes of the rest is the stop's: delivery-controls.md#stop).
   */
  wait(signal: AbortSignal): Promise<void>;
}

/** A pacer for a task, or null when the task is not paced (then nothing waits). */
export async function createPacer(
  store: PacingStore,
  taskId: string,
  clock: () => Date,
  sleep: Sleep,
): Promise<Pacer | null> {
  const initial = await store.paceOf(taskId);
  if (initial === null || initial.plannedSends === 0) return null;
  const { spreadMinutes, plannedSends } = initial;
  const startedAtMs = Date.parse(initial.startedAt);
  return {
    batchSize: (size) => pacedBatchSize(size, plannedSends, spreadMinutes),
    async wait(signal) {
      for (;;) {
        const state = await store.paceOf(taskId);
        if (state === null || state.halted || signal.aborted) return;
        const due = pacedHandOverAt(startedAtMs, spreadMinutes, state.written, plannedSends);
        const ms = due - clock().getTime();
        if (ms <= 0) return;
        // Aborted by SIGTERM: `sleep` returns at once and the caller sees the signal.
        await sleep(Math.min(ms, PACING_CHECK_MS), signal);
      }
    },
  };
}
