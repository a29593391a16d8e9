/**
 * Opening a PostgreSQL store: Pushboard refuses a database that does not sort text by bytes (its
 * keyset cursors and batch ranges compare IDs in SQL and in JavaScript alike) and a URL whose
 * search_path names no schema, each with a message that says how to fix it. Runs against the
 * machine's PostgreSQL in both test runs.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ConfigError } from '../src/config.ts';
import { createPostgresDatabase, dropPostgresDatabase, openPostgres } from '../src/storage/postgres.ts';
import { ensurePostgres, POSTGRES_ADMIN_URL } from './services.ts';

const NAME = `pushboard_open_${process.pid}`;
const ICU = `pushboard_icu_${process.pid}`;

/** `POSTGRES_ADMIN_URL` pointed at `database`, with extra query parameters. */
function urlOf(database: string, params: Record<string, string> = {}): string {
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${database}`;
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

beforeAll(async () => {
  await ensurePostgres();
  await createPostgresDatabase(POSTGRES_ADMIN_URL, NAME);
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  // A linguistic collation (ICU, American English): case and punctuation do not sort by bytes.
  await admin.query(
    `create database ${ICU} template template0 locale_provider icu icu_locale 'en-US' lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8'`,
  );
  await admin.end();
});

afterAll(async () => {
  await dropPostgresDatabase(POSTGRES_ADMIN_URL, NAME);
  await dropPostgresDatabase(POSTGRES_ADMIN_URL, ICU);
});

test('a database made by createPostgresDatabase opens; making it again changes nothing', async () => {
  await createPostgresDatabase(POSTGRES_ADMIN_URL, NAME);
  const db = await openPostgres(urlOf(NAME));
  await db.destroy();
});

test('a database with a linguistic collation is refused, saying how to create one that fits', async () => {
  const opening = openPostgres(urlOf(ICU));
  await expect(opening).rejects.toBeInstanceOf(ConfigError);
  await expect(opening).rejects.toThrow(/ICU en-US.*not by bytes.*LC_COLLATE 'C'/);
});

test('a search_path naming no existing schema is refused', async () => {
  const opening = openPostgres(urlOf(NAME, { options: '-c search_path=no_such_schema' }));
  await expect(opening).rejects.toThrow(/search_path names no schema that exists/);
});
