import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

async function createUser(username: string, password = 'password-123') {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: '/api/v1/users',
    body: { username, password },
  });
  expect(res.statusCode).toBe(201);
  return t.login(username, password);
}

async function createToken(role: string, token = t.adminToken, workspaceId = t.workspaceId) {
  const res = await t.request(token, {
    method: 'POST',
    url: `/api/v1/workspaces/${workspaceId}/tokens`,
    body: { name: `${role} token`, role },
  });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string; token: string; role: string };
}

describe('users', () => {
  test('the instance admin creates a user who can log in and starts with no workspace', async () => {
    const token = await createUser('alice');
    const res = await t.request(token, { method: 'GET', url: '/api/v1/workspaces' });
    expect(res.json()).toEqual({ items: [] });
  });

  test('a duplicate username answers 409 USERNAME_TAKEN', async () => {
    await createUser('alice');
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/users',
      body: { username: 'alice', password: 'another-password' },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('USERNAME_TAKEN');
  });

  test('a short password and a bad username are refused with per-field errors', async () => {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/users',
      body: { username: 'has space', password: 'short' },
    });
    expect(res.statusCode).toBe(400);
    expect(
      res
        .json()
        .error.details.map((d: { field: string }) => d.field)
        .sort(),
    ).toEqual(['password', 'username']);
  });

  test('only the instance admin creates users; API tokens cannot', async () => {
    const alice = await createUser('alice');
    const byUser = await t.request(alice, {
      method: 'POST',
      url: '/api/v1/users',
      body: { username: 'bob', password: 'password-123' },
    });
    expect(byUser.statusCode).toBe(403);
    const owner = await createToken('owner');
    const byToken = await t.request(owner.token, {
      method: 'POST',
      url: '/api/v1/users',
      body: { username: 'bob', password: 'password-123' },
    });
    expect(byToken.statusCode).toBe(403);
    expect(byToken.json().error.code).toBe('FORBIDDEN');
  });
});

describe('workspaces', () => {
  test('a user creates a workspace and becomes its owner; others do not see it', async () => {
    const alice = await createUser('alice');
    const created = await t.request(alice, {
      method: 'POST',
      url: '/api/v1/workspaces',
      body: { name: 'Alice Co' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ name: 'Alice Co', role: 'owner' });
    const list = await t.request(alice, { method: 'GET', url: '/api/v1/workspaces' });
    expect(list.json().items).toEqual([created.json()]);
    const admin = await t.request(t.adminToken, {
      method: 'GET',
      url: `/api/v1/workspaces/${created.json().id}`,
    });
    expect(admin.statusCode).toBe(404);
    expect(admin.json().error.code).toBe('WORKSPACE_NOT_FOUND');
  });

  test('an API token sees only its own workspace', async () => {
    const viewer = await createToken('viewer');
    const res = await t.request(viewer.token, { method: 'GET', url: '/api/v1/workspaces' });
    expect(res.json()).toEqual({ items: [{ id: 'default', name: 'default', role: 'viewer' }] });
    const create = await t.request(viewer.token, {
      method: 'POST',
      url: '/api/v1/workspaces',
      body: { name: 'x' },
    });
    expect(create.statusCode).toBe(403);
  });

  test('an owner renames the workspace; an operator may not', async () => {
    const operator = await createToken('operator');
    const refused = await t.request(operator.token, {
      method: 'PATCH',
      url: '/api/v1/workspaces/default',
      body: { name: 'Acme' },
    });
    expect(refused.statusCode).toBe(403);
    const renamed = await t.request(t.adminToken, {
      method: 'PATCH',
      url: '/api/v1/workspaces/default',
      body: { name: 'Acme' },
    });
    expect(renamed.json()).toEqual({ id: 'default', name: 'Acme', role: 'owner' });
  });
});

describe('members', () => {
  test('an owner adds a member with a role, who then sees the workspace with that role', async () => {
    const alice = await createUser('alice');
    const added = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/workspaces/default/members',
      body: { username: 'alice', role: 'viewer' },
    });
    expect(added.statusCode).toBe(201);
    expect(added.json()).toMatchObject({ username: 'alice', role: 'viewer' });
    const list = await t.request(alice, { method: 'GET', url: '/api/v1/workspaces' });
    expect(list.json().items).toEqual([{ id: 'default', name: 'default', role: 'viewer' }]);
    const members = await t.request(alice, { method: 'GET', url: '/api/v1/workspaces/default/members' });
    expect(members.json().items.map((m: { username: string }) => m.username)).toEqual(['admin', 'alice']);
  });

  test('adding an unknown user answers 404 USER_NOT_FOUND and an existing member 409 MEMBER_EXISTS', async () => {
    const unknown = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/workspaces/default/members',
      body: { username: 'ghost', role: 'viewer' },
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('USER_NOT_FOUND');
    const again = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/workspaces/default/members',
      body: { username: 'admin', role: 'viewer' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('MEMBER_EXISTS');
  });

  test('a viewer or operator member cannot manage members', async () => {
    const alice = await createUser('alice');
    await createUser('bob');
    await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/workspaces/default/members',
      body: { username: 'alice', role: 'operator' },
    });
    const res = await t.request(alice, {
      method: 'POST',
      url: '/api/v1/workspaces/default/members',
      body: { username: 'bob', role: 'owner' },
    });
    expect(res.statusCode).toBe(403);
  });

  test('the last owner can be neither demoted nor removed', async () => {
    const demote = await t.request(t.adminToken, {
      method: 'PATCH',
      url: '/api/v1/workspaces/default/members/admin',
      body: { role: 'viewer' },
    });
    expect(demote.statusCode).toBe(409);
    expect(demote.json().error.code).toBe('LAST_OWNER');
    const remove = await t.request(t.adminToken, {
      method: 'DELETE',
      url: '/api/v1/workspaces/default/members/admin',
    });
    expect(remove.statusCode).toBe(409);
  });

  test('a removed member loses access at once', async () => {
    const alice = await createUser('alice');
    await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/workspaces/default/members',
      body: { username: 'alice', role: 'owner' },
    });
    expect(
      (await t.request(alice, { method: 'GET', url: '/api/v1/workspaces/default/campaigns' })).statusCode,
    ).toBe(200);
    const removed = await t.request(t.adminToken, {
      method: 'DELETE',
      url: '/api/v1/workspaces/default/members/alice',
    });
    expect(removed.statusCode).toBe(204);
    expect(
      (await t.request(alice, { method: 'GET', url: '/api/v1/workspaces/default/campaigns' })).statusCode,
    ).toBe(404);
  });
});

describe('API tokens', () => {
  test('a token is shown once on creation and masked in the list', async () => {
    const created = await createToken('operator');
    expect(created.token).toMatch(/^pbt_/);
    const list = await t.request(t.adminToken, { method: 'GET', url: '/api/v1/workspaces/default/tokens' });
    const item = list.json().items[0];
    expect(item).toMatchObject({ id: created.id, role: 'operator', revokedAt: null });
    expect(item.token).toBe(`…${created.token.slice(-4)}`);
    expect(JSON.stringify(list.json())).not.toContain(created.token);
  });

  test('roles are enforced: a viewer reads but cannot write, an operator writes but cannot manage tokens', async () => {
    const viewer = await createToken('viewer');
    const operator = await createToken('operator');
    const read = await t.request(viewer.token, {
      method: 'GET',
      url: '/api/v1/workspaces/default/campaigns',
    });
    expect(read.statusCode).toBe(200);
    const write = await t.request(viewer.token, {
      method: 'POST',
      url: '/api/v1/workspaces/default/campaigns',
      body: { name: 'Spring' },
    });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.code).toBe('FORBIDDEN');
    const operatorWrite = await t.request(operator.token, {
      method: 'POST',
      url: '/api/v1/workspaces/default/campaigns',
      body: { name: 'Spring' },
    });
    expect(operatorWrite.statusCode).toBe(201);
    const tokens = await t.request(operator.token, {
      method: 'GET',
      url: '/api/v1/workspaces/default/tokens',
    });
    expect(tokens.statusCode).toBe(403);
  });

  test('a revoked token answers 401 from then on', async () => {
    const owner = await createToken('owner');
    const revoke = await t.request(t.adminToken, {
      method: 'DELETE',
      url: `/api/v1/workspaces/default/tokens/${owner.id}`,
    });
    expect(revoke.statusCode).toBe(204);
    const res = await t.request(owner.token, { method: 'GET', url: '/api/v1/workspaces/default/campaigns' });
    expect(res.statusCode).toBe(401);
    const list = await t.request(t.adminToken, { method: 'GET', url: '/api/v1/workspaces/default/tokens' });
    expect(list.json().items[0].revokedAt).not.toBeNull();
  });

  test('a token of another workspace cannot be revoked from this one', async () => {
    const alice = await createUser('alice');
    const ws = (
      await t.request(alice, { method: 'POST', url: '/api/v1/workspaces', body: { name: 'Alice Co' } })
    ).json();
    const aliceToken = await createToken('owner', alice, ws.id);
    const res = await t.request(t.adminToken, {
      method: 'DELETE',
      url: `/api/v1/workspaces/default/tokens/${aliceToken.id}`,
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('TOKEN_NOT_FOUND');
    expect((await t.request(aliceToken.token, { method: 'GET', url: '/api/v1/workspaces' })).statusCode).toBe(
      200,
    );
  });
});
