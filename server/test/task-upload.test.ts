import { afterEach, beforeEach, expect, test } from 'vitest';
import { createTestInstance, multipartBody, type TestInstance } from './helpers.ts';

let t: TestInstance;
let appId: string;
const base = '/api/v1/workspaces/default';

beforeEach(async () => {
  t = await createTestInstance();
  const app = await t.request(t.adminToken, {
    method: 'POST',
    url: `${base}/apps`,
    body: { name: 'Shop', platform: 'android', provider: 'simulator' },
  });
  appId = app.json().id;
});
afterEach(async () => {
  await t.close();
});

function taskJson(overrides: Record<string, unknown> = {}) {
  return JSON.stringify({
    name: 'Flash sale',
    appId,
    title: 'Sale',
    content: 'Everything half price',
    clickAction: { type: 'open_app' },
    sendType: 'immediate',
    ...overrides,
  });
}

async function audienceCount(): Promise<number> {
  const rows = await t.db.selectFrom('audiences').select('id').execute();
  return rows.length;
}

test('a task created with an uploaded ID file gets a new upload audience of the distinct IDs', async () => {
  const upload = multipartBody(
    { task: taskJson() },
    { field: 'file', filename: 'vip.txt', content: 'a\nb\nb\n\nc\n' },
  );
  const res = await t.request(t.adminToken, { method: 'POST', url: `${base}/tasks/upload`, ...upload });
  expect(res.statusCode, res.body).toBe(201);
  const task = res.json();
  expect(task).toMatchObject({
    name: 'Flash sale',
    status: 'scheduled',
    audienceName: 'Flash sale (uploaded IDs)',
  });
  const audience = await t.request(t.adminToken, {
    method: 'GET',
    url: `${base}/audiences/${task.audienceId}`,
  });
  expect(audience.json()).toMatchObject({ size: 3, source: 'upload', fileName: 'vip.txt' });
});

test('an invalid task is refused before the file is read and leaves no audience', async () => {
  const upload = multipartBody(
    { task: taskJson({ clickAction: { type: 'open_url' }, title: '' }) },
    { field: 'file', filename: 'ids.txt', content: 'a\n' },
  );
  const res = await t.request(t.adminToken, { method: 'POST', url: `${base}/tasks/upload`, ...upload });
  expect(res.statusCode).toBe(400);
  expect(res.json().error.details.map((d: { field: string }) => d.field)).toContain('title');
  expect(await audienceCount()).toBe(0);
});

test('a task field that is not JSON, or an audienceId in it, answers VALIDATION_FAILED', async () => {
  const notJson = multipartBody({ task: '{oops' }, { field: 'file', filename: 'ids.txt', content: 'a\n' });
  const res = await t.request(t.adminToken, { method: 'POST', url: `${base}/tasks/upload`, ...notJson });
  expect(res.json().error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'task' }] });
  const withAudience = multipartBody(
    { task: taskJson({ audienceId: 'aud_x' }) },
    { field: 'file', filename: 'ids.txt', content: 'a\n' },
  );
  const res2 = await t.request(t.adminToken, {
    method: 'POST',
    url: `${base}/tasks/upload`,
    ...withAudience,
  });
  expect(res2.json().error.details).toEqual([
    { field: 'audienceId', code: 'UNKNOWN_FIELD', message: 'is not a known field' },
  ]);
});

test('a file with bad lines is refused with their line numbers and leaves neither task nor audience', async () => {
  const upload = multipartBody(
    { task: taskJson() },
    { field: 'file', filename: 'ids.txt', content: 'ok-1\nbad id\nok-2\n' },
  );
  const res = await t.request(t.adminToken, { method: 'POST', url: `${base}/tasks/upload`, ...upload });
  expect(res.statusCode).toBe(400);
  expect(res.json().error.code).toBe('CSV_INVALID');
  expect(JSON.stringify(res.json().error.details)).toContain('"line":2');
  expect(await audienceCount()).toBe(0);
  expect(await t.db.selectFrom('tasks').select('id').execute()).toEqual([]);
});

test('the file must follow the task field, and both are required', async () => {
  const fileOnly = multipartBody({}, { field: 'file', filename: 'ids.txt', content: 'a\n' });
  const res = await t.request(t.adminToken, { method: 'POST', url: `${base}/tasks/upload`, ...fileOnly });
  expect(res.json().error.details).toEqual([
    { field: 'task', code: 'REQUIRED', message: expect.stringContaining('before the file') },
  ]);
  const taskOnly = multipartBody({ task: taskJson() });
  const res2 = await t.request(t.adminToken, { method: 'POST', url: `${base}/tasks/upload`, ...taskOnly });
  expect(res2.json().error.details).toEqual([
    { field: 'file', code: 'REQUIRED', message: expect.any(String) },
  ]);
  expect(await audienceCount()).toBe(0);
});

test('a JSON body on the upload route answers 415', async () => {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `${base}/tasks/upload`,
    body: { name: 'x' },
  });
  expect(res.statusCode).toBe(415);
});
