/**
 * The composition root: config → store → migrations → first run → providers → HTTP API → listen →
 * dispatcher, for the process's role (API, worker or both). Every subsystem is wired here and nowhere
 * else; `cli.ts` calls `startServer` for `pushboard serve`.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pino from 'pino';
import { buildApp } from './app.ts';
import { purgeAbandonedAudiences } from './audiences/audience-import.ts';
import { type Config, ConfigError, maskPassword } from './config.ts';
import { seedFirstRun } from './demo/first-run.ts';
import { type BatchJob, createDispatcher, type StartJob, scheduleWakeUp } from './dispatch/dispatcher.ts';
import { createDueSignal } from './dispatch/due-signal.ts';
import { sleep } from './dispatch/rate-limit.ts';
import type { SendJob } from './dispatch/scheduler.ts';
import { createLogger, prettyDestination } from './http/logging.ts';
import { signBody } from './http/signed-bodies.ts';
import { createProviders } from './providers/registry.ts';
import { createSimulatorReporter } from './providers/simulator-outbox.ts';
import type { JobQueue } from './queue/queue.ts';
import { createEmbeddedReceiptWriter } from './receipts/receipt-writer.ts';
import { createRetentionJob, type RetentionRun } from './retention/retention.ts';
import { openStore } from './storage/open-store.ts';
import { createStores } from './stores.ts';
import { bootstrapTenancy, DEFAULT_WORKSPACE_ID } from './tenancy/bootstrap.ts';

/** Folder of the web console's static files. */
export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** How long a stopping server lets in-flight requests finish before it closes their connections. */
export const SHUTDOWN_GRACE_MS = 2000;

/** The URL at which this process reaches its own HTTP server (for the simulator's receipts). */
export function loopbackUrl(host: string, address: AddressInfo | string | null): string {
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  if (['0.0.0.0', '127.0.0.1', 'localhost', ''].includes(host)) return `http://127.0.0.1:${port}`;
  if (host === '::' || host === '::1') return `http://[::1]:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The store of `config` in a few words: `SQLite <file>` or `PostgreSQL <URL without password>`. */
export function describeStore(config: Config): string {
  if (config.databaseUrl) return `PostgreSQL ${maskPassword(config.databaseUrl)}`;
  const relative = path.relative(process.cwd(), config.sqliteFile);
  return `SQLite ${relative.startsWith('..') || path.isAbsolute(relative) ? config.sqliteFile : `./${relative}`}`;
}

/**
 * What a `pushboard serve` process runs: `api` the HTTP API and console (stateless: any number of
 * them behind a load balancer), `worker` the dispatcher, the simulator's reporter and the retention
 * job (any number), `all` both — the only role of the embedded mode, where one process owns the file.
 */
export type ProcessRole = 'api' | 'worker' | 'all';

/** The roles `--role` accepts. */
export const PROCESS_ROLES: readonly ProcessRole[] = ['api', 'worker', 'all'];

/** The BullMQ queues of a scaled deployment, shared by all its processes (`config.redisPrefix`). */
interface ScaledQueues {
  sends: JobQueue<SendJob>;
  batches: JobQueue<BatchJob>;
  starts: JobQueue<StartJob>;
  retention: JobQueue<RetentionRun>;
}

/** Batch hand-overs one worker runs at the same time (scaled mode). */
const WORKER_BATCH_CONCURRENCY = 4;

/**
 * Opens the scaled mode's queues on Redis; every job failure is logged with its job. BullMQ and
 * ioredis are loaded here, on first use, so that the embedded mode never loads them.
 */
async function openQueues(config: Config, redisUrl: string, logger: pino.Logger): Promise<ScaledQueues> {
  const { createBullmqQueue } = await import('./queue/bullmq-queue.ts');
  const open = <T>(name: string) =>
    createBullmqQueue<T>({
      name,
      redisUrl,
      prefix: config.redisPrefix,
      lockDurationMs: config.jobLockMs,
      stalledIntervalMs: Math.max(500, Math.floor(config.jobLockMs / 2)),
      onError: (jobId, error) => logger.error({ queue: name, jobId, err: error }, 'job failed'),
      onQueueError: (error) => logger.warn({ queue: name, err: error }, 'job queue error'),
    });
  return {
    sends: open<SendJob>('sends'),
    batches: open<BatchJob>('batches'),
    starts: open<StartJob>('starts'),
    retention: open<RetentionRun>('retention'),
  };
}

/** Runs a Pushboard process in `role` until SIGINT/SIGTERM; resolves with a function that stops it. */
export async function startServer(config: Config, role: ProcessRole = 'all'): Promise<() => Promise<void>> {
  const redisUrl = config.redisUrl;
  if (role !== 'all' && !redisUrl) {
    throw new ConfigError(
      `--role ${role} needs REDIS_URL and DATABASE_URL: without them Pushboard runs embedded, in one process (--role all)`,
    );
  }
  // Readable lines for a person at a terminal; JSON lines for log collectors (docs/operations.md#logs).
  const pretty =
    config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  const logger = createLogger(config.logLevel, pretty ? prettyDestination() : undefined).child({ role });
  const db = await openStore(config);
  const stores = createStores(db);
  const dueSignal = createDueSignal();
  const serves = role !== 'worker';
  const works = role !== 'api';
  const queues = redisUrl ? await openQueues(config, redisUrl, logger) : undefined;

  if (serves) {
    const boot = await bootstrapTenancy(db, config.adminPassword, new Date());
    if (boot) {
      if (boot.generatedPassword) {
        // Printed to the terminal (stderr, not the JSON log on stdout) once, on the first start only:
        // it is not stored anywhere in clear, and the first login must replace it.
        process.stderr.write(
          `\n  Pushboard first start: user "${boot.username}" created with password: ${boot.generatedPassword}\n` +
            '  (shown only now; it must be changed at the first login. Set PUSHBOARD_ADMIN_PASSWORD before the\n' +
            '  first start to choose it instead)\n\n',
        );
      }
      if (config.seedDemo) {
        const seeded = await seedFirstRun(db, boot.workspaceId, config.demoFleetSize, new Date());
        logger.info(seeded, 'first run: simulator apps, virtual fleet and demo audience created');
      }
    }
    // Finish audience deletions and drop uploads that a stopped process left half-written. The
    // embedded mode is the only process on its file: whatever is still importing was abandoned.
    const embedded = !config.databaseUrl;
    const now = new Date();
    const abandoned = await purgeAbandonedAudiences(db, now, { everyImport: embedded });
    const staged = embedded ? await stores.devices.rejectStaleImports(now.toISOString()) : 0;
    if (abandoned > 0 || staged > 0) {
      logger.info({ audiences: abandoned, deviceImports: staged }, 'cleaned up abandoned imports');
    }
  }

  const providers = createProviders(db, undefined, config.providerUrlAllowlist);
  // Embedded: receipts are written by a thread of their own, off the event loop (receipts/receipt-writer.ts).
  const receiptWriter =
    serves && !config.databaseUrl
      ? createEmbeddedReceiptWriter(config, { logger: logger.child({ module: 'receipt-writer' }) })
      : undefined;
  const app = serves
    ? await buildApp({
        config,
        db,
        stores,
        dueSignal,
        logger,
        webRoot: WEB_ROOT,
        providers,
        ...(receiptWriter && { receiptIngest: receiptWriter }),
      })
    : undefined;
  if (app) {
    await app.listen({ port: config.port, host: config.host });
    const running = {
      url: loopbackUrl(config.host, app.server.address()),
      workspace: DEFAULT_WORKSPACE_ID,
      store: describeStore(config),
    };
    // A person gets one plain line saying where to go; a log collector the same facts as fields.
    if (pretty) {
      process.stdout.write(
        `Pushboard is running: open ${running.url} (workspace ${running.workspace}) — ${running.store}\n`,
      );
    } else {
      logger.info(running, 'Pushboard is running');
    }
  }
  // Scaled mode: a task created or rescheduled here wakes a worker's scheduler when it falls due.
  const unsubscribe =
    serves && queues
      ? dueSignal.listen((dueAt) => {
          scheduleWakeUp(queues.starts, dueAt, new Date()).catch((error: unknown) =>
            logger.error({ err: error }, 'queueing the start of a task failed; the next poll starts it'),
          );
        })
      : undefined;

  let stopWorker = async () => {};
  if (works) {
    // The simulator reports its receipts like a real service: over HTTP, to the receipt endpoints —
    // this process's own, or (a worker alone) the API's public URL.
    const reporter = createSimulatorReporter({
      db,
      baseUrl: app ? loopbackUrl(config.host, app.server.address()) : config.publicUrl,
      sign: signBody,
      logger: logger.child({ module: 'simulator' }),
    });
    reporter.start();
    const retention = createRetentionJob({
      db,
      settings: config,
      intervalMs: config.retentionIntervalMs,
      ...(queues && { queue: queues.retention }),
      // Embedded: the purge deletes on the receipt writer's connection, off the event loop.
      ...(receiptWriter && { purge: (asOf: Date, signal: AbortSignal) => receiptWriter.purge(asOf, signal) }),
      logger: logger.child({ module: 'retention' }),
    });
    retention.start();
    // Loaded only in the scaled mode, like the queues.
    const scaledRate = redisUrl
      ? {
          redis: (await import('./queue/redis.ts')).openRedis(redisUrl, `${config.redisPrefix}:rate`),
          createLimiter: (await import('./dispatch/redis-rate-limit.ts')).createRedisRateLimiter,
        }
      : undefined;
    const dispatcher = createDispatcher({
      db,
      store: stores.dispatch,
      dueSignal,
      settings: config.dispatch,
      publicUrl: config.publicUrl,
      providers,
      logger: logger.child({ module: 'dispatch' }),
      ...(queues &&
        scaledRate && {
          scaled: {
            sends: queues.sends,
            batches: queues.batches,
            starts: queues.starts,
            batchConcurrency: WORKER_BATCH_CONCURRENCY,
            rateLimiter: scaledRate.createLimiter(
              scaledRate.redis,
              config.redisPrefix,
              config.dispatch.rateLimitPerSecond,
              () => new Date(),
              sleep,
            ),
          },
        }),
    });
    await dispatcher.start();
    if (!app) logger.info({ publicUrl: config.publicUrl }, 'worker started');
    stopWorker = async () => {
      // Sends stop after their current batches and resume on the next start (or another worker).
      await dispatcher.stop();
      await Promise.all([reporter.stop(), retention.stop()]);
      scaledRate?.redis.disconnect();
    };
  }

  const stop = async () => {
    unsubscribe?.();
    await stopWorker();
    // The API side's queues (the worker side closed the ones it processed: closing twice is a no-op).
    if (queues) await Promise.all(Object.values(queues).map((queue) => queue.close()));
    if (app) {
      // A keep-alive connection whose response ends after the close has begun stays open until Node's
      // keep-alive timeout (72 s) and holds the close with it: in-flight requests get a moment to
      // finish, then what is left is cut.
      const cut = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await app.close();
      clearTimeout(cut);
    }
    await receiptWriter?.close();
    await db.destroy();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  return stop;
}
