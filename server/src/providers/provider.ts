/**
 * The one small interface every push provider implements (docs/providers.md#the-provider-interface): send a batch, cancel what was
 * handed over, parse the receipts it posts back. The dispatcher owns this interface; `simulator.ts`,
 * `umeng.ts`, `fcm.ts` and `apns.ts` implement it. Providers never touch storage: they answer, the dispatcher records.
 */
import type { Platform, TaskContent } from '../domain/task-content.ts';
import { AppError } from '../errors.ts';
import type { ApnsConfig } from './apns-config.ts';
import type { FcmConfig } from './fcm-config.ts';
import type { SimulatorConfig } from './simulator-config.ts';
import type { UmengConfig } from './umeng-config.ts';

/** The app a batch is sent for, with its provider config (credentials in clear). */
export type ProviderApp =
  | { id: string; platform: Platform; provider: 'simulator'; config: SimulatorConfig }
  | { id: string; platform: Platform; provider: 'umeng'; config: UmengConfig }
  | { id: string; platform: Platform; provider: 'fcm'; config: FcmConfig }
  | { id: string; platform: Platform; provider: 'apns'; config: ApnsConfig };

/** One matched device of a batch. */
export interface BatchDevice {
  deviceId: string;
  pushToken: string;
  /** The device's delivery channel as registered (`umeng`, `huawei`, `apns`…). */
  channel: string;
}

/** Everything a provider needs to send one batch. */
export interface SendBatchRequest {
  app: ProviderApp;
  taskId: string;
  /** Stable for the batch across retries and restarts: the provider's idempotency key (Umeng `out_biz_no`). */
  batchId: string;
  content: TaskContent;
  devices: BatchDevice[];
  /**
   * For a provider-side scheduled send (Umeng `policy.start_time`); null sends now. The dispatcher
   * starts tasks itself at their time, so it always sends now (null).
   */
  sendAt: Date | null;
  /** Where the provider should post its receipts for this app (absolute URL). */
  receiptUrl: string;
  /**
   * True when this batch may have been handed over before: the dispatcher sends it again after a
   * restart because the process stopped before recording the answer. A provider that cannot recognise
   * a repeat of `batchId` must not send it blindly (answer a non-retryable error instead).
   */
  resend?: boolean;
  /**
   * Set by the dispatcher for a provider that `answersEachDevice`: called with each device's final
   * outcome as soon as it is known (before `sendBatch` settles), so that the answer is journaled and a
   * retried or resumed batch does not hand that device over again.
   */
  onAnswered?: (outcome: DeviceSendOutcome) => void;
  /**
   * Aborts when the batch must stop before every device is answered (the server is shutting down, or
   * the dispatcher cannot journal the answers): a provider that `answersEachDevice` starts no new
   * request, ends its waits and throws once its requests in flight are answered.
   */
  signal?: AbortSignal;
}

/** What the provider said about one device at send time. */
export interface DeviceSendOutcome {
  deviceId: string;
  /**
   * `success`: accepted and counted as delivered now (iOS, where acceptance is delivery);
   * `no_feedback`: accepted, a delivery receipt may follow (Android); `failure`: rejected.
   */
  sendResult: 'success' | 'failure' | 'no_feedback';
  /** Set for failures: why, in words a marketer understands (e.g. "invalid device token"). */
  failureReason?: string;
  /** The channel the provider reached the device through, when it differs from the registered one. */
  channel?: string;
  /**
   * Set when the provider said the device's push token is no longer valid, in the provider's own word
   * (`UNREGISTERED`, `BadDeviceToken`, Umeng `4020`…): the token is marked invalid in the same
   * transaction as the device's result, and later sends treat the device as unmatched (docs/devices.md#push-token-lifecycle).
   */
  invalidToken?: string;
  /** The provider's reference of this device's message (FCM message `name`, APNs `apns-id`), if any. */
  providerRef?: string;
}

/** The provider's answer to a batch. */
export interface SendBatchResult {
  /** The provider's reference for cancel and status (Umeng `task_id` or `msg_id`), if any. */
  providerRef: string | null;
  /**
   * Outcomes of the request's devices, in any order. A device left out was accepted on its registered
   * channel (`success` on iOS, `no_feedback` on Android), so a provider may list only the exceptions;
   * listing every device is fine too.
   */
  outcomes: DeviceSendOutcome[];
}

/** A receipt read from a provider callback, not yet checked against tasks and device results. */
export interface ParsedReceipt {
  taskId: string | null;
  deviceId: string | null;
  /** The provider's device token when it reports tokens instead of device IDs. */
  pushToken: string | null;
  kind: 'delivered' | 'impression' | 'open' | 'dismissal';
  at: Date;
  channel?: string;
  /**
   * The batch ID the send carried (Umeng `thirdparty_id`), when the receipt names it: ingestion finds
   * the task and the batch through it, and the devices of the receipt's tokens within that batch.
   */
  batchId?: string;
  /**
   * The provider's own reference of the send (Umeng `msg_id`/`task_id`, as in `SendBatchResult`):
   * the fallback that finds the batch of a receipt without `batchId` by its stored reference.
   */
  providerRef?: string;
  /** Position of the item in the body's list, echoed in the answer's `errors`; unset: its position in `receipts`. */
  index?: number;
}

/**
 * Reads one `{taskId, deviceId, kind, at}` item — the wire shape of the simulator's callbacks and of
 * SDK receipts alike — or null when a field is missing or malformed. A `channel` in the item is not
 * read: only Umeng's delivery receipts report the channel that delivered.
 */
function readReceiptItem(item: unknown): { taskId: string; deviceId: string; kind: string; at: Date } | null {
  if (typeof item !== 'object' || item === null) return null;
  const r = item as Record<string, unknown>;
  if (typeof r.taskId !== 'string' || typeof r.deviceId !== 'string' || r.deviceId === '') return null;
  if (typeof r.kind !== 'string' || typeof r.at !== 'string') return null;
  const at = new Date(r.at);
  if (Number.isNaN(at.getTime())) return null;
  return { taskId: r.taskId, deviceId: r.deviceId, kind: r.kind, at };
}

/** An item of a callback body refused with a code of its own, at its position in the body's list. */
export interface RefusedReceipt {
  index: number;
  /** `INVALID_RECEIPT`: not a receipt; `KIND_NOT_SUPPORTED`: a kind its source does not report. */
  code: 'INVALID_RECEIPT' | 'KIND_NOT_SUPPORTED';
}

/** Receipts of one callback body: the readable ones, and the raw form of each unreadable item. */
export interface ParsedReceipts {
  receipts: ParsedReceipt[];
  /** Items nobody could read, kept as received for an operator and counted as rejected. */
  unreadable: unknown[];
  /** Items refused with a code and not kept (Pushboard's own wire shape, whose items are indexed). */
  refused?: RefusedReceipt[];
}

/**
 * Reads a body in Pushboard's own wire shape, `{"receipts": [{taskId, deviceId, kind, at}]}` (SPEC
 * docs/api.md#shapes: the simulator's callbacks and SDK batches): each receipt keeps its position in the list, an
 * item that is not a receipt is refused as `INVALID_RECEIPT` and one of a kind outside `kinds` as
 * `KIND_NOT_SUPPORTED`. A body of another shape is refused as a whole (`VALIDATION_FAILED`).
 */
export function readReceiptList(body: unknown, kinds: ReadonlySet<ParsedReceipt['kind']>): ParsedReceipts {
  const list = (body as { receipts?: unknown } | null)?.receipts;
  if (typeof body !== 'object' || body === null || !Array.isArray(list)) {
    throw new AppError('VALIDATION_FAILED', 'The body must be an object {"receipts": [...]}.', [
      {
        field: 'receipts',
        code: 'WRONG_TYPE',
        params: { type: 'array' },
        message: 'must be an array of receipts',
      },
    ]);
  }
  const parsed: Required<ParsedReceipts> = { receipts: [], unreadable: [], refused: [] };
  list.forEach((item: unknown, index) => {
    const r = readReceiptItem(item);
    if (r === null) parsed.refused.push({ index, code: 'INVALID_RECEIPT' });
    else if (!kinds.has(r.kind as ParsedReceipt['kind']))
      parsed.refused.push({ index, code: 'KIND_NOT_SUPPORTED' });
    else parsed.receipts.push({ ...r, index, pushToken: null, kind: r.kind as ParsedReceipt['kind'] });
  });
  return parsed;
}

/** A failed provider call. `retryable` errors are retried with backoff; the others fail the batch at once. */
export class ProviderError extends Error {
  /** The provider's own error code (e.g. Umeng `2007`), or a Pushboard one (`TIMEOUT`, `NETWORK`). */
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, retryable: boolean) {
    super(message);
    this.name = 'ProviderError';
    this.code = code;
    this.retryable = retryable;
  }
}

/** A push provider. */
export interface Provider {
  /**
   * True for a provider that makes one request per device (FCM, APNs). The dispatcher then journals
   * every answer reported through `onAnswered` and hands a retried or resumed batch over with only the
   * devices not answered yet: no batch idempotency key is needed, and `resend` is never refused.
   */
  readonly answersEachDevice?: boolean;
  /** Most devices one request may carry; the dispatcher makes smaller batches when it is set. */
  readonly maxBatchDevices?: number;
  /**
   * Sends one batch; the same `batchId` sent again must not reach any device a second time.
   * Per-device rejections are outcomes; throw a `ProviderError` only when the request as a whole
   * failed. A non-retryable error (or a retryable one after the dispatcher's last attempt) stops the
   * task's send: it is recorded on the batch and the task, and the devices not sent yet fail with it.
   */
  sendBatch(request: SendBatchRequest): Promise<SendBatchResult>;
  /** Cancels what was handed over under `providerRef` (a provider-side scheduled send). */
  cancel(app: ProviderApp, providerRef: string): Promise<void>;
  /**
   * Reads a receipt callback body; never throws on bad items, it lists them as unreadable. Absent for
   * a provider that posts no receipts (FCM, APNs: the app's devices report theirs through the SDK).
   */
  parseReceipts?(body: unknown): ParsedReceipts;
}

/** A provider that posts receipts back and reads them (the simulator, Umeng). */
export type ReceiptPostingProvider = Provider & Required<Pick<Provider, 'parseReceipts'>>;

/** The providers this process can send through and read receipts of, by name (`simulator`, `umeng`, `fcm`, `apns`). */
export type ProviderRegistry = Partial<Record<ProviderApp['provider'], Provider>>;
