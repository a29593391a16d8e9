/**
 * The embedded mode's receipt writer thread (receipts/receipt-writer.ts, docs/receipts.md#back-pressure):
 * a request beyond its bounded queue is refused at once with 429 `RECEIPT_QUEUE_FULL` and `Retry-After`
 * and stores nothing, while the requests it holds are answered only once committed; a thread that dies
 * fails the requests it held (never acknowledged) and the next request gets a new thread. It reads SDK
 * bodies and runs the retention purge on its own connection.
 */
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import type { Api } from '../src/http/route-deps.ts';
import { signBody } from '../src/http/signed-bodies.ts';
import type { ReceiptIngest } from '../src/receipts/receipt-ingest.ts';
import {
  createEmbeddedReceiptWriter,
  createReceiptWriter,
  type ReceiptWriter,
} from '../src/receipts/receipt-writer.ts';
import { SCALED } from './backends.ts';
import { createTask, readTask, sendFixture, testDispatcher, waitFor } from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
let writer: ReceiptWriter | undefined;
let api: Api | undefined;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await api?.close();
  await writer?.close();
  api = undefined;
  writer = undefined;
  await t.close();
});

/** A task sent through the simulator to 40 Android devices, completed; its devices still `no_feedback`. */
async function sentTask() {
  const fixture = await sendFixture(t, {
    platform: 'android',
    devices: 40,
    config: { seed: 3, acceptRate: 1 },
  });
  const dispatcher = testDispatcher(t);
  const taskId = await createTask(t, fixture);
  await dispatcher.start();
  await waitFor(
    () => readTask(t.db, taskId),
    (task) => task.status === 'completed',
  );
  await dispatcher.stop();
  const devices = await t.db
    .selectFrom('device_results')
    .select('device_id')
    .where('task_id', '=', taskId)
    .where('send_result', '=', 'no_feedback')
    .orderBy('device_id')
    .execute();
  return { appId: fixture.appId, taskId, devices: devices.map((d) => d.device_id) };
}

/** An API over the test store whose receipts go through `ingest`. */
async function apiWith(ingest: ReceiptIngest): Promise<Api> {
  return buildApp({
    config: t.config,
    db: t.db,
    logger: false,
    clock: () => t.clock.now,
    receiptIngest: ingest,
  });
}

/** Posts SDK delivery receipts for `devices` of `taskId`, signed with the app's SDK secret. */
function postDeliveries(app: Api, appId: string, taskId: string, devices: string[]) {
  const at = t.clock.now.toISOString();
  return postSdkBody(
    app,
    appId,
    JSON.stringify({ receipts: devices.map((deviceId) => ({ taskId, deviceId, kind: 'delivered', at })) }),
  );
}

/** Posts `body` to the SDK receipt endpoint as the app's SDK would, signed with its SDK secret. */
async function postSdkBody(app: Api, appId: string, body: string) {
  const keys = await t.db
    .selectFrom('apps')
    .select(['sdk_key', 'sdk_secret'])
    .where('id', '=', appId)
    .executeTakeFirstOrThrow();
  return app.inject({
    method: 'POST',
    url: '/api/v1/receipts/sdk',
    headers: {
      'content-type': 'application/json',
      'x-pushboard-key': keys.sdk_key,
      'x-pushboard-signature': signBody(body, keys.sdk_secret),
    },
    body,
  });
}

describe.skipIf(SCALED)('the receipt writer thread (embedded)', () => {
  it('answers 429 RECEIPT_QUEUE_FULL with Retry-After beyond its queue, storing nothing of that request', async () => {
    const { appId, taskId, devices } = await sentTask();
    writer = createEmbeddedReceiptWriter(t.config, { clock: () => t.clock.now, maxQueuedReceipts: 15 });
    // The first request's 10 receipts are held; 10 more would make 20, over the bound of 15.
    let entered = () => {};
    const started = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const held = writer;
    api = await apiWith({
      receive(app, parsed) {
        entered();
        return held.receive(app, parsed);
      },
    });
    // Another connection holds the write lock: the writer's first request waits for it (busy timeout),
    // so it is still held when the second arrives.
    const blocker = new SQLite(t.config.sqliteFile);
    blocker.exec('begin immediate');
    let first: ReturnType<typeof postDeliveries>;
    try {
      first = postDeliveries(api, appId, taskId, devices.slice(0, 10));
      await started;
      const refused = await postDeliveries(api, appId, taskId, devices.slice(10, 20));
      expect(refused.statusCode, refused.body).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json().error.code).toBe('RECEIPT_QUEUE_FULL');
      // The main thread still reads while the writer waits.
      const task = await readTask(t.db, taskId);
      expect(task.counts.deliveries).toBe(0);
    } finally {
      blocker.exec('commit');
      blocker.close();
    }
    const answered = await first;
    expect(answered.statusCode, answered.body).toBe(200);
    expect(answered.json()).toMatchObject({ accepted: 10, duplicate: 0, rejected: 0 });
    // The refused request stored nothing: sent again, all of it is new.
    const again = await postDeliveries(api, appId, taskId, devices.slice(10, 20));
    expect(again.json()).toMatchObject({ accepted: 10, duplicate: 0, rejected: 0 });
    expect((await readTask(t.db, taskId)).counts.deliveries).toBe(20);
  });

  it('reads SDK bodies in the thread: stored once, and a bad body refused with its code, storing nothing', async () => {
    const { appId, taskId, devices } = await sentTask();
    writer = createEmbeddedReceiptWriter(t.config, { clock: () => t.clock.now });
    api = await apiWith(writer);
    const stored = await postDeliveries(api, appId, taskId, devices.slice(0, 10));
    expect(stored.statusCode, stored.body).toBe(200);
    expect(stored.json()).toEqual({ accepted: 10, duplicate: 0, rejected: 0, late: 0, errors: [] });
    const again = await postDeliveries(api, appId, taskId, devices.slice(0, 10));
    expect(again.json()).toMatchObject({ accepted: 0, duplicate: 10, rejected: 0 });

    const at = t.clock.now.toISOString();
    const refusedItems = await postSdkBody(
      api,
      appId,
      JSON.stringify({
        receipts: [
          { taskId, deviceId: devices[10], kind: 'open', at },
          { taskId, deviceId: devices[11] },
          { taskId, deviceId: devices[12], kind: 'bounced', at },
        ],
      }),
    );
    expect(refusedItems.json()).toEqual({
      accepted: 1,
      duplicate: 0,
      rejected: 2,
      late: 0,
      errors: [
        { index: 1, code: 'INVALID_RECEIPT' },
        { index: 2, code: 'KIND_NOT_SUPPORTED' },
      ],
    });
    const notJson = await postSdkBody(api, appId, '{"receipts": [');
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.code).toBe('INVALID_JSON');
    const notAList = await postSdkBody(api, appId, '{"receipt": []}');
    expect(notAList.statusCode).toBe(400);
    expect(notAList.json().error.code).toBe('VALIDATION_FAILED');
    const tooMany = await postSdkBody(
      api,
      appId,
      JSON.stringify({
        receipts: Array.from({ length: 5001 }, () => ({ taskId, deviceId: devices[20], kind: 'open', at })),
      }),
    );
    expect(tooMany.statusCode).toBe(413);
    expect(tooMany.json().error).toMatchObject({
      code: 'RECEIPT_BATCH_TOO_LARGE',
      details: { max: 5000, received: 5001 },
    });
    const task = await readTask(t.db, taskId);
    // The 10 deliveries and the open (which implies the 11th delivery); nothing of the refused bodies.
    expect(task.counts).toMatchObject({ deliveries: 11, opens: 1 });
  });

  it('runs the retention purge on its own connection: the device results go, the statistics stay', async () => {
    const { appId, taskId, devices } = await sentTask();
    writer = createEmbeddedReceiptWriter(t.config, { clock: () => t.clock.now });
    api = await apiWith(writer);
    const stored = await postDeliveries(api, appId, taskId, devices.slice(0, 5));
    expect(stored.json()).toMatchObject({ accepted: 5 });
    const asOf = new Date(t.clock.now.getTime() + (t.config.retentionHours + 1) * 3_600_000);
    const report = await writer.purge(asOf);
    expect(report).toMatchObject({ tasks: 1, deviceResults: 40 });
    const left = await t.db
      .selectFrom('device_results')
      .select('device_id')
      .where('task_id', '=', taskId)
      .execute();
    expect(left).toEqual([]);
    const task = await t.db
      .selectFrom('tasks')
      .select(['deliveries', 'details_purged_at'])
      .where('id', '=', taskId)
      .executeTakeFirstOrThrow();
    expect(task).toEqual({ deliveries: 5, details_purged_at: asOf.toISOString() });
    // Nothing is left to purge: a second run finds nothing.
    expect(await writer.purge(asOf)).toMatchObject({ tasks: 0, deviceResults: 0 });
  });

  it('fails the requests of a thread that died, unacknowledged and logged, and tries a new thread next time', async () => {
    const logged: string[] = [];
    // A file the thread cannot open: it dies as it starts, holding the request.
    writer = createReceiptWriter({
      file: path.join(t.dir, 'not-a-folder', 'nested', 'pushboard.db'),
      secretKey: Buffer.alloc(32, 1),
      windows: { statisticsWindowHours: 72, retentionHours: 72 },
      logger: { error: (_object, message) => logged.push(message) },
    });
    fs.writeFileSync(path.join(t.dir, 'not-a-folder'), 'a file where the folder would be');
    const parsed = { receipts: [], unreadable: [] };
    await expect(writer.receive({ id: 'app-1', platform: 'android' }, parsed)).rejects.toThrow(
      /receipt writer thread failed/,
    );
    await expect(writer.receive({ id: 'app-1', platform: 'android' }, parsed)).rejects.toThrow(
      /receipt writer thread failed/,
    );
    expect(logged).toEqual([
      'the receipt writer thread failed; starting another',
      'the receipt writer thread failed; starting another',
    ]);
  });
});
