/**
 * The rows of the answer journal (`handover_answers`, README "Providers that answer each device"):
 * writing a group of device answers of a batch in flight, and reading a batch's answers back.
 */
import { randomBytes } from 'node:crypto';
import type { DeviceSendOutcome } from '../providers/provider.ts';
import type { Db } from '../storage/database.ts';
import type { DispatchStore, JournaledAnswer } from './dispatch-store.ts';

/**
 * One journaled answer, as a compact tuple: device ID, push token sent to, send result, failure
 * reason, channel, the provider's word on an invalid token, the provider's reference of the message.
 */
type JournalEntry = [
  string,
  string,
  DeviceSendOutcome['sendResult'],
  string | null,
  string | null,
  string | null,
  string | null,
];

/** Time-ordered unique IDs for journal groups: the time in ms, a per-process counter, a random tail. */
let journalGroups = 0;
const journalProcessTag = randomBytes(4).toString('hex');
function nextJournalGroup(clock: () => Date): string {
  journalGroups = (journalGroups + 1) % 1e9;
  return `${clock().getTime().toString(36).padStart(9, '0')}-${journalGroups.toString(36).padStart(6, '0')}-${journalProcessTag}`;
}

/** The store's operations on the answer journal; `clock` orders the groups in time. */
export function createJournalStore(
  db: Db,
  clock: () => Date,
): Pick<DispatchStore, 'journalAnswers' | 'journaledAnswers'> {
  return {
    async journalAnswers(taskId, seq, answers) {
      if (answers.length === 0) return;
      const entries = answers.map(
        (o): JournalEntry => [
          o.deviceId,
          o.pushToken,
          o.sendResult,
          o.failureReason ?? null,
          o.channel ?? null,
          o.invalidToken ?? null,
          o.providerRef ?? null,
        ],
      );
      await db
        .insertInto('handover_answers')
        .values({
          task_id: taskId,
          batch_seq: seq,
          group_id: nextJournalGroup(clock),
          answers: JSON.stringify(entries),
        })
        .execute();
    },

    async journaledAnswers(taskId, seq) {
      const groups = await db
        .selectFrom('handover_answers')
        .select('answers')
        .where('task_id', '=', taskId)
        .where('batch_seq', '=', seq)
        .orderBy('group_id')
        .execute();
      // A device answered twice (sent again after a crash before its answer was written) keeps its first answer.
      const answers = new Map<string, JournaledAnswer>();
      for (const group of groups) {
        for (const [
          deviceId,
          pushToken,
          sendResult,
          failureReason,
          channel,
          invalidToken,
          providerRef,
        ] of JSON.parse(group.answers) as JournalEntry[]) {
          if (answers.has(deviceId)) continue;
          answers.set(deviceId, {
            deviceId,
            pushToken,
            sendResult,
            ...(failureReason !== null && { failureReason }),
            ...(channel !== null && { channel }),
            ...(invalidToken !== null && { invalidToken }),
            ...(providerRef !== null && { providerRef }),
          });
        }
      }
      return [...answers.values()];
    },
  };
}
