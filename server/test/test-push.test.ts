/**
 * Test push (docs/delivery-controls.md#test-push), on whichever backend the run uses: a scheduled
 * task's content, or content not saved yet, goes now to a few devices and is answered per device —
 * through the simulator and through FCM (a local fake of the service) — while nothing counts: the
 * task keeps zero statistics, no batch or device result is written, and the receipts the simulator
 * then reports for the test push are refused as UNKNOWN_TASK.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { buildApp } from '../src/app.ts';
import type { Api } from '../src/http/route-deps.ts';
import { signBody } from '../src/http/signed-bodies.ts';
import { createFcmProvider } from '../src/providers/fcm.ts';
import { createSimulatorReporter } from '../src/providers/simulator-outbox.ts';
import { TEST_PUSHES_PER_MINUTE } from '../src/tasks/test-push.ts';
import { createTask, sendFixture } from './dispatch-fixtures.ts';
import { type FakeFcm, generateServiceAccount, startFakeFcm } from './fake-fcm.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';
import { createTestCertificate, type TestCertificate } from './tls-fixture.ts';

const ALLOWLIST = 'https://127.0.0.1:';
const HOUR_MS = 3_600_000;

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance({ PUSHBOARD_PROVIDER_URL_ALLOWLIST: ALLOWLIST });
});
afterEach(async () => {
  await t.close();
});

const WS = () => `/api/v1/workspaces/${t.workspaceId}`;
const dev = (i: number) => `dev-${String(i).padStart(7, '0')}`;

/** A scheduled task (due in an hour) on a simulator app of `devices` devices with `config`. */
async function scheduledTask(platform: 'android' | 'ios', config: Record<string, number>, devices = 5) {
  const fixture = await sendFixture(t, { platform, devices, config: { seed: 7, ...config } });
  const taskId = await createTask(t, fixture, { scheduledAt: new Date(t.clock.now.getTime() + HOUR_MS) });
  return { ...fixture, taskId };
}

function testTask(taskId: string, deviceIds: string[]) {
  return t.request(t.adminToken, {
    method: 'POST',
    url: `${WS()}/tasks/${taskId}/test`,
    body: { deviceIds },
  });
}

function testPush(body: Record<string, unknown>, app: Api = t.app) {
  return app.inject({
    method: 'POST',
    url: `${WS()}/test-pushes`,
    headers: { authorization: `Bearer ${t.adminToken}` },
    body: { title: 'Try me', content: 'Does it look right?', ...body },
  });
}

/** How many rows of `table` belong to `taskId`. */
async function rowsOf(table: 'batches' | 'device_results' | 'task_dispatch', taskId: string) {
  const row = await t.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('task_id', '=', taskId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Asserts the task is untouched by test pushes: scheduled, every counter zero, nothing written for it. */
async function expectNothingCounted(taskId: string) {
  const task = (await t.request(t.adminToken, { method: 'GET', url: `${WS()}/tasks/${taskId}` })).json();
  expect(task.status).toBe('scheduled');
  expect(task.startedAt).toBeNull();
  const counters = Object.entries(task.statistics).filter(([name]) => !name.endsWith('Rate'));
  expect(counters.length).toBeGreaterThan(5);
  for (const [name, value] of counters) expect([name, value]).toEqual([name, 0]);
  expect(await rowsOf('batches', taskId)).toBe(0);
  expect(await rowsOf('device_results', taskId)).toBe(0);
  expect(await rowsOf('task_dispatch', taskId)).toBe(0);
}

describe('POST /tasks/{id}/test', () => {
  test('answers per device in the order asked, once per device; unknown and tokenless devices fail before the provider', async () => {
    const { taskId, appId } = await scheduledTask('android', { acceptRate: 1 });
    await t.db
      .updateTable('devices')
      .set({
        token_status: 'invalid',
        token_invalid_at: t.clock.now.toISOString(),
        token_invalid_reason: '4020',
      })
      .where('app_id', '=', appId)
      .where('device_id', '=', dev(2))
      .execute();

    const res = await testTask(taskId, [dev(3), dev(1), 'not-registered', dev(3), dev(2)]);
    expect(res.statusCode, res.body).toBe(200);
    const { results } = res.json();
    expect(results.map((r: { deviceId: string }) => r.deviceId)).toEqual([
      dev(3),
      dev(1),
      'not-registered',
      dev(2),
    ]);
    expect(results[0]).toEqual({ deviceId: dev(3), sendResult: 'no_feedback', failureReason: null });
    expect(results[1]).toEqual({ deviceId: dev(1), sendResult: 'no_feedback', failureReason: null });
    expect(results[2].sendResult).toBe('failure');
    expect(results[2].failureReason).toContain(`not-registered is not registered for app`);
    expect(results[3].sendResult).toBe('failure');
    expect(results[3].failureReason).toContain('no active push token');
    expect(results[3].failureReason).toContain('4020');

    // Only the two sendable devices reached the simulator, in one batch of its own ID.
    const batches = await t.db.selectFrom('simulator_batches').selectAll().execute();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.batch_id).toMatch(/^test-/);
    expect(batches[0]!.task_id).toBe(batches[0]!.batch_id);
    expect(Number(batches[0]!.device_count)).toBe(2);
    await expectNothingCounted(taskId);
  });

  test("iOS acceptance is success; the simulator's refusals come back with its reasons", async () => {
    const ios = await scheduledTask('ios', { acceptRate: 1 });
    const accepted = (await testTask(ios.taskId, [dev(0), dev(4)])).json().results;
    expect(accepted).toEqual([
      { deviceId: dev(0), sendResult: 'success', failureReason: null },
      { deviceId: dev(4), sendResult: 'success', failureReason: null },
    ]);

    const refusing = await scheduledTask('android', { acceptRate: 0 });
    const refused = (await testTask(refusing.taskId, [dev(0), dev(1), dev(2)])).json().results;
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r.sendResult).toBe('failure');
      expect(r.failureReason).toEqual(expect.any(String));
      expect(r.failureReason.length).toBeGreaterThan(5);
    }
    await expectNothingCounted(refusing.taskId);
  });

  test('the receipts the simulator reports for a test push are refused as UNKNOWN_TASK and count nowhere', async () => {
    const { taskId } = await scheduledTask('android', {
      acceptRate: 1,
      deliveryRate: 1,
      impressionRate: 1,
      openRate: 1,
    });
    const res = await testTask(taskId, [dev(0), dev(1), dev(2), dev(3), dev(4)]);
    expect(res.statusCode, res.body).toBe(200);
    const planned = await t.db.selectFrom('simulator_receipts').selectAll().execute();
    expect(planned.length).toBeGreaterThanOrEqual(5);
    for (const row of planned) expect(row.task_id).toMatch(/^test-/);

    // The simulator's reporter posts them, signed, to this server's own receipt endpoints.
    const answers: { accepted: number; rejected: number; errors: { code: string }[] }[] = [];
    const fetch = (async (url: string, init: RequestInit) => {
      const target = new URL(url);
      const answer = await t.app.inject({
        method: 'POST',
        url: target.pathname + target.search,
        headers: init.headers as Record<string, string>,
        payload: String(init.body),
      });
      answers.push(answer.json());
      return new Response(answer.body, { status: answer.statusCode });
    }) as typeof globalThis.fetch;
    const reporter = createSimulatorReporter({
      db: t.db,
      baseUrl: 'http://pushboard.test',
      sign: signBody,
      clock: () => new Date(t.clock.now.getTime() + 30 * 24 * HOUR_MS),
      fetch,
    });
    expect(await reporter.flush()).toBe(planned.length);

    expect(answers.length).toBeGreaterThan(0);
    expect(answers.reduce((n, a) => n + a.accepted, 0)).toBe(0);
    expect(answers.reduce((n, a) => n + a.rejected, 0)).toBe(planned.length);
    const codes = new Set(answers.flatMap((a) => a.errors.map((e) => e.code)));
    expect([...codes]).toEqual(['UNKNOWN_TASK']);
    // Refused, not held for a batch to come: nothing waits to be applied to the task later.
    expect(await t.db.selectFrom('held_receipts').selectAll().execute()).toEqual([]);
    await expectNothingCounted(taskId);
  });

  test('only a scheduled task can be test-pushed (409 TASK_NOT_TESTABLE); an unknown one is 404', async () => {
    const { taskId } = await scheduledTask('android', { acceptRate: 1 });
    for (const status of ['sending', 'completed', 'failed', 'stopped'] as const) {
      await t.db.updateTable('tasks').set({ status }).where('id', '=', taskId).execute();
      const res = await testTask(taskId, [dev(0)]);
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json().error).toMatchObject({ code: 'TASK_NOT_TESTABLE', details: { status } });
    }
    expect(await t.db.selectFrom('simulator_batches').selectAll().execute()).toEqual([]);
    const unknown = await testTask('tsk_doesnotexist', [dev(0)]);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('TASK_NOT_FOUND');
  });

  test("a viewer may not test-push, and another workspace's task is unknown", async () => {
    const { taskId } = await scheduledTask('android', { acceptRate: 1 });
    const viewer = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/tokens`,
      body: { name: 'read only', role: 'viewer' },
    });
    expect(viewer.statusCode, viewer.body).toBe(201);
    const refused = await t.request(viewer.json().token, {
      method: 'POST',
      url: `${WS()}/tasks/${taskId}/test`,
      body: { deviceIds: [dev(0)] },
    });
    expect(refused.statusCode).toBe(403);

    const other = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/workspaces',
      body: { name: 'Other team' },
    });
    expect(other.statusCode, other.body).toBe(201);
    const elsewhere = await t.request(t.adminToken, {
      method: 'POST',
      url: `/api/v1/workspaces/${other.json().id}/tasks/${taskId}/test`,
      body: { deviceIds: [dev(0)] },
    });
    expect(elsewhere.statusCode).toBe(404);
    expect(elsewhere.json().error.code).toBe('TASK_NOT_FOUND');
    expect(await t.db.selectFrom('simulator_batches').selectAll().execute()).toEqual([]);
  });

  test('1 to 20 device IDs', async () => {
    const { taskId } = await scheduledTask('android', { acceptRate: 1 });
    for (const deviceIds of [[], Array.from({ length: 21 }, (_, i) => dev(i)), ['']]) {
      const res = await testTask(taskId, deviceIds);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
    }
    const twenty = await testTask(
      taskId,
      Array.from({ length: 20 }, (_, i) => dev(i)),
    );
    expect(twenty.statusCode, twenty.body).toBe(200);
    expect(twenty.json().results).toHaveLength(20);
  });
});

describe('POST /test-pushes', () => {
  test('sends content not saved yet with its defaults, and writes no task', async () => {
    const { appId } = await sendFixture(t, {
      platform: 'android',
      devices: 3,
      config: { seed: 1, acceptRate: 1 },
    });
    const res = await testPush({ appId, deviceIds: [dev(2), dev(0)] });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().results).toEqual([
      { deviceId: dev(2), sendResult: 'no_feedback', failureReason: null },
      { deviceId: dev(0), sendResult: 'no_feedback', failureReason: null },
    ]);
    expect(await t.db.selectFrom('tasks').selectAll().execute()).toEqual([]);
    expect(await t.db.selectFrom('batches').selectAll().execute()).toEqual([]);
  });

  test("content is checked exactly as a task's: the same field errors for the same content", async () => {
    const { appId, audienceId } = await sendFixture(t, { platform: 'ios', devices: 1 });
    const tooLong = {
      appId,
      title: 'Too long',
      content: 'x'.repeat(1990),
      clickAction: { type: 'open_url', url: 'https://example.com' },
      ttlSeconds: 29 * 86_400,
    };
    const task = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/tasks`,
      body: { ...tooLong, name: 'Too long', audienceId, sendType: 'immediate' },
    });
    expect(task.statusCode, task.body).toBe(400);
    const push = await testPush({ ...tooLong, deviceIds: [dev(0)] });
    expect(push.statusCode, push.body).toBe(400);
    expect(push.json().error.details).toEqual(task.json().error.details);
    const fields = push.json().error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['clickAction.type', 'content', 'ttlSeconds']));

    const unknownApp = await testPush({ appId: 'app_doesnotexist', deviceIds: [dev(0)] });
    expect(unknownApp.statusCode).toBe(400);
    expect(unknownApp.json().error.details).toEqual([
      {
        field: 'appId',
        code: 'NOT_IN_WORKSPACE',
        message: 'App app_doesnotexist does not exist in this workspace',
      },
    ]);
    const extra = await testPush({ appId, deviceIds: [dev(0)], audienceId });
    expect(extra.statusCode).toBe(400);
    expect(await t.db.selectFrom('simulator_batches').selectAll().execute()).toEqual([]);
  });

  test(`at most ${TEST_PUSHES_PER_MINUTE} test pushes a minute per workspace: then 429 with Retry-After`, async () => {
    const { appId } = await sendFixture(t, { platform: 'android', devices: 1, config: { acceptRate: 1 } });
    for (let i = 0; i < TEST_PUSHES_PER_MINUTE; i++) {
      const res = await testPush({ appId, deviceIds: [dev(0)] });
      expect(res.statusCode, res.body).toBe(200);
    }
    const refused = await testPush({ appId, deviceIds: [dev(0)] });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('TOO_MANY_TEST_PUSHES');
    const wait = Number(refused.headers['retry-after']);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60 / TEST_PUSHES_PER_MINUTE);
    // An invalid request uses up nothing and is still answered as invalid.
    expect((await testPush({ appId: 'app_doesnotexist', deviceIds: [dev(0)] })).statusCode).toBe(400);

    t.clock.now = new Date(t.clock.now.getTime() + wait * 1000);
    expect((await testPush({ appId, deviceIds: [dev(0)] })).statusCode).toBe(200);
    expect((await testPush({ appId, deviceIds: [dev(0)] })).statusCode).toBe(429);
  });
});

describe('through FCM', () => {
  let cert: TestCertificate;
  let fake: FakeFcm;
  let api: Api;
  const { serviceAccount, account } = generateServiceAccount('pushboard-test-push');
  const fleet = { channel: 'fcm', tokenPrefix: 'fcm-token-', tokenDigits: 140 };
  const tokenOf = (i: number) => `${fleet.tokenPrefix}${String(i).padStart(fleet.tokenDigits, '0')}`;

  beforeAll(() => {
    cert = createTestCertificate();
  });
  afterAll(() => cert.remove());
  beforeEach(async () => {
    fake = await startFakeFcm({ accounts: [account], cert });
    // The instance's API, but with an FCM provider that trusts the fake's certificate.
    api = await buildApp({
      config: t.config,
      db: t.db,
      logger: false,
      clock: () => t.clock.now,
      providers: { fcm: createFcmProvider({ urlAllowlist: [ALLOWLIST], ca: cert.cert }) },
    });
  });
  afterEach(async () => {
    await api.close();
    await fake.close();
  });

  async function fcmApp(): Promise<string> {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/apps`,
      body: {
        name: 'FCM test push',
        platform: 'android',
        provider: 'fcm',
        providerConfig: {
          serviceAccount: { ...serviceAccount, token_uri: fake.tokenUri },
          baseUrl: fake.baseUrl,
        },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    const appId = res.json().id as string;
    await sendFixture(t, { platform: 'android', devices: 3, appId, fleet });
    return appId;
  }

  test("a per-device failure reason from FCM; the message carries the test push ID, not a task's", async () => {
    const appId = await fcmApp();
    fake.unregistered.add(tokenOf(1));
    const res = await testPush({ appId, deviceIds: [dev(0), dev(1), dev(2)] }, api);
    expect(res.statusCode, res.body).toBe(200);
    const [first, second, third] = res.json().results;
    expect(first).toEqual({ deviceId: dev(0), sendResult: 'no_feedback', failureReason: null });
    expect(second.sendResult).toBe('failure');
    expect(second.failureReason).toContain('UNREGISTERED');
    expect(third).toEqual({ deviceId: dev(2), sendResult: 'no_feedback', failureReason: null });

    expect(fake.sends.map((s) => s.token).sort()).toEqual([tokenOf(0), tokenOf(2)]);
    const data = (fake.sends[0]!.message as { data: Record<string, string> }).data;
    expect(data.pb_task).toMatch(/^test-/);
    // The token is left as it was: a test push writes nothing, the next real send learns it.
    const device = await t.db
      .selectFrom('devices')
      .select('token_status')
      .where('app_id', '=', appId)
      .where('device_id', '=', dev(1))
      .executeTakeFirstOrThrow();
    expect(device.token_status).toBe('active');
  });

  test('an FCM error for the whole send fails every device with the error', async () => {
    const appId = await fcmApp();
    fake.refuseGrant = true;
    const res = await testPush({ appId, deviceIds: [dev(0), 'not-registered', dev(2)] }, api);
    expect(res.statusCode, res.body).toBe(200);
    const results = res.json().results;
    expect(results.map((r: { sendResult: string }) => r.sendResult)).toEqual([
      'failure',
      'failure',
      'failure',
    ]);
    expect(results[0].failureReason).toContain('invalid_grant');
    expect(results[1].failureReason).toContain('not registered');
    expect(results[2].failureReason).toBe(results[0].failureReason);
    expect(fake.sends).toEqual([]);
  });
});

test('both routes are in the OpenAPI document, with their refusals', async () => {
  const doc = (await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' })).json();
  const onTask = doc.paths['/api/v1/workspaces/{workspaceId}/tasks/{taskId}/test'].post;
  expect(Object.keys(onTask.responses)).toEqual(expect.arrayContaining(['200', '409', '429']));
  expect(onTask.description).toContain('TASK_NOT_TESTABLE');
  const unsaved = doc.paths['/api/v1/workspaces/{workspaceId}/test-pushes'].post;
  expect(Object.keys(unsaved.responses)).toEqual(expect.arrayContaining(['200', '400', '429']));
  const body = unsaved.requestBody.content['application/json'].schema;
  expect(body.required.sort()).toEqual(['appId', 'content', 'deviceIds', 'title']);
  expect(body.properties.deviceIds.maxItems).toBe(20);
});
