/**
 * The receipt writer's thread (`receipt-writer.ts`): owns a better-sqlite3 connection of its own to the
 * embedded store's file and runs receipt ingestion there, one request at a time, so the HTTP event loop
 * never waits while receipts are written (nor while an SDK body's JSON and items are read), and runs
 * the retention purge there too. It answers each request once its transactions have committed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { purgeExpiredDetails } from '../retention/retention.ts';
import { openSqlite } from '../storage/sqlite.ts';
import { createReceiptIngest, readReceiptBody } from './receipt-ingest.ts';
import { createReceiptStore } from './receipt-store.ts';
import type { WriterData, WriterReply, WriterRequest } from './receipt-writer.ts';

const port = parentPort;
if (!port) throw new Error('receipt-writer-worker.ts runs as a worker thread of receipt-writer.ts');
const data = workerData as WriterData;
// The same file, pragmas and sealing key as the main thread's connection (`openSqlite`).
const db = openSqlite(data.file, { secretKey: Buffer.from(data.secretKey, 'base64') });
const store = createReceiptStore(db);

// One request at a time, in arrival order: SQLite has one writer, and a request's chunks then run back
// to back instead of interleaving with another request's.
let tail: Promise<void> = Promise.resolve();

// Retention purges run beside the requests, not in their line: a purge deletes in short chunks, and the
// receipts' transactions take the connection in between (a purge of millions of rows never holds them).
const purges = new Map<number, { stop: AbortController; done: Promise<void> }>();

/** The answer to request `id` that failed with `error`; an `AppError` keeps its code and details. */
function failure(id: number, error: unknown): WriterReply {
  const failed = error as { message?: unknown; code?: unknown; details?: unknown };
  return {
    id,
    error: {
      message: String(failed?.message ?? error),
      ...(typeof failed?.code === 'string' && { code: failed.code }),
      ...(failed?.details !== undefined && { details: failed.details }),
    },
  };
}

port.on('message', (message: WriterRequest) => {
  if (message.type === 'close') {
    tail = tail.then(async () => {
      for (const purge of purges.values()) purge.stop.abort();
      await Promise.all([...purges.values()].map((purge) => purge.done));
      await db.destroy();
      port.close();
    });
    return;
  }
  if (message.type === 'abortPurge') {
    purges.get(message.id)?.stop.abort();
    return;
  }
  if (message.type === 'purge') {
    const stop = new AbortController();
    const done = purgeExpiredDetails(db, new Date(message.asOf), data.windows, { signal: stop.signal })
      .then(
        (purged): WriterReply => ({ id: message.id, purged }),
        (error: unknown) => failure(message.id, error),
      )
      .then((reply) => {
        purges.delete(message.id);
        port.postMessage(reply);
      });
    purges.set(message.id, { stop, done });
    return;
  }
  tail = tail.then(async () => {
    let reply: WriterReply;
    try {
      // The request's arrival time, taken on the main thread (whose clock tests may fix).
      const now = new Date(message.now);
      const ingest = createReceiptIngest({
        store,
        windows: data.windows,
        clock: () => now,
        receiptsPerTransaction: data.receiptsPerTransaction,
      });
      // An SDK body is read here, off the HTTP event loop (its signature was checked there).
      const parsed =
        message.type === 'receive' ? message.parsed : readReceiptBody(message.body, message.kinds);
      reply = { id: message.id, tally: await ingest.receive(message.app, parsed) };
    } catch (error) {
      reply = failure(message.id, error);
    }
    port.postMessage(reply);
  });
});
