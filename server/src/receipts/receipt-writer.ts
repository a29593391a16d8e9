/**
 * The embedded mode's receipt writer: receipt ingestion run off the HTTP event loop. better-sqlite3 is
 * synchronous, so on the main thread every receipt transaction held every other request (a console
 * page waited behind four clients' 1,000-receipt batches). The writer is a worker thread
 * (`receipt-writer-worker.ts`) with its own connection to the same SQLite file; the main thread keeps
 * reading over WAL. It keeps the ingestion contract of `README.md`: a request is answered from what its
 * committed transactions changed, and only then.
 *
 * Back-pressure: the writer holds at most `maxQueuedReceipts` receipts (running or waiting, counted by
 * request); a request that would go over is refused at once with `429 RECEIPT_QUEUE_FULL` and
 * `Retry-After` (nothing of it stored), never queued without bound. The bound counts receipts, not
 * requests, so many devices each reporting a few receipts at once are all taken, while a backlog of
 * full 1,000-receipt batches is held to a bounded size in memory. An SDK body goes to the thread
 * unread (`receiveBody`: its JSON and items are read there, off the event loop), so it counts by its
 * size until then, one receipt per `BODY_BYTES_PER_RECEIPT` bytes.
 *
 * If the thread dies, every request it held is answered `500` (none was acknowledged: the sender
 * retries and whatever had committed is found again as duplicates), the death is logged as an error,
 * and the next request starts a new thread.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.ts';
import type { WindowSettings } from '../domain/windows.ts';
import { AppError, ERROR_STATUS, type ErrorCode } from '../errors.ts';
import type { ParsedReceipt, ParsedReceipts } from '../providers/provider.ts';
import type { PurgeReport } from '../retention/retention.ts';
import { loadSecretKey } from '../security/secret-box.ts';
import type { ReceiptApp } from './receipt-classification.ts';
import type { ReceiptIngest, ReceiptTally } from './receipt-ingest.ts';

/** Receipts the writer holds (running or waiting) by default before it answers 429: 64 full batches. */
export const RECEIPT_QUEUE_LIMIT = 64_000;

/** The `Retry-After` of a request refused because the writer's queue is full, in seconds. */
export const RECEIPT_QUEUE_RETRY_S = 1;

/**
 * Receipts per transaction in the writer thread: no event loop waits on its transactions, so they can
 * be longer than on the main thread; still short, since a main-thread write waits for the one running.
 */
export const WRITER_RECEIPTS_PER_TRANSACTION = 1000;

/** What the writer thread is started with (structured-cloned to it). */
export interface WriterData {
  file: string;
  /** The sealing key of the store, base64 (the thread opens the file as `openSqlite` does). */
  secretKey: string;
  windows: WindowSettings;
  receiptsPerTransaction: number;
}

/**
 * Bytes of an SDK body counted as one receipt by the queue's bound, before the thread has read how many
 * it holds: an SDK receipt takes about a hundred bytes (`{"taskId":…,"deviceId":…,"kind":…,"at":…}`).
 */
export const BODY_BYTES_PER_RECEIPT = 100;

/** A message to the writer thread: one request's receipts (read, or its body to read), or the order to close. */
export type WriterRequest =
  | { type: 'receive'; id: number; now: string; app: ReceiptApp; parsed: ParsedReceipts }
  | {
      type: 'receiveBody';
      id: number;
      now: string;
      app: ReceiptApp;
      body: Uint8Array;
      kinds: readonly ParsedReceipt['kind'][];
    }
  | { type: 'purge'; id: number; asOf: string }
  | { type: 'abortPurge'; id: number }
  | { type: 'close' };

/** What a request message carries besides its ID, arrival time and app. */
type RequestPart<T extends 'receive' | 'receiveBody'> = Omit<
  Extract<WriterRequest, { type: T }>,
  'id' | 'now' | 'app'
>;

/** The writer thread's answer to one request. */
export type WriterReply =
  | { id: number; tally: ReceiptTally & { unreadable: number } }
  | { id: number; purged: PurgeReport }
  | { id: number; error: { message: string; code?: string; details?: unknown } };

/** Where the writer logs its thread's death. */
export interface WriterLogger {
  error(object: object, message: string): void;
}

/** What a receipt writer is built from. */
export interface ReceiptWriterOptions {
  /** The embedded store's SQLite file (not `:memory:`: the thread opens the file itself). */
  file: string;
  /** The key the store's app secrets are sealed with. */
  secretKey: Buffer;
  windows: WindowSettings;
  /** The request's arrival time; tests fix it. */
  clock?: () => Date;
  /** Receipts held at most (running or waiting) before 429; `RECEIPT_QUEUE_LIMIT` by default. */
  maxQueuedReceipts?: number;
  /** Receipts per transaction in the thread; `WRITER_RECEIPTS_PER_TRANSACTION` by default. */
  receiptsPerTransaction?: number;
  logger?: WriterLogger;
}

/** Receipt ingestion in the writer thread; `close` ends the thread once the requests it holds are answered. */
export interface ReceiptWriter extends ReceiptIngest {
  /**
   * Runs the retention purge (`purgeExpiredDetails`) as of `asOf` on the thread's connection, beside the
   * receipts, so its deletes never hold the HTTP event loop; `signal` stops it between two chunks.
   */
  purge(asOf: Date, signal?: AbortSignal): Promise<PurgeReport>;
  close(): Promise<void>;
}

/**
 * Starts the writer thread. From a JavaScript build, its entry is the `.js` module beside this one.
 * From the TypeScript sources (tsx, vitest), a thread inherits no loader that was registered by API
 * (`bin/pushboard.js`), and on Node 20 neither `--import tsx` in its `execArgv` nor `register()` inside
 * it transforms TypeScript; tsx's `tsImport` does, so a small bootstrap imports the entry through it.
 */
function startThread(data: WriterData): Worker {
  const here = fileURLToPath(import.meta.url);
  const extension = path.extname(here);
  const entry = new URL(`./receipt-writer-worker${extension}`, import.meta.url);
  if (extension !== '.ts') return new Worker(entry, { workerData: data });
  // tsx's ESM API, as its package exports it to `import` (a require() of it would get the CommonJS build).
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('tsx/package.json');
  const exported = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as TsxManifest).exports['./esm/api'].import
    .default;
  const api = pathToFileURL(path.join(path.dirname(manifest), exported)).href;
  const bootstrap = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}));`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

/** The part of tsx's package.json that names its ESM API. */
interface TsxManifest {
  exports: { './esm/api': { import: { default: string } } };
}

/** An error of the thread as the route answers it: an `AppError` of the catalogue keeps its code. */
function errorFromThread(error: { message: string; code?: string; details?: unknown }): Error {
  if (error.code !== undefined && error.code in ERROR_STATUS) {
    return new AppError(error.code as ErrorCode, error.message, error.details);
  }
  return new Error(`receipt writer: ${error.message}`);
}

/** Starts a receipt writer thread over the SQLite file `options.file`. */
export function createReceiptWriter(options: ReceiptWriterOptions): ReceiptWriter {
  const clock = options.clock ?? (() => new Date());
  const maxQueued = options.maxQueuedReceipts ?? RECEIPT_QUEUE_LIMIT;
  if (!Number.isInteger(maxQueued) || maxQueued < 1) {
    throw new RangeError(`maxQueuedReceipts must be a positive integer, not ${maxQueued}`);
  }
  const data: WriterData = {
    file: options.file,
    secretKey: options.secretKey.toString('base64'),
    windows: options.windows,
    receiptsPerTransaction: options.receiptsPerTransaction ?? WRITER_RECEIPTS_PER_TRANSACTION,
  };
  // What each request waits for: a tally, or a purge's report.
  const pending = new Map<
    number,
    { size: number; resolve(answer: unknown): void; reject(error: Error): void }
  >();
  /** Receipts of the pending requests (the back-pressure bound's measure). */
  let queuedReceipts = 0;
  let nextId = 1;
  let worker: Worker | undefined;
  let closing: Promise<void> | undefined;

  /** Fails every request the thread held: none was answered, so none was acknowledged. */
  function failPending(error: Error): void {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
    queuedReceipts = 0;
  }

  function start(): Worker {
    const thread = startThread(data);
    thread.on('message', (reply: WriterReply) => {
      const waiter = pending.get(reply.id);
      if (!waiter) return;
      pending.delete(reply.id);
      queuedReceipts -= waiter.size;
      if ('error' in reply) waiter.reject(errorFromThread(reply.error));
      else waiter.resolve('purged' in reply ? reply.purged : reply.tally);
    });
    thread.on('error', (error) => {
      options.logger?.error({ err: error }, 'the receipt writer thread failed; starting another');
      if (worker === thread) worker = undefined;
      failPending(new Error(`the receipt writer thread failed: ${error.message}`));
    });
    thread.on('exit', (code) => {
      // A thread that failed has answered for its requests already; the pending ones are its successor's.
      if (worker !== thread) return;
      worker = undefined;
      if (pending.size === 0) return;
      options.logger?.error({ code }, 'the receipt writer thread exited with requests unanswered');
      failPending(new Error(`the receipt writer thread exited (${code}) before answering`));
    });
    return thread;
  }

  /**
   * Queues one request of `size` receipts of `app` for the thread, or refuses it at once with 429 when
   * the queue would go over its bound.
   */
  function submit(
    size: number,
    app: ReceiptApp,
    request: RequestPart<'receive'> | RequestPart<'receiveBody'>,
  ): Promise<ReceiptTally & { unreadable: number }> {
    if (closing) return Promise.reject(new Error('the receipt writer is closed'));
    // An empty queue takes any request, so one batch larger than the bound is never refused for ever.
    if (queuedReceipts > 0 && queuedReceipts + size > maxQueued) {
      return Promise.reject(
        new AppError(
          'RECEIPT_QUEUE_FULL',
          `The server is writing ${queuedReceipts} receipts already; send this request again in ${RECEIPT_QUEUE_RETRY_S} s.`,
          { retryAfterSeconds: RECEIPT_QUEUE_RETRY_S },
          { 'retry-after': String(RECEIPT_QUEUE_RETRY_S) },
        ),
      );
    }
    worker ??= start();
    const id = nextId++;
    const answer = new Promise<ReceiptTally & { unreadable: number }>((resolve, reject) =>
      pending.set(id, { size, resolve, reject }),
    );
    queuedReceipts += size;
    // Only what ingestion reads of the app: the authenticated app may carry its secrets.
    const message = {
      ...request,
      id,
      now: clock().toISOString(),
      app: { id: app.id, platform: app.platform },
    };
    worker.postMessage(message satisfies WriterRequest);
    return answer;
  }

  return {
    receive(app, parsed) {
      // Every request counts at least one (an all-unreadable one is still written).
      return submit(Math.max(1, parsed.receipts.length + parsed.unreadable.length), app, {
        type: 'receive',
        parsed,
      });
    },
    receiveBody(app, body, kinds) {
      const size = Math.max(1, Math.ceil(body.byteLength / BODY_BYTES_PER_RECEIPT));
      return submit(size, app, { type: 'receiveBody', body, kinds });
    },
    purge(asOf, signal) {
      if (closing) return Promise.reject(new Error('the receipt writer is closed'));
      worker ??= start();
      const thread = worker;
      const id = nextId++;
      const answer = new Promise<PurgeReport>((resolve, reject) =>
        pending.set(id, { size: 0, resolve: (report) => resolve(report as PurgeReport), reject }),
      );
      // Removed once answered: the job passes the same signal to every run.
      const abort = () => thread.postMessage({ type: 'abortPurge', id } satisfies WriterRequest);
      signal?.addEventListener('abort', abort, { once: true });
      void answer.finally(() => signal?.removeEventListener('abort', abort)).catch(() => undefined);
      thread.postMessage({ type: 'purge', id, asOf: asOf.toISOString() } satisfies WriterRequest);
      return answer;
    },
    close() {
      closing ??= (async () => {
        const thread = worker;
        if (!thread) return;
        const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
        // Queued after the requests it holds: the thread answers them, then closes its connection.
        thread.postMessage({ type: 'close' } satisfies WriterRequest);
        await exited;
      })();
      return closing;
    },
  };
}

/**
 * The embedded store's receipt writer as a server starts it: over `config.sqliteFile`, with the store's
 * sealing key (`PUSHBOARD_SECRET_KEY` or the key file beside the database, as `openStore` finds it) and
 * the configured windows.
 */
export function createEmbeddedReceiptWriter(
  config: Config,
  options: Pick<ReceiptWriterOptions, 'clock' | 'logger' | 'maxQueuedReceipts'> = {},
): ReceiptWriter {
  return createReceiptWriter({
    ...options,
    file: config.sqliteFile,
    secretKey: loadSecretKey(config.secretKey, path.dirname(config.sqliteFile)),
    windows: { statisticsWindowHours: config.statisticsWindowHours, retentionHours: config.retentionHours },
  });
}
