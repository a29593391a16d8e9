/**
 * What the task form asks the server before a send: how much of an audience an app would match now
 * (`GET …/audiences/{id}/match`, `?matchAppId=` on the list), the audience size a scheduled task plans
 * to send to, and the upload audience a deleted task takes with it.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createTestInstance, multipartBody, type TestInstance } from './helpers.ts';

let t: TestInstance;
const base = '/api/v1/workspaces/default';

beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, body?: object) {
  return t.request(t.adminToken, { method, url: `${base}${url}`, ...(body !== undefined && { body }) });
}

async function createApp(name: string, platform: 'android' | 'ios'): Promise<string> {
  const res = await call('POST', '/apps', { name, platform, provider: 'simulator' });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

async function registerDevices(appId: string, deviceIds: string[]): Promise<void> {
  const devices = deviceIds.map((deviceId) => ({ deviceId, pushToken: `tok-${appId}-${deviceId}` }));
  const res = await call('POST', `/apps/${appId}/devices/batch`, { devices });
  expect(res.statusCode, res.body).toBe(200);
}

async function createAudience(name: string, deviceIds: string[]): Promise<string> {
  const res = await call('POST', '/audiences', { name, deviceIds });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

function taskBody(appId: string, extra: Record<string, unknown> = {}) {
  return {
    name: 'Winter sale',
    appId,
    title: 'Sale',
    content: 'Half price',
    clickAction: { type: 'open_app' },
    sendType: 'scheduled',
    scheduledAt: new Date(Date.now() + 3_600_000).toISOString(),
    ...extra,
  };
}

async function uploadTask(appId: string, ids: string): Promise<{ id: string; audienceId: string }> {
  const upload = multipartBody(
    { task: JSON.stringify(taskBody(appId)) },
    { field: 'file', filename: 'ids.txt', content: ids },
  );
  const res = await t.request(t.adminToken, { method: 'POST', url: `${base}/tasks/upload`, ...upload });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

async function audienceExists(id: string): Promise<boolean> {
  const row = await t.db.selectFrom('audiences').select('id').where('id', '=', id).executeTakeFirst();
  const members = await t.db
    .selectFrom('audience_members')
    .select('device_id')
    .where('audience_id', '=', id)
    .execute();
  return row !== undefined || members.length > 0;
}

describe('audience match counts', () => {
  test('match counts the members with an active token for that app, per app', async () => {
    const android = await createApp('Shop Android', 'android');
    const ios = await createApp('Shop iOS', 'ios');
    await registerDevices(android, ['d1', 'd2', 'd3', 'x9']);
    await registerDevices(ios, ['d4']);
    const audienceId = await createAudience('Mixed', ['d1', 'd2', 'd3', 'd4', 'd5']);
    // A token a provider called invalid is no token: such a device would be unmatched.
    await t.db
      .updateTable('devices')
      .set({ token_status: 'invalid', token_invalid_at: new Date().toISOString(), token_invalid_reason: 'x' })
      .where('app_id', '=', android)
      .where('device_id', '=', 'd3')
      .execute();

    const forAndroid = await call('GET', `/audiences/${audienceId}/match?appId=${android}`);
    expect(forAndroid.statusCode, forAndroid.body).toBe(200);
    expect(forAndroid.json()).toEqual({ audienceId, appId: android, size: 5, matched: 2 });
    const forIos = await call('GET', `/audiences/${audienceId}/match?appId=${ios}`);
    expect(forIos.json()).toMatchObject({ size: 5, matched: 1 });

    const list = await call('GET', `/audiences?matchAppId=${android}`);
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json().items).toEqual([expect.objectContaining({ id: audienceId, size: 5, matched: 2 })]);
    const plain = await call('GET', '/audiences');
    expect(plain.json().items[0]).not.toHaveProperty('matched');
  });

  test('an unknown app or audience answers 404 with its code; a missing appId answers 400', async () => {
    const android = await createApp('Shop', 'android');
    const audienceId = await createAudience('A', ['d1']);
    const noApp = await call('GET', `/audiences/${audienceId}/match?appId=app_nope`);
    expect(noApp.statusCode).toBe(404);
    expect(noApp.json().error.code).toBe('APP_NOT_FOUND');
    const noAudience = await call('GET', `/audiences/aud_nope/match?appId=${android}`);
    expect(noAudience.json().error.code).toBe('AUDIENCE_NOT_FOUND');
    const missing = await call('GET', `/audiences/${audienceId}/match`);
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.code).toBe('VALIDATION_FAILED');
    const listNoApp = await call('GET', '/audiences?matchAppId=app_nope');
    expect(listNoApp.json().error.code).toBe('APP_NOT_FOUND');
  });

  test('the match route and its answer are in the OpenAPI document', async () => {
    const doc = (await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' })).json();
    const match = doc.paths['/api/v1/workspaces/{workspaceId}/audiences/{audienceId}/match'].get;
    expect(match.parameters.map((p: { name: string }) => p.name)).toContain('appId');
    const answer = match.responses['200'].content['application/json'].schema;
    expect(Object.keys(answer.properties).sort()).toEqual(['appId', 'audienceId', 'matched', 'size']);
  });
});

describe('a scheduled task and its audience', () => {
  test('a scheduled task carries its audience size, while plannedSends stays 0 until the send', async () => {
    const appId = await createApp('Shop', 'android');
    const audienceId = await createAudience('Three', ['a', 'b', 'c']);
    const res = await call('POST', '/tasks', taskBody(appId, { audienceId }));
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ status: 'scheduled', audienceSize: 3 });
    expect(res.json().statistics.plannedSends).toBe(0);
    const list = await call('GET', '/tasks');
    expect(list.json().items[0]).toMatchObject({ audienceSize: 3 });
  });

  test('deleting a task deletes the audience uploaded with it, members included', async () => {
    const appId = await createApp('Shop', 'android');
    const task = await uploadTask(appId, 'a\nb\nc\n');
    const audience = await call('GET', `/audiences/${task.audienceId}`);
    expect(audience.json()).toMatchObject({ source: 'upload', sourceTaskId: task.id });
    expect((await call('DELETE', `/tasks/${task.id}`)).statusCode).toBe(204);
    expect(await audienceExists(task.audienceId)).toBe(false);
    expect((await call('GET', `/audiences/${task.audienceId}`)).statusCode).toBe(404);
  });

  test('an upload audience another task uses stays; an audience chosen for a task stays', async () => {
    const appId = await createApp('Shop', 'android');
    const task = await uploadTask(appId, 'a\nb\n');
    const copy = await call('POST', '/tasks', taskBody(appId, { audienceId: task.audienceId }));
    expect(copy.statusCode, copy.body).toBe(201);
    expect((await call('DELETE', `/tasks/${task.id}`)).statusCode).toBe(204);
    expect(await audienceExists(task.audienceId)).toBe(true);

    const chosen = await createAudience('Chosen', ['a']);
    const onChosen = await call('POST', '/tasks', taskBody(appId, { audienceId: chosen }));
    expect((await call('DELETE', `/tasks/${onChosen.json().id}`)).statusCode).toBe(204);
    expect(await audienceExists(chosen)).toBe(true);
  });
});
