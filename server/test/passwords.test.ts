/**
 * Password hashes (docs/operations.md#passwords-and-accounts): scrypt at N=2^17 with the parameters in each hash, hashes of the first
 * format still verify and are upgraded at the next login, and at most a few checks run at once.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createTenancyStore } from '../src/tenancy/tenancy-store.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const crypto = vi.hoisted(() => ({ running: 0, most: 0, held: undefined as (() => void)[] | undefined }));
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  const scrypt = (...args: unknown[]) => {
    const callback = args.pop() as (error: Error | null, key: Buffer) => void;
    const run = () => {
      crypto.running++;
      crypto.most = Math.max(crypto.most, crypto.running);
      (original.scrypt as (...a: unknown[]) => void)(...args, (error: Error | null, key: Buffer) => {
        crypto.running--;
        callback(error, key);
      });
    };
    // While `held` is set, scrypt calls wait there: the password checks that started keep their turn.
    if (crypto.held) crypto.held.push(run);
    else run();
  };
  return { ...original, default: { ...original, scrypt }, scrypt };
});

const {
  hashPassword,
  verifyPassword,
  isOutdatedHash,
  PASSWORD_CHECK_CONCURRENCY,
  PASSWORD_CHECK_QUEUE_LIMIT,
} = await import('../src/tenancy/passwords.ts');

let t: TestInstance | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** A hash in the first format: `scrypt$salt$hash` with Node's default cost (N=2^14). */
function legacyHash(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64')}$${scryptSync(password, salt, 32).toString('base64')}`;
}

describe('password hashes', () => {
  test('a new hash is scrypt at N=2^17, r=8, p=1 with its parameters written in it', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(hash).toMatch(/^scrypt\$N=131072,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterz', hash)).toBe(false);
    expect(isOutdatedHash(hash)).toBe(false);
  });

  test('a hash of the first format still verifies and is upgraded at the next login', async () => {
    t = await createTestInstance();
    const old = legacyHash('an-old-password');
    expect(await verifyPassword('an-old-password', old)).toBe(true);
    const store = createTenancyStore(t.db);
    await store.insertUser({
      id: 'usr_old',
      username: 'olduser',
      password_hash: old,
      is_admin: 0,
      created_at: new Date().toISOString(),
    });
    await t.login('olduser', 'an-old-password');
    const upgraded = (await store.findUser('usr_old'))?.password_hash ?? '';
    expect(upgraded).toMatch(/^scrypt\$N=131072,r=8,p=1\$/);
    expect(await verifyPassword('an-old-password', upgraded)).toBe(true);
    await t.login('olduser', 'an-old-password');
  });

  test(`at most ${PASSWORD_CHECK_CONCURRENCY} password hashes or checks run at once`, async () => {
    crypto.most = 0;
    const hash = await hashPassword('p');
    await Promise.all([
      ...Array.from({ length: 4 }, () => hashPassword('burst')),
      ...Array.from({ length: 4 }, () => verifyPassword('p', hash)),
    ]);
    expect(crypto.most).toBeGreaterThan(0);
    expect(crypto.most).toBeLessThanOrEqual(PASSWORD_CHECK_CONCURRENCY);
  });

  test(`past ${PASSWORD_CHECK_QUEUE_LIMIT} waiting checks a login answers 429 with Retry-After and is not counted`, async () => {
    t = await createTestInstance();
    const instance = t;
    const hash = await hashPassword('p');
    crypto.held = [];
    // Checks that take every turn and every place in the queue (before: the queue had no end).
    const busy = Array.from({ length: PASSWORD_CHECK_CONCURRENCY + PASSWORD_CHECK_QUEUE_LIMIT }, () =>
      verifyPassword('p', hash),
    );
    const login = (username: string, password: string) =>
      instance.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { username, password },
        remoteAddress: '10.0.0.5',
      });
    const known = login('admin', 'wrong-password');
    const unknown = login('nobody', 'wrong-password');
    const answers = await Promise.race([
      Promise.all([known, unknown]),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the logins waited in the queue')), 5000),
      ),
    ]);
    for (const answer of answers) {
      expect(answer.statusCode).toBe(429);
      expect(answer.json().error.code).toBe('TOO_MANY_LOGIN_ATTEMPTS');
      expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
    }
    // Refused before any password was checked: nothing counted against the user or the address.
    expect(await t.db.selectFrom('login_throttles').selectAll().execute()).toEqual([]);
    const held = crypto.held;
    crypto.held = undefined;
    for (const run of held) run();
    expect(await Promise.all(busy)).toEqual(busy.map(() => true));
    expect((await login('nobody', 'wrong-password')).statusCode).toBe(401);
  }, 60_000);
});
