/**
 * Umeng end to end in one process (docs/providers.md#umeng): a Umeng app pointing at the local fake U-Push server,
 * the real dispatcher and the real adapter, and the fake posting receipts in the shape integrations
 * report — `{thirdparty_id, action_type, msg_id, device_tokens, alias, channel}` — to the receipt URL
 * the adapter handed over. Receipts move exactly the devices whose tokens they name, are stored once
 * however often they come, are held when they overtake their batch's recording, and an unknown
 * `action_type` moves nothing. Also the task fields every provider receives (TTL, category) and the
 * app's vendor-channel config, through the API.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { batchIdOf } from '../src/domain/batch.ts';
import { createUmengProvider } from '../src/providers/umeng.ts';
import { parseBatchId } from '../src/receipts/receipt-ingest.ts';
import {
  createTask,
  expectConsistentSend,
  readTask,
  type SendFixture,
  sendFixture,
  testDispatcher,
  waitFor,
} from './dispatch-fixtures.ts';
import { type FakeSend, type FakeUmeng, type ReceiptPoster, startFakeUmeng } from './fake-umeng.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const APP_KEY = '5f8e2a1b9c3d4e5f6a7b8c9d';
const SECRET = 'umeng-master-secret-for-tests';
const DEVICES = 20;

let t: TestInstance;
let fake: FakeUmeng;

beforeEach(async () => {
  t = await createTestInstance({ PUSHBOARD_PROVIDER_URL_ALLOWLIST: 'http://127.0.0.1:' });
  fake = await startFakeUmeng({
    apps: [{ appKey: APP_KEY, appMasterSecret: SECRET }],
    now: () => t.clock.now.getTime(),
  });
});

afterEach(async () => {
  await fake.close();
  await t.close();
});

const WS = () => `/api/v1/workspaces/${t.workspaceId}`;
const tokenOf = (i: number) => `tok${String(i).padStart(41, '0')}`;
const deviceOf = (i: number) => `dev-${String(i).padStart(7, '0')}`;

/** Pushboard's receipt endpoint as the fake reaches it: the receipt URL of the send, path and query. */
const inject: ReceiptPoster = async (url, body) => {
  const target = new URL(url);
  const res = await t.app.inject({
    method: 'POST',
    url: `${target.pathname}${target.search}`,
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: res.statusCode, body: res.body };
};

/** A Umeng Android app of `DEVICES` devices (tokens `tokenOf(i)`) whose base URL is the fake. */
async function umengFixture(config: Record<string, unknown> = {}): Promise<SendFixture> {
  const fixture = await sendFixture(t, { devices: DEVICES, provider: 'umeng' });
  await t.db
    .updateTable('apps')
    .set({
      provider_config: JSON.stringify({
        appKey: APP_KEY,
        appMasterSecret: SECRET,
        baseUrl: fake.baseUrl,
        ...config,
      }),
    })
    .where('id', '=', fixture.appId)
    .execute();
  return fixture;
}

function umeng() {
  return createUmengProvider({ clock: () => t.clock.now, urlAllowlist: ['http://127.0.0.1:'] });
}

/** Sends a task through the real dispatcher and adapter and waits for its end; answers its ID. */
async function sendTask(fixture: SendFixture, provider = umeng()): Promise<string> {
  const dispatcher = testDispatcher(t, { providers: { umeng: provider } });
  const taskId = await createTask(t, fixture);
  await dispatcher.start();
  await waitFor(
    () => readTask(t.db, taskId),
    (task) => task.status === 'completed' || task.status === 'failed',
  );
  await dispatcher.stop();
  return taskId;
}

async function results(taskId: string) {
  const rows = await t.db
    .selectFrom('device_results')
    .select(['device_id', 'send_result', 'channel', 'delivered_at', 'open_at'])
    .where('task_id', '=', taskId)
    .orderBy('device_id')
    .execute();
  return new Map(rows.map((r) => [r.device_id, r]));
}

function answer(posted: { status: number; body: string }) {
  expect(posted.status, posted.body).toBe(200);
  return JSON.parse(posted.body) as Record<string, number>;
}

describe('Umeng receipts in the reported shape', () => {
  test('arrivals and opens move exactly the devices whose tokens they name, with the channel reported', async () => {
    const fixture = await umengFixture();
    const taskId = await sendTask(fixture);
    expect(fake.sends).toHaveLength(1);
    const send = fake.sends[0]!;
    const batchId = `${taskId}-1`;
    expect(send.body).toMatchObject({ thirdparty_id: batchId, category: 0 });

    // One arrival naming three tokens, as one object.
    const arrival = fake.receiptsOf(send, 0, [tokenOf(1), tokenOf(2), tokenOf(3)], 'xiaomi');
    expect(answer(await fake.postReceipts(send, arrival, inject))).toMatchObject({
      accepted: 3,
      rejected: 0,
      unreadable: 0,
    });
    // An array: an open of one of them, an arrival of another one.
    const posted = answer(
      await fake.postReceipts(
        send,
        [fake.receiptsOf(send, 1, [tokenOf(2)], 'xiaomi'), fake.receiptsOf(send, 0, [tokenOf(4)], 'huawei')],
        inject,
      ),
    );
    expect(posted).toMatchObject({ accepted: 2, rejected: 0 });

    const { task } = await expectConsistentSend(t.db, taskId);
    expect(task.counts).toMatchObject({
      totalSent: DEVICES,
      deliveries: 4,
      noFeedback: DEVICES - 4,
      opens: 1,
    });
    const rows = await results(taskId);
    const delivered = [...rows.values()].filter((r) => r.send_result === 'success').map((r) => r.device_id);
    expect(delivered).toEqual([deviceOf(1), deviceOf(2), deviceOf(3), deviceOf(4)]);
    expect([...rows.values()].filter((r) => r.open_at !== null).map((r) => r.device_id)).toEqual([
      deviceOf(2),
    ]);
    expect(rows.get(deviceOf(1))?.channel).toBe('xiaomi');
    expect(rows.get(deviceOf(4))?.channel).toBe('huawei');
    // Devices no receipt named keep their registered channel (device 0 is a huawei one in the fixture).
    expect(rows.get(deviceOf(5))).toMatchObject({ send_result: 'no_feedback', delivered_at: null });
  });

  test('a replayed receipt is stored once: duplicates, and the statistics do not move', async () => {
    const fixture = await umengFixture();
    const taskId = await sendTask(fixture);
    const send = fake.sends[0]!;
    const body = [fake.receiptsOf(send, 0, [tokenOf(7), tokenOf(8)]), fake.receiptsOf(send, 1, [tokenOf(7)])];
    expect(answer(await fake.postReceipts(send, body, inject))).toMatchObject({ accepted: 3, duplicate: 0 });
    const before = (await readTask(t.db, taskId)).counts;
    for (let i = 0; i < 3; i++) {
      expect(answer(await fake.postReceipts(send, body, inject))).toMatchObject({
        accepted: 0,
        duplicate: 3,
      });
    }
    expect((await readTask(t.db, taskId)).counts).toEqual(before);
    expect(before).toMatchObject({ deliveries: 2, opens: 1 });
    await expectConsistentSend(t.db, taskId);
  });

  test('an unknown action_type moves nothing: it is kept as unreadable and counted', async () => {
    const fixture = await umengFixture();
    const taskId = await sendTask(fixture);
    const send = fake.sends[0]!;
    const before = (await readTask(t.db, taskId)).counts;
    const unknown = [fake.receiptsOf(send, 2, [tokenOf(1)]), fake.receiptsOf(send, 3, [tokenOf(2)])];
    expect(answer(await fake.postReceipts(send, unknown, inject))).toMatchObject({
      accepted: 0,
      rejected: 2,
      unreadable: 2,
    });
    expect((await readTask(t.db, taskId)).counts).toEqual(before);
    const kept = await t.db.selectFrom('unreadable_receipts').select('payload').execute();
    expect(kept.map((k) => JSON.parse(k.payload))).toEqual(unknown);
  });

  test('without thirdparty_id a receipt finds its batch by msg_id; tokens outside the send and unknown batches are rejected', async () => {
    const fixture = await umengFixture();
    const taskId = await sendTask(fixture);
    const send = fake.sends[0]!;
    const { thirdparty_id: _, ...byMsgId } = fake.receiptsOf(send, 0, [tokenOf(9)]);
    const stranger = fake.receiptsOf(send, 0, ['tok-not-in-this-app']);
    const unknownBatch = {
      ...fake.receiptsOf(send, 0, [tokenOf(10)]),
      thirdparty_id: 'tsk_none-1',
      msg_id: 'ul999',
    };
    const posted = answer(await fake.postReceipts(send, [byMsgId, stranger, unknownBatch] as never, inject));
    expect(posted).toMatchObject({ accepted: 1, rejected: 2 });
    expect((posted as unknown as { errors: { code: string }[] }).errors.map((e) => e.code)).toEqual([
      'DEVICE_NOT_IN_SEND',
      'UNKNOWN_TASK',
    ]);
    expect((await readTask(t.db, taskId)).counts).toMatchObject({ deliveries: 1 });
  });

  test('receipts that arrive before their batch is recorded are held, then applied once', async () => {
    const fixture = await umengFixture();
    const inner = umeng();
    let heldAnswer: Record<string, number> | undefined;
    // Umeng's receipts can overtake the answer: posted while the batch is still only written ahead.
    const racing = {
      ...inner,
      async sendBatch(request: Parameters<typeof inner.sendBatch>[0]) {
        const result = await inner.sendBatch(request);
        const send = fake.sends.at(-1) as FakeSend;
        const body = [
          fake.receiptsOf(send, 0, [tokenOf(3), tokenOf(4)], 'oppo'),
          fake.receiptsOf(send, 1, [tokenOf(3)]),
        ];
        heldAnswer = answer(await fake.postReceipts(send, body, inject));
        // The same receipts again before the recording: already held, duplicates.
        expect(answer(await fake.postReceipts(send, body, inject))).toMatchObject({
          accepted: 0,
          duplicate: 3,
        });
        return result;
      },
    };
    const taskId = await sendTask(fixture, racing);
    expect(heldAnswer).toMatchObject({ accepted: 3, rejected: 0 });
    const { task } = await expectConsistentSend(t.db, taskId);
    expect(task.counts).toMatchObject({ deliveries: 2, opens: 1, noFeedback: DEVICES - 2 });
    expect((await results(taskId)).get(deviceOf(3))).toMatchObject({
      send_result: 'success',
      channel: 'oppo',
    });
    expect(await t.db.selectFrom('held_receipts').selectAll().execute()).toEqual([]);
    // Replayed after the recording: duplicates.
    const send = fake.sends[0]!;
    expect(
      answer(await fake.postReceipts(send, fake.receiptsOf(send, 0, [tokenOf(3)]), inject)),
    ).toMatchObject({
      duplicate: 1,
    });
  });
});

describe('batch IDs', () => {
  test('a batch ID reads back as its task and number; anything else is no batch', () => {
    for (const [taskId, seq] of [
      ['tsk_01jc5x0q8m4f7tq3wz9k2v6e1h', 1],
      ['tsk-with-dashes', 4711],
    ] as const) {
      expect(parseBatchId(batchIdOf(taskId, seq))).toEqual({ taskId, seq });
    }
    for (const notOne of ['', 'tsk', '-1', 'tsk-', 'tsk-x', 'tsk-1.5', 'tsk-1e3', 'tsk-99999999999']) {
      expect(parseBatchId(notOne)).toBeNull();
    }
  });
});

describe('Umeng sends', () => {
  test("the send body carries thirdparty_id, category, the vendor channels and expire_time from the task's TTL", async () => {
    const fixture = await umengFixture({
      channelActivity: 'com.example.shop.MfrMessageActivity',
      channelProperties: { xiaomi_channel_id: 'high_system', oppo_channel_id: 'marketing' },
    });
    t.clock.now = new Date('2026-05-01T00:00:00Z');
    const created = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/tasks`,
      body: {
        name: 'Order shipped',
        appId: fixture.appId,
        title: 'Your order shipped',
        content: 'It arrives tomorrow',
        clickAction: { type: 'open_app' },
        audienceId: fixture.audienceId,
        sendType: 'immediate',
        ttlSeconds: 7200,
        category: 'service',
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const taskId = created.json().id as string;
    const dispatcher = testDispatcher(t, { providers: { umeng: umeng() } });
    await dispatcher.start();
    await waitFor(
      () => readTask(t.db, taskId),
      (task) => task.status === 'completed',
    );
    await dispatcher.stop();
    expect(fake.sends).toHaveLength(1);
    expect(fake.sends[0]!.body).toMatchObject({
      thirdparty_id: `${taskId}-1`,
      category: 1,
      mipush: 'true',
      mi_activity: 'com.example.shop.MfrMessageActivity',
      channel_properties: {
        channel_activity: 'com.example.shop.MfrMessageActivity',
        xiaomi_channel_id: 'high_system',
        oppo_channel_id: 'marketing',
      },
      policy: { expire_time: '2026-05-01 10:00:00' },
    });
  });

  test('a 2004 answer fails the task with a reason that names the IP whitelist', async () => {
    const fixture = await umengFixture();
    fake.script('/api/send', { code: '2004', message: 'ip not in whitelist' });
    const taskId = await sendTask(fixture);
    const task = await readTask(t.db, taskId);
    expect(task.status).toBe('failed');
    expect(task.failureReason).toContain('IP whitelist');
    expect(task.counts).toMatchObject({ failures: DEVICES, totalSent: DEVICES });
    expect(fake.sends).toHaveLength(0);
  });
});

describe('task TTL and category', () => {
  async function create(appId: string, audienceId: string, extra: Record<string, unknown>) {
    return t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/tasks`,
      body: {
        name: 'Sale',
        appId,
        title: 'Sale',
        content: 'Now',
        clickAction: { type: 'open_app' },
        audienceId,
        sendType: 'scheduled',
        scheduledAt: new Date(t.clock.now.getTime() + 3_600_000).toISOString(),
        ...extra,
      },
    });
  }

  test('a task reads 3 days and marketing by default; both can be set and edited', async () => {
    const fixture = await umengFixture();
    const res = await create(fixture.appId, fixture.audienceId, {});
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ ttlSeconds: 259_200, category: 'marketing' });
    const id = res.json().id as string;
    const patched = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${WS()}/tasks/${id}`,
      body: { ttlSeconds: 600, category: 'service' },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ ttlSeconds: 600, category: 'service' });
    const read = await t.request(t.adminToken, { method: 'GET', url: `${WS()}/tasks/${id}` });
    expect(read.json()).toMatchObject({ ttlSeconds: 600, category: 'service' });
  });

  test("a TTL beyond the app's provider maximum is refused naming the field: 7 days for Umeng, 28 for the simulator", async () => {
    const umengApp = await umengFixture();
    const eightDays = 8 * 86_400;
    const refused = await create(umengApp.appId, umengApp.audienceId, { ttlSeconds: eightDays });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [expect.objectContaining({ field: 'ttlSeconds', message: expect.stringContaining('umeng') })],
    });
    const simulator = await sendFixture(t, { devices: 1 });
    expect((await create(simulator.appId, simulator.audienceId, { ttlSeconds: eightDays })).statusCode).toBe(
      201,
    );
    const tooLong = await create(simulator.appId, simulator.audienceId, { ttlSeconds: 29 * 86_400 });
    expect(tooLong.statusCode).toBe(400);
    const tooShort = await create(simulator.appId, simulator.audienceId, { ttlSeconds: 10 });
    expect(tooShort.statusCode).toBe(400);
    expect(
      (await create(simulator.appId, simulator.audienceId, { category: 'promotional' })).statusCode,
    ).toBe(400);
  });
});

describe('Umeng vendor-channel config', () => {
  async function createApp(providerConfig: Record<string, unknown>) {
    return t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/apps`,
      body: { name: 'Shop', platform: 'android', provider: 'umeng', providerConfig },
    });
  }
  const base = { appKey: APP_KEY, appMasterSecret: SECRET };

  test('channelActivity and channelProperties are kept and read back', async () => {
    const config = {
      ...base,
      channelActivity: 'com.example.shop.MfrMessageActivity',
      channelProperties: {
        xiaomi_channel_id: 'high_system',
        huawei_channel_importance: 'NORMAL',
        huawei_channel_category: 'MARKETING',
        oppo_channel_id: 'promo',
        vivo_category: 'MARKETING',
        honor_importance: 'NORMAL',
      },
    };
    const res = await createApp(config);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().providerConfig).toMatchObject({
      channelActivity: config.channelActivity,
      channelProperties: config.channelProperties,
    });
  });

  test('bad vendor-channel settings are refused with one field error each', async () => {
    const res = await createApp({
      ...base,
      channelActivity: 'not a class',
      channelProperties: {
        huawei_channel_importance: 'HIGH',
        vivo_category: 'marketing',
        channel_activity: 'com.example.Other',
        'Bad-Name': 'x',
        oppo_channel_id: 42,
      },
    });
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details.map((d: { field: string }) => d.field).sort()).toEqual(
      [
        'providerConfig.channelActivity',
        'providerConfig.channelProperties.Bad-Name',
        'providerConfig.channelProperties.channel_activity',
        'providerConfig.channelProperties.huawei_channel_importance',
        'providerConfig.channelProperties.oppo_channel_id',
        'providerConfig.channelProperties.vivo_category',
      ].sort(),
    );
  });
});
