/**
 * The scaled strategy of `batch-runner.ts`: a task's batches are queued as jobs of the batch queue,
 * which any worker takes (`Sender.sendPreparedBatch`); the task's own job keeps at most
 * `REMOTE_BATCHES_IN_FLIGHT` unrecorded, queues again a batch whose job may have been lost, and
 * finishes the task once every batch is recorded, with the send error the batch jobs stored.
 */
import type { BatchRunner } from './batch-runner.ts';
import type { DispatchStore } from './dispatch-store.ts';
import type { Sleep } from './rate-limit.ts';

/**
 * Batches of one task queued and not yet recorded, so that every worker has work (and the memory of
 * the queue stays bounded: a batch job carries its task and number only).
 */
export const REMOTE_BATCHES_IN_FLIGHT = 16;

/** How often the task's job looks whether its queued batches are recorded. */
const REMOTE_POLL_MS = 50;

/** A batch still unrecorded after this long is queued again (its job may have been lost). */
const REMOTE_REQUEUE_MS = 10_000;

/** The queue of batch hand-overs in the scaled mode. */
export interface RemoteBatches {
  /** Queues the hand-over of batch `seq` of a task; nothing happens if it is queued or running already. */
  queue(taskId: string, seq: number): Promise<void>;
}

/** What the queued strategy is built from. */
export interface QueuedRunnerDeps {
  store: DispatchStore;
  remoteBatches: RemoteBatches;
  clock: () => Date;
  sleep: Sleep;
}

/** Queues batches as jobs of `remoteBatches` and watches them being recorded. */
export function queuedRunner(deps: QueuedRunnerDeps): BatchRunner {
  const { store, remoteBatches, clock } = deps;
  return ({ send, signal }) => {
    // Batches queued and not seen recorded yet, with when each was (re)queued.
    const queued = new Map<number, number>();
    const queue = async (seq: number) => {
      await remoteBatches.queue(send.taskId, seq);
      queued.set(seq, clock().getTime());
    };
    /** Forgets the queued batches that are recorded now; queues again those that waited long. */
    const checkQueued = async () => {
      const unrecorded = await store.unrecordedBatches(send.taskId, [...queued.keys()]);
      for (const [seq, at] of queued) {
        if (!unrecorded.has(seq)) queued.delete(seq);
        else if (clock().getTime() - at > REMOTE_REQUEUE_MS) await queue(seq);
      }
    };
    const waitUntilFewer = async (limit: number) => {
      for (;;) {
        await checkQueued();
        if (queued.size < limit || signal.aborted) return;
        await deps.sleep(REMOTE_POLL_MS, signal);
      }
    };
    return {
      // A batch job takes its own rate limit and counts its own provider call.
      handsOverHere: false,
      failed: () => false,
      waitForRoom: () => waitUntilFewer(REMOTE_BATCHES_IN_FLIGHT),
      launch: (batch) => queue(batch.seq),
      async settle() {},
      async end() {
        // The task is finished once every queued batch is recorded, by whichever worker.
        await waitUntilFewer(1);
        if (signal.aborted) return undefined;
        // Batch jobs in other processes may have stopped the send: finish with what they stored.
        const latest = await store.loadSend(send.taskId);
        return latest && { sendError: latest.sendError };
      },
    };
  };
}
