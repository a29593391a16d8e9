/**
 * Receipt ingestion (docs/statistics.md#counters, docs/statistics.md#windows, docs/receipts.md, docs/api.md#shapes) through the public endpoints: every rule that keeps
 * statistics exact — duplicates, replays, concurrent copies, out-of-order arrival, unknown tasks,
 * foreign devices, late receipts, forged signatures, oversized batches, iOS dismissals, receipts that
 * overtake their batch's recording, Umeng's reported shape — with the docs/statistics.md#invariants invariants and the
 * agreement of counters and device results checked after each.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { statisticsViolations } from '../src/domain/statistics.ts';
import { signBody } from '../src/http/signed-bodies.ts';
import type { Provider } from '../src/providers/provider.ts';
import { MAX_RECEIPTS_PER_REQUEST } from '../src/receipts/receipt-routes.ts';
import {
  createTask,
  expectConsistentSend,
  readTask,
  type SendFixture,
  scriptedProvider,
  sendFixture,
  simulatorOn,
  testDispatcher,
  waitFor,
} from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

type Kind = 'delivered' | 'impression' | 'open' | 'dismissal';
interface Receipt {
  taskId: string;
  deviceId: string;
  kind: Kind | string;
  at: string;
}

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

async function appSecrets(appId: string) {
  return t.db
    .selectFrom('apps')
    .select(['receipt_secret', 'sdk_key', 'sdk_secret', 'platform'])
    .where('id', '=', appId)
    .executeTakeFirstOrThrow();
}

/** Posts SDK receipts signed with the app's SDK secret (or `signature` when given). */
async function postSdk(appId: string, receipts: unknown[], signature?: string) {
  const keys = await appSecrets(appId);
  const body = JSON.stringify({ receipts });
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/receipts/sdk',
    headers: {
      'content-type': 'application/json',
      'x-pushboard-key': keys.sdk_key,
      'x-pushboard-signature': signature ?? signBody(body, keys.sdk_secret),
    },
    body,
  });
}

/** Posts simulator callbacks signed with the app's receipt secret. */
async function postProvider(appId: string, receipts: unknown[]) {
  const keys = await appSecrets(appId);
  const body = JSON.stringify({ receipts });
  return t.app.inject({
    method: 'POST',
    url: `/api/v1/receipts/simulator/${appId}`,
    headers: {
      'content-type': 'application/json',
      'x-pushboard-signature': signBody(body, keys.receipt_secret),
    },
    body,
  });
}

/** Sends a task to `devices` devices through the simulator and waits until it is completed. */
async function sentTask(
  options: { platform?: 'ios' | 'android'; devices?: number; acceptRate?: number } = {},
) {
  const fixture = await sendFixture(t, {
    platform: options.platform ?? 'android',
    devices: options.devices ?? 40,
    config: { seed: 3, acceptRate: options.acceptRate ?? 0.8 },
  });
  const dispatcher = testDispatcher(t);
  const taskId = await createTask(t, fixture);
  await dispatcher.start();
  await waitFor(
    () => readTask(t.db, taskId),
    (task) => task.status === 'completed',
  );
  await dispatcher.stop();
  return { fixture, taskId };
}

/** Device IDs of the task by send result. */
async function devicesWith(taskId: string, sendResult: string): Promise<string[]> {
  const rows = await t.db
    .selectFrom('device_results')
    .select('device_id')
    .where('task_id', '=', taskId)
    .where('send_result', '=', sendResult as 'success')
    .orderBy('device_id')
    .execute();
  return rows.map((r) => r.device_id);
}

/** The invariants, and every counter equal to the device results it counts. */
async function expectExact(taskId: string, platform: 'ios' | 'android' = 'android') {
  const { counts, status } = await readTask(t.db, taskId);
  expect(statisticsViolations(counts, { platform, status })).toEqual([]);
  const row = await t.db
    .selectFrom('device_results')
    .select((eb) => [
      eb.fn.count<number>('impression_at').as('impressions'),
      eb.fn.count<number>('open_at').as('opens'),
      eb.fn.count<number>('dismissal_at').as('dismissals'),
    ])
    .where('task_id', '=', taskId)
    .executeTakeFirstOrThrow();
  expect({ impressions: counts.impressions, opens: counts.opens, dismissals: counts.dismissals }).toEqual({
    impressions: Number(row.impressions),
    opens: Number(row.opens),
    dismissals: Number(row.dismissals),
  });
  await expectConsistentSend(t.db, taskId, platform);
  return counts;
}

const at = () => t.clock.now.toISOString();
const receipt = (taskId: string, deviceId: string, kind: Kind | string): Receipt => ({
  taskId,
  deviceId,
  kind,
  at: at(),
});

describe('provider callbacks and SDK receipts', () => {
  it('a delivery turns an Android no_feedback into success; a replay changes nothing', async () => {
    const { taskId, fixture } = await sentTask();
    const before = await readTask(t.db, taskId);
    const waiting = (await devicesWith(taskId, 'no_feedback')).slice(0, 5);
    const body = waiting.map((d) => receipt(taskId, d, 'delivered'));

    const first = await postProvider(fixture.appId, body);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toEqual({
      accepted: 5,
      duplicate: 0,
      rejected: 0,
      late: 0,
      unreadable: 0,
      errors: [],
    });
    const after = await expectExact(taskId);
    expect(after.deliveries).toBe(before.counts.deliveries + 5);
    expect(after.noFeedback).toBe(before.counts.noFeedback - 5);

    const replay = await postProvider(fixture.appId, body);
    expect(replay.json()).toMatchObject({ accepted: 0, duplicate: 5, rejected: 0 });
    expect((await expectExact(taskId)).deliveries).toBe(after.deliveries);
    const row = await t.db
      .selectFrom('device_results')
      .selectAll()
      .where('task_id', '=', taskId)
      .where('device_id', '=', waiting[0]!)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ send_result: 'success', delivered_at: body[0]!.at });
  });

  it('counts copies inside one request once, and SDK impressions, opens and dismissals once each', async () => {
    const { taskId, fixture } = await sentTask();
    const [a, b] = await devicesWith(taskId, 'no_feedback');
    const res = await postSdk(fixture.appId, [
      receipt(taskId, a!, 'impression'),
      receipt(taskId, a!, 'impression'),
      receipt(taskId, a!, 'open'),
      receipt(taskId, b!, 'dismissal'),
      receipt(taskId, b!, 'dismissal'),
    ]);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ accepted: 3, duplicate: 2, rejected: 0, late: 0, errors: [] });
    const counts = await expectExact(taskId);
    expect(counts).toMatchObject({ impressions: 1, opens: 1, dismissals: 1 });
  });

  it('two concurrent requests with the same receipts count each device once', async () => {
    const { taskId, fixture } = await sentTask({ devices: 200, acceptRate: 1 });
    const devices = await devicesWith(taskId, 'no_feedback');
    const body = devices.flatMap((d) => [receipt(taskId, d, 'delivered'), receipt(taskId, d, 'open')]);
    const [one, two] = await Promise.all([
      postProvider(fixture.appId, body),
      postProvider(fixture.appId, body),
    ]);
    const answers = [one.json(), two.json()];
    expect(answers[0].accepted + answers[1].accepted).toBe(body.length);
    expect(answers[0].duplicate + answers[1].duplicate).toBe(body.length);
    const counts = await expectExact(taskId);
    expect(counts.deliveries).toBe(200);
    expect(counts.noFeedback).toBe(0);
    expect(counts.opens).toBe(200);
  });

  it('concurrent requests that cross (one delivers what the other opens) all succeed, counted once', async () => {
    const { taskId, fixture } = await sentTask({ devices: 200, acceptRate: 1 });
    const devices = await devicesWith(taskId, 'no_feedback');
    const first = devices.slice(0, 100);
    const second = devices.slice(100);
    // Request A delivers the first half and opens the second, B the other way round: without one lock
    // order per request they would take the same device results in opposite orders.
    const crossing = (deliver: string[], open: string[]) => [
      ...deliver.map((d) => receipt(taskId, d, 'delivered')),
      ...open.map((d) => receipt(taskId, d, 'open')),
    ];
    const answers = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        postProvider(fixture.appId, i % 2 === 0 ? crossing(first, second) : crossing(second, first)),
      ),
    );
    for (const answer of answers) expect(answer.statusCode, answer.body).toBe(200);
    const tallies = answers.map((a) => a.json());
    // Every receipt is accepted or a duplicate. A delivery can come with the open of the other request
    // (an open is a delivery too), so between 200 and 400 change a row: the opens and the deliveries
    // no open took first.
    expect(tallies.reduce((sum, a) => sum + a.accepted + a.duplicate, 0)).toBe(800);
    expect(tallies.every((a) => a.rejected === 0)).toBe(true);
    const accepted = tallies.reduce((sum, a) => sum + a.accepted, 0);
    expect(accepted).toBeGreaterThanOrEqual(200);
    expect(accepted).toBeLessThanOrEqual(400);
    const counts = await expectExact(taskId);
    expect(counts.deliveries).toBe(200);
    expect(counts.opens).toBe(200);
  });

  it('an open before its delivery is a delivery too; the delivery receipt then changes nothing', async () => {
    const { taskId, fixture } = await sentTask();
    const [device] = await devicesWith(taskId, 'no_feedback');
    const before = (await readTask(t.db, taskId)).counts;
    const open = receipt(taskId, device!, 'open');
    expect((await postProvider(fixture.appId, [open])).json().accepted).toBe(1);
    expect((await readTask(t.db, taskId)).counts).toMatchObject({
      opens: 1,
      deliveries: before.deliveries + 1,
      noFeedback: before.noFeedback - 1,
    });
    expect(
      (await postProvider(fixture.appId, [receipt(taskId, device!, 'delivered')])).json().duplicate,
    ).toBe(1);
    expect((await postProvider(fixture.appId, [receipt(taskId, device!, 'open')])).json().duplicate).toBe(1);
    const counts = await expectExact(taskId);
    expect(counts).toMatchObject({ opens: 1, deliveries: before.deliveries + 1 });
    const row = await t.db
      .selectFrom('device_results')
      .select(['send_result', 'delivered_at', 'open_at'])
      .where('task_id', '=', taskId)
      .where('device_id', '=', device!)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ send_result: 'success', delivered_at: open.at, open_at: open.at });
  });

  it('SDK impressions, opens and dismissals of no_feedback devices make them delivered, once', async () => {
    const { taskId, fixture } = await sentTask({ devices: 60, acceptRate: 1 });
    const [a, b, c, d] = await devicesWith(taskId, 'no_feedback');
    const before = (await readTask(t.db, taskId)).counts;
    // A minute after the send started, so that times before now are kept as reported.
    t.clock.now = new Date(t.clock.now.getTime() + 60_000);
    const shown = {
      ...receipt(taskId, a!, 'impression'),
      at: new Date(t.clock.now.getTime() - 5_000).toISOString(),
    };
    const res = await postSdk(fixture.appId, [
      shown,
      receipt(taskId, a!, 'open'),
      receipt(taskId, b!, 'open'),
      receipt(taskId, c!, 'dismissal'),
      // A real delivery receipt in the same request keeps its own time.
      { ...receipt(taskId, d!, 'delivered'), at: new Date(t.clock.now.getTime() - 9_000).toISOString() },
      receipt(taskId, d!, 'impression'),
    ]);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ accepted: 6, duplicate: 0, rejected: 0, late: 0, errors: [] });
    const counts = await expectExact(taskId);
    expect(counts).toMatchObject({
      deliveries: before.deliveries + 4,
      noFeedback: before.noFeedback - 4,
      impressions: 2,
      opens: 2,
      dismissals: 1,
    });
    const rows = await t.db
      .selectFrom('device_results')
      .select(['device_id', 'send_result', 'delivered_at'])
      .where('task_id', '=', taskId)
      .where('device_id', 'in', [a!, d!])
      .orderBy('device_id')
      .execute();
    const byId = new Map(rows.map((r) => [r.device_id, r]));
    expect(byId.get(a!)).toMatchObject({ send_result: 'success', delivered_at: shown.at });
    expect(byId.get(d!)?.delivered_at).toBe(new Date(t.clock.now.getTime() - 9_000).toISOString());

    // Every receipt again, and an SDK delivery of a device that already showed it: nothing moves.
    const replay = await postSdk(fixture.appId, [
      receipt(taskId, a!, 'impression'),
      receipt(taskId, c!, 'delivered'),
    ]);
    expect(replay.json()).toMatchObject({ accepted: 0, duplicate: 2 });
    expect(await expectExact(taskId)).toEqual(counts);
  });

  it('the SDK reports deliveries (FCM reports none); on iOS acceptance was already the delivery', async () => {
    const { taskId, fixture } = await sentTask({ acceptRate: 1 });
    const waiting = (await devicesWith(taskId, 'no_feedback')).slice(0, 3);
    const before = (await readTask(t.db, taskId)).counts;
    const res = await postSdk(
      fixture.appId,
      waiting.map((d) => receipt(taskId, d, 'delivered')),
    );
    expect(res.json()).toEqual({ accepted: 3, duplicate: 0, rejected: 0, late: 0, errors: [] });
    expect(await expectExact(taskId)).toMatchObject({
      deliveries: before.deliveries + 3,
      noFeedback: before.noFeedback - 3,
    });

    const ios = await sentTask({ platform: 'ios', acceptRate: 1 });
    const [iosDevice] = await devicesWith(ios.taskId, 'success');
    const iosBefore = (await readTask(t.db, ios.taskId)).counts;
    const answer = await postSdk(ios.fixture.appId, [
      receipt(ios.taskId, iosDevice!, 'delivered'),
      receipt(ios.taskId, iosDevice!, 'impression'),
    ]);
    expect(answer.json()).toMatchObject({ accepted: 1, duplicate: 1, rejected: 0 });
    expect(await expectExact(ios.taskId, 'ios')).toEqual({ ...iosBefore, impressions: 1 });
  });

  it('rejects unknown tasks, other apps’ tasks, foreign devices, rejected devices and bad items, by position', async () => {
    const { taskId, fixture } = await sentTask();
    const other = await sentTask();
    const [failed] = await devicesWith(taskId, 'failure');
    const [good] = await devicesWith(taskId, 'no_feedback');
    const before = (await readTask(t.db, taskId)).counts;
    const res = await postSdk(fixture.appId, [
      receipt('tsk_doesnotexist', good!, 'open'),
      receipt(other.taskId, good!, 'open'),
      receipt(taskId, 'not-a-device-of-the-send', 'open'),
      receipt(taskId, failed!, 'impression'),
      { taskId, deviceId: good, kind: 'open' },
      receipt(taskId, good!, 'click'),
      receipt(taskId, good!, 'open'),
    ]);
    expect(res.json()).toEqual({
      accepted: 1,
      duplicate: 0,
      rejected: 6,
      late: 0,
      errors: [
        { index: 0, code: 'UNKNOWN_TASK' },
        { index: 1, code: 'UNKNOWN_TASK' },
        { index: 2, code: 'DEVICE_NOT_IN_SEND' },
        { index: 3, code: 'DEVICE_SEND_FAILED' },
        { index: 4, code: 'INVALID_RECEIPT' },
        { index: 5, code: 'KIND_NOT_SUPPORTED' },
      ],
    });
    const counts = await expectExact(taskId);
    // The open is also the device's delivery.
    expect(counts).toEqual({
      ...before,
      opens: 1,
      deliveries: before.deliveries + 1,
      noFeedback: before.noFeedback - 1,
    });
    expect((await readTask(t.db, other.taskId)).counts.opens).toBe(0);
  });

  it('a receipt for a task that has not been sent is rejected', async () => {
    const fixture = await sendFixture(t, { devices: 3 });
    const taskId = await createTask(t, fixture, { scheduledAt: new Date(t.clock.now.getTime() + 3_600_000) });
    const res = await postSdk(fixture.appId, [receipt(taskId, 'dev-0000000', 'open')]);
    expect(res.json()).toMatchObject({ rejected: 1, errors: [{ index: 0, code: 'TASK_NOT_SENT' }] });
  });

  it('receipts after the statistics window are late: counted apart, statistics final', async () => {
    const { taskId, fixture } = await sentTask();
    const [a, b] = await devicesWith(taskId, 'no_feedback');
    const { startedAt } = await readTask(t.db, taskId);
    const before = (await readTask(t.db, taskId)).counts;
    // Reported inside the window but arriving after it: late too.
    const inside = new Date(Date.parse(startedAt!) + 3_600_000).toISOString();
    t.clock.now = new Date(Date.parse(startedAt!) + 72 * 3_600_000);
    const res = await postSdk(fixture.appId, [
      { taskId, deviceId: a, kind: 'open', at: inside },
      receipt(taskId, b!, 'impression'),
    ]);
    expect(res.json()).toEqual({ accepted: 0, duplicate: 0, rejected: 0, late: 2, errors: [] });
    const counts = await expectExact(taskId);
    expect(counts).toEqual({ ...before, late: 2 });
  });

  it('a forged signature or unknown key is 401 and stores nothing; the provider route takes ?secret=', async () => {
    const { taskId, fixture } = await sentTask();
    const [device] = await devicesWith(taskId, 'no_feedback');
    const before = (await readTask(t.db, taskId)).counts;
    const forged = await postSdk(fixture.appId, [receipt(taskId, device!, 'open')], 'ab'.repeat(32));
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.code).toBe('RECEIPT_SIGNATURE_INVALID');
    const unsigned = await t.app.inject({
      method: 'POST',
      url: `/api/v1/receipts/simulator/${fixture.appId}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receipts: [receipt(taskId, device!, 'open')] }),
    });
    expect(unsigned.statusCode).toBe(401);
    const wrongKey = await t.app.inject({
      method: 'POST',
      url: '/api/v1/receipts/sdk',
      headers: {
        'content-type': 'application/json',
        'x-pushboard-key': 'pbk_nope',
        'x-pushboard-signature': 'x',
      },
      body: '{"receipts":[]}',
    });
    expect(wrongKey.statusCode).toBe(401);
    expect((await readTask(t.db, taskId)).counts).toEqual(before);

    const { receipt_secret } = await appSecrets(fixture.appId);
    const viaUrl = await t.app.inject({
      method: 'POST',
      url: `/api/v1/receipts/simulator/${fixture.appId}?secret=${encodeURIComponent(receipt_secret)}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receipts: [receipt(taskId, device!, 'open')] }),
    });
    expect(viaUrl.json()).toMatchObject({ accepted: 1 });
    await expectExact(taskId);
  });

  it(`refuses more than ${MAX_RECEIPTS_PER_REQUEST} receipts with 413, storing none`, async () => {
    const { taskId, fixture } = await sentTask();
    const [device] = await devicesWith(taskId, 'no_feedback');
    const body = Array.from({ length: MAX_RECEIPTS_PER_REQUEST + 1 }, () => receipt(taskId, device!, 'open'));
    const res = await postSdk(fixture.appId, body);
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('RECEIPT_BATCH_TOO_LARGE');
    expect((await readTask(t.db, taskId)).counts.opens).toBe(0);
    const full = await postSdk(fixture.appId, body.slice(1));
    expect(full.json()).toMatchObject({ accepted: 1, duplicate: MAX_RECEIPTS_PER_REQUEST - 1 });
  });

  it('bad JSON and a body without a receipts list are 400', async () => {
    // Every device accepted: with 2 devices at 0.8 the send failed as a whole 1 time in 25.
    const { fixture } = await sentTask({ devices: 2, acceptRate: 1 });
    const keys = await appSecrets(fixture.appId);
    for (const body of ['{"receipts": [', '{"items": []}']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/receipts/sdk',
        headers: {
          'content-type': 'application/json',
          'x-pushboard-key': keys.sdk_key,
          'x-pushboard-signature': signBody(body, keys.sdk_secret),
        },
        body,
      });
      expect(res.statusCode).toBe(400);
    }
  });

  it('iOS: dismissals are rejected and a delivery receipt is a duplicate of the acceptance', async () => {
    const { taskId, fixture } = await sentTask({ platform: 'ios' });
    const [device] = await devicesWith(taskId, 'success');
    const before = (await readTask(t.db, taskId)).counts;
    const sdk = await postSdk(fixture.appId, [
      receipt(taskId, device!, 'dismissal'),
      receipt(taskId, device!, 'impression'),
    ]);
    expect(sdk.json()).toMatchObject({
      accepted: 1,
      rejected: 1,
      errors: [{ index: 0, code: 'KIND_NOT_SUPPORTED' }],
    });
    const provider = await postProvider(fixture.appId, [receipt(taskId, device!, 'delivered')]);
    expect(provider.json()).toMatchObject({ accepted: 0, duplicate: 1 });
    const counts = await expectExact(taskId, 'ios');
    expect(counts).toEqual({ ...before, impressions: 1 });
  });
});

describe('receipts that overtake their batch', () => {
  it('are held while the batch is handed over and applied when it is recorded', async () => {
    const fixture: SendFixture = await sendFixture(t, { devices: 10, config: { seed: 3, acceptRate: 1 } });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { provider } = scriptedProvider(simulatorOn(t.db), (call) => (call === 1 ? gate : 'answer'));
    const dispatcher = testDispatcher(t, { providers: { simulator: provider as Provider } });
    const taskId = await createTask(t, fixture);
    await dispatcher.start();
    await waitFor(
      () => t.db.selectFrom('batches').select('status').where('task_id', '=', taskId).execute(),
      (rows) => rows.length === 1 && rows[0]!.status === 'prepared',
    );
    const res = await postProvider(fixture.appId, [
      receipt(taskId, 'dev-0000001', 'delivered'),
      receipt(taskId, 'dev-0000001', 'open'),
      receipt(taskId, 'dev-0000001', 'open'),
    ]);
    expect(res.json()).toMatchObject({ accepted: 2, duplicate: 1, rejected: 0 });
    release();
    await waitFor(
      () => readTask(t.db, taskId),
      (task) => task.status === 'completed',
    );
    await dispatcher.stop();
    const counts = await expectExact(taskId);
    expect(counts).toMatchObject({ totalSent: 10, deliveries: 1, noFeedback: 9, opens: 1 });
    expect(await t.db.selectFrom('held_receipts').selectAll().execute()).toEqual([]);
  });
});

describe('Umeng callbacks', () => {
  it('find their batch by thirdparty_id or Umeng reference and their devices by token; unreadable items are kept and counted', async () => {
    const fixture = await sendFixture(t, { devices: 5, provider: 'umeng' });
    await t.db
      .updateTable('apps')
      .set({ provider_config: JSON.stringify({ appKey: 'k', appMasterSecret: 's' }) })
      .where('id', '=', fixture.appId)
      .execute();
    const umeng: Provider = {
      async sendBatch(request) {
        return { providerRef: `uMsg-${request.batchId}`, outcomes: [] };
      },
      async cancel() {},
      parseReceipts: () => ({ receipts: [], unreadable: [] }),
    };
    const dispatcher = testDispatcher(t, { providers: { umeng } });
    const taskId = await createTask(t, fixture);
    await dispatcher.start();
    await waitFor(
      () => readTask(t.db, taskId),
      (task) => task.status === 'completed',
    );
    await dispatcher.stop();
    const { receipt_secret } = await appSecrets(fixture.appId);
    const body = [
      {
        msg_id: `uMsg-${taskId}-1`,
        device_tokens: 'tok00000000000000000000000000000000000000001',
        action_type: 0,
      },
      {
        thirdparty_id: `${taskId}-1`,
        device_tokens: 'tok00000000000000000000000000000000000000002',
        action_type: 1,
      },
      { something: 'else entirely' },
    ];
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/receipts/umeng/${fixture.appId}?secret=${encodeURIComponent(receipt_secret)}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 2, rejected: 1, unreadable: 1 });
    const kept = await t.db.selectFrom('unreadable_receipts').selectAll().execute();
    expect(kept.map((k) => JSON.parse(k.payload))).toEqual([{ something: 'else entirely' }]);
    const counts = await expectExact(taskId);
    // The click (action_type 1) is a delivery too.
    expect(counts).toMatchObject({ deliveries: 2, noFeedback: 3, opens: 1 });
  });
});
