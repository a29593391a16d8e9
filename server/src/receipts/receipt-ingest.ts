/**
 * Receipt ingestion (docs/receipts.md): checks each receipt of a request against its task, then applies the
 * good ones in short transactions and answers what became of every receipt. Nothing is acknowledged
 * before it is stored: the answer is computed from the committed transactions. The contract —
 * idempotency, held and late receipts, the order of operations — is in `README.md`; what each
 * receipt means is decided in `receipt-classification.ts`, and every statement is in the
 * `ReceiptStore`.
 *
 * A receipt is
 * - `accepted` when it changed a device result (or was held for a batch not recorded yet);
 * - `duplicate` when its device already had that receipt (a replay, a repeat, a concurrent copy);
 * - `late` when it arrived after the task's statistics window for a device of the send that would
 *   have taken it, the first time for that (task, device, kind) (counted on the task, nowhere else);
 * - `rejected` with a code otherwise: an unknown task or another app's, a device that was not in
 *   the task's send, a device the provider rejected, a kind the platform does not report (iOS
 *   dismissals), a time in the future, a task whose device details are gone, an item that could not
 *   be read.
 *
 * A late receipt is checked like any other — against the device results — so it needs them: once
 * the retention job has deleted a task's device results (or, for a device whose result is already
 * gone, once the retention window has passed) nobody can tell a device of the send from a made-up
 * one, nor a replay from a first report, so late receipts are then rejected as
 * `DEVICE_DETAILS_EXPIRED` and counted nowhere. With the default windows (statistics = retention =
 * 72 h) late receipts therefore count only until the retention job runs; a deployment that wants
 * them counted longer keeps retention longer than the statistics window.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { WindowSettings } from '../domain/windows.ts';
import { AppError } from '../errors.ts';
import { parseJsonBody } from '../http/signed-bodies.ts';
import { type ParsedReceipt, type ParsedReceipts, readReceiptList } from '../providers/provider.ts';
import {
  byDeviceResult,
  type CheckedReceipt,
  type CounterMoves,
  checkReceipt,
  classifyUnchanged,
  type IncomingReceipt,
  noMoves,
  pairKey,
  RECEIPT_KINDS,
  type ReceiptApp,
  type RejectionCode,
  splitByChange,
  taskOfPair,
} from './receipt-classification.ts';
import type { BatchRange, ReceiptStore, ReceiptTransaction } from './receipt-store.ts';

/** What became of a request's receipts (the docs/api.md#shapes answer). */
export interface ReceiptTally {
  accepted: number;
  duplicate: number;
  rejected: number;
  late: number;
  errors: { index: number; code: RejectionCode }[];
}

/**
 * Receipts applied per transaction on the event loop's own thread (PostgreSQL, or SQLite without the
 * writer thread): short enough that other requests never wait long behind one.
 */
export const RECEIPTS_PER_TRANSACTION = 250;

/** Most receipts one request may carry (docs/api.md#shapes); more is `413 RECEIPT_BATCH_TOO_LARGE`. */
export const MAX_RECEIPTS_PER_REQUEST = 5000;

/** Refuses a request with more receipts than one request may carry (whatever its items turned out to be). */
export function assertBatchSize(parsed: ParsedReceipts): void {
  const count = parsed.receipts.length + parsed.unreadable.length + (parsed.refused?.length ?? 0);
  if (count > MAX_RECEIPTS_PER_REQUEST) {
    throw new AppError(
      'RECEIPT_BATCH_TOO_LARGE',
      `A request may carry at most ${MAX_RECEIPTS_PER_REQUEST} receipts, this one has ${count}: split it.`,
      { max: MAX_RECEIPTS_PER_REQUEST, received: count },
    );
  }
}

/**
 * Reads a signed, authenticated body in Pushboard's own wire shape (an SDK batch): its JSON, its
 * receipt list taking `kinds` (`readReceiptList`), and its size; throws the `400`/`413` it is refused with.
 */
export function readReceiptBody(body: Uint8Array, kinds: readonly ParsedReceipt['kind'][]): ParsedReceipts {
  const parsed = readReceiptList(
    parseJsonBody(Buffer.from(body.buffer, body.byteOffset, body.byteLength)),
    new Set(kinds),
  );
  assertBatchSize(parsed);
  return parsed;
}

/**
 * The task ID and batch number of a batch ID: the inverse of `batchIdOf` in domain/batch.ts
 * (`<taskId>-<seq>`), or null when `batchId` cannot be one.
 */
export function parseBatchId(batchId: string): { taskId: string; seq: number } | null {
  const dash = batchId.lastIndexOf('-');
  const seq = Number(batchId.slice(dash + 1));
  if (dash <= 0 || !/^\d{1,9}$/.test(batchId.slice(dash + 1)) || !Number.isSafeInteger(seq)) return null;
  return { taskId: batchId.slice(0, dash), seq };
}

/** What receipt ingestion is built from. */
export interface ReceiptIngestDeps {
  store: ReceiptStore;
  /** The statistics and retention windows a receipt is judged by. */
  windows: WindowSettings;
  clock: () => Date;
  /** Receipts applied per transaction; `RECEIPTS_PER_TRANSACTION` by default (the writer thread's are longer). */
  receiptsPerTransaction?: number;
}

/** Receipt ingestion: the one call the receipt routes make once a request is authenticated and parsed. */
export interface ReceiptIngest {
  /**
   * Stores one request's parsed receipts for `app` and answers what became of them: keeps its
   * unreadable items for an operator, checks and applies its readable receipts, and counts the
   * refused and unreadable items as rejected (`unreadable` says how many were unreadable).
   */
  receive(app: ReceiptApp, parsed: ParsedReceipts): Promise<ReceiptTally & { unreadable: number }>;
  /**
   * `readReceiptBody` then `receive`, for a body whose signature was checked: where ingestion runs in
   * a thread of its own (`receipt-writer.ts`), reading the body there keeps its JSON and its items
   * (a few milliseconds per 1,000 receipts) off the HTTP event loop. Absent: the route reads the body
   * and calls `receive`.
   */
  receiveBody?(
    app: ReceiptApp,
    body: Uint8Array,
    kinds: readonly ParsedReceipt['kind'][],
  ): Promise<ReceiptTally & { unreadable: number }>;
}

/** Receipt ingestion over a `ReceiptStore`. */
export function createReceiptIngest(deps: ReceiptIngestDeps): ReceiptIngest {
  const { store, windows, clock } = deps;
  const perTransaction = deps.receiptsPerTransaction ?? RECEIPTS_PER_TRANSACTION;

  /**
   * Gives task and device IDs to receipts that name a batch (`batchId`, else the provider's reference)
   * and device tokens instead (Umeng). A token becomes every device of the app holding it within the
   * batch's device range — one receipt each, at the same index — so a receipt moves exactly the devices
   * of that batch whose tokens it names. A receipt whose batch is unknown keeps a null task (rejected
   * as `UNKNOWN_TASK`); a token no device of the batch holds keeps a null device (`DEVICE_NOT_IN_SEND`).
   */
  async function resolveProviderReceipts(
    appId: string,
    receipts: IncomingReceipt[],
  ): Promise<IncomingReceipt[]> {
    const unnamed = receipts.filter((r) => !r.taskId);
    const byId = await store.batchesById(
      appId,
      [...new Set(unnamed.flatMap((r) => (r.batchId ? [r.batchId] : [])))].flatMap((id) => {
        const parsed = parseBatchId(id);
        return parsed ? [{ id, ...parsed }] : [];
      }),
    );
    const byRef = await store.batchesByRef(appId, [
      ...new Set(
        unnamed.flatMap((r) => (r.providerRef && !(r.batchId && byId.has(r.batchId)) ? [r.providerRef] : [])),
      ),
    ]);
    const tokens = [...new Set(receipts.filter((r) => !r.deviceId && r.pushToken).map((r) => r.pushToken!))];
    const devicesOfToken = await store.devicesOfTokens(appId, tokens);
    const resolved: IncomingReceipt[] = [];
    for (const receipt of receipts) {
      const batch: BatchRange | undefined =
        receipt.taskId === null
          ? ((receipt.batchId ? byId.get(receipt.batchId) : undefined) ??
            (receipt.providerRef ? byRef.get(receipt.providerRef) : undefined))
          : undefined;
      const taskId = receipt.taskId ?? batch?.taskId ?? null;
      if (receipt.deviceId || !receipt.pushToken) {
        resolved.push({ ...receipt, taskId });
        continue;
      }
      const holders = (devicesOfToken.get(receipt.pushToken) ?? []).filter(
        (id) => batch === undefined || (id >= batch.firstDeviceId && id <= batch.lastDeviceId),
      );
      if (holders.length === 0) resolved.push({ ...receipt, taskId, deviceId: null });
      for (const deviceId of holders) resolved.push({ ...receipt, taskId, deviceId });
    }
    return resolved;
  }

  /** Checks and applies one request's receipts for `app` at `now`; answers what became of each. */
  async function ingest(app: ReceiptApp, receipts: IncomingReceipt[], now: Date): Promise<ReceiptTally> {
    const tally: ReceiptTally = { accepted: 0, duplicate: 0, rejected: 0, late: 0, errors: [] };
    if (receipts.some((r) => !r.taskId || !r.deviceId)) {
      receipts = await resolveProviderReceipts(app.id, receipts);
    }
    const tasks = await store.taskFacts([...new Set(receipts.flatMap((r) => (r.taskId ? [r.taskId] : [])))]);

    const candidates: CheckedReceipt[] = [];
    for (const receipt of receipts) {
      const checked = checkReceipt(
        receipt,
        receipt.taskId ? tasks.get(receipt.taskId) : undefined,
        app,
        now,
        windows,
      );
      if (typeof checked === 'string') {
        tally.rejected++;
        tally.errors.push({ index: receipt.index, code: checked });
      } else candidates.push(checked);
    }

    // Sorted by device result key, the conditional writes walk the B-tree in order. Applied in short
    // transactions with a yield between them: better-sqlite3 is synchronous, and one long transaction
    // would hold every other request (a console page, another receipt batch) for its whole length. A
    // crash between two of them leaves part of the request stored and unacknowledged; the sender's
    // retry then finds those as duplicates, so nothing counts twice.
    candidates.sort(byDeviceResult);
    for (let start = 0; start < candidates.length; start += perTransaction) {
      if (start > 0) await yieldToEventLoop();
      const chunk = candidates.slice(start, start + perTransaction);
      const part = await store.transaction((tx) => applyChunk(tx, app.id, chunk));
      tally.accepted += part.accepted;
      tally.duplicate += part.duplicate;
      tally.late += part.late;
      tally.rejected += part.errors.length;
      tally.errors.push(...part.errors);
    }
    tally.errors.sort((a, b) => a.index - b.index);
    return tally;
  }

  return {
    async receive(app, parsed) {
      const now = clock();
      await store.keepUnreadable(app.id, parsed.unreadable, now);
      const receipts: IncomingReceipt[] = parsed.receipts.map((r, position) => ({
        index: r.index ?? position,
        taskId: r.taskId,
        deviceId: r.deviceId,
        pushToken: r.pushToken,
        ...(r.batchId !== undefined && { batchId: r.batchId }),
        ...(r.providerRef !== undefined && { providerRef: r.providerRef }),
        kind: r.kind,
        at: r.at,
        ...(r.channel !== undefined && { channel: r.channel }),
      }));
      const tally = await ingest(app, receipts, now);
      const refused = parsed.refused ?? [];
      return {
        ...tally,
        rejected: tally.rejected + refused.length + parsed.unreadable.length,
        errors:
          refused.length === 0
            ? tally.errors
            : [...tally.errors, ...refused].sort((a, b) => a.index - b.index),
        unreadable: parsed.unreadable.length,
      };
    },
  };
}

/**
 * Applies (or records late) one transaction's worth of checked receipts and moves the counters;
 * answers what became of them.
 */
async function applyChunk(
  tx: ReceiptTransaction,
  appId: string,
  candidates: CheckedReceipt[],
): Promise<{ accepted: number; duplicate: number; late: number; errors: ReceiptTally['errors'] }> {
  const moves = new Map<string, CounterMoves>();
  const movesOf = (taskId: string) => {
    let m = moves.get(taskId);
    if (!m) {
      m = noMoves();
      moves.set(taskId, m);
    }
    return m;
  };
  const lateByTask = new Map<string, number>();
  let accepted = 0;
  let late = 0;
  const unchanged: CheckedReceipt[] = [];
  await tx.lockDeviceResults(candidates);
  for (const kind of RECEIPT_KINDS) {
    const inWindow = candidates.filter((c) => c.kind === kind && !c.late);
    // Kinds come delivered first, so a real delivery receipt of the request keeps its own time.
    for (const pair of await tx.applyImpliedDeliveries(inWindow)) movesOf(taskOfPair(pair)).delivered++;
    const applied = splitByChange(inWindow, await tx.applyKind(kind, inWindow));
    for (const receipt of applied.counted) movesOf(receipt.taskId)[kind]++;
    accepted += applied.counted.length;
    unchanged.push(...applied.unchanged);
    const afterWindow = candidates.filter((c) => c.kind === kind && c.late);
    const recorded = splitByChange(afterWindow, await tx.recordLate(kind, afterWindow));
    for (const receipt of recorded.counted)
      lateByTask.set(receipt.taskId, (lateByTask.get(receipt.taskId) ?? 0) + 1);
    late += recorded.counted.length;
    unchanged.push(...recorded.unchanged);
  }

  const errors: ReceiptTally['errors'] = [];
  let duplicate = 0;
  const found = await tx.existingResults(unchanged);
  for (const receipt of unchanged) {
    const meaning = classifyUnchanged(receipt, found.get(pairKey(receipt.taskId, receipt.deviceId)));
    if (meaning === 'duplicate') duplicate++;
    else if (meaning !== 'hold') errors.push({ index: receipt.index, code: meaning });
    else if (await tx.hold(appId, receipt)) accepted++;
    else if (await tx.isHeld(receipt)) duplicate++;
    else errors.push({ index: receipt.index, code: 'DEVICE_NOT_IN_SEND' });
  }

  // Task rows too are locked in one order (their IDs sorted), for the same reason.
  for (const taskId of [...new Set([...moves.keys(), ...lateByTask.keys()])].sort()) {
    await tx.moveCounters(taskId, moves.get(taskId) ?? noMoves(), lateByTask.get(taskId) ?? 0);
  }
  return { accepted, duplicate, late, errors };
}
