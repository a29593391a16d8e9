/**
 * Fatigue control (docs/delivery-controls.md#fatigue-control): an app's frequency cap holds back, at
 * write-ahead, the devices already handed its cap of marketing tasks in the rolling day or week —
 * send result `capped`, counter `capped` — while service tasks are never capped and count nothing;
 * the hand-overs outlast the device results' retention and are purged after 7 days.
 */

import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDispatchStore } from '../src/dispatch/dispatch-store.ts';
import { forgetFrequencySends, holdBackCapped, noteFrequencySends } from '../src/dispatch/frequency-cap.ts';
import { statisticsViolations } from '../src/domain/statistics.ts';
import { purgeExpiredDetails } from '../src/retention/retention.ts';
import { SCALED } from './backends.ts';
import {
  createTask,
  readTask,
  type SendFixture,
  sendFixture,
  testDispatcher,
  waitFor,
} from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DEVICES = 23;
/** Batches of 5: a send is several batches, the last one short. */
const BATCH_SIZE = 5;

let t: TestInstance;
let ws: string;
beforeEach(async () => {
  t = await createTestInstance();
  ws = `/api/v1/workspaces/${t.workspaceId}`;
});
afterEach(async () => {
  await t.close();
});

/** Sets the app's frequency cap through the API. */
async function setCap(fixture: SendFixture, frequencyCap: { perDay?: number; perWeek?: number } | null) {
  const res = await t.request(t.adminToken, {
    method: 'PATCH',
    url: `${ws}/apps/${fixture.appId}`,
    body: { frequencyCap },
  });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.json().frequencyCap).toEqual(frequencyCap);
}

/** Creates a service task through the API; answers its ID. */
async function createServiceTask(fixture: SendFixture): Promise<string> {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `${ws}/tasks`,
    body: {
      name: 'Your order shipped',
      appId: fixture.appId,
      title: 'Order shipped',
      content: 'It arrives tomorrow',
      clickAction: { type: 'open_app' },
      audienceId: fixture.audienceId,
      sendType: 'immediate',
      category: 'service',
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
}

/** Reads a task until it has ended, checking the statistics invariants at every read; answers the last read. */
function untilEnded(taskId: string) {
  return waitFor(
    async () => {
      const read = await readTask(t.db, taskId);
      expect(statisticsViolations(read.counts)).toEqual([]);
      return read;
    },
    (read) => read.status === 'completed' || read.status === 'failed',
  );
}

/**
 * Sends a task now (the test clock) to its end, checking the statistics invariants at every read
 * while it runs and at the end; answers the task as read last.
 */
async function send(fixture: SendFixture, category: 'marketing' | 'service' = 'marketing') {
  const dispatcher = testDispatcher(t, { settings: { batchSize: BATCH_SIZE } });
  await dispatcher.start();
  const taskId = category === 'service' ? await createServiceTask(fixture) : await createTask(t, fixture);
  await dispatcher.poll();
  const task = await untilEnded(taskId);
  await dispatcher.stop();
  return { taskId, ...task };
}

/** The device IDs of a task's results with `sendResult`, through the device list API, all pages. */
async function listed(taskId: string, sendResult: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `sendResult=${sendResult}&limit=10${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await t.request(t.adminToken, {
      method: 'GET',
      url: `${ws}/tasks/${taskId}/devices?${query}`,
    });
    expect(res.statusCode, res.body).toBe(200);
    const page = res.json();
    for (const item of page.items) {
      expect(item.sendResult).toBe(sendResult);
      ids.push(item.deviceId);
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return ids;
}

/** The device results of a task, by device. */
async function results(taskId: string) {
  return t.db
    .selectFrom('device_results')
    .select(['device_id', 'send_result', 'failure_reason', 'batch_seq'])
    .where('task_id', '=', taskId)
    .orderBy('device_id')
    .execute();
}

async function frequencyRows(appId: string): Promise<number> {
  const row = await t.db
    .selectFrom('frequency_sends')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('app_id', '=', appId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const allDevices = Array.from({ length: DEVICES }, (_, i) => `dev-${String(i).padStart(7, '0')}`);

describe('frequency cap', () => {
  it('perDay 1: a second marketing task in a day is capped for every device, a service task is not', async () => {
    const fixture = await sendFixture(t, { devices: DEVICES, unmatched: 4 });
    await setCap(fixture, { perDay: 1 });

    const first = await send(fixture);
    expect(first.status).toBe('completed');
    expect(first.counts).toMatchObject({
      plannedSends: DEVICES + 4,
      unmatched: 4,
      capped: 0,
      totalSent: DEVICES,
    });
    expect(await frequencyRows(fixture.appId)).toBe(DEVICES);

    t.clock.now = new Date(t.clock.now.getTime() + 23 * HOUR);
    const second = await send(fixture);
    expect(second.counts).toMatchObject({
      plannedSends: DEVICES + 4,
      unmatched: 4,
      capped: DEVICES,
      totalSent: 0,
      pending: 0,
    });
    expect(second.status).toBe('failed');
    expect(second.failureReason).toBe(
      `All ${DEVICES} matched devices were at the app's frequency cap: none was handed over.`,
    );
    const capped = await results(second.taskId);
    expect(capped.map((r) => r.device_id)).toEqual(allDevices);
    for (const row of capped) {
      expect(row).toMatchObject({
        send_result: 'capped',
        failure_reason: 'frequency cap: 1 per day',
        batch_seq: 0,
      });
    }
    // No batch was written for devices all held back.
    const batches = await t.db
      .selectFrom('batches')
      .select('seq')
      .where('task_id', '=', second.taskId)
      .execute();
    expect(batches).toEqual([]);

    const service = await send(fixture, 'service');
    expect(service.status).toBe('completed');
    expect(service.counts).toMatchObject({ capped: 0, totalSent: DEVICES });
    // Service tasks use up nothing.
    expect(await frequencyRows(fixture.appId)).toBe(DEVICES);

    // A day after the first send, the devices are free again.
    t.clock.now = new Date(t.clock.now.getTime() + 2 * HOUR);
    const third = await send(fixture);
    expect(third.counts).toMatchObject({ capped: 0, totalSent: DEVICES });
  });

  it('caps only the devices at their cap, in batches mixing both, and lists and saves them', async () => {
    const fixture = await sendFixture(t, { devices: DEVICES });
    await setCap(fixture, { perDay: 1 });
    // A first task to every third device only.
    const some = allDevices.filter((_, i) => i % 3 === 0);
    const partial = await t.request(t.adminToken, {
      method: 'POST',
      url: `${ws}/audiences`,
      body: { name: 'Every third', deviceIds: some },
    });
    expect(partial.statusCode, partial.body).toBe(201);
    const first = await send({ appId: fixture.appId, audienceId: partial.json().id });
    expect(first.counts).toMatchObject({ totalSent: some.length, capped: 0 });

    const second = await send(fixture);
    expect(second.status).toBe('completed');
    expect(second.counts).toMatchObject({
      plannedSends: DEVICES,
      capped: some.length,
      totalSent: DEVICES - some.length,
      pending: 0,
    });
    expect(await listed(second.taskId, 'capped')).toEqual(some);
    const sent = (await results(second.taskId)).filter((r) => r.send_result !== 'capped');
    expect(sent.map((r) => r.device_id)).toEqual(allDevices.filter((_, i) => i % 3 !== 0));
    for (const row of sent) expect(row.batch_seq).toBeGreaterThan(0);

    const generated = await t.request(t.adminToken, {
      method: 'POST',
      url: `${ws}/tasks/${second.taskId}/audiences`,
      body: { name: 'Capped, send later', filter: { sendResult: 'capped' } },
    });
    expect(generated.statusCode, generated.body).toBe(201);
    expect(generated.json()).toMatchObject({ size: some.length, sourceFilter: { sendResult: 'capped' } });
    const members = await t.db
      .selectFrom('audience_members')
      .select('device_id')
      .where('audience_id', '=', generated.json().id)
      .orderBy('device_id')
      .execute();
    expect(members.map((m) => m.device_id)).toEqual(some);
  });

  it('perWeek counts across 7 rolling days', async () => {
    const fixture = await sendFixture(t, { devices: DEVICES });
    await setCap(fixture, { perWeek: 2 });
    const start = t.clock.now.getTime();
    expect((await send(fixture)).counts).toMatchObject({ capped: 0, totalSent: DEVICES });
    t.clock.now = new Date(start + 3 * DAY);
    expect((await send(fixture)).counts).toMatchObject({ capped: 0, totalSent: DEVICES });
    t.clock.now = new Date(start + 6 * DAY);
    const third = await send(fixture);
    expect(third.counts).toMatchObject({ capped: DEVICES, totalSent: 0 });
    expect((await results(third.taskId))[0]?.failure_reason).toBe('frequency cap: 2 per week');
    // Seven days after the first send it no longer counts: one of two is used.
    t.clock.now = new Date(start + 7 * DAY + HOUR);
    expect((await send(fixture)).counts).toMatchObject({ capped: 0, totalSent: DEVICES });
    t.clock.now = new Date(start + 7 * DAY + 2 * HOUR);
    expect((await send(fixture)).counts).toMatchObject({ capped: DEVICES, totalSent: 0 });
  });

  it('two marketing tasks of one app sending at once hand each device over once under perDay 1', async () => {
    const fixture = await sendFixture(t, { devices: DEVICES });
    await setCap(fixture, { perDay: 1 });
    const dispatcher = testDispatcher(t, { settings: { batchSize: 2, concurrentTasks: 2 } });
    await dispatcher.start();
    const ids = [await createTask(t, fixture), await createTask(t, fixture)];
    await dispatcher.poll();
    const tasks = await Promise.all(ids.map(untilEnded));
    await dispatcher.stop();
    expect(tasks[0]!.counts.totalSent + tasks[1]!.counts.totalSent).toBe(DEVICES);
    expect(tasks[0]!.counts.capped + tasks[1]!.counts.capped).toBe(DEVICES);
    // Every device was handed over by exactly one of them.
    const handed = await t.db
      .selectFrom('device_results')
      .select('device_id')
      .where('task_id', 'in', ids)
      .where('send_result', '<>', 'capped')
      .orderBy('device_id')
      .execute();
    expect(handed.map((r) => r.device_id)).toEqual(allDevices);
    expect(await frequencyRows(fixture.appId)).toBe(DEVICES);
  });

  it.runIf(SCALED)(
    'PostgreSQL: a batch checking the cap waits for the batch of the app noting its rows',
    async () => {
      const fixture = await sendFixture(t, { devices: DEVICES });
      await setCap(fixture, { perDay: 1 });
      const store = createDispatchStore(t.db, () => t.clock.now);
      const now = t.clock.now.toISOString();
      const [sendA, sendB] = await Promise.all(
        [0, 1].map(async () => {
          const taskId = await createTask(t, fixture);
          expect(await store.startTask(taskId, now)).toBe(true);
          return (await store.loadSend(taskId))!;
        }),
      );
      const devices = await t.db
        .selectFrom('devices')
        .select(['device_id as deviceId', 'push_token as pushToken', 'channel'])
        .where('app_id', '=', fixture.appId)
        .orderBy('device_id')
        .execute();
      const range = { first: allDevices[0]!, last: allDevices[DEVICES - 1]!, denseRange: true, devices };
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let noted = () => {};
      const written = new Promise<void>((resolve) => {
        noted = resolve;
      });
      // Batch A checks and notes its rows, then holds its transaction open.
      const a = t.db.transaction().execute(async (trx) => {
        const kept = await holdBackCapped(trx, sendA!, range, now);
        await noteFrequencySends(trx, sendA!, 1, kept.devices, now);
        noted();
        await held;
        return kept;
      });
      await written;
      const b = t.db.transaction().execute((trx) => holdBackCapped(trx, sendB!, range, now));
      // B waits on the app's row lock (seen by PostgreSQL, not by a timer) until A commits.
      try {
        await waitFor(
          async () => {
            const row = await sql<{ n: string }>`
          select count(*) as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%frequency_cap%'`.execute(
              t.db,
            );
            return Number(row.rows[0]!.n);
          },
          (waiting) => waiting === 1,
        );
      } finally {
        // Never left open, so that a failure ends the test rather than hanging it.
        release();
      }
      expect((await a).capped).toBe(0);
      expect((await b).capped).toBe(DEVICES);
    },
  );

  it('an app without a cap caps nothing and notes nothing', async () => {
    const fixture = await sendFixture(t, { devices: DEVICES });
    await send(fixture);
    expect((await send(fixture)).counts).toMatchObject({ capped: 0, totalSent: DEVICES });
    expect(await frequencyRows(fixture.appId)).toBe(0);
  });
});

describe('a batch written ahead with capped devices', () => {
  it('is re-read (after a restart) and recorded without them', async () => {
    const fixture = await sendFixture(t, { devices: DEVICES });
    await setCap(fixture, { perDay: 1 });
    const odd = allDevices.filter((_, i) => i % 2 === 1);
    const partial = await t.request(t.adminToken, {
      method: 'POST',
      url: `${ws}/audiences`,
      body: { name: 'Odd ones', deviceIds: odd },
    });
    await send({ appId: fixture.appId, audienceId: partial.json().id });

    const store = createDispatchStore(t.db, () => t.clock.now);
    const taskId = await createTask(t, fixture);
    const now = t.clock.now.toISOString();
    expect(await store.startTask(taskId, now)).toBe(true);
    const loaded = await store.loadSend(taskId);
    const written = await store.prepareBatch(loaded!, 10, now, false);
    const batch = written!.batch!;
    expect(batch.devices.map((d) => d.deviceId)).toEqual(
      allDevices.slice(0, 10).filter((_, i) => i % 2 === 0),
    );
    // Dense: the app's devices in the range are the batch's and the capped ones.
    expect(batch).toMatchObject({ preparedCount: 5, capped: 5, denseRange: true });
    expect(statisticsViolations((await readTask(t.db, taskId)).counts)).toEqual([]);

    // A restart reads the prepared batch again from its range: the capped devices stay out.
    const again = await store.preparedBatch(written!.send, batch.seq, now);
    expect(again).toMatchObject({ preparedCount: 5, capped: 5, denseRange: true, devices: batch.devices });
    await store.recordBatch(written!.send, again!, {
      status: 'sent',
      providerRef: null,
      common: { sendResult: 'no_feedback', failureReason: null, deliveredAt: null },
      exceptions: [],
      counts: { deliveries: 0, failures: 0, noFeedback: 5 },
      error: null,
      invalidTokens: [],
      at: now,
    });
    const task = await readTask(t.db, taskId);
    expect(task.counts).toMatchObject({ capped: 5, totalSent: 5, noFeedback: 5, pending: DEVICES - 10 });
    expect(statisticsViolations(task.counts)).toEqual([]);
    const rows = await results(taskId);
    expect(rows.filter((r) => r.send_result === 'capped').map((r) => r.device_id)).toEqual(
      allDevices.slice(0, 10).filter((_, i) => i % 2 === 1),
    );
    expect(rows.filter((r) => r.send_result === 'no_feedback').map((r) => r.device_id)).toEqual(
      batch.devices.map((d) => d.deviceId),
    );
  });
});

describe('forgetFrequencySends', () => {
  it("gives back the rows of a batch never handed over, and only that batch's", async () => {
    const fixture = await sendFixture(t, { devices: DEVICES });
    await setCap(fixture, { perDay: 1 });
    const store = createDispatchStore(t.db, () => t.clock.now);
    const taskId = await createTask(t, fixture);
    const now = t.clock.now.toISOString();
    expect(await store.startTask(taskId, now)).toBe(true);
    const first = await store.prepareBatch((await store.loadSend(taskId))!, 10, now, false);
    const second = await store.prepareBatch(first!.send, 10, now, false);
    expect(await frequencyRows(fixture.appId)).toBe(20);
    await t.db
      .transaction()
      .execute((trx) => forgetFrequencySends(trx, fixture.appId, taskId, [second!.batch!]));
    const left = await t.db
      .selectFrom('frequency_sends')
      .select(['device_id', 'batch_seq'])
      .where('app_id', '=', fixture.appId)
      .orderBy('device_id')
      .execute();
    expect(left).toEqual(allDevices.slice(0, 10).map((device_id) => ({ device_id, batch_seq: 1 })));
  });
});

describe('retention of frequency sends', () => {
  const settings = { statisticsWindowHours: 72, retentionHours: 72 };

  it('outlast the purge of device results and are purged after 7 days', async () => {
    const fixture = await sendFixture(t, { devices: DEVICES });
    await setCap(fixture, { perWeek: 1 });
    const start = t.clock.now.getTime();
    const first = await send(fixture);
    expect(first.counts.totalSent).toBe(DEVICES);

    // Four days on, the first task's device results are gone, its hand-overs are not.
    t.clock.now = new Date(start + 4 * DAY);
    const report = await purgeExpiredDetails(t.db, t.clock.now, settings);
    expect(report).toMatchObject({ tasks: 1, frequencySends: 0 });
    expect(await frequencyRows(fixture.appId)).toBe(DEVICES);
    const second = await send(fixture);
    expect(second.counts).toMatchObject({ capped: DEVICES, totalSent: 0 });

    // Past 7 days after the first send its rows go; nothing else was noted (all were capped).
    const later = new Date(start + 7 * DAY + HOUR);
    expect((await purgeExpiredDetails(t.db, later, settings, { chunkRows: 5 })).frequencySends).toBe(DEVICES);
    expect(await frequencyRows(fixture.appId)).toBe(0);
    t.clock.now = later;
    expect((await send(fixture)).counts).toMatchObject({ capped: 0, totalSent: DEVICES });
  });
});
