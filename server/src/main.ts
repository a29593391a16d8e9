/**
 * The composition root: config → store → migrations → first run → providers → HTTP API → listen →
 * dispatcher. Every subsystem is wired here and nowhere else; `cli.ts` calls `startServer` for
 * `pushboard serve`.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { buildApp } from './app.ts';
import { purgeAbandonedAudiences } from './audiences/audience-import.ts';
import type { Config } from './config.ts';
import { seedFirstRun } from './demo/first-run.ts';
import { createDispatcher } from './dispatch/dispatcher.ts';
import { createProviders } from './providers/registry.ts';
import { createSimulatorReporter } from './providers/simulator-outbox.ts';
import { signReceipts } from './receipts/receipt-routes.ts';
import { createRetentionJob } from './retention/retention.ts';
import type { Db } from './storage/database.ts';
import { migrateToLatest } from './storage/migrations/index.ts';
import { openPostgres } from './storage/postgres.ts';
import { openSqlite } from './storage/sqlite.ts';
import { bootstrapTenancy } from './tenancy/bootstrap.ts';

/** Folder of the web console's static files. */
export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

/** How long a stopping server lets in-flight requests finish before it closes their connections. */
export const SHUTDOWN_GRACE_MS = 2000;

/** Opens the configured store (PostgreSQL with `DATABASE_URL`, else the SQLite file) and brings its schema up to date. */
export async function openStore(config: Config): Promise<Db> {
  const db = config.databaseUrl ? await openPostgres(config.databaseUrl) : openSqlite(config.sqliteFile);
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return db;
}

/** The URL at which this process reaches its own HTTP server (for the simulator's receipts). */
export function loopbackUrl(host: string, address: AddressInfo | string | null): string {
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  if (['0.0.0.0', '127.0.0.1', 'localhost', ''].includes(host)) return `http://127.0.0.1:${port}`;
  if (host === '::' || host === '::1') return `http://[::1]:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Runs the Pushboard server until SIGINT/SIGTERM; resolves with a function that stops it. */
export async function startServer(config: Config): Promise<() => Promise<void>> {
  const logger = pino({ level: config.logLevel });
  const db = await openStore(config);

  const boot = await bootstrapTenancy(db, config.adminPassword, new Date());
  if (boot) {
    if (boot.generatedPassword) {
      // Printed to stdout once, on the first start only: it is not stored anywhere in clear.
      process.stdout.write(
        `\n  Pushboard first start: user "${boot.username}" created with password: ${boot.generatedPassword}\n` +
          '  (shown only now; set PUSHBOARD_ADMIN_PASSWORD before the first start to choose it)\n\n',
      );
    }
    if (config.seedDemo) {
      const seeded = await seedFirstRun(db, boot.workspaceId, config.demoFleetSize, new Date());
      logger.info(seeded, 'first run: simulator apps, virtual fleet and demo audience created');
    }
  }

  // Finish audience deletions and drop uploads that a stopped process left half-written.
  const abandoned = await purgeAbandonedAudiences(db, new Date());
  if (abandoned > 0) logger.info({ audiences: abandoned }, 'cleaned up abandoned audiences');

  const providers = createProviders(db);
  const app = await buildApp({ config, db, logger, webRoot: WEB_ROOT, providers });
  await app.listen({ port: config.port, host: config.host });
  // The simulator reports its receipts like a real service: over HTTP, to this server's endpoints.
  const reporter = createSimulatorReporter({
    db,
    baseUrl: loopbackUrl(config.host, app.server.address()),
    sign: signReceipts,
    logger: logger.child({ module: 'simulator' }),
  });
  reporter.start();
  const retention = createRetentionJob({
    db,
    settings: config,
    intervalMs: config.retentionIntervalMs,
    logger: logger.child({ module: 'retention' }),
  });
  retention.start();
  const dispatcher = createDispatcher({
    db,
    settings: config.dispatch,
    publicUrl: config.publicUrl,
    providers,
    logger: logger.child({ module: 'dispatch' }),
  });
  await dispatcher.start();

  const stop = async () => {
    // Sends stop after their current batches and resume on the next start.
    await dispatcher.stop();
    await Promise.all([reporter.stop(), retention.stop()]);
    // A keep-alive connection whose response ends after the close has begun stays open until Node's
    // keep-alive timeout (72 s) and holds the close with it: in-flight requests get a moment to
    // finish, then what is left is cut.
    const cut = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    await app.close();
    clearTimeout(cut);
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
