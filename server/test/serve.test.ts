/**
 * `pushboard serve` as a real child process on loopback: the first start prints the admin
 * password once, that password logs in over HTTP, and a restart neither re-creates nor re-prints.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { SCALED, storeEnvFor } from './backends.ts';
import { tempDir } from './helpers.ts';

const BIN = path.resolve(import.meta.dirname, '../bin/pushboard.js');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Starts `pushboard serve` on a free port and resolves once it listens, with its output so far. */
async function serve(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ baseUrl: string; stdout: () => string; stdoutOnly: () => string; child: ChildProcess }> {
  const store = await storeEnvFor(dataDir);
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1'], {
    env: {
      ...process.env,
      ...store,
      PUSHBOARD_DEMO_FLEET_SIZE: '1000',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let stdoutOnly = '';
  child.stderr?.on('data', (chunk) => {
    out += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      stdoutOnly += chunk;
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1]) resolve({ baseUrl: match[1], stdout: () => out, stdoutOnly: () => stdoutOnly, child });
    });
    child.once('exit', (code) => reject(new Error(`pushboard serve exited with ${code}: ${out}`)));
  });
}

test('the first start prints a generated admin password once, to stderr, and it must be changed at the first login', async () => {
  const dir = tempDir();
  const first = await serve(dir);
  const match = /user "admin" created with password: (\S+)/.exec(first.stdout());
  expect(match).not.toBeNull();
  const generated = match![1]!;
  // Not in the JSON log on stdout, which log collectors keep.
  expect(first.stdoutOnly()).not.toContain(generated);
  expect(first.stdout()).toContain('must be changed at the first login');
  // The embedded store is one SQLite file in the data folder.
  if (!SCALED) expect(fs.existsSync(path.join(dir, 'pushboard.db'))).toBe(true);

  const health = await fetch(`${first.baseUrl}/api/v1/health`);
  expect(await health.json()).toEqual({ status: 'ok', checks: { store: 'ok', disk: 'ok' } });
  const login = await fetch(`${first.baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: generated }),
  });
  expect(login.status).toBe(200);
  const { token, passwordChangeRequired } = (await login.json()) as {
    token: string;
    passwordChangeRequired: boolean;
  };
  expect(passwordChangeRequired).toBe(true);
  const password = 'the-admin-chose-this';
  const changed = await fetch(`${first.baseUrl}/api/v1/auth/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ currentPassword: generated, newPassword: password }),
  });
  expect(changed.status).toBe(204);
  const apps = await fetch(`${first.baseUrl}/api/v1/workspaces/default/apps`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await apps.json()) as { items: { name: string; platform: string; provider: string }[] };
  expect(body.items.map((a) => [a.platform, a.provider]).sort()).toEqual([
    ['android', 'simulator'],
    ['ios', 'simulator'],
  ]);
  const home = await fetch(`${first.baseUrl}/`);
  expect(home.headers.get('content-type')).toContain('text/html');

  first.child.kill('SIGTERM');
  await new Promise((resolve) => first.child.once('exit', resolve));
  const second = await serve(dir);
  expect(second.stdout()).not.toContain('created with password');
  const again = await fetch(`${second.baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });
  expect(again.status).toBe(200);
});

test('PUSHBOARD_ADMIN_PASSWORD chooses the password and nothing is printed', async () => {
  const started = await serve(tempDir(), {
    PUSHBOARD_ADMIN_PASSWORD: 'chosen-password',
    PUSHBOARD_SEED_DEMO: 'false',
  });
  expect(started.stdout()).not.toContain('created with password');
  const login = await fetch(`${started.baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'chosen-password' }),
  });
  expect(login.status).toBe(200);
});

test('a bad setting stops the CLI with exit code 1 and a message naming the variable', async () => {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...process.env, PORT: 'eighty' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (c) => {
    err += c;
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code).toBe(1);
  expect(err).toContain('PORT must be an integer');
});

test('an unknown command exits with code 2', async () => {
  const child = spawn(process.execPath, [BIN, 'frobnicate'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code).toBe(2);
});
