/**
 * An in-process hint that a task may have become due: the task routes raise it after creating or
 * rescheduling a task, and the scheduler answers with a poll at once instead of at its next tick.
 * Only a hint — the poll alone starts every due task within one poll interval — so a listener that
 * misses it (another process, a stopped scheduler) loses nothing but a few hundred milliseconds.
 */

type Listener = () => void;

const listeners = new Set<Listener>();

/** Says that a task may be due now (created, or its send type or time changed). */
export function signalTaskMayBeDue(): void {
  for (const listener of listeners) listener();
}

/** Calls `listener` on every signal until the returned function is called. */
export function onTaskMayBeDue(listener: Listener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}
