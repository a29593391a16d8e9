/**
 * Tenancy isolation across every workspace route, discovered from the OpenAPI document so that a
 * new route is covered the day it is added. Three outsiders attack the `default` workspace: a user
 * with a workspace of their own, a viewer token and a revoked owner token. Nothing may leak and
 * nothing may change.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestInstance, multipartBody, type TestInstance } from './helpers.ts';

let t: TestInstance;
/** IDs of one object of each kind in the `default` workspace, by path parameter name. */
const ids: Record<string, string> = {};
let stranger: string;
let strangerWorkspace: string;
let viewer: string;
let revoked: string;

interface Route {
  method: string;
  path: string;
  /** Answers a server-sent event stream, which stays open while the task can still change. */
  stream: boolean;
}

const SAMPLE_BODIES: Record<string, unknown> = {};

async function ok(res: { statusCode: number; body: string; json(): unknown }, status = 201) {
  expect(res.statusCode, res.body).toBe(status);
  return (res.statusCode === 204 ? {} : res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  t = await createTestInstance();
  const admin = t.adminToken;
  const ws = '/api/v1/workspaces/default';
  const app = await ok(
    await t.request(admin, {
      method: 'POST',
      url: `${ws}/apps`,
      body: { name: 'Shop', platform: 'android', provider: 'simulator' },
    }),
  );
  ids.appId = app.id as string;
  await ok(
    await t.request(admin, {
      method: 'POST',
      url: `${ws}/apps/${ids.appId}/devices`,
      body: { deviceId: 'dev-1', pushToken: 'tok-1' },
    }),
  );
  ids.deviceId = 'dev-1';
  const audience = await ok(
    await t.request(admin, {
      method: 'POST',
      url: `${ws}/audiences`,
      body: { name: 'Everyone', deviceIds: ['dev-1', 'dev-2'] },
    }),
  );
  ids.audienceId = audience.id as string;
  const campaign = await ok(
    await t.request(admin, { method: 'POST', url: `${ws}/campaigns`, body: { name: 'Launch' } }),
  );
  ids.campaignId = campaign.id as string;
  const sub = await ok(
    await t.request(admin, {
      method: 'POST',
      url: `${ws}/campaigns/${ids.campaignId}/sub-campaigns`,
      body: { name: 'Wave 1' },
    }),
  );
  ids.subCampaignId = sub.id as string;
  const task = await ok(
    await t.request(admin, {
      method: 'POST',
      url: `${ws}/tasks`,
      body: {
        name: 'Hello',
        appId: ids.appId,
        title: 'Hi',
        content: 'Welcome',
        clickAction: { type: 'open_app' },
        audienceId: ids.audienceId,
        sendType: 'scheduled',
        scheduledAt: new Date(Date.now() + 86_400_000).toISOString(),
        subCampaignIds: [ids.subCampaignId],
      },
    }),
  );
  ids.taskId = task.id as string;
  const token = await ok(
    await t.request(admin, { method: 'POST', url: `${ws}/tokens`, body: { name: 'viewer', role: 'viewer' } }),
  );
  viewer = token.token as string;
  ids.tokenId = token.id as string;
  const owner = await ok(
    await t.request(admin, { method: 'POST', url: `${ws}/tokens`, body: { name: 'gone', role: 'owner' } }),
  );
  revoked = owner.token as string;
  await ok(await t.request(admin, { method: 'DELETE', url: `${ws}/tokens/${owner.id}` }), 204);
  await ok(
    await t.request(admin, {
      method: 'POST',
      url: '/api/v1/users',
      body: { username: 'mallory', password: 'password-123' },
    }),
  );
  ids.username = 'admin';
  stranger = await t.login('mallory', 'password-123');
  strangerWorkspace = (
    await ok(
      await t.request(stranger, { method: 'POST', url: '/api/v1/workspaces', body: { name: 'Mallory Inc' } }),
    )
  ).id as string;

  Object.assign(SAMPLE_BODIES, {
    'POST /apps': { name: 'X', platform: 'android', provider: 'simulator' },
    'PATCH /apps/{appId}': { name: 'X' },
    'POST /apps/{appId}/devices': { deviceId: 'dev-9', pushToken: 'tok-9' },
    'POST /apps/{appId}/devices/batch': { devices: [{ deviceId: 'dev-9', pushToken: 'tok-9' }] },
    'POST /audiences': { name: 'X', deviceIds: ['a'] },
    'PATCH /audiences/{audienceId}': { name: 'X' },
    'POST /campaigns': { name: 'X' },
    'PATCH /campaigns/{campaignId}': { name: 'X' },
    'POST /campaigns/{campaignId}/sub-campaigns': { name: 'X' },
    'POST /sub-campaigns': { name: 'X' },
    'PATCH /sub-campaigns/{subCampaignId}': { name: 'X' },
    'PATCH /tasks/{taskId}': { name: 'X' },
    'POST /tasks/{taskId}/audiences': { name: 'X', filter: { sendResult: 'success', without: 'open' } },
    'POST /tasks/{taskId}/test': { deviceIds: ['dev-1'] },
    'POST /test-pushes': { appId: ids.appId, title: 'X', content: 'X', deviceIds: ['dev-1'] },
    'POST /members': { username: 'mallory', role: 'owner' },
    'PATCH /members/{username}': { role: 'viewer' },
    'POST /tokens': { name: 'X', role: 'owner' },
    '': { name: 'X' },
  });
});

afterAll(async () => {
  await t.close();
});

/** Every operation under `/api/v1/workspaces/{workspaceId}`, from the OpenAPI document. */
async function workspaceRoutes(): Promise<Route[]> {
  const doc = (await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' })).json() as {
    paths: Record<string, Record<string, { responses?: Record<string, { content?: object }> }>>;
  };
  const routes: Route[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    if (!path.startsWith('/api/v1/workspaces/{workspaceId}')) continue;
    for (const [method, operation] of Object.entries(operations)) {
      const stream = 'text/event-stream' in (operation.responses?.['200']?.content ?? {});
      routes.push({ method: method.toUpperCase(), path, stream });
    }
  }
  return routes;
}

/** The route's URL with every parameter filled in from the `default` workspace's objects. */
/** The query a route requires, so that a request is refused for who sends it, not for a missing parameter. */
const REQUIRED_QUERIES: Record<string, () => string> = {
  'GET /audiences/{audienceId}/match': () => `appId=${encodeURIComponent(ids.appId!)}`,
};

function urlFor(route: Route, workspaceId: string): string {
  const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (name === 'workspaceId') return workspaceId;
    const value = ids[name];
    if (!value) throw new Error(`no fixture for path parameter {${name}} in ${route.method} ${route.path}`);
    return encodeURIComponent(value);
  });
  const query =
    REQUIRED_QUERIES[`${route.method} ${route.path.replace('/api/v1/workspaces/{workspaceId}', '')}`];
  return query ? `${path}?${query()}` : path;
}

function bodyFor(route: Route): object | undefined {
  if (route.method === 'GET' || route.method === 'DELETE') return undefined;
  const key = `${route.method} ${route.path.replace('/api/v1/workspaces/{workspaceId}', '')}`;
  return (SAMPLE_BODIES[key] ?? SAMPLE_BODIES['']) as object;
}

/** Everything stored for the `default` workspace that an attack could change, as one comparable value. */
async function snapshot(): Promise<string> {
  const tables = [
    'workspaces',
    'memberships',
    'apps',
    'devices',
    'audiences',
    'audience_members',
    'campaigns',
    'sub_campaigns',
    'tasks',
    'task_sub_campaigns',
  ] as const;
  const out: Record<string, unknown> = {};
  for (const table of tables) out[table] = await t.db.selectFrom(table).selectAll().execute();
  out.tokens = await t.db
    .selectFrom('access_tokens')
    .select(['id', 'revoked_at', 'role', 'workspace_id'])
    .orderBy('id')
    .execute();
  return JSON.stringify(out);
}

describe('tenancy isolation on every workspace route', () => {
  test('the OpenAPI document lists the routes of every capability', async () => {
    const paths = new Set(
      (await workspaceRoutes()).map((r) => r.path.replace('/api/v1/workspaces/{workspaceId}', '')),
    );
    for (const p of [
      '/apps',
      '/apps/{appId}/devices',
      '/audiences',
      '/campaigns',
      '/sub-campaigns',
      '/tasks',
      '/tasks/{taskId}/devices',
      '/tasks/{taskId}/devices.csv',
      '/tasks/{taskId}/audiences',
      '/tasks/{taskId}/events',
      '/tasks/{taskId}/breakdown',
      '/members',
      '/tokens',
    ]) {
      expect(paths).toContain(p);
    }
  });

  test('a user of another workspace gets 404 on every route of this one, and nothing changes', async () => {
    const before = await snapshot();
    for (const route of await workspaceRoutes()) {
      const res = await t.request(stranger, {
        method: route.method as 'GET',
        url: urlFor(route, 'default'),
        body: bodyFor(route),
      });
      expect(res.statusCode, `${route.method} ${route.path}: ${res.body}`).toBe(404);
      expect(res.json().error.code).toBe('WORKSPACE_NOT_FOUND');
    }
    expect(await snapshot()).toBe(before);
  });

  test("objects of this workspace cannot be reached through the stranger's own workspace", async () => {
    const before = await snapshot();
    for (const route of await workspaceRoutes()) {
      const objectParams = (route.path.match(/\{(\w+)\}/g) ?? []).filter(
        (p) => p !== '{workspaceId}' && p !== '{username}' && p !== '{tokenId}',
      );
      if (objectParams.length === 0) continue;
      const res = await t.request(stranger, {
        method: route.method as 'GET',
        url: urlFor(route, strangerWorkspace),
        body: bodyFor(route),
      });
      expect(res.statusCode, `${route.method} ${route.path}: ${res.body}`).toBe(404);
      expect(res.json().error.code).toMatch(/_NOT_FOUND$/);
    }
    expect(await snapshot()).toBe(before);
  });

  test('a viewer token reads but every write answers 403, and nothing changes', async () => {
    const before = await snapshot();
    for (const route of await workspaceRoutes()) {
      if (route.stream) {
        // The scheduled task's event stream stays open: the status is known from the head, then hang
        // up (the server ends the stream when it closes).
        const res = await t.request(viewer, {
          method: 'GET',
          url: urlFor(route, 'default'),
          payloadAsStream: true,
        });
        res.stream().destroy();
        expect([200, 403], `${route.method} ${route.path}`).toContain(res.statusCode);
        continue;
      }
      const res = await t.request(viewer, {
        method: route.method as 'GET',
        url: urlFor(route, 'default'),
        body: bodyFor(route),
      });
      if (route.method === 'GET') {
        expect([200, 403], `${route.method} ${route.path}: ${res.body}`).toContain(res.statusCode);
      } else {
        expect(res.statusCode, `${route.method} ${route.path}: ${res.body}`).toBe(403);
        expect(res.json().error.code).toBe('FORBIDDEN');
      }
    }
    expect(await snapshot()).toBe(before);
  });

  test('a revoked token answers 401 on every route, and nothing changes', async () => {
    const before = await snapshot();
    for (const route of await workspaceRoutes()) {
      const res = await t.request(revoked, {
        method: route.method as 'GET',
        url: urlFor(route, 'default'),
        body: bodyFor(route),
      });
      expect(res.statusCode, `${route.method} ${route.path}`).toBe(401);
      expect(res.json().error.code).toBe('UNAUTHENTICATED');
    }
    expect(await snapshot()).toBe(before);
  });

  test('uploads are refused before the body is read', async () => {
    const upload = multipartBody({ name: 'Leak' }, { field: 'file', filename: 'ids.txt', content: 'a\nb\n' });
    const res = await t.request(stranger, {
      method: 'POST',
      url: '/api/v1/workspaces/default/audiences',
      ...upload,
    });
    expect(res.statusCode).toBe(404);
  });
});
