/**
 * The device-details API of a task (docs/statistics.md#device-results, docs/api.md, docs/api.md#shapes): the filtered device list with keyset
 * pages and exact totals, the streamed CSV export, Generate Audience, retention (410) and tenancy,
 * and the live statistics stream. Tasks are created through the API; their send is written straight
 * into the database (results, batches, counters) so that every filter has a known answer.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDeviceResultStore, type DeviceFilter } from '../src/results/device-result-store.ts';
import type { DeviceResultRow, TaskRow } from '../src/storage/database.ts';
import { createTestInstance, numberedId, type TestInstance } from './helpers.ts';

const WS = '/api/v1/workspaces/default';
const HOUR = 3_600_000;

let t: TestInstance;
let appCount = 0;

interface Response {
  statusCode: number;
  body: string;
  json(): unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: test answers are read loosely.
type Json = any;

function ok(res: Response, status = 200): Json {
  expect(res.statusCode, res.body).toBe(status);
  return res.json();
}

interface SeededTask {
  appId: string;
  audienceId: string;
  taskId: string;
}

/** An app with registered devices, an audience and an immediate task over it, all through the API. */
async function seedTask(
  options: {
    platform?: 'ios' | 'android';
    devices: { deviceId: string; channel?: string }[];
    audience: string[];
  },
  on: TestInstance = t,
): Promise<SeededTask> {
  const admin = on.adminToken;
  const app = ok(
    await on.request(admin, {
      method: 'POST',
      url: `${WS}/apps`,
      body: { name: `App ${++appCount}`, platform: options.platform ?? 'android', provider: 'simulator' },
    }),
    201,
  );
  if (options.devices.length > 0) {
    ok(
      await on.request(admin, {
        method: 'POST',
        url: `${WS}/apps/${app.id}/devices/batch`,
        body: {
          devices: options.devices.map((d) => ({
            deviceId: d.deviceId,
            pushToken: `tok-${d.deviceId}`,
            ...(d.channel && { channel: d.channel }),
          })),
        },
      }),
    );
  }
  const audience = ok(
    await on.request(admin, {
      method: 'POST',
      url: `${WS}/audiences`,
      body: { name: `Audience ${appCount}`, deviceIds: options.audience },
    }),
    201,
  );
  const task = ok(
    await on.request(admin, {
      method: 'POST',
      url: `${WS}/tasks`,
      body: {
        name: `Task ${appCount}`,
        appId: app.id,
        title: 'Hello',
        content: 'World',
        clickAction: { type: 'open_app' },
        audienceId: audience.id,
        sendType: 'immediate',
      },
    }),
    201,
  );
  return { appId: app.id, audienceId: audience.id, taskId: task.id };
}

/** Writes a started send: the results, the dispatch row and the task's status and counters. */
async function writeSend(
  taskId: string,
  rows: DeviceResultRow[],
  task: Partial<TaskRow>,
  dispatch: { cursor: string | null; batches?: number } = { cursor: null },
  on: TestInstance = t,
): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await on.db
      .insertInto('device_results')
      .values(rows.slice(i, i + 500))
      .execute();
  }
  const startedAt = new Date(on.clock.now.getTime() - HOUR).toISOString();
  await on.db
    .insertInto('task_dispatch')
    .values({
      task_id: taskId,
      cursor: dispatch.cursor,
      batches: dispatch.batches ?? 0,
      send_error: null,
      updated_at: startedAt,
    })
    .execute();
  await on.db
    .updateTable('tasks')
    .set({ status: 'completed', started_at: startedAt, completed_at: startedAt, ...task })
    .where('id', '=', taskId)
    .execute();
}

/** The counters of a completed send of exactly these results (plus unmatched devices). */
function countersOf(rows: DeviceResultRow[], unmatched = 0): Partial<TaskRow> {
  const count = (test: (r: DeviceResultRow) => boolean) => rows.filter(test).length;
  return {
    planned_sends: rows.length + unmatched,
    unmatched,
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

const RECEIPT_COLUMN = { impression: 'impression_at', open: 'open_at', dismissal: 'dismissal_at' } as const;

/** Whether a result row matches a filter, as the product contract (docs/) defines it. */
function matches(row: DeviceResultRow, filter: DeviceFilter): boolean {
  if (filter.sendResult !== undefined && row.send_result !== filter.sendResult) return false;
  if (filter.receipt !== undefined && row[RECEIPT_COLUMN[filter.receipt]] === null) return false;
  if (filter.without !== undefined && row[RECEIPT_COLUMN[filter.without]] !== null) return false;
  if (filter.deviceId !== undefined && !row.device_id.startsWith(filter.deviceId)) return false;
  return true;
}

const FAILURE_REASONS = [
  'InvalidToken',
  '=HYPERLINK("http://evil.example","click")',
  'rejected, "bad" token\nsecond line',
  '@SUM(1+1)',
  '+1 day',
  '-2',
];

/** A deterministic Android send of 30 devices: every send result, receipt and combination occurs. */
function androidResults(taskId: string): DeviceResultRow[] {
  const at = (minutes: number) => new Date(t.clock.now.getTime() - HOUR + minutes * 60_000).toISOString();
  return Array.from({ length: 30 }, (_, i) => {
    const deviceId = `dev-${String(i).padStart(2, '0')}`;
    const base = {
      task_id: taskId,
      device_id: deviceId,
      batch_seq: Math.floor(i / 10) + 1,
      channel: i === 2 ? '=cmd|calc' : i % 4 === 0 ? 'huawei' : 'simulator',
      failure_reason: null,
      delivered_at: null,
      impression_at: null,
      open_at: null,
      dismissal_at: null,
    };
    if (i % 5 === 0) {
      return {
        ...base,
        send_result: 'failure' as const,
        failure_reason: FAILURE_REASONS[i / 5] as string,
      };
    }
    if (i % 5 === 1) {
      // Accepted, no delivery receipt, but the SDK reported an impression for some.
      return { ...base, send_result: 'no_feedback' as const, impression_at: i % 3 === 1 ? at(3) : null };
    }
    return {
      ...base,
      send_result: 'success' as const,
      delivered_at: at(1),
      impression_at: i % 2 === 0 ? at(2) : null,
      open_at: i % 3 === 0 ? at(4) : null,
      dismissal_at: i % 7 === 0 ? at(5) : null,
    };
  });
}

let android: SeededTask;
let androidRows: DeviceResultRow[];

beforeAll(async () => {
  t = await createTestInstance();
  const ids = Array.from({ length: 30 }, (_, i) => `dev-${String(i).padStart(2, '0')}`);
  android = await seedTask({
    devices: ids.map((deviceId) => ({ deviceId })),
    audience: [...ids, 'ghost-1'],
  });
  androidRows = androidResults(android.taskId);
  await writeSend(android.taskId, androidRows, countersOf(androidRows, 1));
});

afterAll(async () => {
  await t.close();
});

async function listDevices(
  taskId: string,
  query: Record<string, string | number | undefined>,
  token = t.adminToken,
) {
  return t.request(token, {
    method: 'GET',
    url: `${WS}/tasks/${taskId}/devices`,
    query: Object.fromEntries(
      Object.entries(query).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])),
    ),
  });
}

/** Every page of a filtered list, following `nextCursor`; checks the total is the same on each. */
async function allPages(taskId: string, filter: DeviceFilter, limit: number) {
  const items: Json[] = [];
  const totals: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = ok(await listDevices(taskId, { ...filter, limit, ...(cursor && { cursor }) }));
    items.push(...page.items);
    totals.push(page.total);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    cursor = page.nextCursor;
    if (cursor !== null) expect(page.items).toHaveLength(limit);
    pages++;
  } while (cursor !== null && pages < 100);
  return { items, totals, pages };
}

const FILTERS: DeviceFilter[] = [
  {},
  { sendResult: 'success' },
  { sendResult: 'failure' },
  { sendResult: 'no_feedback' },
  { receipt: 'impression' },
  { receipt: 'open' },
  { receipt: 'dismissal' },
  { without: 'impression' },
  { without: 'open' },
  { without: 'dismissal' },
  { sendResult: 'success', without: 'open' },
  { sendResult: 'success', receipt: 'impression' },
  { sendResult: 'no_feedback', receipt: 'impression' },
  { receipt: 'impression', without: 'open' },
  { sendResult: 'success', receipt: 'open', without: 'dismissal' },
];

describe('device list', () => {
  test('each filter and combination lists exactly the matching devices, in ID order, with the exact total', async () => {
    for (const filter of FILTERS) {
      const expected = androidRows.filter((r) => matches(r, filter)).map((r) => r.device_id);
      const page = ok(await listDevices(android.taskId, { ...filter, limit: 1000 }));
      expect(
        page.items.map((i: Json) => i.deviceId),
        JSON.stringify(filter),
      ).toEqual(expected);
      expect(page.total, JSON.stringify(filter)).toBe(expected.length);
      expect(page.nextCursor).toBeNull();
    }
    // "Delivered but not opened" is neither empty nor everything: the filter really combines.
    const notOpened = androidRows.filter((r) => matches(r, { sendResult: 'success', without: 'open' }));
    expect(notOpened.length).toBeGreaterThan(0);
    expect(notOpened.length).toBeLessThan(androidRows.filter((r) => r.send_result === 'success').length);
  });

  test('an item carries its batch ID, platform, channel, send result, reason and receipt times', async () => {
    const page = ok(await listDevices(android.taskId, { limit: 3 }));
    const [failed, noFeedback, success] = page.items;
    expect(failed).toEqual({
      deviceId: 'dev-00',
      batchId: `${android.taskId}-1`,
      platform: 'android',
      channel: 'huawei',
      sendResult: 'failure',
      failureReason: 'InvalidToken',
      deliveredAt: null,
      impressionAt: null,
      openAt: null,
      dismissalAt: null,
    });
    expect(noFeedback).toMatchObject({
      deviceId: 'dev-01',
      sendResult: 'no_feedback',
      impressionAt: expect.any(String),
    });
    const row = androidRows[2] as DeviceResultRow;
    expect(success).toEqual({
      deviceId: 'dev-02',
      batchId: `${android.taskId}-1`,
      platform: 'android',
      channel: '=cmd|calc',
      sendResult: 'success',
      failureReason: null,
      deliveredAt: row.delivered_at,
      impressionAt: row.impression_at,
      openAt: null,
      dismissalAt: null,
    });
    const last = ok(await listDevices(android.taskId, { limit: 1000 })).items.at(-1);
    expect(last.batchId).toBe(`${android.taskId}-3`);
  });

  test('keyset pages cover every device once, in order, with the same exact total on every page', async () => {
    for (const filter of [
      {},
      { sendResult: 'success', without: 'open' },
      { receipt: 'impression' },
    ] as DeviceFilter[]) {
      const expected = androidRows.filter((r) => matches(r, filter)).map((r) => r.device_id);
      const { items, totals, pages } = await allPages(android.taskId, filter, 4);
      expect(items.map((i) => i.deviceId)).toEqual(expected);
      expect(new Set(items.map((i) => i.deviceId)).size).toBe(items.length);
      expect(new Set(totals)).toEqual(new Set([expected.length]));
      expect(pages).toBe(Math.max(1, Math.ceil(expected.length / 4)));
    }
  });

  test('the device-ID search lists the IDs starting with its text, exactly, with the other filters and pages', async () => {
    // dev-10 … dev-19: a prefix, combined with a send result, walked in pages of 3.
    for (const filter of [
      { deviceId: 'dev-1' },
      { deviceId: 'dev-1', sendResult: 'success' },
    ] as DeviceFilter[]) {
      const expected = androidRows
        .filter((r) => r.device_id.startsWith('dev-1') && matches(r, filter))
        .map((r) => r.device_id);
      expect(expected.length).toBeGreaterThan(0);
      const { items, totals } = await allPages(android.taskId, filter, 3);
      expect(items.map((i) => i.deviceId)).toEqual(expected);
      expect(new Set(totals)).toEqual(new Set([expected.length]));
    }
    // Exact: one whole ID; no pattern characters, no case folding.
    expect(
      ok(await listDevices(android.taskId, { deviceId: 'dev-07' })).items.map((i: Json) => i.deviceId),
    ).toEqual(['dev-07']);
    for (const text of ['dev-%', 'dev-_7', 'DEV-07']) {
      expect(ok(await listDevices(android.taskId, { deviceId: text })).total).toBe(0);
    }
    // The export takes it too.
    const csv = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS}/tasks/${android.taskId}/devices.csv`,
      query: { deviceId: 'dev-2' },
    });
    expect(
      csv.body
        .trim()
        .split('\r\n')
        .slice(1)
        .map((line) => line.split(',')[0]),
    ).toEqual(androidRows.filter((r) => r.device_id.startsWith('dev-2')).map((r) => r.device_id));
  });

  test('a next page is a pure keyset read: its total is the one counted on the first page', async () => {
    const first = ok(await listDevices(android.taskId, { limit: 10 }));
    expect(first.total).toBe(30);
    const cursor = JSON.parse(Buffer.from(first.nextCursor, 'base64url').toString('utf8'));
    expect(cursor).toEqual({ after: 'dev-09', total: 30, filter: '||' });
    // Were the total recounted, this change of the counter would show on the next page.
    await t.db.updateTable('tasks').set({ total_sent: 999 }).where('id', '=', android.taskId).execute();
    try {
      const next = ok(await listDevices(android.taskId, { limit: 10, cursor: first.nextCursor }));
      expect(next.total).toBe(30);
      expect(next.items[0].deviceId).toBe('dev-10');
    } finally {
      await t.db.updateTable('tasks').set({ total_sent: 30 }).where('id', '=', android.taskId).execute();
    }
  });

  test('limit is 1 to 1000, 50 by default', async () => {
    for (const limit of [0, 1001, -1, 'ten']) {
      const res = await listDevices(android.taskId, { limit });
      expect(res.statusCode, String(limit)).toBe(400);
      expect((res.json() as Json).error.code).toBe('VALIDATION_FAILED');
    }
    expect(ok(await listDevices(android.taskId, { limit: 1 })).items).toHaveLength(1);
    expect(ok(await listDevices(android.taskId, { limit: 1000 })).items).toHaveLength(30);
    const byDefault = ok(await listDevices(android.taskId, {}));
    expect(byDefault.items).toHaveLength(30);
    expect(byDefault.nextCursor).toBeNull();
  });

  test('a malformed cursor, or one made for another filter, is a clear 400', async () => {
    const b64 = (value: string) => Buffer.from(value, 'utf8').toString('base64url');
    const first = ok(await listDevices(android.taskId, { limit: 2 }));
    for (const cursor of [
      'not a cursor!',
      b64('hello'),
      b64('{"after":1,"total":3,"filter":"||"}'),
      b64('{"after":"dev-01","total":-1,"filter":"||"}'),
      b64('null'),
    ]) {
      const res = await listDevices(android.taskId, { limit: 2, cursor });
      expect(res.statusCode, cursor).toBe(400);
      const error = (res.json() as Json).error;
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.message).toContain('nextCursor');
      expect(error.details).toEqual([
        {
          field: 'cursor',
          code: 'FORMAT_INVALID',
          params: { format: 'nextCursor' },
          message: expect.any(String),
        },
      ]);
    }
    const other = await listDevices(android.taskId, {
      limit: 2,
      sendResult: 'success',
      cursor: first.nextCursor,
    });
    expect(other.statusCode).toBe(400);
    expect((other.json() as Json).error.message).toContain('another filter');
    expect((other.json() as Json).error.details[0].code).toBe('CURSOR_FILTER_MISMATCH');
  });

  test('unknown filter values are refused by the schema', async () => {
    for (const query of [{ sendResult: 'delivered' }, { receipt: 'click' }, { without: 'opened' }]) {
      const res = await listDevices(android.taskId, query);
      expect(res.statusCode, JSON.stringify(query)).toBe(400);
      expect((res.json() as Json).error.code).toBe('VALIDATION_FAILED');
    }
  });

  test('totals come from the task counters when a filter is one of them, else from an exact count', async () => {
    // Counters deliberately off by 1000: a filter answered from them shows it, a counted one does not.
    const bumped = {
      total_sent: 1030,
      deliveries: 1000 + (countersOf(androidRows).deliveries as number),
      opens: 1000 + (countersOf(androidRows).opens as number),
    };
    await t.db.updateTable('tasks').set(bumped).where('id', '=', android.taskId).execute();
    try {
      expect(ok(await listDevices(android.taskId, {})).total).toBe(1030);
      expect(ok(await listDevices(android.taskId, { sendResult: 'success' })).total).toBe(bumped.deliveries);
      expect(ok(await listDevices(android.taskId, { receipt: 'open' })).total).toBe(bumped.opens);
      const notOpened = androidRows.filter((r) => matches(r, { sendResult: 'success', without: 'open' }));
      expect(ok(await listDevices(android.taskId, { sendResult: 'success', without: 'open' })).total).toBe(
        notOpened.length,
      );
    } finally {
      await t.db
        .updateTable('tasks')
        .set(countersOf(androidRows, 1))
        .where('id', '=', android.taskId)
        .execute();
    }
  });

  test('an iOS task never shows a dismissal time', async () => {
    const ios = await seedTask({
      platform: 'ios',
      devices: [{ deviceId: 'ios-1' }, { deviceId: 'ios-2' }],
      audience: ['ios-1', 'ios-2'],
    });
    const at = t.clock.now.toISOString();
    const rows: DeviceResultRow[] = ['ios-1', 'ios-2'].map((deviceId) => ({
      task_id: ios.taskId,
      device_id: deviceId,
      batch_seq: 1,
      channel: 'apns',
      send_result: 'success',
      failure_reason: null,
      delivered_at: at,
      impression_at: at,
      open_at: null,
      // Never written on iOS; here to show that the API would not leak it anyway.
      dismissal_at: at,
    }));
    await writeSend(ios.taskId, rows, { ...countersOf(rows), dismissals: 0 });
    const page = ok(await listDevices(ios.taskId, {}));
    expect(page.items.map((i: Json) => [i.platform, i.channel, i.dismissalAt])).toEqual([
      ['ios', 'apns', null],
      ['ios', 'apns', null],
    ]);
    const csv = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS}/tasks/${ios.taskId}/devices.csv`,
    });
    expect(csv.statusCode).toBe(200);
    const lines = csv.body.split('\r\n');
    expect(lines[0]).toBe(
      'deviceId,batchId,platform,channel,sendResult,failureReason,deliveredAt,impressionAt,openAt',
    );
    expect(lines[1]).toBe(`ios-1,${ios.taskId}-1,ios,apns,success,,${at},${at},`);
  });
});

/** Parses a CSV body (RFC 4180: quoted cells may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

describe('CSV export', () => {
  test('is a streamed attachment with every column, properly quoted, formulas made inert', async () => {
    const res = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS}/tasks/${android.taskId}/devices.csv`,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${android.taskId}-devices.csv"`);
    // Streamed: no length known up front.
    expect(res.headers['content-length']).toBeUndefined();
    const rows = parseCsv(res.body);
    expect(rows[0]).toEqual([
      'deviceId',
      'batchId',
      'platform',
      'channel',
      'sendResult',
      'failureReason',
      'deliveredAt',
      'impressionAt',
      'openAt',
      'dismissalAt',
    ]);
    expect(rows).toHaveLength(31);
    const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
    for (const row of androidRows) {
      const cells = byId.get(row.device_id) as string[];
      expect(cells.slice(0, 3)).toEqual([row.device_id, `${android.taskId}-${row.batch_seq}`, 'android']);
      expect(cells[4]).toBe(row.send_result);
      expect(cells.slice(6)).toEqual([
        row.delivered_at ?? '',
        row.impression_at ?? '',
        row.open_at ?? '',
        row.dismissal_at ?? '',
      ]);
    }
    expect(byId.get('dev-00')?.[5]).toBe('InvalidToken');
    expect(byId.get('dev-05')?.[5]).toBe(`'=HYPERLINK("http://evil.example","click")`);
    expect(byId.get('dev-10')?.[5]).toBe('rejected, "bad" token\nsecond line');
    expect(byId.get('dev-15')?.[5]).toBe(`'@SUM(1+1)`);
    expect(byId.get('dev-20')?.[5]).toBe(`'+1 day`);
    expect(byId.get('dev-25')?.[5]).toBe(`'-2`);
    expect(byId.get('dev-02')?.[3]).toBe(`'=cmd|calc`);
    // The raw text: quotes doubled, the cell with a line break and commas quoted.
    expect(res.body).toContain(`,"'=HYPERLINK(""http://evil.example"",""click"")",`);
    expect(res.body).toContain(`,"rejected, ""bad"" token\nsecond line",`);
  });

  test('takes the same filter as the list', async () => {
    const res = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS}/tasks/${android.taskId}/devices.csv?sendResult=success&without=open`,
    });
    expect(res.statusCode).toBe(200);
    const expected = androidRows.filter((r) => matches(r, { sendResult: 'success', without: 'open' }));
    expect(
      parseCsv(res.body)
        .slice(1)
        .map((r) => r[0]),
    ).toEqual(expected.map((r) => r.device_id));
    const bad = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS}/tasks/${android.taskId}/devices.csv?receipt=nope`,
    });
    expect(bad.statusCode).toBe(400);
  });

  test('streams a result bigger than one read page (5,000 rows) in full, in order', async () => {
    const big = await seedTask({ devices: [], audience: ['x'] });
    const count = 12_345;
    await sql`
      with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ${count})
      insert into device_results (task_id, device_id, batch_seq, channel, send_result)
      select ${big.taskId}, ${numberedId(t.db, 'big-', sql`i`, 6)}, i / 1000 + 1, 'simulator', 'no_feedback' from n`.execute(
      t.db,
    );
    await writeSend(big.taskId, [], { total_sent: count, no_feedback: count, planned_sends: count });
    const res = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS}/tasks/${big.taskId}/devices.csv`,
    });
    expect(res.statusCode).toBe(200);
    const lines = res.body.split('\r\n');
    expect(lines.at(-1)).toBe('');
    const ids = lines.slice(1, -1).map((line) => line.split(',')[0]);
    expect(ids).toHaveLength(count);
    expect(ids[0]).toBe('big-000000');
    expect(ids.at(-1)).toBe(`big-${String(count - 1).padStart(6, '0')}`);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(count);
    expect(lines[5001]).toBe(`big-005000,${big.taskId}-6,android,simulator,no_feedback,,,,,`);
  });
});

/** The member IDs of an audience, every page. */
async function membersOf(audienceId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = ok(
      await t.request(t.adminToken, {
        method: 'GET',
        url: `${WS}/audiences/${audienceId}/members`,
        query: { limit: '1000', ...(cursor && { cursor }) },
      }),
    );
    ids.push(...page.items.map((i: Json) => i.deviceId));
    cursor = page.nextCursor;
  } while (cursor !== null);
  return ids;
}

async function generate(taskId: string, body: object, token = t.adminToken) {
  return t.request(token, { method: 'POST', url: `${WS}/tasks/${taskId}/audiences`, body });
}

describe('Generate Audience', () => {
  test('saves exactly the devices of a filter, for every bucket, recording the task and the filter', async () => {
    const cases: DeviceFilter[] = [
      { sendResult: 'success' },
      { sendResult: 'failure' },
      { sendResult: 'no_feedback' },
      { sendResult: 'success', without: 'open' },
      { receipt: 'impression', without: 'open' },
      {},
    ];
    for (const filter of cases) {
      const expected = androidRows.filter((r) => matches(r, filter)).map((r) => r.device_id);
      const created = ok(
        await generate(android.taskId, { name: `  Bucket ${JSON.stringify(filter)} `, filter }),
        201,
      );
      expect(created).toEqual({
        id: expect.stringMatching(/^aud/),
        name: `Bucket ${JSON.stringify(filter)}`,
        size: expected.length,
        source: 'task_result',
        sourceTaskId: android.taskId,
        sourceFilter: filter,
        createdAt: t.clock.now.toISOString(),
      });
      expect(await membersOf(created.id)).toEqual(expected);
      const audience = ok(
        await t.request(t.adminToken, { method: 'GET', url: `${WS}/audiences/${created.id}` }),
      );
      expect(audience).toMatchObject({
        size: expected.length,
        source: 'task_result',
        status: 'ready',
        sourceTaskId: android.taskId,
        sourceFilter: filter,
      });
      const row = await t.db
        .selectFrom('audiences')
        .select(['source_task_id', 'source_filter', 'status'])
        .where('id', '=', created.id)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({
        source_task_id: android.taskId,
        source_filter: JSON.stringify(filter),
        status: 'ready',
      });
    }
  });

  test('a filter matching nothing creates no audience: 409 GENERATED_AUDIENCE_EMPTY', async () => {
    const before = await t.db.selectFrom('audiences').select('id').execute();
    const res = await generate(android.taskId, {
      name: 'Nobody',
      filter: { receipt: 'open', without: 'open' },
    });
    expect(res.statusCode).toBe(409);
    expect((res.json() as Json).error.code).toBe('GENERATED_AUDIENCE_EMPTY');
    expect(await t.db.selectFrom('audiences').select('id').execute()).toEqual(before);
  });

  test('the audience can be the target of a new task', async () => {
    const created = ok(
      await generate(android.taskId, { name: 'Retarget', filter: { sendResult: 'failure' } }),
      201,
    );
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS}/tasks`,
      body: {
        name: 'Second chance',
        appId: android.appId,
        title: 'Hi again',
        content: 'We missed you',
        clickAction: { type: 'open_app' },
        audienceId: created.id,
        sendType: 'scheduled',
        scheduledAt: new Date(t.clock.now.getTime() + HOUR).toISOString(),
      },
    });
    expect(res.statusCode, res.body).toBe(201);
  });

  test('the name and filter are validated like everywhere else', async () => {
    for (const body of [
      { name: '   ', filter: {} },
      { name: 'x'.repeat(201) },
      { filter: {} },
      { name: 'X', filter: { sendResult: 'opened' } },
      { name: 'X', filter: { color: 'red' } },
      { name: 'X', extra: 1 },
    ]) {
      const res = await generate(android.taskId, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect((res.json() as Json).error.code).toBe('VALIDATION_FAILED');
    }
  });

  test('a viewer may read the devices but not generate an audience', async () => {
    const viewer = ok(
      await t.request(t.adminToken, {
        method: 'POST',
        url: `${WS}/tokens`,
        body: { name: 'reader', role: 'viewer' },
      }),
      201,
    ).token as string;
    expect((await listDevices(android.taskId, {}, viewer)).statusCode).toBe(200);
    const csv = await t.request(viewer, { method: 'GET', url: `${WS}/tasks/${android.taskId}/devices.csv` });
    expect(csv.statusCode).toBe(200);
    const before = await t.db.selectFrom('audiences').select('id').execute();
    const res = await generate(android.taskId, { name: 'Sneaky', filter: {} }, viewer);
    expect(res.statusCode).toBe(403);
    expect((res.json() as Json).error.code).toBe('FORBIDDEN');
    expect(await t.db.selectFrom('audiences').select('id').execute()).toEqual(before);
  });

  test('copies in keyset chunks, exactly once each', async () => {
    const store = createDeviceResultStore(t.db);
    const task = await t.db
      .selectFrom('tasks')
      .select(['id', 'app_id', 'audience_id', 'status'])
      .where('id', '=', android.taskId)
      .executeTakeFirstOrThrow();
    for (const [filter, chunk] of [
      [{}, 4],
      [{}, 30],
      [{ sendResult: 'success', without: 'open' }, 3],
    ] as [DeviceFilter, number][]) {
      const audienceId = `aud_chunk_${chunk}_${Object.keys(filter).length}`;
      await t.db
        .insertInto('audiences')
        .values({
          id: audienceId,
          workspace_id: t.workspaceId,
          name: audienceId,
          source: 'task_result',
          status: 'importing',
          size: 0,
          file_name: null,
          source_task_id: task.id,
          source_filter: '{}',
          created_at: t.clock.now.toISOString(),
        })
        .execute();
      const expected = androidRows.filter((r) => matches(r, filter)).map((r) => r.device_id);
      expect(await store.copyToAudience(task, filter, audienceId, chunk)).toBe(expected.length);
      const members = await t.db
        .selectFrom('audience_members')
        .select('device_id')
        .where('audience_id', '=', audienceId)
        .orderBy('device_id')
        .execute();
      expect(members.map((m) => m.device_id)).toEqual(expected);
    }
  });

  test('copies a large result set-based and fast (200,000 devices)', async () => {
    const big = await seedTask({ devices: [], audience: ['y'] });
    const count = 200_000;
    await sql`
      with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ${count})
      insert into device_results (task_id, device_id, batch_seq, channel, send_result, open_at)
      select ${big.taskId}, ${numberedId(t.db, 'dev-', sql`i`, 7)}, i / 2000 + 1, 'simulator', 'success',
        case when i % 4 = 0 then '2026-01-01T00:00:00.000Z' end from n`.execute(t.db);
    await writeSend(big.taskId, [], {
      total_sent: count,
      deliveries: count,
      opens: count / 4,
      planned_sends: count,
    });
    const started = performance.now();
    const created = ok(
      await generate(big.taskId, { name: 'Not opened', filter: { sendResult: 'success', without: 'open' } }),
      201,
    );
    const elapsed = performance.now() - started;
    expect(created.size).toBe((count * 3) / 4);
    // Generous for slow machines; ~0.2 s on a laptop (1M rows take ~1 s).
    expect(elapsed).toBeLessThan(5_000);
    const first = ok(
      await t.request(t.adminToken, { method: 'GET', url: `${WS}/audiences/${created.id}/members?limit=3` }),
    );
    expect(first.items.map((i: Json) => i.deviceId)).toEqual(['dev-0000001', 'dev-0000002', 'dev-0000003']);
  });
});

describe('a task that has not started', () => {
  test('lists no device, exports only the header and generates an empty audience', async () => {
    const scheduled = await seedTask({ devices: [{ deviceId: 's-1' }], audience: ['s-1'] });
    const page = ok(await listDevices(scheduled.taskId, {}));
    expect(page).toEqual({ items: [], total: 0, nextCursor: null });
    expect(ok(await listDevices(scheduled.taskId, { sendResult: 'pending' }))).toEqual({
      items: [],
      total: 0,
      nextCursor: null,
    });
    const csv = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS}/tasks/${scheduled.taskId}/devices.csv`,
    });
    expect(csv.statusCode).toBe(200);
    expect(csv.body).toBe(
      'deviceId,batchId,platform,channel,sendResult,failureReason,deliveredAt,impressionAt,openAt,dismissalAt\r\n',
    );
    const empty = await generate(scheduled.taskId, { name: 'Empty', filter: {} });
    expect(empty.statusCode).toBe(409);
    expect((empty.json() as Json).error.code).toBe('GENERATED_AUDIENCE_EMPTY');
  });
});

describe('a task that is sending', () => {
  let sending: SeededTask;

  beforeAll(async () => {
    // Audience p-0 … p-9. Batch 1 (p-0 … p-3) is recorded; batch 2 (p-4 … p-6) is written ahead but
    // not recorded (p-5 has no push token: counted unmatched); the cursor is at p-6, so p-7 … p-9 are
    // not taken yet (p-8 has no push token, which will only be found out when it is taken).
    const ids = Array.from({ length: 10 }, (_, i) => `p-${i}`);
    sending = await seedTask({
      devices: ids
        .filter((id) => id !== 'p-5' && id !== 'p-8')
        .map((deviceId, i) => ({ deviceId, channel: i % 2 === 0 ? 'xiaomi' : 'huawei' })),
      audience: ids,
    });
    const at = t.clock.now.toISOString();
    const rows: DeviceResultRow[] = ['p-0', 'p-1', 'p-2', 'p-3'].map((deviceId, i) => ({
      task_id: sending.taskId,
      device_id: deviceId,
      batch_seq: 1,
      channel: 'xiaomi',
      send_result: i === 3 ? 'failure' : 'success',
      failure_reason: i === 3 ? 'InvalidToken' : null,
      delivered_at: i === 3 ? null : at,
      impression_at: null,
      open_at: i === 0 ? at : null,
      dismissal_at: null,
    }));
    for (const [seq, first, last, status] of [
      [1, 'p-0', 'p-3', 'sent'],
      [2, 'p-4', 'p-6', 'prepared'],
    ] as const) {
      await t.db
        .insertInto('batches')
        .values({
          task_id: sending.taskId,
          seq,
          status,
          first_device_id: first,
          last_device_id: last,
          device_count: seq === 1 ? 4 : 2,
          provider_ref: null,
          error_code: null,
          error_message: null,
          attempts: 1,
          created_at: at,
          sent_at: null,
        })
        .execute();
    }
    await writeSend(
      sending.taskId,
      rows,
      { ...countersOf(rows, 1), planned_sends: 10, pending: 5, status: 'sending', completed_at: null },
      { cursor: 'p-6', batches: 2 },
    );
  });

  test('pending lists the devices not handed over yet, from the prepared batch and beyond the cursor', async () => {
    const page = ok(await listDevices(sending.taskId, { sendResult: 'pending' }));
    expect(page.total).toBe(5);
    expect(page.items.map((i: Json) => [i.deviceId, i.sendResult, i.batchId, i.channel])).toEqual([
      ['p-4', 'pending', null, 'xiaomi'],
      ['p-6', 'pending', null, 'huawei'],
      ['p-7', 'pending', null, 'xiaomi'],
      ['p-8', 'pending', null, ''],
      ['p-9', 'pending', null, 'huawei'],
    ]);
    expect(page.items[0]).toMatchObject({ failureReason: null, deliveredAt: null, openAt: null });
    const { items, totals } = await allPages(sending.taskId, { sendResult: 'pending' }, 2);
    expect(items.map((i) => i.deviceId)).toEqual(['p-4', 'p-6', 'p-7', 'p-8', 'p-9']);
    expect(new Set(totals)).toEqual(new Set([5]));
    expect(ok(await listDevices(sending.taskId, { sendResult: 'pending', without: 'open' })).total).toBe(5);
    const searched = ok(await listDevices(sending.taskId, { sendResult: 'pending', deviceId: 'p-7' }));
    expect(searched.items.map((i: Json) => i.deviceId)).toEqual(['p-7']);
    expect(ok(await listDevices(sending.taskId, { sendResult: 'pending', receipt: 'open' }))).toEqual({
      items: [],
      total: 0,
      nextCursor: null,
    });
  });

  test('the other filters list the results recorded so far', async () => {
    const all = ok(await listDevices(sending.taskId, {}));
    expect(all.total).toBe(4);
    expect(all.items.map((i: Json) => i.deviceId)).toEqual(['p-0', 'p-1', 'p-2', 'p-3']);
    expect(ok(await listDevices(sending.taskId, { sendResult: 'success', without: 'open' })).total).toBe(2);
  });

  test('pending can be exported and saved as an audience', async () => {
    const csv = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS}/tasks/${sending.taskId}/devices.csv?sendResult=pending`,
    });
    expect(csv.body.split('\r\n').slice(1, 3)).toEqual([
      'p-4,,android,xiaomi,pending,,,,,',
      'p-6,,android,huawei,pending,,,,,',
    ]);
    const created = ok(
      await generate(sending.taskId, { name: 'Not yet', filter: { sendResult: 'pending' } }),
      201,
    );
    expect(created.size).toBe(5);
    expect(await membersOf(created.id)).toEqual(['p-4', 'p-6', 'p-7', 'p-8', 'p-9']);
  });

  test('pending lists nothing once the task has left sending', async () => {
    await t.db.updateTable('tasks').set({ status: 'completed' }).where('id', '=', sending.taskId).execute();
    try {
      expect(ok(await listDevices(sending.taskId, { sendResult: 'pending' }))).toEqual({
        items: [],
        total: 0,
        nextCursor: null,
      });
    } finally {
      await t.db.updateTable('tasks').set({ status: 'sending' }).where('id', '=', sending.taskId).execute();
    }
  });
});

describe('retention and tenancy', () => {
  const detailRequests = (taskId: string, workspace = WS) => [
    { method: 'GET' as const, url: `${workspace}/tasks/${taskId}/devices` },
    { method: 'GET' as const, url: `${workspace}/tasks/${taskId}/devices?sendResult=success&limit=5` },
    { method: 'GET' as const, url: `${workspace}/tasks/${taskId}/devices.csv` },
    {
      method: 'POST' as const,
      url: `${workspace}/tasks/${taskId}/audiences`,
      body: { name: 'Late', filter: {} },
    },
  ];

  test('after the retention window every detail route answers 410; the statistics stay', async () => {
    const real = t.clock.now;
    const audiencesBefore = await t.db.selectFrom('audiences').select('id').execute();
    // Started an hour ago: retention ends 71 hours from now (exclusive).
    t.clock.now = new Date(real.getTime() + 71 * HOUR + 1);
    try {
      for (const request of detailRequests(android.taskId)) {
        const res = await t.request(t.adminToken, request);
        expect(res.statusCode, `${request.method} ${request.url}`).toBe(410);
        const error = (res.json() as Json).error;
        expect(error.code).toBe('DEVICE_DETAILS_EXPIRED');
        expect(error.message).toContain('expired at');
        expect(error.message).toContain('aggregate statistics stay available');
      }
      const read = ok(await t.request(t.adminToken, { method: 'GET', url: `${WS}/tasks/${android.taskId}` }));
      expect(read.statistics.totalSent).toBe(30);
      t.clock.now = new Date(real.getTime() + 71 * HOUR - 1000);
      expect((await listDevices(android.taskId, {})).statusCode).toBe(200);
    } finally {
      t.clock.now = real;
    }
    // No half-made audience was left behind by the refused Generate Audience.
    expect(await t.db.selectFrom('audiences').select('id').execute()).toEqual(audiencesBefore);
  });

  test('once the retention job has deleted the details, every detail route answers 410', async () => {
    const purged = await seedTask({ devices: [{ deviceId: 'r-1' }], audience: ['r-1'] });
    await writeSend(purged.taskId, [], { details_purged_at: t.clock.now.toISOString(), total_sent: 0 });
    for (const request of detailRequests(purged.taskId)) {
      const res = await t.request(t.adminToken, request);
      expect(res.statusCode, `${request.method} ${request.url}`).toBe(410);
      expect((res.json() as Json).error.message).toContain('were deleted at');
    }
  });

  test("another workspace's task, or an unknown one, is 404 TASK_NOT_FOUND", async () => {
    const other = ok(
      await t.request(t.adminToken, { method: 'POST', url: '/api/v1/workspaces', body: { name: 'Other' } }),
      201,
    );
    const requests = [
      ...detailRequests(android.taskId, `/api/v1/workspaces/${other.id}`),
      { method: 'GET' as const, url: `/api/v1/workspaces/${other.id}/tasks/${android.taskId}/events` },
      ...detailRequests('tsk_unknown'),
      { method: 'GET' as const, url: `${WS}/tasks/tsk_unknown/events` },
    ];
    for (const request of requests) {
      const res = await t.request(t.adminToken, request);
      expect(res.statusCode, `${request.method} ${request.url}`).toBe(404);
      expect((res.json() as Json).error.code).toBe('TASK_NOT_FOUND');
    }
  });
});

/** The events of an SSE body: `{event, data}` per frame, comments as `{comment}`. */
function parseEvents(text: string): { event?: string; data?: Json; comment?: string }[] {
  return text
    .split('\n\n')
    .filter((frame) => frame !== '')
    .map((frame) => {
      if (frame.startsWith(':')) return { comment: frame.slice(1).trim() };
      const fields = Object.fromEntries(
        frame
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
      );
      return { event: fields.event, data: JSON.parse(fields.data as string) };
    });
}

describe('live statistics events', () => {
  test('a task whose statistics are final gets its statistics, then the end of the stream', async () => {
    const real = t.clock.now;
    t.clock.now = new Date(real.getTime() + 80 * HOUR);
    try {
      const res = await t.request(t.adminToken, {
        method: 'GET',
        url: `${WS}/tasks/${android.taskId}/events`,
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['x-accel-buffering']).toBe('no');
      const read = ok(await t.request(t.adminToken, { method: 'GET', url: `${WS}/tasks/${android.taskId}` }));
      expect(parseEvents(res.body)).toEqual([
        {
          event: 'statistics',
          data: {
            status: 'completed',
            stoppedAt: null,
            statistics: read.statistics,
            statisticsFinalAt: read.statisticsFinalAt,
            detailsExpireAt: read.detailsExpireAt,
          },
        },
        { event: 'end', data: { reason: 'final' } },
      ]);
    } finally {
      t.clock.now = real;
    }
  });

  test('a failed task ends its stream at once', async () => {
    const failed = await seedTask({ devices: [], audience: ['f-1'] });
    await writeSend(failed.taskId, [], {
      status: 'failed',
      failure_reason:
        'None of the 1 audience devices has a push token registered for this app (empty match).',
      planned_sends: 1,
      unmatched: 1,
    });
    const res = await t.request(t.adminToken, { method: 'GET', url: `${WS}/tasks/${failed.taskId}/events` });
    const events = parseEvents(res.body);
    expect(events.map((e) => e.event)).toEqual(['statistics', 'end']);
    expect(events[0]?.data.status).toBe('failed');
    expect(events[1]?.data).toEqual({ reason: 'failed' });
  });

  test('a stopped task says when the stop came, and its stream ends once its statistics are final', async () => {
    const stopped = await seedTask({ devices: [{ deviceId: 's-1' }], audience: ['s-1'] });
    const stoppedAt = new Date(t.clock.now.getTime() - HOUR).toISOString();
    await writeSend(stopped.taskId, [], {
      status: 'stopped',
      stopped_at: stoppedAt,
      planned_sends: 1,
      cancelled: 1,
    });
    const real = t.clock.now;
    t.clock.now = new Date(real.getTime() + 80 * HOUR);
    try {
      const res = await t.request(t.adminToken, {
        method: 'GET',
        url: `${WS}/tasks/${stopped.taskId}/events`,
      });
      const events = parseEvents(res.body);
      expect(events.map((e) => e.event)).toEqual(['statistics', 'end']);
      expect(events[0]?.data).toMatchObject({ status: 'stopped', stoppedAt, statistics: { cancelled: 1 } });
      expect(events[1]?.data).toEqual({ reason: 'final' });
    } finally {
      t.clock.now = real;
    }
  });

  test('a viewer may follow the events', async () => {
    const viewer = ok(
      await t.request(t.adminToken, {
        method: 'POST',
        url: `${WS}/tokens`,
        body: { name: 'watcher', role: 'viewer' },
      }),
      201,
    ).token as string;
    const real = t.clock.now;
    t.clock.now = new Date(real.getTime() + 80 * HOUR);
    try {
      const res = await t.request(viewer, { method: 'GET', url: `${WS}/tasks/${android.taskId}/events` });
      expect(res.statusCode).toBe(200);
    } finally {
      t.clock.now = real;
    }
  });
});

/** Reads SSE frames from a fetch body, one at a time. */
function frameReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    /** The next frame, or undefined once the stream has ended. */
    async next(): Promise<{ event?: string; data?: Json; comment?: string } | undefined> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end !== -1) {
          const frame = buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 2);
          return parseEvents(frame)[0];
        }
        const { value, done } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

describe('live statistics events over HTTP', () => {
  let live: TestInstance;
  let base: string;
  let taskId: string;
  let headers: Record<string, string>;

  beforeAll(async () => {
    live = await createTestInstance();
    const seeded = await seedTask(
      { devices: [{ deviceId: 'l-1' }, { deviceId: 'l-2' }], audience: ['l-1', 'l-2'] },
      live,
    );
    taskId = seeded.taskId;
    const rows: DeviceResultRow[] = ['l-1', 'l-2'].map((deviceId) => ({
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
    }));
    const counters = {
      ...countersOf(rows),
      status: 'sending' as const,
      completed_at: null,
    };
    await writeSend(taskId, rows, counters, { cursor: 'l-2', batches: 1 }, live);
    base = await live.app.listen({ port: 0, host: '127.0.0.1' });
    headers = { authorization: `Bearer ${live.adminToken}` };
  });

  afterAll(async () => {
    await live.close();
  });

  test('a sending task streams every change of its statistics, then ends once they are final', async () => {
    const abort = new AbortController();
    const res = await fetch(`${base}${WS}/tasks/${taskId}/events`, { headers, signal: abort.signal });
    try {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const frames = frameReader(res.body as ReadableStream<Uint8Array>);
      const first = await frames.next();
      expect(first?.event).toBe('statistics');
      expect(first?.data.status).toBe('sending');
      expect(first?.data.statistics).toMatchObject({ totalSent: 2, deliveries: 0, noFeedback: 2 });

      // A delivery receipt arrives for l-1.
      await live.db
        .updateTable('tasks')
        .set((eb) => ({ deliveries: eb('deliveries', '+', 1), no_feedback: eb('no_feedback', '-', 1) }))
        .where('id', '=', taskId)
        .execute();
      const second = await frames.next();
      expect(second?.event).toBe('statistics');
      expect(second?.data.statistics).toMatchObject({ deliveries: 1, noFeedback: 1, impressionRate: 0 });

      // The send completes: still open, since receipts keep coming during the statistics window.
      await live.db.updateTable('tasks').set({ status: 'completed' }).where('id', '=', taskId).execute();
      const third = await frames.next();
      expect(third?.data.status).toBe('completed');

      // The statistics window closes: the stream ends by itself.
      live.clock.now = new Date(live.clock.now.getTime() + 80 * HOUR);
      expect(await frames.next()).toEqual({ event: 'end', data: { reason: 'final' } });
      expect(await frames.next()).toBeUndefined();
    } finally {
      abort.abort();
      live.clock.now = new Date(live.clock.now.getTime() - 80 * HOUR);
      await live.db.updateTable('tasks').set({ status: 'sending' }).where('id', '=', taskId).execute();
    }
  });

  test('a client may go away at any time; the server keeps serving', async () => {
    const abort = new AbortController();
    const res = await fetch(`${base}${WS}/tasks/${taskId}/events`, { headers, signal: abort.signal });
    const frames = frameReader(res.body as ReadableStream<Uint8Array>);
    expect((await frames.next())?.event).toBe('statistics');
    abort.abort();
    const health = await fetch(`${base}/api/v1/health`);
    expect(health.status).toBe(200);
  });

  test('closing the server ends the streams still open', async () => {
    const res = await fetch(`${base}${WS}/tasks/${taskId}/events`, { headers });
    const frames = frameReader(res.body as ReadableStream<Uint8Array>);
    expect((await frames.next())?.event).toBe('statistics');
    const closed = live.app.close();
    // The stream ends (no `end` event: nothing about the task is final) and close does not wait for a client.
    expect(await frames.next()).toBeUndefined();
    await closed;
  });
});
