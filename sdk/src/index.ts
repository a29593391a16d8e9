/**
 * `@pushboard/sdk`: registers a device with Pushboard and reports its receipts (delivered,
 * impression, open, dismissal), for browsers, React Native and Node. No dependencies: it needs
 * `fetch`, `setTimeout` and (where available) WebCrypto.
 */
export {
  type FlushResult,
  MAX_RECEIPTS_PER_REQUEST,
  Pushboard,
  PushboardError,
  type PushboardOptions,
  type ReceiptAnswer,
  type ReceiptKind,
  type Registration,
  type RejectedReceipt,
  retryAfterMs,
} from './client.js';
export { TASK_ID_KEY, taskIdFromPayload } from './payload.js';
export type { QueuedReceipt } from './queue.js';
export { signBody } from './signature.js';
export {
  localStorageAdapter,
  memoryStorage,
  type PushboardStorage,
  type SyncKeyValueStore,
} from './storage.js';
