/**
 * Late receipts (docs/statistics.md#windows, docs/operations.md#receipts-streams-and-exports, CONTEXT.md "Late receipt"): after the statistics window a receipt
 * counts in the task's `late` counter only, and only for a device that was in the send, once per
 * (task, device, kind) however often it is replayed; a receipt dated in the future is refused before
 * any window is judged; once the device details are gone nothing can be checked, so late receipts
 * are refused with `DEVICE_DETAILS_EXPIRED` and counted nowhere.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { signBody } from '../src/http/signed-bodies.ts';
import { purgeExpiredDetails } from '../src/retention/retention.ts';
import { createTask, readTask, sendFixture, testDispatcher, waitFor } from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const HOUR = 3_600_000;

let t: TestInstance;
afterEach(async () => {
  await t?.close();
});

/** An instance whose statistics window (24 h) closes well before retention (72 h). */
async function instance(env: Record<string, string> = {}) {
  t = await createTestInstance({
    PUSHBOARD_STATISTICS_WINDOW_HOURS: '24',
    PUSHBOARD_RETENTION_HOURS: '72',
    ...env,
  });
  return t;
}

async function postSdk(appId: string, receipts: unknown[]) {
  const keys = await t.db
    .selectFrom('apps')
    .select(['sdk_key', 'sdk_secret'])
    .where('id', '=', appId)
    .executeTakeFirstOrThrow();
  const body = JSON.stringify({ receipts });
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
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as {
    accepted: number;
    duplicate: number;
    rejected: number;
    late: number;
    errors: { index: number; code: string }[];
  };
}

/**
 * A completed Android send of 40 devices (some rejected by the provider); moves the clock past its
 * window. The simulator's draw depends on the (random) task ID: with 40 devices at an accept rate of
 * 0.8, a send without any rejection has a chance of 0.8^40 ≈ 1 in 7,500 (with 20 it was 1 in 90).
 */
async function lateTask(hoursAfterStart = 30) {
  const fixture = await sendFixture(t, { devices: 40, config: { seed: 3, acceptRate: 0.8 } });
  const dispatcher = testDispatcher(t);
  const taskId = await createTask(t, fixture);
  await dispatcher.start();
  const task = await waitFor(
    () => readTask(t.db, taskId),
    (task) => task.status === 'completed',
  );
  await dispatcher.stop();
  const results = await t.db
    .selectFrom('device_results')
    .select(['device_id', 'send_result'])
    .where('task_id', '=', taskId)
    .orderBy('device_id')
    .execute();
  const startedAt = Date.parse(task.startedAt!);
  t.clock.now = new Date(startedAt + hoursAfterStart * HOUR);
  return {
    appId: fixture.appId,
    taskId,
    startedAt,
    before: task.counts,
    accepted: results.filter((r) => r.send_result !== 'failure').map((r) => r.device_id),
    failed: results.filter((r) => r.send_result === 'failure').map((r) => r.device_id),
  };
}

const receipt = (taskId: string, deviceId: string, kind: string, at = t.clock.now) => ({
  taskId,
  deviceId,
  kind,
  at: at.toISOString(),
});

describe('late receipts', () => {
  it('count once per device and kind, however often one body is replayed', async () => {
    await instance();
    const { appId, taskId, accepted, before } = await lateTask();
    const [a, b] = accepted;
    const body = [
      receipt(taskId, a!, 'open'),
      receipt(taskId, a!, 'open'),
      receipt(taskId, a!, 'impression'),
      receipt(taskId, b!, 'dismissal'),
    ];
    expect(await postSdk(appId, body)).toEqual({
      accepted: 0,
      duplicate: 1,
      rejected: 0,
      late: 3,
      errors: [],
    });
    for (let i = 0; i < 20; i++) {
      expect(await postSdk(appId, body)).toEqual({
        accepted: 0,
        duplicate: 4,
        rejected: 0,
        late: 0,
        errors: [],
      });
    }
    const after = (await readTask(t.db, taskId)).counts;
    // Only `late` moved: the statistics are final.
    expect(after).toEqual({ ...before, late: 3 });
  });

  it('two concurrent copies of the same late receipts count each once', async () => {
    await instance();
    const { appId, taskId, accepted } = await lateTask();
    const body = accepted.map((d) => receipt(taskId, d, 'open'));
    const answers = await Promise.all([postSdk(appId, body), postSdk(appId, body), postSdk(appId, body)]);
    expect(answers.reduce((sum, a) => sum + a.late, 0)).toBe(accepted.length);
    expect(answers.reduce((sum, a) => sum + a.duplicate, 0)).toBe(2 * accepted.length);
    expect((await readTask(t.db, taskId)).counts.late).toBe(accepted.length);
  });

  it('a late receipt for a device not in the send, or one the provider rejected, is rejected, not late', async () => {
    await instance();
    const { appId, taskId, failed, before } = await lateTask();
    expect(failed.length).toBeGreaterThan(0);
    const answer = await postSdk(appId, [
      receipt(taskId, 'not-a-device-of-the-send', 'open'),
      receipt(taskId, failed[0]!, 'impression'),
    ]);
    expect(answer).toEqual({
      accepted: 0,
      duplicate: 0,
      rejected: 2,
      late: 0,
      errors: [
        { index: 0, code: 'DEVICE_NOT_IN_SEND' },
        { index: 1, code: 'DEVICE_SEND_FAILED' },
      ],
    });
    expect((await readTask(t.db, taskId)).counts).toEqual(before);
  });

  it('a late receipt the device already had inside the window is a duplicate', async () => {
    await instance();
    const { appId, taskId, accepted, startedAt } = await lateTask(1);
    const inWindow = await postSdk(appId, [receipt(taskId, accepted[0]!, 'open')]);
    expect(inWindow.accepted).toBe(1);
    t.clock.now = new Date(startedAt + 30 * HOUR);
    expect(await postSdk(appId, [receipt(taskId, accepted[0]!, 'open')])).toMatchObject({
      duplicate: 1,
      late: 0,
    });
    expect((await readTask(t.db, taskId)).counts).toMatchObject({ opens: 1, late: 0 });
  });

  it('a receipt dated in the future is rejected, inside the window or after it; a little clock skew is fine', async () => {
    await instance();
    const { appId, taskId, accepted, startedAt, before } = await lateTask(1);
    const [a, b, c] = accepted;
    const farAhead = new Date(t.clock.now.getTime() + 365 * 24 * HOUR);
    const inWindow = await postSdk(appId, [
      receipt(taskId, a!, 'open', farAhead),
      receipt(taskId, b!, 'open', new Date(t.clock.now.getTime() + 60_000)),
    ]);
    expect(inWindow).toEqual({
      accepted: 1,
      duplicate: 0,
      rejected: 1,
      late: 0,
      errors: [{ index: 0, code: 'RECEIPT_TIME_IN_FUTURE' }],
    });
    // A skewed time is kept no later than the arrival.
    const row = await t.db
      .selectFrom('device_results')
      .select('open_at')
      .where('task_id', '=', taskId)
      .where('device_id', '=', b!)
      .executeTakeFirstOrThrow();
    expect(row.open_at).toBe(t.clock.now.toISOString());

    t.clock.now = new Date(startedAt + 30 * HOUR);
    const after = await postSdk(appId, [receipt(taskId, c!, 'open', farAhead)]);
    expect(after).toMatchObject({
      rejected: 1,
      late: 0,
      errors: [{ index: 0, code: 'RECEIPT_TIME_IN_FUTURE' }],
    });
    // The accepted open is also the device's delivery (it was accepted, no delivery receipt yet).
    expect((await readTask(t.db, taskId)).counts).toEqual({
      ...before,
      opens: 1,
      deliveries: before.deliveries + 1,
      noFeedback: before.noFeedback - 1,
    });
  });

  it('once the device details are gone, late receipts are rejected as DEVICE_DETAILS_EXPIRED and not counted', async () => {
    // The default windows: statistics and retention both 72 h.
    t = await createTestInstance();
    const { appId, taskId, accepted, before } = await lateTask(80);
    const body = [receipt(taskId, accepted[0]!, 'open'), receipt(taskId, 'never-sent', 'open')];
    // Past retention, the results are still held until the retention job runs: the device can be
    // checked and the receipt counts late; the unknown device cannot be told from a deleted one.
    expect(await postSdk(appId, body)).toMatchObject({
      late: 1,
      errors: [{ index: 1, code: 'DEVICE_DETAILS_EXPIRED' }],
    });
    const lateRows = () =>
      t.db.selectFrom('late_receipts').selectAll().where('task_id', '=', taskId).execute();
    expect(await lateRows()).toHaveLength(1);
    await purgeExpiredDetails(t.db, t.clock.now, t.config);
    expect(await lateRows()).toEqual([]);
    const purged = await postSdk(appId, [...body, receipt(taskId, accepted[1]!, 'impression')]);
    expect(purged).toEqual({
      accepted: 0,
      duplicate: 0,
      rejected: 3,
      late: 0,
      errors: [0, 1, 2].map((index) => ({ index, code: 'DEVICE_DETAILS_EXPIRED' })),
    });
    expect((await readTask(t.db, taskId)).counts).toEqual({ ...before, late: 1 });
  });
});
