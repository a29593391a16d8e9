/**
 * The job queue the dispatcher hands work to: keyed jobs with JSON data, run by a handler with
 * bounded concurrency. The embedded default runs in this process (`in-process-queue.ts`); the
 * scaled mode puts BullMQ behind the same interface (`add` → `Queue.add` with `jobId`, `process` →
 * a `Worker`, `close` → `Worker.close`). Durable state lives in the database, never only in the
 * queue: whoever owns a job can find it again there after a crash.
 */

/** Runs one job. `signal` aborts when the queue closes: stop at the next safe point and return. */
export type JobHandler<T> = (data: T, signal: AbortSignal) => Promise<void>;

/** How a job is added. */
export interface AddOptions {
  /** Milliseconds before the job may run (a delayed job); 0 or absent: at once. */
  delayMs?: number;
}

/** A queue of keyed jobs. */
export interface JobQueue<T> {
  /**
   * Adds a job; nothing happens when a job with this ID is already waiting, delayed or running.
   * Job IDs are made of letters, digits, `_` and `-` (BullMQ refuses `:`).
   */
  add(jobId: string, data: T, options?: AddOptions): Promise<void>;
  /** Removes a waiting job; answers whether there was one (a running job is not interrupted). */
  remove(jobId: string): Promise<boolean>;
  /** Starts handing jobs to `handler`, at most `concurrency` at a time. Call once. */
  process(handler: JobHandler<T>, concurrency: number): void;
  /** Stops taking jobs, aborts the running ones' signals and waits for them to return. */
  close(): Promise<void>;
}
