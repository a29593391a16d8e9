/**
 * The embedded job queue: jobs wait in memory, in the order they were added, and run in this
 * process. Nothing is persisted here, by design: the dispatcher's durable state is in the database
 * and it re-adds its jobs at start-up.
 */
import type { JobHandler, JobQueue } from './queue.ts';

/** What the queue reports when a handler throws (the job is dropped; its owner decides what next). */
export type JobErrorListener = (jobId: string, error: unknown) => void;

/** An in-memory `JobQueue`. */
export function createInProcessQueue<T>(onError: JobErrorListener = () => {}): JobQueue<T> {
  const waiting = new Map<string, T>();
  const delayed = new Map<string, NodeJS.Timeout>();
  const running = new Map<string, Promise<void>>();
  const controller = new AbortController();
  let handler: JobHandler<T> | undefined;
  let concurrency = 1;
  let closed = false;

  function pump(): void {
    if (!handler || closed) return;
    for (const [jobId, data] of waiting) {
      if (running.size >= concurrency) return;
      waiting.delete(jobId);
      const run = handler;
      const job = (async () => {
        try {
          await run(data, controller.signal);
        } catch (error) {
          onError(jobId, error);
        } finally {
          running.delete(jobId);
          pump();
        }
      })();
      running.set(jobId, job);
    }
  }

  return {
    async add(jobId, data, options) {
      if (closed || waiting.has(jobId) || delayed.has(jobId) || running.has(jobId)) return;
      const delayMs = options?.delayMs ?? 0;
      if (delayMs > 0) {
        const timer = setTimeout(() => {
          delayed.delete(jobId);
          if (closed || waiting.has(jobId) || running.has(jobId)) return;
          waiting.set(jobId, data);
          pump();
        }, delayMs);
        // A delayed job alone does not keep the process alive (the database is what survives).
        timer.unref();
        delayed.set(jobId, timer);
        return;
      }
      waiting.set(jobId, data);
      pump();
    },
    async remove(jobId) {
      const timer = delayed.get(jobId);
      if (timer) {
        clearTimeout(timer);
        delayed.delete(jobId);
        return true;
      }
      return waiting.delete(jobId);
    },
    process(jobHandler, maxConcurrent) {
      if (handler) throw new Error('process() was already called on this queue');
      handler = jobHandler;
      concurrency = Math.max(1, maxConcurrent);
      pump();
    },
    async close() {
      closed = true;
      waiting.clear();
      for (const timer of delayed.values()) clearTimeout(timer);
      delayed.clear();
      controller.abort();
      await Promise.all(running.values());
    },
  };
}
