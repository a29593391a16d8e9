/**
 * The HTTP API of a bench scenario, in a process of its own (started by `startApiServer`): `buildApp`
 * over one store — an SQLite file (receipts written by the receipt writer thread, as `main.ts` does),
 * or (`--scaled`) a PostgreSQL database, as an API process of the scaled mode opens it — listening on a free loopback port, driven over real HTTP by the bench process.
 * Server and clients run in separate processes so that the clients' work (building and signing
 * 1,000-receipt bodies, reading answers) neither slows the server nor shows up in its latencies;
 * on a two-core machine each gets a core.
 *
 *   node --import tsx bench/api-server.ts <db file | postgres:// URL> [--worker]
 *
 * Besides the API it serves two no-op routes for the probes, `POST /bench/noop` (reads and parses
 * the JSON body as any Fastify route does, answers a receipt-like tally) and `GET /bench/noop`, and
 * takes commands over IPC: `{type: 'purge', asOf, chunkRows}` runs the retention purge in this process
 * (on the server's own connection, as its retention job does) and answers `{type: 'purged', …}`.
 * With `--worker` it serves no HTTP and only takes commands: a worker process of the scaled mode,
 * where the retention job runs (the API processes only serve requests). The server logs nothing
 * unless `PUSHBOARD_BENCH_SERVER_LOG` names a pino level (to stderr), for finding why a request failed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import pino from 'pino';
import { buildApp } from '../server/src/app.ts';
import { loadConfig } from '../server/src/config.ts';
import { createReceiptWriter } from '../server/src/receipts/receipt-writer.ts';
import { purgeExpiredDetails } from '../server/src/retention/retention.ts';
import { loadSecretKey } from '../server/src/security/secret-box.ts';
import { isPostgresLocation, openStoreAt } from './store.ts';

/** Messages from the bench process. */
type Command = { type: 'purge'; asOf: string; chunkRows: number } | { type: 'cpu' };

/** Messages to the bench process. */
export type ServerMessage =
  | { type: 'listening'; port: number }
  | { type: 'purged'; seconds: number; tasks: number; deviceResults: number; partitionsDropped: number }
  | { type: 'cpu'; seconds: number }
  | { type: 'error'; message: string };

/** A running bench server. */
export interface ApiServer {
  /** `http://127.0.0.1:<port>` (empty for a `--worker` process). */
  base: string;
  child: ChildProcess;
  /** Runs the retention purge inside the server; resolves once it is done. */
  purge(
    asOf: Date,
    chunkRows: number,
  ): Promise<{ seconds: number; tasks: number; deviceResults: number; partitionsDropped: number }>;
  /** CPU seconds (user + system) the server process has used so far. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the API on a store (`storeLocation`: a file or a PostgreSQL URL) in a child process; resolves
 * once it listens. `worker`: a process without HTTP that only runs commands (the purge).
 */
export async function startApiServer(
  location: string,
  options: { worker?: boolean } = {},
): Promise<ApiServer> {
  const args = ['--import', 'tsx', import.meta.filename, location, ...(options.worker ? ['--worker'] : [])];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: process.env,
  });
  // Requests and answers alternate, so answers are matched to waiters in order.
  const waiting: { resolve(message: ServerMessage): void; reject(error: Error): void }[] = [];
  child.on('message', (message: ServerMessage) => waiting.shift()?.resolve(message));
  child.on('exit', (code) => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`the bench server exited with ${code}`));
  });
  const next = async <T extends ServerMessage['type']>(type: T) => {
    const message = await new Promise<ServerMessage>((resolve, reject) => waiting.push({ resolve, reject }));
    if (message.type === 'error') throw new Error(`bench server: ${message.message}`);
    if (message.type !== type) throw new Error(`bench server answered ${message.type}, not ${type}`);
    return message as Extract<ServerMessage, { type: T }>;
  };
  const { port } = await next('listening');
  return {
    base: port === 0 ? '' : `http://127.0.0.1:${port}`,
    child,
    async purge(asOf, chunkRows) {
      child.send({ type: 'purge', asOf: asOf.toISOString(), chunkRows } satisfies Command);
      const { seconds, tasks, deviceResults, partitionsDropped } = await next('purged');
      return { seconds, tasks, deviceResults, partitionsDropped };
    },
    async cpuSeconds() {
      child.send({ type: 'cpu' } satisfies Command);
      return (await next('cpu')).seconds;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function serve(location: string, worker: boolean): Promise<void> {
  const send = (message: ServerMessage) => process.send?.(message);
  const postgres = isPostgresLocation(location);
  const config = loadConfig(
    { dataDir: postgres ? process.cwd() : path.dirname(location), logLevel: 'silent' },
    { PUSHBOARD_SEED_DEMO: 'false', ...(postgres && { DATABASE_URL: location }) },
  );
  // As `openStore` (main.ts) opens it: the default pool of a process on PostgreSQL.
  const db = await openStoreAt(location);
  const logLevel = process.env.PUSHBOARD_BENCH_SERVER_LOG;
  const logger = logLevel ? pino({ level: logLevel }, pino.destination(2)) : false;
  // As `main.ts` serves the embedded mode: receipts are written by the writer thread, over this file.
  const receiptWriter =
    worker || postgres
      ? undefined
      : createReceiptWriter({
          file: location,
          secretKey: loadSecretKey(undefined, path.dirname(location)),
          windows: {
            statisticsWindowHours: config.statisticsWindowHours,
            retentionHours: config.retentionHours,
          },
        });
  const app = worker
    ? undefined
    : await buildApp({ config, db, logger, ...(receiptWriter && { receiptIngest: receiptWriter }) });
  app?.post('/bench/noop', async (request) => {
    const receipts = (request.body as { receipts?: unknown[] } | null)?.receipts;
    return {
      accepted: Array.isArray(receipts) ? receipts.length : 0,
      duplicate: 0,
      rejected: 0,
      late: 0,
      errors: [],
    };
  });
  app?.get('/bench/noop', async () => ({ items: [], total: 0 }));
  await app?.listen({ port: 0, host: '127.0.0.1' });
  const address = app?.server.address();
  send({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 });

  process.on('message', (command: Command) => {
    if (command.type === 'cpu') {
      const used = process.cpuUsage();
      send({ type: 'cpu', seconds: (used.user + used.system) / 1e6 });
      return;
    }
    const started = performance.now();
    purgeExpiredDetails(db, new Date(command.asOf), config, { chunkRows: command.chunkRows }).then(
      (report) => send({ type: 'purged', seconds: (performance.now() - started) / 1000, ...report }),
      (error: unknown) => send({ type: 'error', message: String(error) }),
    );
  });
  const stop = async () => {
    await app?.close();
    await receiptWriter?.close();
    await db.destroy();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  // The bench process went away without stopping this one.
  process.once('disconnect', stop);
}

// Run only as a script: scenarios import this module for `startApiServer`.
const [location, role] = process.argv.slice(2);
if (path.resolve(process.argv[1] ?? '') === import.meta.filename && location !== undefined) {
  await serve(location, role === '--worker');
}
