/**
 * The journal of a batch in flight through a provider that answers each device on its own (FCM,
 * APNs): every device's answer is written down shortly after it comes, so that a retried batch — or
 * one resumed after a crash — hands over only the devices without an answer (README "Write-ahead").
 * Answers are written in groups (at most `JOURNAL_FLUSH_ANSWERS`, at least every `JOURNAL_FLUSH_MS`),
 * so a million devices cost a few thousand short writes, not a million.
 */
import type { DeviceSendOutcome } from '../providers/provider.ts';

/** Answers written per journal write. */
export const JOURNAL_FLUSH_ANSWERS = 500;

/** Longest time an answer waits in memory before it is written. */
export const JOURNAL_FLUSH_MS = 20;

/** The journal of one attempt of one batch. */
export interface AnswerJournal {
  /** Takes one device's final answer (the provider's `onAnswered`). */
  add(outcome: DeviceSendOutcome): void;
  /** Writes what is still waiting and resolves once every answer is stored; throws a write's error. */
  settle(): Promise<void>;
  /** Every answer taken, in order. */
  readonly answers: readonly DeviceSendOutcome[];
}

/**
 * A journal writing its groups of answers with `write`, one write at a time, in order. `onFailure` is
 * called once if a write fails: the answers after it cannot be journaled, so the batch should stop
 * sending (every device answered from then on would be handed over again by the resumed batch).
 */
export function createAnswerJournal(
  write: (outcomes: DeviceSendOutcome[]) => Promise<void>,
  onFailure: (error: unknown) => void = () => {},
): AnswerJournal {
  const answers: DeviceSendOutcome[] = [];
  let waiting: DeviceSendOutcome[] = [];
  let writes: Promise<void> = Promise.resolve();
  let failure: { error: unknown } | undefined;
  let timer: NodeJS.Timeout | undefined;

  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (waiting.length === 0) return;
    const group = waiting;
    waiting = [];
    writes = writes
      .then(() => (failure ? undefined : write(group)))
      .catch((error: unknown) => {
        if (failure) return;
        failure = { error };
        onFailure(error);
      });
  };

  return {
    answers,
    add(outcome) {
      answers.push(outcome);
      waiting.push(outcome);
      if (waiting.length >= JOURNAL_FLUSH_ANSWERS) flush();
      else timer ??= setTimeout(flush, JOURNAL_FLUSH_MS);
    },
    async settle() {
      flush();
      await writes;
      if (failure) throw failure.error;
    },
  };
}
