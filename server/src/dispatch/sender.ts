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
 * A restart finds the batches still `prepared`, sends them again with the same batch ID (the
 * provider recognises a repeat) and records them, then continues after the cursor.
 *
 * In the scaled mode steps 2 and 3 of each batch run as a job of the batch queue, in whichever worker
 * takes it (`sendPreparedBatch`); the task's own job writes batches ahead, queues them, keeps at most
 * `REMOTE_BATCHES_IN_FLIGHT` unrecorded, and finishes the task once all are recorded. A batch job
 * always counts its own provider call before making it, so a job run again after its worker died
 * knows the batch may have been handed over and sends it as a repeat.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { statisticsViolations } from '../domain/statistics.ts';
import { SendAbortedError } from '../providers/per-device.ts';
import type {
  DeviceSendOutcome,
  Provider,
  ProviderApp,
  ProviderRegistry,
  SendBatchResult,
} from '../providers/provider.ts';
import { ProviderError } from '../providers/provider.ts';
import { createAnswerJournal } from './answer-journal.ts';
import {
  acceptedResult,
  type BatchRecord,
  type DispatchStore,
  type InvalidToken,
  type JournaledAnswer,
  type PreparedBatch,
  type ResultException,
  type TaskSend,
} from './dispatch-store.ts';
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
  /** The receipt URL of an app (SPEC §5), carrying its receipt secret for providers that cannot sign. */
  receiptUrl: (app: TaskSend['app']) => string;
  clock: () => Date;
  sleep: Sleep;
  logger: DispatchLogger;
  /** Scaled mode: batches are handed over by jobs of this queue instead of in the sending process. */
  remoteBatches?: RemoteBatches;
}

/** Sends one task until it is completed or failed, or until `signal` aborts (it then stays `sending`). */
export type SendTask = (taskId: string, signal: AbortSignal) => Promise<void>;

/** The queue of batch hand-overs in the scaled mode. */
export interface RemoteBatches {
  /** Queues the hand-over of batch `seq` of a task; nothing happens if it is queued or running already. */
  queue(taskId: string, seq: number): Promise<void>;
}

/** What sends: whole tasks, and (scaled mode) single prepared batches. */
export interface Sender {
  sendTask: SendTask;
  /**
   * Hands over and records batch `seq` of a task if it is still `prepared`, as a job of the batch queue;
   * returns early, leaving it prepared, when `signal` aborts.
   */
  sendPreparedBatch(taskId: string, seq: number, signal: AbortSignal): Promise<void>;
}

/** Batches of one task handed over at the same time: hides provider latency, bounds memory. */
export const BATCHES_IN_FLIGHT = 4;

/**
 * Scaled mode: batches of one task queued and not yet recorded, so that every worker has work (and
 * the memory of the queue stays bounded: a batch job carries its task and number only).
 */
export const REMOTE_BATCHES_IN_FLIGHT = 16;

/** Scaled mode: how often the task's job looks whether its queued batches are recorded. */
const REMOTE_POLL_MS = 50;

/** Scaled mode: a batch still unrecorded after this long is queued again (its job may have been lost). */
const REMOTE_REQUEUE_MS = 10_000;

/** Longest wait between two attempts of a batch, in milliseconds. */
export const MAX_RETRY_DELAY_MS = 60_000;

/** The ID of a task's batch `seq`: stable across retries and restarts, the provider's idempotency key. */
export function batchIdOf(taskId: string, seq: number): string {
  return `${taskId}-${seq}`;
}

/** Milliseconds to wait after failed attempt `attempt` (1-based): `baseMs`, doubling each time, capped. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** (attempt - 1));
}

/** A provider error as a sentence that names its code once. */
function describeError(error: ProviderError): string {
  return error.message.includes(error.code) ? error.message : `${error.message} (${error.code})`;
}

/** Anything a provider threw, as a `ProviderError`; unexpected errors are not retried. */
function asProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError('UNEXPECTED', `the provider failed unexpectedly: ${message}`, false);
}

/** Creates the sender. */
export function createSender(deps: SenderDeps): Sender {
  const { store, settings, logger } = deps;
  const now = () => deps.clock().toISOString();

  /** The app as providers see it (the config's shape follows the provider). */
  function providerApp(send: TaskSend): ProviderApp {
    const { receiptSecret: _secret, ...app } = send.app;
    return app as ProviderApp;
  }

  /**
   * The record of a batch: each device's outcome as `outcomes` list it, `rest` for the devices they
   * do not list (on their registered channel), with the tokens the provider called invalid.
   */
  function recordOf(
    batch: PreparedBatch,
    outcomes: readonly (DeviceSendOutcome & { pushToken?: string })[],
    rest: { sendResult: ResultException['sendResult']; failureReason: string | null },
    ending: Pick<BatchRecord, 'status' | 'providerRef' | 'error' | 'at'>,
  ): BatchRecord {
    const { at } = ending;
    const common = {
      sendResult: rest.sendResult,
      failureReason: rest.failureReason,
      deliveredAt: rest.sendResult === 'success' ? at : null,
    };
    const counts = { deliveries: 0, failures: 0, noFeedback: 0 };
    const exceptions = new Map<string, ResultException>();
    const invalidTokens = new Map<string, InvalidToken>();
    if (outcomes.length > 0) {
      const devices = new Map(batch.devices.map((d) => [d.deviceId, d]));
      for (const outcome of outcomes) {
        const device = devices.get(outcome.deviceId);
        if (!device) continue; // Not a device of this batch: nothing to record.
        if (outcome.invalidToken !== undefined) {
          invalidTokens.set(outcome.deviceId, {
            deviceId: outcome.deviceId,
            // The token the answer was about: a journaled answer may predate a new registration.
            pushToken: outcome.pushToken ?? device.pushToken,
            reason: outcome.invalidToken,
          });
        } else invalidTokens.delete(outcome.deviceId);
        const channel = outcome.channel ?? device.channel;
        const failureReason =
          outcome.sendResult === 'failure' ? (outcome.failureReason ?? 'rejected by the provider') : null;
        if (
          outcome.sendResult === common.sendResult &&
          failureReason === common.failureReason &&
          channel === device.channel
        ) {
          exceptions.delete(outcome.deviceId);
          continue;
        }
        exceptions.set(outcome.deviceId, {
          deviceId: outcome.deviceId,
          channel,
          sendResult: outcome.sendResult,
          failureReason,
          deliveredAt: outcome.sendResult === 'success' ? at : null,
        });
      }
    }
    const tally = (result: ResultException['sendResult'], n: number) => {
      if (result === 'success') counts.deliveries += n;
      else if (result === 'failure') counts.failures += n;
      else counts.noFeedback += n;
    };
    tally(common.sendResult, batch.devices.length - exceptions.size);
    for (const e of exceptions.values()) tally(e.sendResult, 1);
    return {
      ...ending,
      common,
      exceptions: [...exceptions.values()],
      counts,
      invalidTokens: [...invalidTokens.values()],
    };
  }

  /** The record of a batch the provider answered (devices it does not list were accepted). */
  function answered(send: TaskSend, batch: PreparedBatch, result: SendBatchResult, at: string): BatchRecord {
    const rest = { sendResult: acceptedResult(send.app.platform), failureReason: null };
    return recordOf(batch, result.outcomes, rest, {
      status: 'sent',
      providerRef: result.providerRef,
      error: null,
      at,
    });
  }

  /**
   * The record of a batch whose send failed with `reason`: the devices a per-device provider had
   * answered already keep their answers (`answers`), every other device fails with the reason.
   */
  function failed(
    batch: PreparedBatch,
    reason: string,
    error: BatchRecord['error'],
    at: string,
    answers: readonly DeviceSendOutcome[] = [],
  ): BatchRecord {
    const rest = { sendResult: 'failure' as const, failureReason: reason };
    return recordOf(batch, answers, rest, { status: 'failed', providerRef: null, error, at });
  }

  /**
   * Hands one prepared batch over (with retries) and records it; returns early, unrecorded, on abort.
   * `announced`: the first attempt was counted and rate-limited when the batch was written ahead.
   */
  async function processBatch(
    send: TaskSend,
    provider: Provider | undefined,
    batch: PreparedBatch,
    announced: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const batchId = batchIdOf(send.taskId, batch.seq);
    // Called before a restart: it may have reached the provider, which must recognise the repeat.
    const resend = batch.attempts > 0 && !announced;
    if (batch.devices.length === 0) {
      // Every device of a batch written before a restart has left the app since: nothing to hand over.
      await store.recordBatch(send, batch, answered(send, batch, { providerRef: null, outcomes: [] }, now()));
      return;
    }
    // A provider that answers each device: its answers are journaled as they come, and a retry or a
    // resumed batch hands over only the devices without one (README "Write-ahead").
    const eachDevice = provider?.answersEachDevice === true;
    let earlier: JournaledAnswer[] = [];
    for (let attempt = 1; ; attempt++) {
      if (send.sendError !== null || !provider) {
        if (eachDevice) earlier = await store.journaledAnswers(send.taskId, batch.seq);
        const reason = `not sent: ${send.sendError ?? `no ${send.app.provider} provider in this server`}`;
        const error = { code: 'SEND_STOPPED', message: reason.slice('not sent: '.length) };
        await store.recordBatch(send, batch, failed(batch, reason, error, now(), earlier));
        return;
      }
      if (eachDevice && (attempt > 1 || resend)) {
        earlier = await store.journaledAnswers(send.taskId, batch.seq);
      }
      const answeredIds = new Set(earlier.map((o) => o.deviceId));
      const devices =
        answeredIds.size === 0 ? batch.devices : batch.devices.filter((d) => !answeredIds.has(d.deviceId));
      if (devices.length === 0) {
        // Every device was answered before the retry or the restart: record what they said.
        await store.recordBatch(
          send,
          batch,
          answered(send, batch, { providerRef: null, outcomes: earlier }, now()),
        );
        return;
      }
      if (attempt > 1 || !announced) {
        await deps.rateLimiter.take(send.app.id, devices.length, signal, send.app.config.rateLimitPerSecond);
        if (signal.aborted) return;
        if (send.sendError !== null) continue;
        // Counted before the call, so that a restart knows the batch may have been handed over.
        await store.noteHandOver(send.taskId, batch.seq);
      }
      // Stops a per-device send when the server stops or the journal cannot be written (the devices
      // answered from then on could not be told apart from those never handed over).
      const stopping = new AbortController();
      const stopSending = () => stopping.abort();
      signal.addEventListener('abort', stopSending, { once: true });
      const tokenOf = eachDevice ? new Map(devices.map((d) => [d.deviceId, d.pushToken])) : undefined;
      const journal = tokenOf
        ? createAnswerJournal(
            (outcomes) =>
              store.journalAnswers(
                send.taskId,
                batch.seq,
                outcomes.map((o) => ({ ...o, pushToken: tokenOf.get(o.deviceId) ?? '' })),
              ),
            stopSending,
          )
        : undefined;
      let result: SendBatchResult;
      try {
        result = await provider
          .sendBatch({
            app: providerApp(send),
            taskId: send.taskId,
            batchId,
            content: send.content,
            devices,
            sendAt: null,
            receiptUrl: deps.receiptUrl(send.app),
            ...(resend && { resend: true }),
            ...(journal && { onAnswered: journal.add, signal: stopping.signal }),
          })
          .finally(() => signal.removeEventListener('abort', stopSending));
      } catch (thrown) {
        // Outside the provider's error: a journal write that failed leaves the batch prepared.
        await journal?.settle();
        // Stopped by the server's shutdown: the batch stays prepared, and its next run hands over only
        // the devices without a journaled answer.
        if (thrown instanceof SendAbortedError) return;
        const error = asProviderError(thrown);
        const last = !error.retryable || attempt >= settings.maxAttempts;
        const details = { taskId: send.taskId, batchId, attempt, code: error.code, error: error.message };
        if (!last) {
          logger.warn(details, 'provider error; the batch will be retried');
          await store.noteError(send.taskId, batch.seq, { code: error.code, message: error.message }, null);
          await deps.sleep(retryDelayMs(attempt, settings.retryBaseMs), signal);
          if (signal.aborted) return;
          continue;
        }
        const reason = error.retryable
          ? `${describeError(error)} — still failing after ${attempt} attempts`
          : describeError(error);
        logger.error(details, 'provider error; the send of the task stops');
        send.sendError ??= reason;
        await store.noteError(send.taskId, batch.seq, { code: error.code, message: error.message }, reason);
        const answers = [...earlier, ...(journal?.answers ?? [])];
        await store.recordBatch(
          send,
          batch,
          failed(batch, reason, { code: error.code, message: error.message }, now(), answers),
        );
        return;
      }
      // Outside the try: a storage error here is not the provider's, and the batch stays prepared.
      await journal?.settle();
      const outcomes = earlier.length > 0 ? [...earlier, ...result.outcomes] : result.outcomes;
      await store.recordBatch(send, batch, answered(send, batch, { ...result, outcomes }, now()));
      return;
    }
  }

  /** Completes or fails a send whose audience is exhausted, with a reason a marketer can act on. */
  async function finish(send: TaskSend): Promise<void> {
    let counts = await store.counts(send.taskId);
    if (counts.pending !== 0) {
      // Only possible if the audience changed during the send: what was never reached is not planned.
      const dropped = await store.dropPending(send.taskId);
      logger.error({ taskId: send.taskId, dropped }, 'audience exhausted with devices still pending');
      counts = await store.counts(send.taskId);
    }
    let reason: string | null = null;
    if (counts.deliveries + counts.noFeedback === 0) {
      if (send.sendError !== null) reason = send.sendError;
      else if (counts.plannedSends === 0) reason = 'The audience is empty: there was nobody to send to.';
      else if (counts.totalSent === 0) {
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
    const status = reason === null ? 'completed' : 'failed';
    const problems = statisticsViolations(counts, { platform: send.app.platform, status });
    if (problems.length > 0)
      logger.error({ taskId: send.taskId, problems }, 'task statistics are inconsistent');
    if (finished) logger.info({ taskId: send.taskId, status, ...counts, reason }, `task ${status}`);
  }

  async function sendTask(taskId: string, signal: AbortSignal): Promise<void> {
    const send = await store.loadSend(taskId);
    if (!send) return;
    const provider = deps.providers[send.app.provider];
    if (!provider && send.sendError === null) {
      send.sendError = `no ${send.app.provider} provider in this server`;
      await store.stopSend(send.taskId, send.sendError);
    }
    // A provider that answers each device hands a batch over as fast as its connection allows: under a
    // rate limit, batches of at most one second's worth keep every burst within the limit.
    const rate = send.app.config.rateLimitPerSecond ?? settings.rateLimitPerSecond;
    const paced = provider?.answersEachDevice === true && rate > 0 ? rate : settings.batchSize;
    const size = Math.max(
      1,
      Math.min(settings.batchSize, provider?.maxBatchDevices ?? settings.batchSize, paced),
    );
    const remote = deps.remoteBatches;

    // At most BATCHES_IN_FLIGHT batches between writing ahead and recording; the first failure wins.
    const inFlight = new Set<Promise<void>>();
    // Scaled mode: batches queued and not seen recorded yet, with when each was (re)queued.
    const queued = new Map<number, number>();
    let failure: { error: unknown } | undefined;
    const launch = async (batch: PreparedBatch, announced: boolean) => {
      if (remote) {
        await remote.queue(send.taskId, batch.seq);
        queued.set(batch.seq, Date.now());
        return;
      }
      const run: Promise<void> = processBatch(send, provider, batch, announced, signal)
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(run));
      inFlight.add(run);
    };
    /** Scaled mode: forgets the queued batches that are recorded now; queues again those that waited long. */
    const checkQueued = async () => {
      const unrecorded = await store.unrecordedBatches(send.taskId, [...queued.keys()]);
      for (const [seq, at] of queued) {
        if (!unrecorded.has(seq)) queued.delete(seq);
        else if (Date.now() - at > REMOTE_REQUEUE_MS && remote) {
          await remote.queue(send.taskId, seq);
          queued.set(seq, Date.now());
        }
      }
    };
    const waitForRoom = async (limit: number) => {
      if (remote) {
        for (;;) {
          await checkQueued();
          if (queued.size < limit || signal.aborted) return;
          await deps.sleep(REMOTE_POLL_MS, signal);
        }
      }
      while (inFlight.size >= limit) await Promise.race(inFlight);
    };
    const maxInFlight = remote ? REMOTE_BATCHES_IN_FLIGHT : BATCHES_IN_FLIGHT;

    try {
      // Batches a restart interrupted come first, with the same batch IDs.
      for (const batch of await store.preparedBatches(send, now())) {
        if (signal.aborted || failure) break;
        await waitForRoom(maxInFlight);
        await launch(batch, false);
      }
      while (!signal.aborted && !failure) {
        await waitForRoom(maxInFlight);
        if (signal.aborted) break;
        // The rate limit is taken for a full batch before it is written, so that writing it ahead and
        // counting its hand-over are one write; what the batch does not use is given back. A batch
        // job (scaled mode) takes its own rate limit and counts its own call instead.
        const handingOver = send.sendError === null && provider !== undefined && !remote;
        if (handingOver) {
          await deps.rateLimiter.take(send.app.id, size, signal, send.app.config.rateLimitPerSecond);
          if (signal.aborted) break;
        }
        const next = await store.prepareBatch(send, size, now(), handingOver);
        if (handingOver)
          deps.rateLimiter.refund(
            send.app.id,
            size - (next?.batch?.devices.length ?? 0),
            send.app.config.rateLimitPerSecond,
          );
        if (next === null) break;
        if (next.batch) await launch(next.batch, handingOver);
        // SQLite answers synchronously: without this, a long send would never let a request in.
        await yieldToEventLoop();
      }
    } finally {
      // Whatever stopped the loop, the batches in flight are recorded (or left prepared) before this
      // run ends, so that a retry never finds a batch that is still being recorded.
      await Promise.all(inFlight);
    }
    if (failure) throw failure.error;
    // Scaled mode: the task is finished once every queued batch is recorded, by whichever worker.
    if (remote) await waitForRoom(1);
    if (signal.aborted) return;
    if (remote) {
      // Batch jobs in other processes may have stopped the send: finish with what they stored.
      const latest = await store.loadSend(taskId);
      if (!latest) return;
      send.sendError = latest.sendError;
    }
    await finish(send);
  }

  async function sendPreparedBatch(taskId: string, seq: number, signal: AbortSignal): Promise<void> {
    const send = await store.loadSend(taskId);
    if (!send) return;
    const batch = await store.preparedBatch(send, seq, now());
    if (!batch) return; // Recorded already: a repeat of a job whose first run finished.
    const provider = deps.providers[send.app.provider];
    await processBatch(send, provider, batch, false, signal);
  }

  return { sendTask, sendPreparedBatch };
}
