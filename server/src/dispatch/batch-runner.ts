/**
 * How the batches of one task go from written ahead to recorded (README steps 2 and 3): in this
 * process (`local-runner.ts`, embedded) or as jobs of the batch queue that any worker takes
 * (`queued-runner.ts`, scaled mode). The sender picks one strategy when it is created; `sendTask`
 * reads the same for both.
 */
import type { Provider } from '../providers/provider.ts';
import type { PreparedBatch, TaskSend } from './dispatch-store.ts';

/** One run of a task's send (until it ends, fails on storage or is aborted), shared by its batches. */
export interface TaskRun {
  /** The task as loaded when the run began. */
  readonly send: TaskSend;
  /** The app's provider; undefined if this server has none of its kind (the send is then stopped). */
  readonly provider: Provider | undefined;
  /** Aborts when the server stops: the batches not recorded stay prepared for the next run. */
  readonly signal: AbortSignal;
  /**
   * The provider error that stopped the send, once one did (the first batch to stop it sets it): the
   * later batches of the run are recorded as not sent.
   */
  sendError: string | null;
}

/** The batches of one run between writing ahead and recording. */
export interface RunBatches {
  /**
   * Whether the batches are handed over by this process right after being written ahead: their
   * first provider call is then rate-limited and counted in the same write as the batch.
   */
  readonly handsOverHere: boolean;
  /** Whether a batch failed on something other than the provider: the run stops writing ahead. */
  failed(): boolean;
  /** Resolves once one more batch may be in flight (or the run is aborted). */
  waitForRoom(): Promise<void>;
  /** Sends a prepared batch on (`announced`: its first provider call was counted when it was written). */
  launch(batch: PreparedBatch, announced: boolean): Promise<void>;
  /** Waits for the batches this process is handing over, however the run stopped writing ahead. */
  settle(): Promise<void>;
  /**
   * Once writing ahead is over: waits until every batch is recorded and answers the send error to
   * finish the task with, or undefined when this run does not finish it (aborted, or no longer
   * sending). Throws the failure of a batch.
   */
  end(): Promise<{ sendError: string | null } | undefined>;
}

/** The strategy that carries a run's batches: one is chosen when the sender is created. */
export type BatchRunner = (run: TaskRun) => RunBatches;
