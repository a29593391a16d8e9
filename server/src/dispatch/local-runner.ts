/**
 * The embedded strategy of `batch-runner.ts`: a task's batches are handed over and recorded in the
 * process that writes them ahead, at most `BATCHES_IN_FLIGHT` at a time; the first failure wins.
 */

import type { BatchRunner, TaskRun } from './batch-runner.ts';
import type { PreparedBatch } from './dispatch-store.ts';

/** Batches of one task handed over at the same time: hides provider latency, bounds memory. */
export const BATCHES_IN_FLIGHT = 4;

/** Hands over and records batches in this process with `sendBatch` (`hand-over.ts`). */
export function localRunner(
  sendBatch: (run: TaskRun, batch: PreparedBatch, announced: boolean) => Promise<void>,
): BatchRunner {
  return (run) => {
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    return {
      handsOverHere: true,
      failed: () => failure !== undefined,
      async waitForRoom() {
        while (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight);
      },
      async launch(batch, announced) {
        const sending: Promise<void> = sendBatch(run, batch, announced)
          .catch((error: unknown) => {
            failure ??= { error };
          })
          .finally(() => inFlight.delete(sending));
        inFlight.add(sending);
      },
      // Whatever stopped the run, its batches are recorded (or left prepared) before it ends, so that
      // a retry never finds a batch that is still being recorded.
      async settle() {
        await Promise.all(inFlight);
      },
      async end() {
        if (failure) throw failure.error;
        if (run.signal.aborted) return undefined;
        return { sendError: run.sendError };
      },
    };
  };
}
