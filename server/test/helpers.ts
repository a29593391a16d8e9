/**
 * Test harness: a fresh store of the run's backend (a real SQLite file in a temporary folder, or a
 * schema of the scaled run's PostgreSQL database: backends.ts), migrated and bootstrapped, and the
 * API built with `buildApp` and driven through `inject()` (no port is opened).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { type RawBuilder, sql } from 'kysely';
import { buildApp } from '../src/app.ts';
import { type Config, loadConfig } from '../src/config.ts';
import type { Api } from '../src/http/route-deps.ts';
import { createEmbeddedReceiptWriter } from '../src/receipts/receipt-writer.ts';
import type { Db } from '../src/storage/database.ts';
import { isPostgres } from '../src/storage/dialect.ts';
import { bootstrapTenancy, DEFAULT_WORKSPACE_ID } from '../src/tenancy/bootstrap.ts';

/** Password of the `admin` user in every test instance. */
export const ADMIN_PASSWORD = 'admin-password-for-tests';

/** A running test instance. */
export interface TestInstance {
  app: Api;
  db: Db;
  config: Config;
  dir: string;
  /** Environment that points a `pushboard` process at this instance's store (backends.ts). */
  env: Record<string, string>;
  /** The workspace created on first start. */
  workspaceId: string;
  /** A logged-in admin's bearer token. */
  adminToken: string;
  /** Moves the injected clock (starts at the real time). */
  clock: { now: Date };
  /** `inject` with `token` as bearer (JSON bodies via `body`). */
  request(token: string | null, options: InjectOptions): Promise<LightMyRequestResponse>;
  /** Logs in and returns the bearer token. */
  login(username: string, password: string): Promise<string>;
  close(): Promise<void>;
}

/** A fresh temporary folder for one test's files. */
export function tempDir(prefix = 'pushboard-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts a fresh instance on its own store. */
export async function createTestInstance(env: Record<string, string> = {}): Promise<TestInstance> {
  const dir = tempDir();
  const { openTestStore } = await import('./backends.ts');
  const store = await openTestStore(dir);
  const config = loadConfig(
    { dataDir: dir, logLevel: 'silent' },
    { PUSHBOARD_SEED_DEMO: 'false', ...store.env, ...env },
  );
  const db = store.db;
  const clock = { now: new Date() };
  await bootstrapTenancy(db, ADMIN_PASSWORD, clock.now);
  // Embedded, receipts go through the writer thread as in a server (main.ts); it starts on the first one.
  const receiptWriter = config.databaseUrl
    ? undefined
    : createEmbeddedReceiptWriter(config, { clock: () => clock.now });
  const app = await buildApp({
    config,
    db,
    logger: false,
    clock: () => clock.now,
    ...(receiptWriter && { receiptIngest: receiptWriter }),
  });

  const request = (token: string | null, options: InjectOptions) =>
    app.inject({
      ...options,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers },
    });
  const login = async (username: string, password: string) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', body: { username, password } });
    if (res.statusCode !== 200) throw new Error(`login ${username} failed: ${res.statusCode} ${res.body}`);
    return res.json().token as string;
  };
  const adminToken = await login('admin', ADMIN_PASSWORD);
  return {
    app,
    db,
    config,
    dir,
    env: store.env,
    workspaceId: DEFAULT_WORKSPACE_ID,
    adminToken,
    clock,
    request,
    login,
    async close() {
      await app.close();
      await receiptWriter?.close();
      await store.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * SQL for a numbered test ID: `prefix`, the integer expression `n` zero-padded to `width` digits,
 * then `suffix` (`dev-0000042`), on either backend (SQLite has printf, PostgreSQL lpad).
 */
export function numberedId(db: Db, prefix: string, n: RawBuilder<unknown>, width: number, suffix = '') {
  return isPostgres(db)
    ? sql<string>`cast(${prefix} as text) || lpad(cast(${n} as text), ${width}, '0') || cast(${suffix} as text)`
    : sql<string>`printf(${`${prefix.replaceAll('%', '%%')}%0${width}d${suffix.replaceAll('%', '%%')}`}, ${n})`;
}

/** Builds a multipart/form-data body with text fields and one file. */
export function multipartBody(
  fields: Record<string, string>,
  file?: { field: string; filename: string; content: string | Buffer; contentType?: string },
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----pushboard${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  if (file) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\n` +
          `Content-Type: ${file.contentType ?? 'text/csv'}\r\n\r\n`,
      ),
      Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content),
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}
