/**
 * The receipt traffic of the API scenarios (docs/benchmarks.md `receipts`): batches of 1,000 receipts for the
 * seeded tasks (`results-fixture.ts`), 30 % of them duplicates — half repeated inside the batch, half
 * receipts an earlier batch already applied — and the rest new: each names a (task, device, kind) that
 * the device result does not have yet, so it changes a row. One batch in three is a provider callback
 * (`delivered`, to `POST /api/v1/receipts/simulator/{appId}`), the others SDK batches (impression
 * 50 %, open 30 %, dismissal 20 %, to `POST /api/v1/receipts/sdk`), each signed as its sender would.
 *
 * Deterministic: two streams with the same options produce the same batches, so the raw-UPDATE probe
 * applies exactly what the server receives. New receipts visit each task's devices in a scattered
 * order (a stride prime to the task size), as receipts arrive from devices in no particular order.
 */
import { signBody } from '../server/src/http/signed-bodies.ts';
import type { ReceiptKind } from '../server/src/storage/database.ts';
import { deviceIdOf } from './fleet.ts';
import { type HttpClient, type HttpRequest, runLoad } from './http-load.ts';
import { APP_ID, hasReceipt, isFailure, RECEIPT_SECRET, SDK_KEY, SDK_SECRET } from './results-fixture.ts';

/** One receipt as the endpoints take it. */
export interface BenchReceipt {
  taskId: string;
  deviceId: string;
  kind: ReceiptKind;
  at: string;
}

/** One request's receipts and the endpoint they go to. */
export interface ReceiptBatch {
  endpoint: 'simulator' | 'sdk';
  receipts: BenchReceipt[];
  /** Receipts that change a row (the others are duplicates). */
  fresh: number;
}

/** Receipts per request (docs/benchmarks.md). */
export const BATCH_RECEIPTS = 1_000;
/** Share of duplicates in every batch (docs/benchmarks.md). */
export const DUPLICATE_SHARE = 0.3;
/** A prime: not a factor of any task size (powers of ten), so the visit order is a permutation. */
const STRIDE = 7_368_787;
/** How many applied receipts per endpoint are remembered to be sent again. */
const REMEMBERED = 20_000;

/** mulberry32: a small seeded generator, so streams repeat exactly. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An endless, repeatable stream of receipt batches for `tasks`, each of `devicesPerTask` seeded results. */
export class ReceiptStream {
  private readonly next01: () => number;
  /** Per task and kind: how far the visit of the task's devices has gone. */
  private readonly visited = new Map<string, number>();
  private readonly applied: Record<ReceiptBatch['endpoint'], BenchReceipt[]> = { simulator: [], sdk: [] };
  private batches = 0;

  constructor(
    private readonly tasks: readonly string[],
    private readonly devicesPerTask: number,
    seed = 1,
  ) {
    this.next01 = random(seed);
  }

  /** The next new receipt of `kind` for `taskId`: a device that is not a failure and lacks it. */
  private fresh(taskId: string, kind: ReceiptKind, at: string): BenchReceipt {
    const key = `${taskId}/${kind}`;
    let step = this.visited.get(key) ?? 0;
    for (;;) {
      if (step >= this.devicesPerTask) throw new Error(`the receipt stream has used up ${kind} of ${taskId}`);
      const i = (step * STRIDE) % this.devicesPerTask;
      step++;
      if (!isFailure(i) && !hasReceipt(i, kind)) {
        this.visited.set(key, step);
        return { taskId, deviceId: deviceIdOf(i), kind, at };
      }
    }
  }

  private sdkKind(): ReceiptKind {
    const r = this.next01();
    return r < 0.5 ? 'impression' : r < 0.8 ? 'open' : 'dismissal';
  }

  /** The next batch. */
  next(): ReceiptBatch {
    const endpoint = this.batches++ % 3 === 0 ? 'simulator' : 'sdk';
    const at = new Date(Date.now() - 1_000).toISOString();
    const duplicates = Math.round(BATCH_RECEIPTS * DUPLICATE_SHARE);
    const fresh: BenchReceipt[] = [];
    for (let k = 0; k < BATCH_RECEIPTS - duplicates; k++) {
      const taskId = this.tasks[Math.floor(this.next01() * this.tasks.length)]!;
      fresh.push(this.fresh(taskId, endpoint === 'simulator' ? 'delivered' : this.sdkKind(), at));
    }
    const earlier = this.applied[endpoint];
    const receipts = [...fresh];
    for (let k = 0; k < duplicates; k++) {
      // Half repeat a receipt of this batch, half one an earlier batch applied (when there is one).
      const pool = k % 2 === 0 || earlier.length === 0 ? fresh : earlier;
      receipts.push(pool[Math.floor(this.next01() * pool.length)]!);
    }
    for (let k = receipts.length - 1; k > 0; k--) {
      const j = Math.floor(this.next01() * (k + 1));
      [receipts[k], receipts[j]] = [receipts[j]!, receipts[k]!];
    }
    earlier.push(...fresh);
    if (earlier.length > REMEMBERED) earlier.splice(0, earlier.length - REMEMBERED);
    return { endpoint, receipts, fresh: fresh.length };
  }
}

/** The signed HTTP request of a batch, as the simulator or an SDK sends it. */
export function receiptRequest(batch: ReceiptBatch): HttpRequest {
  const body = JSON.stringify({ receipts: batch.receipts });
  return batch.endpoint === 'simulator'
    ? {
        method: 'POST',
        path: `/api/v1/receipts/simulator/${APP_ID}`,
        headers: { 'x-pushboard-signature': signBody(body, RECEIPT_SECRET) },
        body,
      }
    : {
        method: 'POST',
        path: '/api/v1/receipts/sdk',
        headers: { 'x-pushboard-key': SDK_KEY, 'x-pushboard-signature': signBody(body, SDK_SECRET) },
        body,
      };
}

/** The answer of the receipt endpoints (docs/api.md#shapes). */
export interface ReceiptAnswer {
  accepted: number;
  duplicate: number;
  rejected: number;
  late: number;
}

/** Sums receipt answers, and fails loudly on any other status (a bench that measures errors measures nothing). */
export function receiptTally() {
  const total: ReceiptAnswer = { accepted: 0, duplicate: 0, rejected: 0, late: 0 };
  return {
    total,
    check(answer: { status: number; body: string }, request: HttpRequest) {
      if (answer.status !== 200) {
        throw new Error(
          `${request.method} ${request.path}: HTTP ${answer.status} ${answer.body.slice(0, 300)}`,
        );
      }
      const tally = JSON.parse(answer.body) as ReceiptAnswer;
      total.accepted += tally.accepted;
      total.duplicate += tally.duplicate;
      total.rejected += tally.rejected;
      total.late += tally.late;
    },
  };
}

/**
 * Sends receipt batches from `stream` with `clients` concurrent clients: `batches` of them, or until
 * `stop()` says so; `intervalMs` paces them (see `runLoad`). Bodies are built before the clock starts
 * when the count is known (`batches`), and on the way otherwise (a background load of unknown length).
 */
export async function sendReceipts(options: {
  client: HttpClient;
  stream: ReceiptStream;
  clients: number;
  batches?: number;
  stop?: () => boolean;
  intervalMs?: number;
  /** Where to send them instead of the receipt endpoints (the no-op probe). */
  path?: string;
}) {
  const build = () => {
    const request = receiptRequest(options.stream.next());
    return options.path === undefined ? request : { ...request, path: options.path };
  };
  const prepared = options.batches === undefined ? undefined : Array.from({ length: options.batches }, build);
  let taken = 0;
  const tally = receiptTally();
  const result = await runLoad({
    client: options.client,
    clients: options.clients,
    intervalMs: options.intervalMs,
    next: () => (options.stop?.() ? undefined : prepared ? prepared[taken++] : build()),
    check: tally.check,
  });
  return { ...result, receipts: result.requests * BATCH_RECEIPTS, tally: tally.total };
}
