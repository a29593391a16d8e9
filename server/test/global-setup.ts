/**
 * Vitest's global set-up: builds the server (`server/dist`), so that the tests that start
 * `pushboard` as a child process run the JavaScript a user runs, made from the sources under test;
 * in the scaled run (`PUSHBOARD_TEST_SCALED=1`), creates this run's own PostgreSQL database before any
 * test file starts and drops it when the run ends.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { createPostgresDatabase, dropPostgresDatabase } from '../src/storage/postgres.ts';
import { ensurePostgres, POSTGRES_ADMIN_URL } from './services.ts';

/** Builds the server, creates the run's database (scaled run only) and answers the teardown that drops it. */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  execFileSync(process.execPath, [path.resolve(import.meta.dirname, '../build/build.js')], {
    stdio: 'inherit',
  });
  if (process.env.PUSHBOARD_TEST_SCALED !== '1') return undefined;
  await ensurePostgres();
  const name = `pushboard_test_${process.pid}_${Date.now()}`;
  await createPostgresDatabase(POSTGRES_ADMIN_URL, name);
  // Test files run in forked processes, which inherit this environment.
  process.env.PUSHBOARD_TEST_DATABASE = name;
  return async () => {
    await dropPostgresDatabase(POSTGRES_ADMIN_URL, name);
    // Every store's Redis prefix starts with the database's name (backends.ts).
    const { deleteRedisPrefix } = await import('./backends.ts');
    await deleteRedisPrefix(`pbt-${name}`);
  };
}
