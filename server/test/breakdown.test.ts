/**
 * A task's breakdown (`GET …/tasks/{taskId}/breakdown`, docs/console.md): its device results counted per
 * channel and its receipts counted per time bucket since the send started, each from one aggregate
 * query; the bucket size by the task's age; iOS rules; the breakdown kept by the retention purge,
 * tenancy (404) and roles.
 * Tasks are created through the API; their send is written straight into the database so that every
 * count has a known answer.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createBreakdownStore,
  MAX_TIMELINE_BUCKETS,
  timelineBucketMinutes,
} from '../src/results/breakdown-store.ts';
import { purgeExpiredDetails } from '../src/retention/retention.ts';
import type { DeviceResultRow, TaskRow } from '../src/storage/database.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const WS = '/api/v1/workspaces/default';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let t: TestInstance;
let seeded = 0;

// biome-ignore lint/suspicious/noExplicitAny: test answers are read loosely.
type Json = any;

function ok(res: { statusCode: number; body: string; json(): unknown }, status = 200): Json {
  expect(res.statusCode, res.body).toBe(status);
  return res.json();
}

/** An app of `platform` with one device, an audience and an immediate task, all through the API. */
async function seedTask(platform: 'ios' | 'android' = 'android'): Promise<string> {
  const admin = t.adminToken;
  const n = ++seeded;
  const app = ok(
    await t.request(admin, {
      method: 'POST',
      url: `${WS}/apps`,
      body: { name: `App ${n}`, platform, provider: 'simulator' },
    }),
    201,
  );
  const audience = ok(
    await t.request(admin, {
      method: 'POST',
      url: `${WS}/audiences`,
      body: { name: `Audience ${n}`, deviceIds: ['d-1'] },
    }),
    201,
  );
  const task = ok(
    await t.request(admin, {
      method: 'POST',
      url: `${WS}/tasks`,
      body: {
        name: `Task ${n}`,
        appId: app.id,
        title: 'Hello',
        content: 'World',
        clickAction: { type: 'open_app' },
        audienceId: audience.id,
        sendType: 'scheduled',
        scheduledAt: new Date(t.clock.now.getTime() + 24 * HOUR).toISOString(),
      },
    }),
    201,
  );
  return task.id;
}

/** A device result row of `taskId` with no receipt; `changes` names what the test is about. */
function resultRow(
  taskId: string,
  deviceId: string,
  changes: Partial<DeviceResultRow> = {},
): DeviceResultRow {
  return {
    task_id: taskId,
    device_id: deviceId,
    batch_seq: 1,
    channel: 'simulator',
    send_result: 'no_feedback',
    failure_reason: null,
    delivered_at: null,
    impression_at: null,
    open_at: null,
    dismissal_at: null,
    ...changes,
  };
}

/** The task counters of exactly these results, as the dispatcher and receipt ingestion keep them. */
function countersOf(rows: DeviceResultRow[]): Partial<TaskRow> {
  const count = (test: (r: DeviceResultRow) => boolean) => rows.filter(test).length;
  return {
    planned_sends: rows.length,
    unmatched: 0,
    total_sent: rows.length,
    deliveries: count((r) => r.send_result === 'success'),
    failures: count((r) => r.send_result === 'failure'),
    no_feedback: count((r) => r.send_result === 'no_feedback'),
    impressions: count((r) => r.impression_at !== null),
    opens: count((r) => r.open_at !== null),
    dismissals: count((r) => r.dismissal_at !== null),
    pending: 0,
  };
}

/** Writes a completed send that started at `startedAt`: its results and the task's counters. */
async function writeSend(
  taskId: string,
  startedAt: string,
  rows: DeviceResultRow[],
  changes: Partial<TaskRow> = {},
): Promise<void> {
  for (let i = 0; i < rows.length; i += 2000) {
    await t.db
      .insertInto('device_results')
      .values(rows.slice(i, i + 2000))
      .execute();
  }
  await t.db
    .updateTable('tasks')
    .set({
      status: 'completed',
      started_at: startedAt,
      completed_at: startedAt,
      ...countersOf(rows),
      ...changes,
    })
    .where('id', '=', taskId)
    .execute();
}

async function breakdown(taskId: string, token: string | null = t.adminToken, workspace = WS) {
  return t.request(token, { method: 'GET', url: `${workspace}/tasks/${taskId}/breakdown` });
}

/** A time `minutes` after `start` (ISO). */
const after = (start: string, minutes: number) =>
  new Date(Date.parse(start) + minutes * MINUTE).toISOString();

beforeAll(async () => {
  t = await createTestInstance();
});

afterAll(async () => {
  await t.close();
});

describe('per channel', () => {
  test('counts every statistic per channel, most devices first, summing to the task statistics', async () => {
    const taskId = await seedTask();
    const started = new Date(t.clock.now.getTime() - 2 * HOUR).toISOString();
    const at = (m: number) => after(started, m);
    const rows = [
      // huawei: 4 devices, 3 delivered (2 shown, 1 opened, 1 dismissed), 1 failure.
      resultRow(taskId, 'h-1', { channel: 'huawei', send_result: 'success', delivered_at: at(1) }),
      resultRow(taskId, 'h-2', {
        channel: 'huawei',
        send_result: 'success',
        delivered_at: at(1),
        impression_at: at(2),
        open_at: at(3),
      }),
      resultRow(taskId, 'h-3', {
        channel: 'huawei',
        send_result: 'success',
        delivered_at: at(1),
        impression_at: at(2),
        dismissal_at: at(4),
      }),
      resultRow(taskId, 'h-4', {
        channel: 'huawei',
        send_result: 'failure',
        failure_reason: 'invalid token',
      }),
      // simulator: 4 devices, 1 delivered, 2 no feedback (one shown by the SDK all the same), 1 failure.
      resultRow(taskId, 's-1', { send_result: 'success', delivered_at: at(1), impression_at: at(1) }),
      resultRow(taskId, 's-2', { impression_at: at(5) }),
      resultRow(taskId, 's-3'),
      resultRow(taskId, 's-4', { send_result: 'failure', failure_reason: 'expired token' }),
      // xiaomi: 1 device, no feedback.
      resultRow(taskId, 'x-1', { channel: 'xiaomi' }),
      // A device of an app that did not know its channel.
      resultRow(taskId, 'u-1', { channel: '', send_result: 'success', delivered_at: at(2), open_at: at(9) }),
    ];
    await writeSend(taskId, started, rows);

    const body = ok(await breakdown(taskId));
    expect(body.channels).toEqual([
      {
        channel: 'huawei',
        totalSent: 4,
        deliveries: 3,
        failures: 1,
        noFeedback: 0,
        impressions: 2,
        opens: 1,
        dismissals: 1,
      },
      {
        channel: 'simulator',
        totalSent: 4,
        deliveries: 1,
        failures: 1,
        noFeedback: 2,
        impressions: 2,
        opens: 0,
        dismissals: 0,
      },
      // Equal totals are ordered by channel name.
      {
        channel: '',
        totalSent: 1,
        deliveries: 1,
        failures: 0,
        noFeedback: 0,
        impressions: 0,
        opens: 1,
        dismissals: 0,
      },
      {
        channel: 'xiaomi',
        totalSent: 1,
        deliveries: 0,
        failures: 0,
        noFeedback: 1,
        impressions: 0,
        opens: 0,
        dismissals: 0,
      },
    ]);

    const { statistics } = ok(await t.request(t.adminToken, { method: 'GET', url: `${WS}/tasks/${taskId}` }));
    for (const key of [
      'totalSent',
      'deliveries',
      'failures',
      'noFeedback',
      'impressions',
      'opens',
      'dismissals',
    ]) {
      const sum = body.channels.reduce((total: number, c: Json) => total + c[key], 0);
      expect(sum, key).toBe(statistics[key]);
    }
  });

  test('lists the failure reasons, most devices first, then by reason', async () => {
    const taskId = await seedTask();
    const started = new Date(t.clock.now.getTime() - HOUR).toISOString();
    const failure = (id: string, reason: string | null) =>
      resultRow(taskId, id, { send_result: 'failure', failure_reason: reason });
    await writeSend(taskId, started, [
      failure('f-1', 'the push token belongs to another Firebase project (SENDER_ID_MISMATCH)'),
      failure('f-2', 'the app was uninstalled or the push token expired (FCM UNREGISTERED)'),
      failure('f-3', 'the app was uninstalled or the push token expired (FCM UNREGISTERED)'),
      failure('f-4', null),
      resultRow(taskId, 'ok-1', { send_result: 'success', delivered_at: started }),
    ]);
    const body = ok(await breakdown(taskId));
    expect(body.failureReasons).toEqual([
      { reason: 'the app was uninstalled or the push token expired (FCM UNREGISTERED)', devices: 2 },
      { reason: 'rejected by the provider', devices: 1 },
      { reason: 'the push token belongs to another Firebase project (SENDER_ID_MISMATCH)', devices: 1 },
    ]);
  });

  test('an iOS task has no dismissals and no "no feedback", whatever a row holds', async () => {
    const taskId = await seedTask('ios');
    const started = new Date(t.clock.now.getTime() - HOUR).toISOString();
    const rows = [
      resultRow(taskId, 'i-1', {
        channel: 'apns',
        send_result: 'success',
        delivered_at: started,
        impression_at: after(started, 1),
        // Never reported on iOS; a row holding one must not show it.
        dismissal_at: after(started, 2),
      }),
      resultRow(taskId, 'i-2', { channel: 'apns', send_result: 'failure', failure_reason: 'BadDeviceToken' }),
    ];
    await writeSend(taskId, started, rows, { dismissals: 0 });
    const body = ok(await breakdown(taskId));
    expect(body.channels).toEqual([
      {
        channel: 'apns',
        totalSent: 2,
        deliveries: 1,
        failures: 1,
        noFeedback: 0,
        impressions: 1,
        opens: 0,
        dismissals: 0,
      },
    ]);
    const buckets = body.timeline.buckets as Json[];
    expect(buckets.reduce((sum, b) => sum + b.dismissals, 0)).toBe(0);
    expect(buckets[0]).toMatchObject({ deliveries: 1, impressions: 0 });
    expect(buckets[1]).toMatchObject({ deliveries: 0, impressions: 1 });
  });
});

describe('over time', () => {
  test('bucket sizes grow with the time covered, up to hours over the whole window', () => {
    expect(timelineBucketMinutes(0)).toBe(1);
    expect(timelineBucketMinutes(72 * MINUTE)).toBe(1);
    expect(timelineBucketMinutes(72 * MINUTE + 1)).toBe(5);
    expect(timelineBucketMinutes(6 * HOUR)).toBe(5);
    expect(timelineBucketMinutes(18 * HOUR)).toBe(15);
    expect(timelineBucketMinutes(36 * HOUR)).toBe(30);
    expect(timelineBucketMinutes(72 * HOUR)).toBe(60);
    // A longer (configured) window: whole hours, still at most 72 buckets.
    expect(timelineBucketMinutes(168 * HOUR)).toBe(180);
    expect(Math.ceil((168 * HOUR) / (180 * MINUTE))).toBeLessThanOrEqual(MAX_TIMELINE_BUCKETS);
  });

  test('counts each receipt in the bucket of its time since the start, empty buckets included', async () => {
    const taskId = await seedTask();
    // 30 minutes old: minute buckets, 30 of them.
    const started = new Date(t.clock.now.getTime() - 30 * MINUTE).toISOString();
    const at = (m: number) => after(started, m);
    const rows = [
      resultRow(taskId, 'a', { send_result: 'success', delivered_at: at(0.1), impression_at: at(0.2) }),
      resultRow(taskId, 'b', {
        send_result: 'success',
        delivered_at: at(0.5),
        impression_at: at(0.9),
        // Exactly on a bucket boundary: the bucket that starts there.
        open_at: at(3),
      }),
      resultRow(taskId, 'c', {
        send_result: 'success',
        delivered_at: at(2.5),
        impression_at: at(2.99),
        dismissal_at: at(29.5),
      }),
      // A device clock a little behind the server's: counted in the first bucket.
      resultRow(taskId, 'd', { impression_at: after(started, -2) }),
      // And one ahead of it (after now): counted in the last bucket.
      resultRow(taskId, 'e', { send_result: 'success', delivered_at: at(31) }),
    ];
    await writeSend(taskId, started, rows);

    const { timeline } = ok(await breakdown(taskId));
    expect(timeline.bucketMinutes).toBe(1);
    expect(timeline.buckets).toHaveLength(30);
    timeline.buckets.forEach((b: Json, i: number) => {
      expect(b.at).toBe(at(i));
    });
    const nonEmpty = Object.fromEntries(
      (timeline.buckets as Json[]).flatMap((b, i) => {
        const { at: _, ...counts } = b;
        return Object.values(counts).some((n) => n !== 0) ? [[i, counts]] : [];
      }),
    );
    expect(nonEmpty).toEqual({
      0: { deliveries: 2, impressions: 3, opens: 0, dismissals: 0 },
      2: { deliveries: 1, impressions: 1, opens: 0, dismissals: 0 },
      3: { deliveries: 0, impressions: 0, opens: 1, dismissals: 0 },
      29: { deliveries: 1, impressions: 0, opens: 0, dismissals: 1 },
    });
  });

  test.each([
    { age: 3 * HOUR, minutes: 5, buckets: 36 },
    { age: 10 * HOUR, minutes: 15, buckets: 40 },
    { age: 30 * HOUR, minutes: 30, buckets: 60 },
    { age: 71.5 * HOUR, minutes: 60, buckets: 72 },
  ])(
    'a task $age ms old is drawn in $buckets buckets of $minutes minutes',
    async ({ age, minutes, buckets }) => {
      const taskId = await seedTask();
      const started = new Date(t.clock.now.getTime() - age).toISOString();
      const rows = [
        resultRow(taskId, 'first', { send_result: 'success', delivered_at: started, open_at: started }),
        // A minute ago: in the bucket holding "now", the last one.
        resultRow(taskId, 'last', { send_result: 'success', delivered_at: after(started, age / MINUTE - 1) }),
      ];
      await writeSend(taskId, started, rows);
      const { timeline } = ok(await breakdown(taskId));
      expect(timeline.bucketMinutes).toBe(minutes);
      expect(timeline.buckets).toHaveLength(buckets);
      expect(timeline.buckets[0]).toMatchObject({ at: started, deliveries: 1, opens: 1 });
      expect(timeline.buckets.at(-1)).toMatchObject({
        at: after(started, (buckets - 1) * minutes),
        deliveries: 1,
      });
    },
  );

  test('once the statistics window has closed, the timeline covers exactly the window', async () => {
    // Device details kept longer than the window, so that they can be read after it closed.
    const main = t;
    t = await createTestInstance({ PUSHBOARD_RETENTION_HOURS: '96' });
    try {
      const taskId = await seedTask();
      const started = new Date(t.clock.now.getTime() - 80 * HOUR).toISOString();
      await writeSend(taskId, started, [
        resultRow(taskId, 'x', {
          send_result: 'success',
          delivered_at: started,
          open_at: after(started, 71.9 * 60),
        }),
      ]);
      const { timeline } = ok(await breakdown(taskId));
      expect(timeline.bucketMinutes).toBe(60);
      expect(timeline.buckets).toHaveLength(72);
      expect(timeline.buckets.at(-1)).toMatchObject({ at: after(started, 71 * 60), opens: 1 });
    } finally {
      await t.close();
      t = main;
    }
  });
});

describe('queries', () => {
  test('each part is one aggregate query, however many devices the task has', async () => {
    const taskId = await seedTask();
    const started = new Date(t.clock.now.getTime() - 5 * HOUR).toISOString();
    const channels = ['simulator', 'huawei', 'xiaomi', 'oppo', 'vivo', 'honor'];
    const rows = Array.from({ length: 60_000 }, (_, i) =>
      resultRow(taskId, `dev-${String(i).padStart(6, '0')}`, {
        channel: channels[i % channels.length],
        send_result: i % 10 === 0 ? 'failure' : 'success',
        delivered_at: i % 10 === 0 ? null : after(started, (i % 290) + 0.5),
        impression_at: i % 10 === 0 || i % 3 === 0 ? null : after(started, (i % 290) + 0.7),
        open_at: i % 10 === 0 || i % 7 !== 0 ? null : after(started, (i % 290) + 1),
      }),
    );
    await writeSend(taskId, started, rows);

    // Every statement executed comes back through transformResult once, with the rows it returned.
    const statements: number[] = [];
    const counted = t.db.withPlugin({
      transformQuery: (args) => args.node,
      async transformResult(args) {
        statements.push(args.result.rows.length);
        return args.result;
      },
    });
    const store = createBreakdownStore(counted);
    const task = { id: taskId, platform: 'android' as const, started_at: started };
    const byChannel = await store.channels(task);
    expect(statements).toEqual([6]);
    const timeline = await store.timeline(task, 5, 60);
    // One statement, answering one row per (bucket, receipt kind) that has receipts.
    expect(statements).toHaveLength(2);
    expect(statements[1]).toBeLessThanOrEqual(60 * 4);

    expect(byChannel).toHaveLength(6);
    expect(byChannel.reduce((sum, c) => sum + c.totalSent, 0)).toBe(60_000);
    const sum = (kind: 'deliveries' | 'impressions' | 'opens') =>
      timeline.buckets.reduce((total, b) => total + b[kind], 0);
    const counters = countersOf(rows);
    expect(sum('deliveries')).toBe(counters.deliveries);
    expect(sum('impressions')).toBe(counters.impressions);
    expect(sum('opens')).toBe(counters.opens);
  });
});

describe('states, retention, tenancy and roles', () => {
  test('a scheduled task answers empty parts', async () => {
    const taskId = await seedTask();
    const body = ok(await breakdown(taskId));
    expect(body).toEqual({ channels: [], timeline: { bucketMinutes: 1, buckets: [] }, failureReasons: [] });
  });

  test('past the retention window it is still counted from the results the purge has not deleted yet', async () => {
    const taskId = await seedTask();
    const started = new Date(t.clock.now.getTime() - HOUR).toISOString();
    await writeSend(taskId, started, [resultRow(taskId, 'x')]);
    const real = t.clock.now;
    t.clock.now = new Date(real.getTime() + 71 * HOUR + 1);
    try {
      const body = ok(await breakdown(taskId));
      expect(body.channels).toEqual([expect.objectContaining({ channel: 'simulator', totalSent: 1 })]);
      expect(body.timeline.bucketMinutes).toBe(60);
    } finally {
      t.clock.now = real;
    }
  });

  test('the purge keeps the final breakdown: the same answer after the results are deleted', async () => {
    const taskId = await seedTask();
    const started = new Date(t.clock.now.getTime() - 2 * HOUR).toISOString();
    const rows = [
      resultRow(taskId, 'a', {
        send_result: 'success',
        channel: 'huawei',
        delivered_at: after(started, 1),
        open_at: after(started, 90),
      }),
      resultRow(taskId, 'b', {
        send_result: 'success',
        channel: 'xiaomi',
        delivered_at: after(started, 2),
        impression_at: after(started, 3),
      }),
      resultRow(taskId, 'c', { send_result: 'failure', channel: 'xiaomi', failure_reason: 'token expired' }),
    ];
    await writeSend(taskId, started, rows);
    const asOf = new Date(Date.parse(started) + 72 * HOUR);
    const real = t.clock.now;
    t.clock.now = asOf;
    try {
      const before = ok(await breakdown(taskId));
      expect(before.timeline.buckets).toHaveLength(72);
      const report = await purgeExpiredDetails(t.db, asOf, t.config);
      expect(report.tasks).toBeGreaterThanOrEqual(1);
      // Deleted (SQLite), or marked purged and dropped with their day partition later (PostgreSQL).
      const task = await t.db
        .selectFrom('tasks')
        .select('details_purged_at')
        .where('id', '=', taskId)
        .executeTakeFirstOrThrow();
      expect(task.details_purged_at).toBe(asOf.toISOString());
      const kept = ok(await breakdown(taskId));
      expect(kept).toEqual(before);
      expect(kept.channels.map((c: Json) => [c.channel, c.totalSent, c.deliveries, c.opens])).toEqual([
        ['xiaomi', 2, 1, 0],
        ['huawei', 1, 1, 1],
      ]);
      expect(kept.failureReasons).toEqual([{ reason: 'token expired', devices: 1 }]);
      expect(kept.timeline.buckets[1].opens).toBe(1);
      // The device list itself is gone for good.
      const devices = await t.request(t.adminToken, { method: 'GET', url: `${WS}/tasks/${taskId}/devices` });
      expect(devices.statusCode).toBe(410);
      // A second purge (an interrupted one finished) leaves the kept breakdown as it was.
      await purgeExpiredDetails(t.db, new Date(asOf.getTime() + HOUR), t.config);
      expect(ok(await breakdown(taskId))).toEqual(before);
    } finally {
      t.clock.now = real;
    }
  });

  test('results deleted before breakdowns were kept answer 410', async () => {
    const started = new Date(t.clock.now.getTime() - HOUR).toISOString();
    const purged = await seedTask();
    await writeSend(purged, started, [], { details_purged_at: t.clock.now.toISOString() });
    const res = await breakdown(purged);
    expect(res.statusCode).toBe(410);
    expect((res.json() as Json).error.code).toBe('DEVICE_DETAILS_EXPIRED');
    expect((res.json() as Json).error.message).toContain('were deleted at');
  });

  test("another workspace's task, or an unknown one, is 404 TASK_NOT_FOUND", async () => {
    const taskId = await seedTask();
    const other = ok(
      await t.request(t.adminToken, { method: 'POST', url: '/api/v1/workspaces', body: { name: 'Other' } }),
      201,
    );
    for (const res of [
      await breakdown(taskId, t.adminToken, `/api/v1/workspaces/${other.id}`),
      await breakdown('tsk_unknown'),
    ]) {
      expect(res.statusCode, res.body).toBe(404);
      expect((res.json() as Json).error.code).toBe('TASK_NOT_FOUND');
    }
  });

  test('a viewer may read it; without a token it is 401', async () => {
    const taskId = await seedTask();
    const viewer = ok(
      await t.request(t.adminToken, {
        method: 'POST',
        url: `${WS}/tokens`,
        body: { name: 'analyst', role: 'viewer' },
      }),
      201,
    ).token as string;
    expect((await breakdown(taskId, viewer)).statusCode).toBe(200);
    expect((await breakdown(taskId, null)).statusCode).toBe(401);
  });

  test('is documented in the OpenAPI document with its response schema', async () => {
    const doc = ok(await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' }));
    const operation = doc.paths['/api/v1/workspaces/{workspaceId}/tasks/{taskId}/breakdown'].get;
    expect(operation.description).toContain('one aggregate query');
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '404', '410']));
    const schema = operation.responses['200'].content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(['channels', 'timeline', 'failureReasons']);
    expect(schema.properties.timeline.properties.bucketMinutes.description).toContain('1, 5, 15, 30 or 60');
  });
});
