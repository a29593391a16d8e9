/**
 * Quiet hours at start time (docs/delivery-controls.md#quiet-hours): a marketing task that falls due
 * inside its app's quiet window is not started but deferred — it stays `scheduled` with
 * `deferred_until` at the window's end, and the due query passes it over until then. At that time it
 * is judged again against the app's quiet hours as they are then, so a window changed meanwhile is
 * honoured; editing the task or the app's quiet hours clears the deferral, so it is judged at once.
 */
import type { QuietHours } from '../domain/delivery-settings.ts';
import { readQuietHours } from '../domain/delivery-settings.ts';
import { quietUntil } from '../domain/quiet-hours.ts';
import type { Db } from '../storage/database.ts';

/** The store's side of quiet hours. */
export interface DeferralStore {
  /** The quiet hours that hold a scheduled task: its app's, for a marketing task; null otherwise. */
  quietHoursOf(taskId: string): Promise<QuietHours | null>;
  /** Defers a task to `until`, only if it is still scheduled; answers whether it did. */
  deferTask(taskId: string, until: string, now: string): Promise<boolean>;
}

/** The deferral store over Kysely. */
export function createDeferralStore(db: Db): DeferralStore {
  return {
    async quietHoursOf(taskId) {
      const row = await db
        .selectFrom('tasks')
        .innerJoin('apps', 'apps.id', 'tasks.app_id')
        .select(['tasks.category', 'apps.quiet_hours'])
        .where('tasks.id', '=', taskId)
        .executeTakeFirst();
      // Service tasks are never held (SPEC §10.5).
      if (row?.category !== 'marketing') return null;
      return readQuietHours(row.quiet_hours);
    },
    async deferTask(taskId, until, now) {
      const result = await db
        .updateTable('tasks')
        .set({ deferred_until: until, updated_at: now })
        .where('id', '=', taskId)
        .where('status', '=', 'scheduled')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

/**
 * Judges a due task against its quiet hours at `at`: answers the end of the window (ISO) when the task
 * was deferred to it, or null when it may start now.
 */
export async function deferIfQuiet(store: DeferralStore, taskId: string, at: Date): Promise<string | null> {
  const quiet = await store.quietHoursOf(taskId);
  const until = quiet && quietUntil(quiet, at);
  if (!until) return null;
  const deferredUntil = until.toISOString();
  // False when a delete got there first: then there is nothing to start either.
  await store.deferTask(taskId, deferredUntil, at.toISOString());
  return deferredUntil;
}
