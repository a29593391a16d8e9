/**
 * How a task's device list is paged (docs/statistics.md#device-results): the device filter as given, the opaque keyset
 * cursor that carries the position, the exact total and the filter from page to page, and the
 * totals a task counter already holds, so that most first pages count nothing.
 */
import type { CounterName } from '../domain/statistics.ts';
import { validationError } from '../errors.ts';
import { taskCountsOf } from '../storage/task-counts.ts';
import type { TaskRecord } from '../tasks/task-store.ts';
import type { DeviceFilter, ReceiptFilter, SendResultFilter } from './device-result-store.ts';

/** The counter holding the devices with each receipt. */
const RECEIPT_COUNTERS = {
  impression: 'impressions',
  open: 'opens',
  dismissal: 'dismissals',
} as const satisfies Record<ReceiptFilter, CounterName>;

/** The counter holding the devices with each send result (pending: see `counterTotal`). */
const SEND_RESULT_COUNTERS = {
  success: 'deliveries',
  failure: 'failures',
  no_feedback: 'noFeedback',
  capped: 'capped',
  cancelled: 'cancelled',
} as const satisfies Record<Exclude<SendResultFilter, 'pending'>, CounterName>;

/** What a page cursor carries: where the last page ended, the total counted on the first, its filter. */
export interface PageCursor {
  after: string;
  total: number;
  filter: string;
}

/** The filter as one comparable string, so a cursor is only accepted with the filter it was made for. */
export function filterKey(filter: DeviceFilter): string {
  const parts = [filter.sendResult ?? '', filter.receipt ?? '', filter.without ?? ''];
  // The search last and only when set: the other parts never hold '|', so the key stays unambiguous.
  if (filter.deviceId !== undefined) parts.push(filter.deviceId);
  return parts.join('|');
}

/** The filter parts of a query or body that are set: other query parameters are not part of it. */
export function filterOf({ sendResult, receipt, without, deviceId }: DeviceFilter): DeviceFilter {
  return {
    ...(sendResult !== undefined && { sendResult }),
    ...(receipt !== undefined && { receipt }),
    ...(without !== undefined && { without }),
    ...(deviceId !== undefined && { deviceId }),
  };
}

/** The opaque `nextCursor`: base64url JSON, URL-safe without escaping. */
export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/** The cursor a client passed back, or `VALIDATION_FAILED` when it is not one this API made for this filter. */
export function decodeCursor(text: string, filter: DeviceFilter): PageCursor {
  const malformed = () =>
    validationError([
      {
        field: 'cursor',
        code: 'FORMAT_INVALID',
        params: { format: 'nextCursor' },
        message:
          'is not a cursor this API returned: pass back `nextCursor` unchanged, or leave cursor out for the first page',
      },
    ]);
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw malformed();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  const cursor = value as Partial<PageCursor> | null;
  if (
    typeof cursor !== 'object' ||
    cursor === null ||
    typeof cursor.after !== 'string' ||
    cursor.after === '' ||
    typeof cursor.filter !== 'string' ||
    !Number.isSafeInteger(cursor.total) ||
    (cursor.total as number) < 0
  ) {
    throw malformed();
  }
  if (cursor.filter !== filterKey(filter)) {
    throw validationError([
      {
        field: 'cursor',
        code: 'CURSOR_FILTER_MISMATCH',
        message:
          'was made for another filter: keep the same sendResult, receipt, without and deviceId on every page',
      },
    ]);
  }
  return cursor as PageCursor;
}

/**
 * The total of a filter when a task counter holds it exactly (docs/statistics.md#counters counts each device once, in
 * the same transaction as its row), so the first page needs no COUNT over millions of rows.
 */
export function counterTotal(task: TaskRecord, filter: DeviceFilter): number | undefined {
  const { sendResult, receipt, without } = filter;
  // No counter knows which devices an ID search finds.
  if (filter.deviceId !== undefined) return undefined;
  const counts = taskCountsOf(task);
  if (sendResult === 'pending') {
    // A device not handed over has no receipt: "without" is always true, "receipt" never.
    if (receipt !== undefined) return 0;
    return task.status === 'sending' ? counts.pending : 0;
  }
  if (without !== undefined) return undefined;
  if (sendResult === undefined) {
    // Every device with a result: the handed-over ones, and those a cap or a stop kept back.
    if (receipt === undefined) return counts.totalSent + counts.capped + counts.cancelled;
    return counts[RECEIPT_COUNTERS[receipt]];
  }
  if (receipt !== undefined) return undefined;
  return counts[SEND_RESULT_COUNTERS[sendResult]];
}
