/**
 * What a receipt means for a device's result (docs/receipts.md), decided without storage: whether it may be
 * applied at all and why not, whether it is late, which deliveries it implies, and — once the store
 * has said whether it changed a row — whether it was accepted, a duplicate, or is to be held for a
 * batch not recorded yet. `receipt-ingest.ts` asks these questions; `receipt-store.ts` writes the
 * answers.
 */
import type { Platform } from '../domain/task-content.ts';
import { areDetailsExpired, isStatisticsFinal, type WindowSettings } from '../domain/windows.ts';
import type { ReceiptKind } from '../storage/database.ts';
import type { SendResult } from './receipt-store.ts';

/** Why a receipt was rejected: stable codes, listed per item in the answer's `errors`. */
export type RejectionCode =
  /** The item is not a receipt (missing or malformed fields). */
  | 'INVALID_RECEIPT'
  /** The task does not exist or belongs to another app. */
  | 'UNKNOWN_TASK'
  /** The task has not started sending: no device has been sent to. */
  | 'TASK_NOT_SENT'
  /** The device (or token) was not in the task's send. */
  | 'DEVICE_NOT_IN_SEND'
  /** The provider rejected the device: nothing was delivered to it. */
  | 'DEVICE_SEND_FAILED'
  /** The platform never reports this kind (iOS dismissals). */
  | 'KIND_NOT_SUPPORTED'
  /** The receipt's `at` is later than its arrival by more than `RECEIPT_CLOCK_SKEW_MS`. */
  | 'RECEIPT_TIME_IN_FUTURE'
  /** The task's device details are past retention: whether the device was in the send is unknown. */
  | 'DEVICE_DETAILS_EXPIRED';

/** One receipt of a request, at its position in the request body. */
export interface IncomingReceipt {
  /** Position in the request's list, echoed in `errors`. */
  index: number;
  taskId: string | null;
  deviceId: string | null;
  /** A provider's device token, for receipts that name no device ID (Umeng). */
  pushToken?: string | null;
  /** The batch ID the send carried (Umeng `thirdparty_id`), for receipts that name no task. */
  batchId?: string;
  /** A provider's reference of the send, for receipts that name no task (Umeng `msg_id`/`task_id`). */
  providerRef?: string;
  kind: ReceiptKind;
  at: Date;
  /** The channel the provider reports the device was reached through; kept on the device result. */
  channel?: string;
}

/** A receipt about to be applied (or recorded late): for a device of a started task of the right app. */
export interface ApplicableReceipt {
  taskId: string;
  deviceId: string;
  kind: ReceiptKind;
  /** ISO 8601 time of the receipt. */
  at: string;
  /** The channel a delivery receipt reports the device was reached through; replaces the result's channel. */
  channel?: string | null;
}

/** A checked receipt on its way to the device results, with what its checks found. */
export interface CheckedReceipt extends ApplicableReceipt {
  index: number;
  /** After the statistics window: recorded in `late_receipts` instead of applied. */
  late: boolean;
  /** Past the retention window: a device without a result can no longer be checked. */
  detailsExpired: boolean;
}

/** What a receipt's task is, as far as checking a receipt is concerned. */
export interface TaskFacts {
  appId: string;
  /** ISO 8601; null while the task has not started. */
  startedAt: string | null;
  /** ISO 8601 time the retention job deleted the task's device results; null while they are kept. */
  detailsPurgedAt: string | null;
}

/** The app the receipts are for (the one that authenticated the request). */
export interface ReceiptApp {
  id: string;
  platform: Platform;
}

/** How one device's receipts changed the task's counters, summed per task. */
export interface CounterMoves {
  /** Android `no_feedback` devices a delivery receipt turned into `success`. */
  delivered: number;
  impression: number;
  open: number;
  dismissal: number;
}

/** Empty counter moves. */
export function noMoves(): CounterMoves {
  return { delivered: 0, impression: 0, open: 0, dismissal: 0 };
}

/** Receipt kinds in a fixed order, so statements run in the same order in every transaction. */
export const RECEIPT_KINDS: readonly ReceiptKind[] = ['delivered', 'impression', 'open', 'dismissal'];

/**
 * How far a receipt's `at` may be ahead of its arrival, in milliseconds: device clocks drift a
 * little, and such a time is kept as the arrival. Further ahead, the receipt is refused
 * (`RECEIPT_TIME_IN_FUTURE`): a time in the future is no fact, and it must not decide the window.
 */
export const RECEIPT_CLOCK_SKEW_MS = 5 * 60_000;

/** `task\u0000device`: the key of a (task, device) pair in maps and sets. */
export function pairKey(taskId: string, deviceId: string): string {
  return `${taskId}\u0000${deviceId}`;
}

/** The task ID of a `pairKey`. */
export function taskOfPair(key: string): string {
  return key.slice(0, key.indexOf('\u0000'));
}

/**
 * Checks one receipt of `app` against its task at `now`: answers why it is rejected, or the receipt
 * ready to apply. Its time is kept as reported, but never before the task started nor after `now` (a
 * device's clock can be a little wrong; more than `RECEIPT_CLOCK_SKEW_MS` ahead is refused); it is
 * late when either the reported time or the arrival is after the statistics window.
 */
export function checkReceipt(
  receipt: IncomingReceipt,
  task: TaskFacts | undefined,
  app: ReceiptApp,
  now: Date,
  windows: WindowSettings,
): CheckedReceipt | RejectionCode {
  if (!receipt.taskId || !task || task.appId !== app.id) return 'UNKNOWN_TASK';
  if (task.startedAt === null) return 'TASK_NOT_SENT';
  if (!receipt.deviceId) return 'DEVICE_NOT_IN_SEND';
  if (receipt.kind === 'dismissal' && app.platform === 'ios') return 'KIND_NOT_SUPPORTED';
  if (receipt.at.getTime() > now.getTime() + RECEIPT_CLOCK_SKEW_MS) return 'RECEIPT_TIME_IN_FUTURE';
  // Purged: on PostgreSQL the rows may still sit in their day partition, but they are gone for good.
  if (task.detailsPurgedAt !== null) return 'DEVICE_DETAILS_EXPIRED';
  const at = Math.min(Math.max(receipt.at.getTime(), Date.parse(task.startedAt)), now.getTime());
  return {
    index: receipt.index,
    taskId: receipt.taskId,
    deviceId: receipt.deviceId,
    kind: receipt.kind,
    at: new Date(at).toISOString(),
    ...(receipt.channel !== undefined && { channel: receipt.channel }),
    late:
      isStatisticsFinal(task.startedAt, now, windows) ||
      isStatisticsFinal(task.startedAt, receipt.at, windows),
    detailsExpired: areDetailsExpired(task.startedAt, now, windows),
  };
}

/** Orders receipts by device result key (task, then device), so conditional writes walk the B-tree in order. */
export function byDeviceResult(a: ApplicableReceipt, b: ApplicableReceipt): number {
  if (a.taskId !== b.taskId) return a.taskId < b.taskId ? -1 : 1;
  return a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0;
}

/**
 * Receipt kinds only a notification that reached the device can have: it was shown (impression),
 * opened, or shown and swiped away (dismissal). Each is also a delivery (docs/providers.md#fcm, docs/devices.md#sdk-registration): a provider
 * that reports none (FCM) or a delivery receipt that never came must not leave such a device
 * `no_feedback`, nor let impressions outnumber deliveries.
 */
const SHOWS_DELIVERY: ReadonlySet<ReceiptKind> = new Set(['impression', 'open', 'dismissal']);

/**
 * The deliveries `receipts` imply (`SHOWS_DELIVERY`): one delivery receipt per shown, opened or
 * dismissed one, at its time, with no channel (the registered one stays).
 */
export function impliedDeliveries(receipts: readonly ApplicableReceipt[]): ApplicableReceipt[] {
  return receipts
    .filter((r) => SHOWS_DELIVERY.has(r.kind))
    .map((r) => ({ taskId: r.taskId, deviceId: r.deviceId, kind: 'delivered' as const, at: r.at }));
}

/**
 * Splits receipts of one kind by the (task, device) pairs a write `changed`: the first receipt of a
 * changed pair counts; its copies in the same request, and the receipts of unchanged pairs, are left
 * for `classifyUnchanged`.
 */
export function splitByChange<R extends ApplicableReceipt>(
  receipts: readonly R[],
  changed: ReadonlySet<string>,
): { counted: R[]; unchanged: R[] } {
  const left = new Set(changed);
  const counted: R[] = [];
  const unchanged: R[] = [];
  for (const receipt of receipts) {
    if (left.delete(pairKey(receipt.taskId, receipt.deviceId))) counted.push(receipt);
    else unchanged.push(receipt);
  }
  return { counted, unchanged };
}

/**
 * What a checked receipt that changed no device result is, given the send result its device has
 * (undefined: the device has no result): rejected because the provider rejected the device or it
 * was never handed over (`capped`, `cancelled`), a
 * `duplicate` of a receipt the result already has, or — for a device without a result, inside both
 * windows — one to `hold` for a batch written ahead but not recorded yet (the store then says whether
 * it was held now, held before, or no such batch covers the device).
 */
export function classifyUnchanged(
  receipt: CheckedReceipt,
  sendResult: SendResult | undefined,
): 'duplicate' | 'hold' | RejectionCode {
  if (sendResult === 'failure') return 'DEVICE_SEND_FAILED';
  // Capped or cancelled by a stop: never handed over, so no receipt can be about this task's push.
  if (sendResult === 'capped' || sendResult === 'cancelled') return 'DEVICE_NOT_IN_SEND';
  if (sendResult !== undefined) return 'duplicate';
  if (receipt.detailsExpired) return 'DEVICE_DETAILS_EXPIRED';
  // Only a recorded device result can vouch for a late receipt: none is held for a later batch.
  if (receipt.late) return 'DEVICE_NOT_IN_SEND';
  return 'hold';
}
