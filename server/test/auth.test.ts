import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loginWaitSeconds } from '../src/tenancy/auth-routes.ts';
import { ADMIN_PASSWORD, createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

describe('login', () => {
  test('the admin logs in with the configured password and sees the default workspace as owner', async () => {
    const token = await t.login('admin', ADMIN_PASSWORD);
    const res = await t.request(token, { method: 'GET', url: '/api/v1/workspaces' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ items: [{ id: 'default', name: 'default', role: 'owner' }] });
  });

  test('a wrong password answers 401 INVALID_CREDENTIALS, the same as an unknown user', async () => {
    const wrong = await t.request(null, {
      method: 'POST',
      url: '/api/v1/auth/login',
      body: { username: 'admin', password: 'nope' },
    });
    const unknown = await t.request(null, {
      method: 'POST',
      url: '/api/v1/auth/login',
      body: { username: 'ghost', password: 'nope' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS');
    expect(unknown.json().error).toEqual(wrong.json().error);
  });

  test('missing login fields answer 400 VALIDATION_FAILED naming each field', async () => {
    const res = await t.request(null, { method: 'POST', url: '/api/v1/auth/login', body: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('VALIDATION_FAILED');
    expect(
      res
        .json()
        .error.details.map((d: { field: string }) => d.field)
        .sort(),
    ).toEqual(['password', 'username']);
  });

  test('repeated failed logins are slowed down with 429 and Retry-After, even with the right password', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await t.request(null, {
        method: 'POST',
        url: '/api/v1/auth/login',
        body: { username: 'admin', password: `bad${i}` },
      });
      expect(res.statusCode).toBe(401);
    }
    const blocked = await t.request(null, {
      method: 'POST',
      url: '/api/v1/auth/login',
      body: { username: 'admin', password: ADMIN_PASSWORD },
    });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().error.code).toBe('TOO_MANY_LOGIN_ATTEMPTS');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    t.clock.now = new Date(t.clock.now.getTime() + 2_000);
    const later = await t.request(null, {
      method: 'POST',
      url: '/api/v1/auth/login',
      body: { username: 'admin', password: ADMIN_PASSWORD },
    });
    expect(later.statusCode).toBe(200);
  });

  test('the wait doubles with each failure past the fifth and is capped at 15 minutes', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(loginWaitSeconds(4, at, at)).toBe(0);
    expect(loginWaitSeconds(5, at, at)).toBe(1);
    expect(loginWaitSeconds(8, at, at)).toBe(8);
    expect(loginWaitSeconds(40, at, at)).toBe(900);
    expect(loginWaitSeconds(8, at, new Date(at.getTime() + 8_000))).toBe(0);
  });

  test('logout revokes the session token', async () => {
    const token = await t.login('admin', ADMIN_PASSWORD);
    expect((await t.request(token, { method: 'POST', url: '/api/v1/auth/logout' })).statusCode).toBe(204);
    const res = await t.request(token, { method: 'GET', url: '/api/v1/workspaces' });
    expect(res.statusCode).toBe(401);
  });
});

describe('public surface', () => {
  test('health answers ok without a token', async () => {
    const res = await t.request(null, { method: 'GET', url: '/api/v1/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok' });
  });

  test('the OpenAPI document lists the routes and the docs UI is served', async () => {
    const doc = (await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/api/v1/workspaces/{workspaceId}/campaigns');
    const docs = await t.request(null, { method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toContain('text/html');
  });

  test('an unknown route answers the error envelope with 404', async () => {
    const res = await t.request(t.adminToken, { method: 'GET', url: '/api/v1/nothing-here' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });

  test('a request without a token answers 401 UNAUTHENTICATED', async () => {
    const res = await t.request(null, { method: 'GET', url: '/api/v1/workspaces/default/campaigns' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('UNAUTHENTICATED');
  });

  test('malformed JSON answers 400 INVALID_JSON', async () => {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/workspaces/default/campaigns',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVALID_JSON');
  });

  test('a JSON body over the limit answers 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/workspaces/default/campaigns',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x', description: 'y'.repeat(2 * 1024 * 1024) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});
