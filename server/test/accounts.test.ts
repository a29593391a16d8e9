/**
 * Account controls (docs/operations.md#passwords-and-accounts): changing one's password, ending all of one's sessions, the instance
 * admin resetting or disabling a user, and the generated first-start password that must be changed
 * before anything else.
 */
import fs from 'node:fs';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildApp } from '../src/app.ts';
import { bootstrapTenancy } from '../src/tenancy/bootstrap.ts';
import { openTestStore, SCALED } from './backends.ts';
import { ADMIN_PASSWORD, createTestInstance, type TestInstance, tempDir } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

/**
 * Makes the store refuse every revocation of a session from now on (a trigger that fails the
 * statement), as a write that fails half-way through a change would.
 */
async function refuseRevocations() {
  if (SCALED) {
    await sql`create function refuse_revocation() returns trigger language plpgsql as $$
      begin raise exception 'revocation refused'; end $$`.execute(t.db);
    await sql`create trigger refuse_revocation before update of revoked_at on access_tokens
      for each row execute function refuse_revocation()`.execute(t.db);
  } else {
    await sql`create trigger refuse_revocation before update of revoked_at on access_tokens
      begin select raise(abort, 'revocation refused'); end`.execute(t.db);
  }
}

const get = (token: string) => t.request(token, { method: 'GET', url: '/api/v1/workspaces' });

async function createUser(username: string, password: string) {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: '/api/v1/users',
    body: { username, password },
  });
  expect(res.statusCode).toBe(201);
}

describe('changing one’s password', () => {
  test('the new password logs in, the old one not, and the other sessions end', async () => {
    const other = await t.login('admin', ADMIN_PASSWORD);
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/auth/password',
      body: { currentPassword: ADMIN_PASSWORD, newPassword: 'a-brand-new-password' },
    });
    expect(res.statusCode).toBe(204);
    expect((await get(t.adminToken)).statusCode).toBe(200);
    expect((await get(other)).statusCode).toBe(401);
    await t.login('admin', 'a-brand-new-password');
    await expect(t.login('admin', ADMIN_PASSWORD)).rejects.toThrow(/401/);
  });

  test('a short new password answers VALIDATION_FAILED naming the field; a wrong current one 403', async () => {
    const short = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/auth/password',
      body: { currentPassword: ADMIN_PASSWORD, newPassword: 'short' },
    });
    expect(short.statusCode).toBe(400);
    expect(short.json().error.code).toBe('VALIDATION_FAILED');
    expect(short.json().error.details[0].field).toBe('newPassword');
    const wrong = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/auth/password',
      body: { currentPassword: 'not-the-password', newPassword: 'a-brand-new-password' },
    });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.code).toBe('CURRENT_PASSWORD_WRONG');
    await t.login('admin', ADMIN_PASSWORD);
  });

  test('DELETE /auth/sessions ends every session of the caller, this one included', async () => {
    const other = await t.login('admin', ADMIN_PASSWORD);
    const res = await t.request(t.adminToken, { method: 'DELETE', url: '/api/v1/auth/sessions' });
    expect(res.statusCode).toBe(204);
    expect((await get(t.adminToken)).statusCode).toBe(401);
    expect((await get(other)).statusCode).toBe(401);
  });
});

describe('a change of password or account is one write with the end of the sessions', () => {
  test('when the sessions cannot be ended, changing one’s password changes nothing', async () => {
    const other = await t.login('admin', ADMIN_PASSWORD);
    await refuseRevocations();
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/auth/password',
      body: { currentPassword: ADMIN_PASSWORD, newPassword: 'a-brand-new-password' },
    });
    expect(res.statusCode).toBe(500);
    // Before, the new password was stored while the old sessions lived on.
    expect((await get(other)).statusCode).toBe(200);
    await t.login('admin', ADMIN_PASSWORD);
  });

  test('when the sessions cannot be ended, an admin reset or disable changes nothing', async () => {
    await createUser('erin', 'erin-password-1');
    const session = await t.login('erin', 'erin-password-1');
    await refuseRevocations();
    for (const body of [{ password: 'erin-password-2' }, { disabled: true }]) {
      const res = await t.request(t.adminToken, { method: 'PATCH', url: '/api/v1/users/erin', body });
      expect(res.statusCode).toBe(500);
    }
    expect((await get(session)).statusCode).toBe(200);
    await t.login('erin', 'erin-password-1');
  });
});

describe('the instance admin manages users', () => {
  test('disabling a user ends their sessions and refuses their logins; enabling lets them in again', async () => {
    await createUser('dave', 'dave-password-1');
    const session = await t.login('dave', 'dave-password-1');
    const patch = (body: object, token = t.adminToken) =>
      t.request(token, { method: 'PATCH', url: '/api/v1/users/dave', body });
    const disabled = await patch({ disabled: true });
    expect(disabled.statusCode).toBe(200);
    expect(disabled.json()).toMatchObject({ username: 'dave', disabled: true });
    expect((await get(session)).statusCode).toBe(401);
    const login = await t.request(null, {
      method: 'POST',
      url: '/api/v1/auth/login',
      body: { username: 'dave', password: 'dave-password-1' },
    });
    expect(login.statusCode).toBe(403);
    expect(login.json().error.code).toBe('USER_DISABLED');
    expect((await patch({ disabled: false })).json().disabled).toBe(false);
    await t.login('dave', 'dave-password-1');
  });

  test('resetting a password ends the user’s sessions; only the admin may, and not disable themself', async () => {
    await createUser('erin', 'erin-password-1');
    const session = await t.login('erin', 'erin-password-1');
    const byErin = await t.request(session, {
      method: 'PATCH',
      url: '/api/v1/users/erin',
      body: { password: 'erin-password-2' },
    });
    expect(byErin.statusCode).toBe(403);
    const reset = await t.request(t.adminToken, {
      method: 'PATCH',
      url: '/api/v1/users/erin',
      body: { password: 'erin-password-2' },
    });
    expect(reset.statusCode).toBe(200);
    expect((await get(session)).statusCode).toBe(401);
    await t.login('erin', 'erin-password-2');
    const self = await t.request(t.adminToken, {
      method: 'PATCH',
      url: '/api/v1/users/admin',
      body: { disabled: true },
    });
    expect(self.statusCode).toBe(409);
    expect(self.json().error.code).toBe('CANNOT_DISABLE_SELF');
    const nothing = await t.request(t.adminToken, { method: 'PATCH', url: '/api/v1/users/erin', body: {} });
    expect(nothing.json()).toMatchObject({ username: 'erin', disabled: false });
    const unknown = await t.request(t.adminToken, {
      method: 'PATCH',
      url: '/api/v1/users/nobody',
      body: { disabled: true },
    });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('a generated first-start password', () => {
  test('a user who must change their password may still end all their sessions', async () => {
    const other = await t.login('admin', ADMIN_PASSWORD);
    await t.db
      .updateTable('users')
      .set({ password_change_required: 1 })
      .where('username', '=', 'admin')
      .execute();
    const res = await t.request(t.adminToken, { method: 'DELETE', url: '/api/v1/auth/sessions' });
    expect(res.statusCode).toBe(204);
    for (const token of [t.adminToken, other]) {
      const me = await t.request(token, { method: 'GET', url: '/api/v1/auth/me' });
      expect(me.statusCode).toBe(401);
    }
  });

  test('must be changed before anything but /auth/me, /auth/password, /auth/logout and DELETE /auth/sessions', async () => {
    const dir = tempDir();
    const store = await openTestStore(dir);
    const boot = await bootstrapTenancy(store.db, undefined, new Date());
    const password = boot?.generatedPassword as string;
    const app = await buildApp({ config: t.config, db: store.db, logger: false });
    try {
      const call = (method: 'GET' | 'POST', url: string, token: string, body?: object) =>
        app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body && { body }) });
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { username: 'admin', password },
      });
      expect(login.json().passwordChangeRequired).toBe(true);
      const token = login.json().token as string;
      expect((await call('GET', '/api/v1/auth/me', token)).json()).toMatchObject({
        username: 'admin',
        passwordChangeRequired: true,
      });
      const refused = await call('GET', '/api/v1/workspaces', token);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.code).toBe('PASSWORD_CHANGE_REQUIRED');
      expect(refused.json().error.message).toContain('POST /api/v1/auth/password');
      const changed = await call('POST', '/api/v1/auth/password', token, {
        currentPassword: password,
        newPassword: 'my-own-admin-password',
      });
      expect(changed.statusCode).toBe(204);
      expect((await call('GET', '/api/v1/workspaces', token)).statusCode).toBe(200);
      expect((await call('GET', '/api/v1/auth/me', token)).json().passwordChangeRequired).toBe(false);
    } finally {
      await app.close();
      await store.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a configured PUSHBOARD_ADMIN_PASSWORD needs no change', async () => {
    const login = await t.request(null, {
      method: 'POST',
      url: '/api/v1/auth/login',
      body: { username: 'admin', password: ADMIN_PASSWORD },
    });
    expect(login.json().passwordChangeRequired).toBe(false);
  });
});

test('GET /auth/me names the deployment’s statistics and retention windows', async () => {
  const configured = await createTestInstance({
    PUSHBOARD_STATISTICS_WINDOW_HOURS: '24',
    PUSHBOARD_RETENTION_HOURS: '48',
  });
  try {
    const me = await configured.request(configured.adminToken, { method: 'GET', url: '/api/v1/auth/me' });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ kind: 'user', windows: { statisticsHours: 24, retentionHours: 48 } });
  } finally {
    await configured.close();
  }
});
