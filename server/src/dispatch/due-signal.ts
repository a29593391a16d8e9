/**
 * An in-process hint that a task may have become due: the task routes raise it after creating or
 * rescheduling a task, with the time it is due (null: now). The embedded scheduler answers with a
 * poll at once instead of at its next tick; in the scaled mode the API process turns it into a
 * delayed job of the start queue, which wakes a worker's scheduler at that time.
 * Only a hint — the poll alone starts every due task within one poll interval — so a listener that
 * misses it (another process, a stopped scheduler) loses nothing but a few hundred milliseconds.
 */

type Listener = (dueAt: string | null) => void;

const listeners = new Set<Listener>();

/** Says that a task may be due at `dueAt` (ISO time; null: now), being created or rescheduled. */
export function signalTaskMayBeDue(dueAt: string | null): void {
  for (const listener of listeners) listener(dueAt);
}

/** Calls `listener` on every signal until the returned function is called. */
export function onTaskMayBeDue(listener: Listener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
