/**
 * Umeng's receipt callbacks read into receipts (`parseUmengReceipts`, the provider's `parseReceipts`).
 */
import type { ParsedReceipt, ParsedReceipts } from './provider.ts';
import { isObject, text } from './umeng-wire.ts';

/*
 * Receipt callbacks, in the shape integrations report (docs/providers.md#umeng, docs/providers.md#umeng-receipts): one object or
 * an array of them (also as JSON text or bytes), each
 *   {thirdparty_id, action_type, msg_id, device_tokens, alias, channel}
 * - `action_type` 0 = arrival → `delivered`, 1 = open (click) → `open`; any other value (a dismissal
 *   may be one, unverified) makes the item unreadable: it is kept and counted, never guessed.
 * - `thirdparty_id` is the batch ID every send carries: it names the task and the batch. `msg_id` (or
 *   `task_id`) is Umeng's reference of the send, the fallback when `thirdparty_id` is missing.
 * - `device_tokens` holds one or several tokens, comma-separated: one receipt per token.
 * - `channel` (e.g. `huawei`) is passed through; `alias` is not used (Pushboard sends by token).
 * - No time field is reported: a receipt is dated when it arrives.
 * An item without a readable kind, a token, or either reference goes to `unreadable` as it came.
 */

/** Umeng's `action_type` codes Pushboard reads; every other code is unreadable. */
const ACTION_KINDS: Record<string, ParsedReceipt['kind']> = { '0': 'delivered', '1': 'open' };

function fromText(value: unknown): unknown {
  const raw = value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value;
  if (typeof raw !== 'string') return value;
  try {
    return JSON.parse(raw);
  } catch {
    return value;
  }
}

/** The items of a callback body: an array's members, or the body itself as one item. */
function receiptItems(body: unknown): unknown[] {
  const value = fromText(body);
  return Array.isArray(value) ? value : [value];
}

/** The tokens of `device_tokens`: comma-separated text (a list is read too); blanks dropped. */
function readTokens(value: unknown): string[] {
  const tokens = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [];
  return tokens.map((token) => (typeof token === 'string' ? token.trim() : '')).filter((t) => t !== '');
}

/** The receipts of one callback item, or null when it is unreadable. */
function readReceipt(raw: unknown, clock: () => Date): ParsedReceipt[] | null {
  const item = fromText(raw);
  if (!isObject(item)) return null;
  const action = text(item.action_type)?.trim();
  const kind = action === undefined ? undefined : ACTION_KINDS[action];
  const tokens = readTokens(item.device_tokens);
  const batchId = text(item.thirdparty_id);
  const providerRef = text(item.msg_id) ?? text(item.task_id);
  if (kind === undefined || tokens.length === 0) return null;
  if (batchId === undefined && providerRef === undefined) return null;
  const channel = text(item.channel);
  const at = clock();
  return tokens.map((pushToken) => ({
    taskId: null,
    deviceId: null,
    pushToken,
    kind,
    at,
    ...(batchId !== undefined && { batchId }),
    ...(providerRef !== undefined && { providerRef }),
    ...(channel !== undefined && { channel }),
  }));
}

/**
 * The receipts of one callback body; items it cannot read go to `unreadable` as they came. Dated by
 * `clock`, since Umeng reports no time. Never throws.
 */
export function parseUmengReceipts(body: unknown, clock: () => Date): ParsedReceipts {
  const result: ParsedReceipts = { receipts: [], unreadable: [] };
  for (const item of receiptItems(body)) {
    try {
      const receipts = readReceipt(item, clock);
      if (receipts) result.receipts.push(...receipts);
      else result.unreadable.push(item);
    } catch {
      result.unreadable.push(item);
    }
  }
  return result;
}
