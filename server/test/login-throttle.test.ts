/**
 * Login throttling (docs/operations.md#login-throttling): an attempt is counted before its password is checked, per
 * (username, client IP) and per client IP, so parallel attempts test no more passwords than
 * sequential ones and one address cannot lock a user out from another. Password checks are counted
 * by wrapping `verifyPassword`.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { purgeExpiredDetails } from '../src/retention/retention.ts';
import { USER_FREE_ATTEMPTS } from '../src/tenancy/auth-routes.ts';
import { ADMIN_PASSWORD, createTestInstance, type TestInstance } from './helpers.ts';

const checks = vi.hoisted(() => ({ count: 0 }));
vi.mock('../src/tenancy/passwords.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/tenancy/passwords.ts')>();
  return {
    ...original,
    verifyPassword: (password: string, stored: string) => {
      checks.count++;
      return original.verifyPassword(password, stored);
    },
  };
});

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
  checks.count = 0;
});
afterEach(async () => {
  await t.close();
});

function login(username: string, password: string, ip = '10.0.0.1') {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    body: { username, password },
    remoteAddress: ip,
  });
}

describe('login throttling', () => {
  test('100 parallel wrong logins check no more passwords than sequential ones would (5)', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => login('admin', `wrong-${i}`)));
    const statuses = answers.map((a) => a.statusCode);
    // The clock stands still: sequentially, 5 attempts are free and the 6th waits (before the fix:
    // all 100 passwords were checked).
    expect(checks.count).toBe(USER_FREE_ATTEMPTS);
    expect(statuses.filter((s) => s === 401)).toHaveLength(checks.count);
    expect(statuses.filter((s) => s === 429)).toHaveLength(100 - checks.count);
    // Sequential attempts from the same address are refused without a check too.
    const before = checks.count;
    expect((await login('admin', ADMIN_PASSWORD)).statusCode).toBe(429);
    expect(checks.count).toBe(before);
  });

  test('wrong logins from one address do not lock the user out from another', async () => {
    for (let i = 0; i < 8; i++) await login('admin', `wrong-${i}`, '10.0.0.66');
    expect((await login('admin', 'wrong', '10.0.0.66')).statusCode).toBe(429);
    const elsewhere = await login('admin', ADMIN_PASSWORD, '10.0.0.2');
    expect(elsewhere.statusCode).toBe(200);
  });

  test('one address guessing many usernames is slowed down per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await login(`user-${i}`, 'wrong')).statusCode);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    const blocked = await login('admin', ADMIN_PASSWORD);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe('TOO_MANY_LOGIN_ATTEMPTS');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login('admin', ADMIN_PASSWORD, '10.0.0.3')).statusCode).toBe(200);
  });

  test('a successful login clears the failures of its username and address', async () => {
    for (let i = 0; i < 4; i++) expect((await login('admin', `wrong-${i}`)).statusCode).toBe(401);
    expect((await login('admin', ADMIN_PASSWORD)).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await login('admin', `again-${i}`)).statusCode).toBe(401);
    expect((await login('admin', ADMIN_PASSWORD)).statusCode).toBe(429);
  });
});

describe('IPv6 clients', () => {
  test('addresses of one /64 are counted together, whatever their spelling; another /64 is not slowed down', async () => {
    // One subscriber holds a whole /64: before, each of its 2^64 addresses had its own free attempts.
    const sameNetwork = [
      '2001:db8:1:2::1',
      '2001:DB8:1:2::2',
      '2001:0db8:0001:0002:0:0:0:3',
      '2001:db8:1:2:ffff::9',
    ];
    for (let i = 0; i < USER_FREE_ATTEMPTS; i++) {
      expect((await login('admin', `wrong-${i}`, sameNetwork[i % sameNetwork.length])).statusCode).toBe(401);
    }
    const blocked = await login('admin', ADMIN_PASSWORD, '2001:db8:1:2:abcd::77');
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe('TOO_MANY_LOGIN_ATTEMPTS');
    expect((await login('admin', ADMIN_PASSWORD, '2001:db8:1:3::1')).statusCode).toBe(200);
  });

  test('an IPv4-mapped IPv6 address is counted as its IPv4 address, each address apart', async () => {
    for (let i = 0; i < USER_FREE_ATTEMPTS; i++) await login('admin', `wrong-${i}`, '10.0.0.9');
    expect((await login('admin', ADMIN_PASSWORD, '::ffff:10.0.0.9')).statusCode).toBe(429);
    expect((await login('admin', ADMIN_PASSWORD, '::ffff:10.0.0.10')).statusCode).toBe(200);
  });
});

describe('forgetting', () => {
  test('retention deletes the counts of addresses that have not failed for a day, and keeps the others', async () => {
    for (let i = 0; i < 3; i++) await login('admin', `wrong-${i}`, '10.0.0.77');
    const counts = () => t.db.selectFrom('login_throttles').select('key').execute();
    expect(await counts()).toHaveLength(2);
    const settings = { statisticsWindowHours: 72, retentionHours: 72 };
    expect((await purgeExpiredDetails(t.db, new Date(Date.now() + 3600_000), settings)).loginThrottles).toBe(
      0,
    );
    expect(await counts()).toHaveLength(2);
    const dayLater = new Date(Date.now() + 25 * 3600_000);
    expect((await purgeExpiredDetails(t.db, dayLater, settings)).loginThrottles).toBe(2);
    expect(await counts()).toEqual([]);
  });
});

describe('behind a reverse proxy', () => {
  /** Six wrong logins for admin through the proxy at 127.0.0.1 on behalf of `client`. */
  async function lockOutThrough(instance: TestInstance, client: string) {
    for (let i = 0; i < USER_FREE_ATTEMPTS + 1; i++) {
      await instance.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { username: 'admin', password: `wrong-${i}` },
        remoteAddress: '127.0.0.1',
        headers: { 'x-forwarded-for': client },
      });
    }
  }
  const loginThrough = (instance: TestInstance, client: string) =>
    instance.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      body: { username: 'admin', password: ADMIN_PASSWORD },
      remoteAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': client },
    });

  test('a trusted proxy (PUSHBOARD_TRUST_PROXY) has its clients counted apart', async () => {
    const proxied = await createTestInstance({ PUSHBOARD_TRUST_PROXY: '127.0.0.1' });
    try {
      await lockOutThrough(proxied, '198.51.100.7');
      expect((await loginThrough(proxied, '198.51.100.7')).statusCode).toBe(429);
      expect((await loginThrough(proxied, '203.0.113.9')).statusCode).toBe(200);
    } finally {
      await proxied.close();
    }
  });

  test('without it, X-Forwarded-For is ignored: a client cannot pick the address it is counted under', async () => {
    await lockOutThrough(t, '198.51.100.7');
    expect((await loginThrough(t, '203.0.113.9')).statusCode).toBe(429);
  });
});
