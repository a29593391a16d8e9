/**
 * An in-process hint that a task may have become due: the task routes raise it after creating or
 * rescheduling a task, with the time it is due (null: now). The embedded scheduler answers with a
 * poll at once instead of at its next tick; in the scaled mode the API process turns it into a
 * delayed job of the start queue, which wakes a worker's scheduler at that time.
 * Only a hint — the poll alone starts every due task within one poll interval — so a listener that
 * misses it (another process, a stopped scheduler) loses nothing but a few hundred milliseconds.
 */

type Listener = (dueAt: string | null) => void;

/**
 * The hint's two ends: the task routes `raise` it, the scheduler and the API's start queue `listen`.
 * The composition root (`main.ts`) makes one per process and hands it to both ends.
 */
export interface DueSignal {
  /** Says that a task may be due at `dueAt` (ISO time; null: now), being created or rescheduled. */
  raise(dueAt: string | null): void;
  /** Calls `listener` on every signal until the returned function is called. */
  listen(listener: Listener): () => void;
}

/** A due signal with listeners of its own. */
export function createDueSignal(): DueSignal {
  const listeners = new Set<Listener>();
  return {
    raise(dueAt) {
      for (const listener of listeners) listener(dueAt);
    },
    listen(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

/**
 * The signal `buildApp` and `createDispatcher` share when their caller passes none (tests that build
 * an app and a dispatcher side by side), so that the two ends still meet in one process.
 */
export const PROCESS_DUE_SIGNAL: DueSignal = createDueSignal();
