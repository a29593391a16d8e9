/**
 * API tokens and sessions (docs/operations.md#sessions-and-api-tokens): a token works only while its creator is an owner of its
 * workspace, lists show the creator, `expiresAt` ends it; sessions end after 30 days and after
 * 7 days unused; and authentication needs no write, so reading works on a store that cannot write.
 */
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildApp } from '../src/app.ts';
import { openReadOnlyStore } from './backends.ts';
import { ADMIN_PASSWORD, createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

const DAY_MS = 24 * 3600 * 1000;

function advance(ms: number) {
  t.clock.now = new Date(t.clock.now.getTime() + ms);
}

/** Creates user `username`, adds them to the default workspace as `role` and logs them in. */
async function member(username: string, role: string): Promise<string> {
  const password = `${username}-password-1`;
  expect(
    (await t.request(t.adminToken, { method: 'POST', url: '/api/v1/users', body: { username, password } }))
      .statusCode,
  ).toBe(201);
  const added = await t.request(t.adminToken, {
    method: 'POST',
    url: '/api/v1/workspaces/default/members',
    body: { username, role },
  });
  expect(added.statusCode).toBe(201);
  return t.login(username, password);
}

async function createToken(session: string, body: Record<string, unknown>) {
  return t.request(session, { method: 'POST', url: '/api/v1/workspaces/default/tokens', body });
}

describe('API tokens', () => {
  test("a removed owner's token stops working at once and cannot re-add its creator", async () => {
    const bob = await member('bob', 'owner');
    const token = (await createToken(bob, { name: 'bob ci', role: 'owner' })).json().token;
    expect(
      (await t.request(token, { method: 'GET', url: '/api/v1/workspaces/default/apps' })).statusCode,
    ).toBe(200);
    const removed = await t.request(t.adminToken, {
      method: 'DELETE',
      url: '/api/v1/workspaces/default/members/bob',
    });
    expect(removed.statusCode).toBe(204);
    const after = await t.request(token, { method: 'GET', url: '/api/v1/workspaces/default/apps' });
    expect(after.statusCode).toBe(401);
    expect(after.json().error.message).toContain('no longer an owner');
    const readd = await t.request(token, {
      method: 'POST',
      url: '/api/v1/workspaces/default/members',
      body: { username: 'bob', role: 'owner' },
    });
    expect(readd.statusCode).toBe(401);
  });

  test("a demoted owner's token stops working, and works again once they are owner again", async () => {
    const carol = await member('carol', 'owner');
    const token = (await createToken(carol, { name: 'carol', role: 'viewer' })).json().token;
    const demote = (role: string) =>
      t.request(t.adminToken, {
        method: 'PATCH',
        url: '/api/v1/workspaces/default/members/carol',
        body: { role },
      });
    await demote('operator');
    expect((await t.request(token, { method: 'GET', url: '/api/v1/workspaces' })).statusCode).toBe(401);
    await demote('owner');
    expect((await t.request(token, { method: 'GET', url: '/api/v1/workspaces' })).statusCode).toBe(200);
  });

  test('token lists show the creator and the expiry; an expired token answers 401', async () => {
    const expiresAt = new Date(t.clock.now.getTime() + DAY_MS).toISOString();
    const created = await createToken(t.adminToken, { name: 'nightly', role: 'viewer', expiresAt });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ createdBy: 'admin', expiresAt });
    const list = await t.request(t.adminToken, { method: 'GET', url: '/api/v1/workspaces/default/tokens' });
    expect(list.json().items).toEqual([
      expect.objectContaining({ name: 'nightly', createdBy: 'admin', expiresAt }),
    ]);
    const token = created.json().token;
    expect((await t.request(token, { method: 'GET', url: '/api/v1/workspaces' })).statusCode).toBe(200);
    advance(DAY_MS + 1000);
    expect((await t.request(token, { method: 'GET', url: '/api/v1/workspaces' })).statusCode).toBe(401);
  });

  test('expiresAt must be a time in the future', async () => {
    for (const expiresAt of [new Date(t.clock.now.getTime() - 1000).toISOString(), 'tomorrow']) {
      const res = await createToken(t.adminToken, { name: 'x', role: 'viewer', expiresAt });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
      expect(res.json().error.details[0].field).toBe('expiresAt');
    }
  });
});

describe('sessions', () => {
  test('a session ends after 7 days unused, and lives on while it is used', async () => {
    const used = t.adminToken;
    const idle = await t.login('admin', ADMIN_PASSWORD);
    for (let day = 0; day < 3; day++) {
      advance(3 * DAY_MS);
      expect((await t.request(used, { method: 'GET', url: '/api/v1/workspaces' })).statusCode).toBe(200);
    }
    expect((await t.request(idle, { method: 'GET', url: '/api/v1/workspaces' })).statusCode).toBe(401);
  });

  test('a session ends after 30 days however much it is used', async () => {
    for (let i = 0; i < 4; i++) {
      advance(6 * DAY_MS);
      expect((await t.request(t.adminToken, { method: 'GET', url: '/api/v1/workspaces' })).statusCode).toBe(
        200,
      );
    }
    advance(6 * DAY_MS + 1000);
    expect((await t.request(t.adminToken, { method: 'GET', url: '/api/v1/workspaces' })).statusCode).toBe(
      401,
    );
  });
});

describe('a store that cannot write', () => {
  test('reading keeps working: authentication writes nothing it needs', async () => {
    // A second handle on the same store that refuses every write, as a full disk would.
    const readOnly = await openReadOnlyStore(t);
    const app = await buildApp({ config: t.config, db: readOnly, logger: false, clock: () => t.clock.now });
    try {
      // The write is refused indeed.
      await expect(sql`update access_tokens set name = name`.execute(readOnly)).rejects.toThrow();
      // Long enough since the last use that authentication would like to record this one.
      advance(5 * 60 * 1000);
      const res = await app.inject({
        method: 'GET',
        url: '/api/v1/workspaces/default/apps',
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(res.statusCode).toBe(200);
      const me = await app.inject({
        method: 'GET',
        url: '/api/v1/auth/me',
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(me.json()).toMatchObject({ kind: 'user', username: 'admin' });
    } finally {
      await app.close();
      await readOnly.destroy();
    }
  });
});
