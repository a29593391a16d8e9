/**
 * `pushboard users reset-password` as a child process on a real store: a generated password is
 * printed once and logs in, `--password-stdin` reads one, the user's sessions end, and an unknown
 * user or a short password exits 1 with a message.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { sha256 } from '../src/ids.ts';
import type { Db } from '../src/storage/database.ts';
import { openStore } from '../src/storage/open-store.ts';
import { bootstrapTenancy } from '../src/tenancy/bootstrap.ts';
import { storeEnvFor } from './backends.ts';
import { ADMIN_PASSWORD, tempDir } from './helpers.ts';

const BIN = path.resolve(import.meta.dirname, '../bin/pushboard.js');

let dir: string;
let env: NodeJS.ProcessEnv;
let db: Db;

beforeEach(async () => {
  dir = tempDir('pushboard-users-cli-');
  env = { ...process.env, ...(await storeEnvFor(dir)), PUSHBOARD_SEED_DEMO: 'false', LOG_LEVEL: 'silent' };
  db = await openStore(loadConfig({}, env));
  await bootstrapTenancy(db, ADMIN_PASSWORD, new Date());
});
afterEach(async () => {
  await db.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

function pushboard(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

async function login(password: string) {
  const app = await buildApp({ config: loadConfig({}, env), db, logger: false });
  try {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      body: { username: 'admin', password },
      remoteAddress: `10.1.0.${Math.floor(Math.random() * 200)}`,
    });
    return res;
  } finally {
    await app.close();
  }
}

describe('pushboard users reset-password', () => {
  test('prints a generated password once; it logs in, the old one and the old sessions not', async () => {
    const before = await login(ADMIN_PASSWORD);
    const session = before.json().token as string;
    const result = await pushboard(['users', 'reset-password', 'admin']);
    expect(result.code).toBe(0);
    const password = result.stdout.trim();
    expect(password.length).toBeGreaterThanOrEqual(12);
    expect(result.stderr).toContain('1 session ended');
    expect((await login(password)).statusCode).toBe(200);
    expect((await login(ADMIN_PASSWORD)).statusCode).toBe(401);
    const revoked = await db
      .selectFrom('access_tokens')
      .select('revoked_at')
      .where('token_hash', '=', sha256(session))
      .executeTakeFirstOrThrow();
    expect(revoked.revoked_at).not.toBeNull();
  });

  test('--password-stdin sets the password it reads and prints none', async () => {
    const result = await pushboard(
      ['users', 'reset-password', 'admin', '--password-stdin'],
      'from-the-pipe-123\n',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect((await login('from-the-pipe-123')).statusCode).toBe(200);
  });

  test('an unknown user or a short password exits 1 with a message and changes nothing', async () => {
    const unknown = await pushboard(['users', 'reset-password', 'nobody']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('There is no user "nobody"');
    const short = await pushboard(['users', 'reset-password', 'admin', '--password-stdin'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('password: must be 12 to 1000 characters long');
    expect((await login(ADMIN_PASSWORD)).statusCode).toBe(200);
  });
});
