/**
 * How one task in `sending` is sent, batch after batch (README.md has the guarantees):
 *
 * 1. write ahead — take the next audience members after the cursor, count the unmatched ones, write
 *    the batch of matched ones as `prepared` and advance the cursor, in one transaction;
 * 2. hand over — wait for the app's rate limit, count the attempt on the batch, call the provider with
 *    the batch ID as idempotency key; retry retryable errors with exponential backoff;
 * 3. record — write one device result per device, mark the batch `sent` (or `failed`) and move the
 *    counters, in one transaction.
 *
 * Steps 2 and 3 of a batch are `hand-over.ts`; a `BatchRunner` (`batch-runner.ts`) carries each batch
 * from step 1 to them: in this process (`local-runner.ts`) or, in the scaled mode, as a job of the
 * batch queue in whichever worker takes it (`queued-runner.ts`, `sendPreparedBatch`).
 *
 * A restart finds the batches still `prepared`, sends them again with the same batch ID (the
 * provider recognises a repeat) and records them, then continues after the cursor.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { batchSizeFor } from '../domain/batch.ts';
import { statisticsViolations } from '../domain/statistics.ts';
import type { ProviderRegistry } from '../providers/provider.ts';
import type { RunBatches, TaskRun } from './batch-runner.ts';
import type { DispatchStore, PreparedBatch, TaskSend } from './dispatch-store.ts';
import { createHandOver } from './hand-over.ts';
import { localRunner } from './local-runner.ts';
import { createPacer } from './pacing.ts';
import { queuedRunner, type RemoteBatches } from './queued-runner.ts';
import type { RateLimiter, Sleep } from './rate-limit.ts';

/** Where the dispatcher writes what it does; pino's logger fits. */
export interface DispatchLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** What a sender is built from. */
export interface SenderDeps {
  store: DispatchStore;
  providers: ProviderRegistry;
  settings: { batchSize: number; maxAttempts: number; retryBaseMs: number; rateLimitPerSecond: number };
  rateLimiter: RateLimiter;
  /** The receipt URL of an app (docs/receipts.md), carrying its receipt secret for providers that cannot sign. */
  receiptUrl: (app: TaskSend['app']) => string;
  /** The dispatcher's one clock: every time the sender writes or measures comes from it. */
  clock: () => Date;
  sleep: Sleep;
  logger: DispatchLogger;
  /** Scaled mode: batches are handed over by jobs of this queue instead of in the sending process. */
  remoteBatches?: RemoteBatches;
}

/** Sends one task until it is completed or failed, or until `signal` aborts (it then stays `sending`). */
export type SendTask = (taskId: string, signal: AbortSignal) => Promise<void>;

/** What sends: whole tasks, and (scaled mode) single prepared batches. */
export interface Sender {
  sendTask: SendTask;
  /**
   * Hands over and records batch `seq` of a task if it is still `prepared`, as a job of the batch queue;
   * returns early, leaving it prepared, when `signal` aborts.
   */
  sendPreparedBatch(taskId: string, seq: number, signal: AbortSignal): Promise<void>;
}

/** Creates the sender. */
export function createSender(deps: SenderDeps): Sender {
  const { store, settings, logger } = deps;
  const now = () => deps.clock().toISOString();
  const sendBatch = createHandOver(deps);
  // The one choice between the two strategies: in this process, or as jobs of the batch queue.
  const runner = deps.remoteBatches
    ? queuedRunner({ store, remoteBatches: deps.remoteBatches, clock: deps.clock, sleep: deps.sleep })
    : localRunner(sendBatch);

  /** A run of a task's send, as loaded now. */
  function startRun(send: TaskSend, signal: AbortSignal): TaskRun {
    return { send, provider: deps.providers[send.app.provider], signal, sendError: send.sendError };
  }

  /**
   * Step 1: writes the next batch ahead from `ahead` (the send as advanced so far). When this process
   * hands it over, the rate limit is taken for a full batch before it is written, so that writing it
   * ahead and counting its hand-over are one write; what the batch does not use is given back.
   * Answers null when the audience is exhausted or the run aborted.
   */
  async function writeAhead(run: TaskRun, ahead: TaskSend, size: number, handsOverHere: boolean) {
    const { app } = run.send;
    const announced = run.sendError === null && run.provider !== undefined && handsOverHere;
    if (announced) {
      await deps.rateLimiter.take(app.id, size, run.signal, app.config.rateLimitPerSecond);
      if (run.signal.aborted) return null;
    }
    const next = await store.prepareBatch(ahead, size, now(), announced);
    if (announced)
      deps.rateLimiter.refund(
        app.id,
        size - (next?.batch?.devices.length ?? 0),
        app.config.rateLimitPerSecond,
      );
    return next && { ...next, announced };
  }

  /** Completes or fails a send whose audience is exhausted, with a reason a marketer can act on. */
  async function finish(send: TaskSend, sendError: string | null): Promise<void> {
    let counts = await store.counts(send.taskId);
    if (counts.pending !== 0) {
      // Only possible if the audience changed during the send: what was never reached is not planned.
      const dropped = await store.dropPending(send.taskId);
      logger.error({ taskId: send.taskId, dropped }, 'audience exhausted with devices still pending');
      counts = await store.counts(send.taskId);
    }
    let reason: string | null = null;
    if (counts.deliveries + counts.noFeedback === 0) {
      if (sendError !== null) reason = sendError;
      else if (counts.plannedSends === 0) reason = 'The audience is empty: there was nobody to send to.';
      else if (counts.totalSent === 0 && counts.capped > 0) {
        reason = `All ${counts.capped} matched devices were at the app's frequency cap: none was handed over.`;
      } else if (counts.totalSent === 0) {
        reason = `None of the ${counts.plannedSends} audience devices has a push token registered for this app (empty match).`;
      } else {
        const top = await store.topFailureReason(send.taskId);
        reason = `The provider rejected all ${counts.totalSent} devices${top ? ` (most often: ${top})` : ''}.`;
      }
    }
    const finished = await store.finishTask(
      send.taskId,
      reason === null ? 'complete' : 'fail',
      reason,
      now(),
    );
    // A stop acknowledged after the last batch was written ahead: the task ends stopped instead.
    if (!finished && (await endStop(send))) return;
    const status = reason === null ? 'completed' : 'failed';
    const problems = statisticsViolations(counts, { platform: send.app.platform, status });
    if (problems.length > 0)
      logger.error({ taskId: send.taskId, problems }, 'task statistics are inconsistent');
    if (finished) logger.info({ taskId: send.taskId, status, ...counts, reason }, `task ${status}`);
  }

  /**
   * A stopped send (README "When a send stops"): cancels what was never handed over and ends the
   * task `stopped` once the batches still being handed over are recorded; answers false when the
   * task was not stopped.
   */
  async function endStop(send: TaskSend, batches?: RunBatches): Promise<boolean> {
    const first = await store.cancelUnsent(send, now());
    if (first === null) return false;
    let { cancelled, stopped } = first;
    if (!stopped && batches) {
      // Batches claimed before the stop are finished and recorded (another worker's, in the scaled mode).
      if ((await batches.end()) === undefined) return true; // Aborted: the next run ends the stop.
      const again = await store.cancelUnsent(send, now());
      cancelled += again?.cancelled ?? 0;
      stopped = again?.stopped ?? false;
    }
    const counts = await store.counts(send.taskId);
    const problems = statisticsViolations(counts, {
      platform: send.app.platform,
      status: stopped ? 'stopped' : 'sending',
    });
    if (problems.length > 0)
      logger.error({ taskId: send.taskId, problems }, 'task statistics are inconsistent');
    if (stopped) logger.info({ taskId: send.taskId, ...counts, cancelled }, 'task stopped');
    return true;
  }

  async function sendTask(taskId: string, signal: AbortSignal): Promise<void> {
    const send = await store.loadSend(taskId);
    if (!send) return;
    const run = startRun(send, signal);
    if (!run.provider && run.sendError === null) {
      run.sendError = `no ${send.app.provider} provider in this server`;
      await store.stopSend(send.taskId, run.sendError);
    }
    const rate = send.app.config.rateLimitPerSecond ?? settings.rateLimitPerSecond;
    const pacer = await createPacer(store, taskId, deps.clock, deps.sleep);
    const size = batchSizeFor(settings.batchSize, run.provider, rate);
    const writeSize = pacer?.batchSize(size) ?? size;
    const batches = runner(run);
    try {
      // Batches a restart interrupted come first, with the same batch IDs (steps 2 and 3).
      for (const batch of await store.preparedBatches(send, now())) {
        if (signal.aborted || batches.failed()) break;
        await batches.waitForRoom();
        await batches.launch(batch, false);
      }
      let ahead = send;
      while (!signal.aborted && !batches.failed()) {
        await batches.waitForRoom();
        // A paced send waits for its schedule; one already stopped by a provider error records the rest at once.
        const paced = pacer !== null && run.sendError === null;
        if (paced) await pacer.wait(signal);
        if (signal.aborted) break;
        const next = await writeAhead(run, ahead, paced ? writeSize : size, batches.handsOverHere); // step 1
        if (next === null || next.stopped) break;
        ahead = next.send;
        if (next.batch) await batches.launch(next.batch, next.announced); // steps 2 and 3
        // SQLite answers synchronously: without this, a long send would never let a request in.
        await yieldToEventLoop();
      }
    } finally {
      await batches.settle();
    }
    if (await endStop(send, batches)) return;
    const ending = await batches.end();
    if (ending) await finish(send, ending.sendError);
  }

  async function sendPreparedBatch(taskId: string, seq: number, signal: AbortSignal): Promise<void> {
    const send = await store.loadSend(taskId);
    if (!send) return;
    const batch: PreparedBatch | null = await store.preparedBatch(send, seq, now());
    if (!batch) return; // Recorded already: a repeat of a job whose first run finished.
    await sendBatch(startRun(send, signal), batch, false);
  }

  return { sendTask, sendPreparedBatch };
}
