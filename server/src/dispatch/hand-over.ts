/**
 * The life of one batch after it was written ahead (README steps 2 and 3), in one place: hand it over
 * to the provider with retries — journaling each device's answer for a provider that answers each
 * device — and build its record, then record it in one transaction. Runs in the process that wrote
 * the batch (embedded) or in whichever worker takes its job (scaled mode).
 */
import { acceptedResult, batchIdOf, retryDelayMs } from '../domain/batch.ts';
import { SendAbortedError } from '../providers/per-device.ts';
import type { DeviceSendOutcome, ProviderApp, SendBatchResult } from '../providers/provider.ts';
import { ProviderError } from '../providers/provider.ts';
import { createAnswerJournal } from './answer-journal.ts';
import type { TaskRun } from './batch-runner.ts';
import type {
  BatchRecord,
  InvalidToken,
  JournaledAnswer,
  PreparedBatch,
  ResultException,
  TaskSend,
} from './dispatch-store.ts';
import type { SenderDeps } from './sender.ts';

/** What handing batches over needs from the sender's dependencies. */
export type HandOverDeps = Pick<
  SenderDeps,
  'store' | 'settings' | 'rateLimiter' | 'receiptUrl' | 'clock' | 'sleep' | 'logger'
>;

/** Hands over one prepared batch and records it; returns early, leaving it prepared, on abort. */
export type SendBatch = (run: TaskRun, batch: PreparedBatch, announced: boolean) => Promise<void>;

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

/** Creates the function that hands one batch over and records it. */
export function createHandOver(deps: HandOverDeps): SendBatch {
  const { store, settings, logger } = deps;
  const now = () => deps.clock().toISOString();

  /**
   * Hands one prepared batch over (with retries) and answers its record; undefined when it stays
   * prepared (the server stops) or has nothing left to record (cancelled by a stop, or recorded). `announced`: the first attempt was counted and rate-limited when
   * the batch was written ahead.
   */
  async function handOver(
    run: TaskRun,
    batch: PreparedBatch,
    announced: boolean,
  ): Promise<BatchRecord | undefined> {
    const { send, provider, signal } = run;
    const batchId = batchIdOf(send.taskId, batch.seq);
    // Called before a restart: it may have reached the provider, which must recognise the repeat.
    const resend = batch.attempts > 0 && !announced;
    if (batch.devices.length === 0) {
      // Every device of a batch written before a restart has left the app since: nothing to hand over.
      return answered(send, batch, { providerRef: null, outcomes: [] }, now());
    }
    // A provider that answers each device: its answers are journaled as they come, and a retry or a
    // resumed batch hands over only the devices without one (README "Write-ahead").
    const eachDevice = provider?.answersEachDevice === true;
    let earlier: JournaledAnswer[] = [];
    for (let attempt = 1; ; attempt++) {
      const stopped = run.sendError !== null || !provider;
      if (eachDevice && (stopped || attempt > 1 || resend)) {
        earlier = await store.journaledAnswers(send.taskId, batch.seq);
      }
      if (stopped) {
        const reason = `not sent: ${run.sendError ?? `no ${send.app.provider} provider in this server`}`;
        const error = { code: 'SEND_STOPPED', message: reason.slice('not sent: '.length) };
        return failed(batch, reason, error, now(), earlier);
      }
      const answeredIds = new Set(earlier.map((o) => o.deviceId));
      const devices =
        answeredIds.size === 0 ? batch.devices : batch.devices.filter((d) => !answeredIds.has(d.deviceId));
      if (devices.length === 0) {
        // Every device was answered before the retry or the restart: record what they said.
        return answered(send, batch, { providerRef: null, outcomes: earlier }, now());
      }
      if (attempt > 1 || !announced) {
        await deps.rateLimiter.take(send.app.id, devices.length, signal, send.app.config.rateLimitPerSecond);
        if (signal.aborted) return undefined;
        if (run.sendError !== null) continue;
        // Counted before the call, so that a restart knows the batch may have been handed over; a
        // batch not begun before its task was stopped is cancelled instead, never handed over.
        if ((await store.claimHandOver(send, batch.seq, now())) !== 'counted') return undefined;
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
        if (thrown instanceof SendAbortedError) return undefined;
        const error = asProviderError(thrown);
        const { code, message } = error;
        const last = !error.retryable || attempt >= settings.maxAttempts;
        const details = { taskId: send.taskId, batchId, attempt, code, error: message };
        // The reason the send stops, when this was the last attempt.
        let stops: string | null = null;
        if (last) {
          stops = error.retryable
            ? `${describeError(error)} — still failing after ${attempt} attempts`
            : describeError(error);
          logger.error(details, 'provider error; the send of the task stops');
          run.sendError ??= stops;
        } else logger.warn(details, 'provider error; the batch will be retried');
        await store.noteError(send.taskId, batch.seq, { code, message }, stops);
        if (stops !== null) {
          const answers = [...earlier, ...(journal?.answers ?? [])];
          return failed(batch, stops, { code, message }, now(), answers);
        }
        await deps.sleep(retryDelayMs(attempt, settings.retryBaseMs), signal);
        if (signal.aborted) return undefined;
        continue;
      }
      // Outside the try: a storage error here is not the provider's, and the batch stays prepared.
      await journal?.settle();
      const outcomes = earlier.length > 0 ? [...earlier, ...result.outcomes] : result.outcomes;
      return answered(send, batch, { ...result, outcomes }, now());
    }
  }

  return async (run, batch, announced) => {
    const record = await handOver(run, batch, announced);
    // Recorded in one transaction, or left prepared for the next run (README "Write-ahead").
    if (record) await store.recordBatch(run.send, batch, record);
  };
}
