/**
 * The real PostgreSQL and Redis servers on the machine, for the tests that need them: checks that
 * each is up and starts it if not (the commands the machine's own start-up uses), once per process.
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** PostgreSQL's address on this machine (trust auth). */
export const POSTGRES_ADMIN_URL =
  process.env.PUSHBOARD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Redis's address on this machine. */
export const REDIS_TEST_URL = process.env.PUSHBOARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether something accepts TCP connections on host:port within `timeoutMs`. */
function listening(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitUntilListening(host: string, port: number, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await listening(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not start listening on ${host}:${port}`);
}

let postgres: Promise<void> | undefined;
let redis: Promise<void> | undefined;

/** Makes sure PostgreSQL answers on 127.0.0.1:5432, starting the machine's cluster if it is down. */
export function ensurePostgres(): Promise<void> {
  postgres ??= (async () => {
    if (await listening('127.0.0.1', 5432)) return;
    const version = fs.readdirSync('/etc/postgresql')[0];
    execSync(`pg_ctlcluster --skip-systemctl-redirect ${version} main start`, { stdio: 'ignore' });
    await waitUntilListening('127.0.0.1', 5432, 'PostgreSQL');
  })();
  return postgres;
}

/** Makes sure Redis answers on 127.0.0.1:6379, starting a non-persistent one if it is down. */
export function ensureRedis(): Promise<void> {
  redis ??= (async () => {
    if (await listening('127.0.0.1', 6379)) return;
    execSync('redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no', {
      stdio: 'ignore',
    });
    await waitUntilListening('127.0.0.1', 6379, 'Redis');
  })();
  return redis;
}
