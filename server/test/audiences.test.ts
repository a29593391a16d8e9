import type { InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { importAudienceFile, purgeAbandonedAudiences } from '../src/audiences/audience-import.ts';
import { AppError } from '../src/errors.ts';
import type { TaskRow } from '../src/storage/database.ts';
import { UNSENT_TASK_COUNTERS } from '../src/tasks/task-store.ts';
import { createTestInstance, multipartBody, type TestInstance } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

const base = '/api/v1/workspaces/default/audiences';

function call(options: InjectOptions, token = t.adminToken) {
  return t.request(token, options);
}

async function createFromIds(name: string, deviceIds: string[], workspaceBase = base) {
  const res = await call({ method: 'POST', url: workspaceBase, body: { name, deviceIds } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; name: string; size: number; source: string };
}

function upload(name: string | undefined, filename: string, content: string | Buffer) {
  const { payload, headers } = multipartBody(name === undefined ? {} : { name }, {
    field: 'file',
    filename,
    content,
    contentType: filename.endsWith('.csv') ? 'text/csv' : 'text/plain',
  });
  return call({ method: 'POST', url: base, payload, headers });
}

async function membersOf(audienceId: string): Promise<string[]> {
  const rows = await t.db
    .selectFrom('audience_members')
    .select('device_id')
    .where('audience_id', '=', audienceId)
    .orderBy('device_id')
    .execute();
  return rows.map((r) => r.device_id);
}

/** Every audience and member row, whatever its status: what a rejected upload must leave untouched. */
async function storedRows() {
  const audiences = await t.db
    .selectFrom('audiences')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const members = await t.db
    .selectFrom('audience_members')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return { audiences: Number(audiences.n), members: Number(members.n) };
}

async function createWorkspace(name: string): Promise<string> {
  const res = await call({ method: 'POST', url: '/api/v1/workspaces', body: { name } });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

async function viewerToken(): Promise<string> {
  const res = await call({
    method: 'POST',
    url: '/api/v1/workspaces/default/tokens',
    body: { name: 'read only', role: 'viewer' },
  });
  expect(res.statusCode).toBe(201);
  return res.json().token as string;
}

/** Inserts a task row directly (with its app): the tasks API is built elsewhere. */
async function insertTask(audienceId: string, status: TaskRow['status']): Promise<string> {
  const now = new Date().toISOString();
  const appId = `app_${Math.random().toString(36).slice(2)}`;
  await t.db
    .insertInto('apps')
    .values({
      id: appId,
      workspace_id: 'default',
      name: 'Shop Android',
      platform: 'android',
      provider: 'simulator',
      provider_config: '{}',
      receipt_secret: `rs_${appId}`,
      sdk_key: `sk_${appId}`,
      sdk_secret: `ss_${appId}`,
      created_at: now,
      updated_at: now,
    })
    .execute();
  const id = `tsk_${Math.random().toString(36).slice(2)}`;
  await t.db
    .insertInto('tasks')
    .values({
      id,
      workspace_id: 'default',
      app_id: appId,
      name: 'Spring sale',
      title: 'Sale',
      content: 'Everything half price',
      click_action: '{"type":"open_app"}',
      audience_id: audienceId,
      send_type: 'scheduled',
      scheduled_at: now,
      status,
      failure_reason: null,
      created_at: now,
      updated_at: now,
      started_at: null,
      completed_at: null,
      ...UNSENT_TASK_COUNTERS,
    })
    .execute();
  return id;
}

describe('creating an audience from a JSON list', () => {
  test('IDs are trimmed and duplicates collapse; the response carries the new audience', async () => {
    const res = await call({
      method: 'POST',
      url: base,
      body: { name: '  VIP buyers ', deviceIds: ['oaid-1', ' oaid-2 ', 'oaid-1', 'oaid-3', 'oaid-2'] },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      name: 'VIP buyers',
      size: 3,
      source: 'api',
      status: 'ready',
      fileName: null,
      sourceTaskId: null,
      sourceFilter: null,
      usedByTasks: 0,
      activeTasks: 0,
    });
    expect(body.id).toMatch(/^aud_/);
    expect(await membersOf(body.id)).toEqual(['oaid-1', 'oaid-2', 'oaid-3']);
  });

  test('blank and malformed IDs answer 400 VALIDATION_FAILED naming each entry, and nothing is stored', async () => {
    const res = await call({
      method: 'POST',
      url: base,
      body: {
        name: 'bad',
        deviceIds: ['ok-1', '   ', 'has space', 'x'.repeat(129), 'tab\there', 'bell\u0007'],
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('VALIDATION_FAILED');
    expect(res.json().error.details).toEqual([
      { field: 'deviceIds.1', code: 'BLANK', message: 'is blank' },
      { field: 'deviceIds.2', code: 'VALUE_INVALID', message: 'contains whitespace' },
      {
        field: 'deviceIds.3',
        code: 'VALUE_INVALID',
        message: 'is 129 characters long; device IDs have at most 128',
      },
      { field: 'deviceIds.4', code: 'VALUE_INVALID', message: 'contains whitespace' },
      { field: 'deviceIds.5', code: 'VALUE_INVALID', message: 'contains a control character' },
    ]);
    expect(await storedRows()).toEqual({ audiences: 0, members: 0 });
  });

  test('missing and mistyped fields answer 400 VALIDATION_FAILED naming the fields', async () => {
    const missing = await call({ method: 'POST', url: base, body: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.code).toBe('VALIDATION_FAILED');
    expect(
      missing
        .json()
        .error.details.map((d: { field: string }) => d.field)
        .sort(),
    ).toEqual(['deviceIds', 'name']);

    const mistyped = await call({ method: 'POST', url: base, body: { name: 'x', deviceIds: 'oaid-1' } });
    expect(mistyped.statusCode).toBe(400);
    expect(mistyped.json().error.details[0].field).toBe('deviceIds');

    const empty = await call({ method: 'POST', url: base, body: { name: 'x', deviceIds: [] } });
    expect(empty.statusCode).toBe(400);

    const blankName = await call({ method: 'POST', url: base, body: { name: '   ', deviceIds: ['a'] } });
    expect(blankName.statusCode).toBe(400);
    expect(blankName.json().error.details[0].field).toBe('name');

    const extra = await call({ method: 'POST', url: base, body: { name: 'x', deviceIds: ['a'], size: 3 } });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error.details[0]).toEqual({
      field: 'size',
      code: 'UNKNOWN_FIELD',
      message: 'is not a known field',
    });
  });

  test('100,000 IDs fit in one request; more answer 400, and a body over the limit answers 413', async () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => `device-${i}`);
    const big = await createFromIds('hundred thousand', ids);
    expect(big.size).toBe(100_000);

    const tooMany = await call({
      method: 'POST',
      url: base,
      body: { name: 'too many', deviceIds: [...ids, 'one-more'] },
    });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().error.code).toBe('VALIDATION_FAILED');

    const huge = await call({
      method: 'POST',
      url: base,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'huge', deviceIds: ['x'.repeat(20 * 1024 * 1024)] }),
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await storedRows()).toEqual({ audiences: 1, members: 100_000 });
  });

  test('a body of another media type answers 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await call({
      method: 'POST',
      url: base,
      headers: { 'content-type': 'application/xml' },
      payload: '<ids/>',
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('uploading an audience file', () => {
  test('a TXT file with one ID per line: blank lines are skipped and duplicates collapse', async () => {
    const res = await upload('Newsletter', 'ids.txt', 'a-1\n\na-2\n  a-3  \na-1\n\n\na-2\n');
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: 'Newsletter', size: 3, source: 'upload', fileName: 'ids.txt' });
    expect(await membersOf(res.json().id)).toEqual(['a-1', 'a-2', 'a-3']);
  });

  test('a CSV with a header row reads the deviceId column, whatever its case, and ignores the others', async () => {
    const csv = 'name,DeviceID,city\nAnn,d-1,Paris\n"Lee, Bo","d-2",Lyon\n,,\nZoe,d-1,Nice\n';
    const res = await upload('From CRM', 'crm.csv', csv);
    expect(res.statusCode).toBe(201);
    expect(res.json().size).toBe(2);
    expect(await membersOf(res.json().id)).toEqual(['d-1', 'd-2']);
  });

  test('a UTF-8 BOM and CRLF line ends are handled', async () => {
    const content = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('deviceId\r\nx-1\r\nx-2\r\n\r\n'),
    ]);
    const res = await upload('Excel export', 'export.csv', content);
    expect(res.statusCode).toBe(201);
    expect(await membersOf(res.json().id)).toEqual(['x-1', 'x-2']);
  });

  test('a raw text/csv body with ?name= is imported as an upload', async () => {
    const res = await call({
      method: 'POST',
      url: `${base}?name=Raw%20upload&fileName=raw.csv`,
      headers: { 'content-type': 'text/csv; charset=utf-8' },
      payload: 'r-1\nr-2\nr-2\n',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: 'Raw upload', size: 2, source: 'upload', fileName: 'raw.csv' });
  });

  test('a raw body without ?name= answers 400 and stores nothing', async () => {
    const res = await call({
      method: 'POST',
      url: base,
      headers: { 'content-type': 'text/plain' },
      payload: 'r-1\n',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].field).toBe('name');
    expect(await storedRows()).toEqual({ audiences: 0, members: 0 });
  });

  test('bad lines reject the whole file with CSV_INVALID naming the lines, and leave no rows behind', async () => {
    const lines = ['good-1', 'good-2', 'has space', '', 'y'.repeat(200), 'good-3', 'a,b'];
    const res = await upload('Broken', 'broken.txt', `${lines.join('\n')}\n`);
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.code).toBe('CSV_INVALID');
    expect(error.message).toContain('line 3');
    expect(error.details).toEqual({
      errors: [
        { line: 3, code: 'DEVICE_ID_INVALID', message: 'contains whitespace' },
        {
          line: 5,
          code: 'DEVICE_ID_INVALID',
          message: 'is 200 characters long; device IDs have at most 128',
        },
        {
          line: 7,
          code: 'TOO_MANY_VALUES',
          params: { count: 2 },
          message:
            'has 2 comma-separated values; put one device ID per line, or add a header row with a deviceId column',
        },
      ],
      errorCount: 3,
    });
    expect(await storedRows()).toEqual({ audiences: 0, members: 0 });
  });

  test('a bad line late in a file that spans many batches still leaves no rows behind', async () => {
    const good = Array.from({ length: 45_000 }, (_, i) => `id-${i}`).join('\n');
    const res = await upload('Late error', 'late.txt', `${good}\nbad\u0001id\n`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual({
      errors: [{ line: 45_001, code: 'DEVICE_ID_INVALID', message: 'contains a control character' }],
      errorCount: 1,
    });
    expect(await storedRows()).toEqual({ audiences: 0, members: 0 });
  });

  test('the details list the first 100 bad lines and the total count', async () => {
    const content = Array.from({ length: 150 }, (_, i) => `bad id ${i}`).join('\n');
    const res = await upload('Many errors', 'many.txt', content);
    expect(res.statusCode).toBe(400);
    const { details } = res.json().error;
    expect(details.errors).toHaveLength(100);
    expect(details.errors[99]).toEqual({
      line: 100,
      code: 'DEVICE_ID_INVALID',
      message: 'contains whitespace',
    });
    expect(details.errorCount).toBe(150);
  });

  test('a CSV row without a value in the deviceId column is a bad line', async () => {
    const res = await upload('Gaps', 'gaps.csv', 'deviceId,city\nd-1,Paris\n,Lyon\n');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.errors).toEqual([
      { line: 3, code: 'DEVICE_ID_MISSING', message: 'has no value in the deviceId column (1)' },
    ]);
  });

  test('a file without device IDs answers CSV_INVALID', async () => {
    for (const content of ['', '\n\n\r\n', 'deviceId,city\n\n']) {
      const res = await upload('Empty', 'empty.csv', content);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('CSV_INVALID');
      expect(res.json().error.message).toContain('no device IDs');
    }
    expect(await storedRows()).toEqual({ audiences: 0, members: 0 });
  });

  test('a multipart upload without a name or without a file answers 400 VALIDATION_FAILED', async () => {
    const noName = await upload(undefined, 'ids.txt', 'a\n');
    expect(noName.statusCode).toBe(400);
    expect(noName.json().error.details[0].field).toBe('name');

    const { payload, headers } = multipartBody({ name: 'No file' });
    const noFile = await call({ method: 'POST', url: base, payload, headers });
    expect(noFile.statusCode).toBe(400);
    expect(noFile.json().error.details[0].field).toBe('file');
    expect(await storedRows()).toEqual({ audiences: 0, members: 0 });
  });

  test('a file over the upload limit answers 413 PAYLOAD_TOO_LARGE and leaves no rows behind', async () => {
    const small = await createTestInstance({ PUSHBOARD_UPLOAD_LIMIT_BYTES: '2048' });
    try {
      const content = Array.from({ length: 500 }, (_, i) => `device-${i}`).join('\n');
      const { payload, headers } = multipartBody(
        { name: 'Too big' },
        { field: 'file', filename: 'big.txt', content },
      );
      const url = '/api/v1/workspaces/default/audiences';
      const multipart = await small.request(small.adminToken, { method: 'POST', url, payload, headers });
      expect(multipart.statusCode).toBe(413);
      expect(multipart.json().error.code).toBe('PAYLOAD_TOO_LARGE');

      const raw = await small.request(small.adminToken, {
        method: 'POST',
        url: `${url}?name=Too%20big`,
        headers: { 'content-type': 'text/plain' },
        payload: content,
      });
      expect(raw.statusCode).toBe(413);
      expect(raw.json().error.code).toBe('PAYLOAD_TOO_LARGE');
      const count = await small.db
        .selectFrom('audiences')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(0);
    } finally {
      await small.close();
    }
  });
});

describe('importAudienceFile', () => {
  async function* chunks(...parts: (string | Buffer)[]) {
    for (const part of parts) yield typeof part === 'string' ? Buffer.from(part) : part;
  }

  test('lines, multi-byte characters and CRLF split across chunks are put back together', async () => {
    const text = Buffer.from('\uFEFFdeviceId\r\nidé-1\r\nidé-2\r\n');
    const parts = Array.from({ length: text.length }, (_, i) => text.subarray(i, i + 1));
    const progress: number[] = [];
    const created = await importAudienceFile(t.db, {
      workspaceId: 'default',
      name: 'Byte by byte',
      fileName: 'bytes.csv',
      source: 'upload',
      lines: chunks(...parts),
      now: new Date(),
      onProgress: (p) => progress.push(p.deviceIds),
    });
    expect(created).toMatchObject({ name: 'Byte by byte', size: 2, source: 'upload' });
    expect(await membersOf(created.id)).toEqual(['idé-1', 'idé-2']);
    expect(progress.at(-1)).toBe(2);
  });

  test('a stream that fails half-way (an aborted upload) leaves no rows behind', async () => {
    async function* aborted() {
      yield Buffer.from(`${Array.from({ length: 45_000 }, (_, i) => `id-${i}`).join('\n')}\n`);
      throw new Error('client went away');
    }
    await expect(
      importAudienceFile(t.db, {
        workspaceId: 'default',
        name: 'Aborted',
        fileName: null,
        source: 'upload',
        lines: aborted(),
        now: new Date(),
      }),
    ).rejects.toThrow('client went away');
    expect(await storedRows()).toEqual({ audiences: 0, members: 0 });
  });

  test('a line too long to be a device ID is rejected without being held in memory', async () => {
    const error = await importAudienceFile(t.db, {
      workspaceId: 'default',
      name: 'Long line',
      fileName: null,
      source: 'upload',
      lines: chunks('ok-1\n', 'z'.repeat(50_000), 'z'.repeat(50_000), '\nok-2\n'),
      now: new Date(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).details).toEqual({
      errors: [
        {
          line: 2,
          code: 'LINE_TOO_LONG',
          params: { limit: 65536 },
          message: 'is longer than 65536 characters',
        },
      ],
      errorCount: 1,
    });
  });

  test('non-UTF-8 text and invisible characters are named as such', async () => {
    const error = await importAudienceFile(t.db, {
      workspaceId: 'default',
      name: 'GBK',
      fileName: null,
      source: 'upload',
      lines: chunks(Buffer.from([0x61, 0xd6, 0xd0, 0x0a]), 'zero\u200bwidth\n'),
      now: new Date(),
    }).catch((e: unknown) => e);
    expect((error as AppError).details).toEqual({
      errors: [
        { line: 1, code: 'DEVICE_ID_INVALID', message: 'is not valid UTF-8 text (save the file as UTF-8)' },
        {
          line: 2,
          code: 'DEVICE_ID_INVALID',
          message: 'contains an invisible formatting character (U+200B)',
        },
      ],
      errorCount: 2,
    });
  });

  test('an unknown workspace answers WORKSPACE_NOT_FOUND', async () => {
    await expect(
      importAudienceFile(t.db, {
        workspaceId: 'nope',
        name: 'x',
        fileName: null,
        source: 'upload',
        lines: chunks('a\n'),
        now: new Date(),
      }),
    ).rejects.toMatchObject({ code: 'WORKSPACE_NOT_FOUND' });
  });

  test('audiences abandoned by a stopped process are purged at start-up, fresh imports are not', async () => {
    const now = new Date('2026-03-01T12:00:00Z');
    const row = { workspace_id: 'default', name: 'x', source: 'upload' as const, file_name: null };
    const extra = { source_task_id: null, source_filter: null, size: 0 };
    await t.db
      .insertInto('audiences')
      .values([
        { ...row, ...extra, id: 'aud_old', status: 'importing', created_at: '2026-02-27T00:00:00.000Z' },
        { ...row, ...extra, id: 'aud_fresh', status: 'importing', created_at: '2026-03-01T11:00:00.000Z' },
        { ...row, ...extra, id: 'aud_deleting', status: 'deleting', created_at: '2026-03-01T11:00:00.000Z' },
      ])
      .execute();
    await t.db
      .insertInto('audience_members')
      .values([
        { audience_id: 'aud_old', device_id: 'a' },
        { audience_id: 'aud_deleting', device_id: 'b' },
        { audience_id: 'aud_fresh', device_id: 'c' },
      ])
      .execute();
    expect(await purgeAbandonedAudiences(t.db, now)).toBe(2);
    expect(await t.db.selectFrom('audiences').select('id').execute()).toEqual([{ id: 'aud_fresh' }]);
    expect(await storedRows()).toEqual({ audiences: 1, members: 1 });
  });
});

describe('reading audiences', () => {
  test('the list is paged, newest first, and filters by name and source', async () => {
    const first = await createFromIds('Spring VIP', ['a']);
    t.clock.now = new Date(t.clock.now.getTime() + 1_000);
    const second = await createFromIds('Autumn churners', ['a', 'b']);
    t.clock.now = new Date(t.clock.now.getTime() + 1_000);
    const third = (await upload('spring upload', 'x.txt', 'a\nb\nc\n')).json();

    const all = await call({ method: 'GET', url: base });
    expect(all.statusCode).toBe(200);
    expect(all.json()).toMatchObject({ total: 3, page: 1, pageSize: 20 });
    expect(all.json().items.map((a: { id: string }) => a.id)).toEqual([third.id, second.id, first.id]);
    expect(Object.keys(all.json().items[0]).sort()).toEqual(
      [
        'activeTasks',
        'createdAt',
        'fileName',
        'id',
        'name',
        'size',
        'source',
        'sourceFilter',
        'sourceTaskId',
        'status',
        'usedByTasks',
      ].sort(),
    );

    const spring = (await call({ method: 'GET', url: `${base}?q=SPRING` })).json();
    expect(spring.items.map((a: { id: string }) => a.id)).toEqual([third.id, first.id]);
    const uploads = (await call({ method: 'GET', url: `${base}?source=upload` })).json();
    expect(uploads.items.map((a: { id: string }) => a.id)).toEqual([third.id]);
    const page2 = (await call({ method: 'GET', url: `${base}?page=2&pageSize=2` })).json();
    expect(page2).toMatchObject({ total: 3, page: 2, pageSize: 2 });
    expect(page2.items.map((a: { id: string }) => a.id)).toEqual([first.id]);

    const badSource = await call({ method: 'GET', url: `${base}?source=segment` });
    expect(badSource.statusCode).toBe(400);
    expect(badSource.json().error.code).toBe('VALIDATION_FAILED');
  });

  test('an audience still importing is neither listed nor readable', async () => {
    await t.db
      .insertInto('audiences')
      .values({
        id: 'aud_importing',
        workspace_id: 'default',
        name: 'half-written',
        source: 'upload',
        status: 'importing',
        size: 0,
        file_name: null,
        source_task_id: null,
        source_filter: null,
        created_at: new Date().toISOString(),
      })
      .execute();
    expect((await call({ method: 'GET', url: base })).json().total).toBe(0);
    expect((await call({ method: 'GET', url: `${base}/aud_importing` })).statusCode).toBe(404);
  });

  test('an audience generated from a task result shows the task and the filter it came from', async () => {
    await t.db
      .insertInto('audiences')
      .values({
        id: 'aud_generated',
        workspace_id: 'default',
        name: 'Delivered, not opened',
        source: 'task_result',
        status: 'ready',
        size: 0,
        file_name: null,
        source_task_id: 'tsk_1',
        source_filter: '{"sendResult":"success","without":"open"}',
        created_at: new Date().toISOString(),
      })
      .execute();
    const res = await call({ method: 'GET', url: `${base}/aud_generated` });
    expect(res.json()).toMatchObject({
      source: 'task_result',
      sourceTaskId: 'tsk_1',
      sourceFilter: { sendResult: 'success', without: 'open' },
    });
    const listed = (await call({ method: 'GET', url: `${base}?source=task_result` })).json();
    expect(listed.items.map((a: { id: string }) => a.id)).toEqual(['aud_generated']);
  });

  test('one audience is read by ID; an unknown ID answers 404 AUDIENCE_NOT_FOUND', async () => {
    const created = await createFromIds('One', ['a', 'b']);
    const res = await call({ method: 'GET', url: `${base}/${created.id}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: created.id, name: 'One', size: 2, source: 'api' });
    const unknown = await call({ method: 'GET', url: `${base}/aud_nothing` });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('AUDIENCE_NOT_FOUND');
  });

  test('keyset pagination walks every member exactly once, in order', async () => {
    const ids = Array.from({ length: 2_345 }, (_, i) => `m-${String(i).padStart(5, '0')}`);
    const created = await createFromIds('Paged', [...ids].reverse());
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=1000&cursor=${cursor}` : '?limit=1000';
      const res = await call({ method: 'GET', url: `${base}/${created.id}/members${query}` });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.total).toBe(2_345);
      seen.push(...body.items.map((m: { deviceId: string }) => m.deviceId));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
  });

  test('an exact last page has no next cursor, and a limit over 1000 answers 400', async () => {
    const created = await createFromIds('Two', ['a', 'b']);
    const page = (await call({ method: 'GET', url: `${base}/${created.id}/members?limit=2` })).json();
    expect(page).toEqual({ items: [{ deviceId: 'a' }, { deviceId: 'b' }], total: 2, nextCursor: null });
    const tooBig = await call({ method: 'GET', url: `${base}/${created.id}/members?limit=1001` });
    expect(tooBig.statusCode).toBe(400);
    const badCursor = await call({ method: 'GET', url: `${base}/${created.id}/members?cursor=%2F%2F` });
    expect(badCursor.statusCode).toBe(400);
    const unknown = await call({ method: 'GET', url: `${base}/aud_nothing/members` });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('AUDIENCE_NOT_FOUND');
  });
});

describe('workspaces and roles', () => {
  test("another workspace's audiences answer 404 from this one, and the other way round", async () => {
    const otherId = await createWorkspace('Brand B');
    const otherBase = `/api/v1/workspaces/${otherId}/audiences`;
    const theirs = await createFromIds('Theirs', ['t-1'], otherBase);
    const ours = await createFromIds('Ours', ['o-1']);

    for (const [url, id] of [
      [base, theirs.id],
      [otherBase, ours.id],
    ] as const) {
      for (const options of [
        { method: 'GET', url: `${url}/${id}` },
        { method: 'GET', url: `${url}/${id}/members` },
        { method: 'PATCH', url: `${url}/${id}`, body: { name: 'stolen' } },
        { method: 'DELETE', url: `${url}/${id}` },
      ] as InjectOptions[]) {
        const res = await call(options);
        expect(res.statusCode, `${options.method} ${options.url}`).toBe(404);
        expect(res.json().error.code).toBe('AUDIENCE_NOT_FOUND');
      }
    }
    expect((await call({ method: 'GET', url: base })).json().items.map((a: { id: string }) => a.id)).toEqual([
      ours.id,
    ]);
    expect((await call({ method: 'GET', url: `${otherBase}/${theirs.id}` })).json().name).toBe('Theirs');
  });

  test('a viewer reads audiences but writing answers 403 FORBIDDEN', async () => {
    const created = await createFromIds('Readable', ['a']);
    const viewer = await viewerToken();
    expect((await call({ method: 'GET', url: base }, viewer)).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: `${base}/${created.id}/members` }, viewer)).statusCode).toBe(
      200,
    );
    const { payload, headers } = multipartBody(
      { name: 'x' },
      { field: 'file', filename: 'a.txt', content: 'a\n' },
    );
    for (const options of [
      { method: 'POST', url: base, body: { name: 'x', deviceIds: ['a'] } },
      { method: 'POST', url: base, payload, headers },
      { method: 'PATCH', url: `${base}/${created.id}`, body: { name: 'y' } },
      { method: 'DELETE', url: `${base}/${created.id}` },
    ] as InjectOptions[]) {
      const res = await call(options, viewer);
      expect(res.statusCode, `${options.method} ${options.url}`).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
    }
    expect(await storedRows()).toEqual({ audiences: 1, members: 1 });
  });
});

describe('renaming and deleting', () => {
  test('an audience is renamed; its members stay as they were', async () => {
    const created = await createFromIds('Old name', ['a', 'b']);
    const res = await call({ method: 'PATCH', url: `${base}/${created.id}`, body: { name: ' New name ' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: created.id, name: 'New name', size: 2 });
    expect(await membersOf(created.id)).toEqual(['a', 'b']);

    const blank = await call({ method: 'PATCH', url: `${base}/${created.id}`, body: { name: '' } });
    expect(blank.statusCode).toBe(400);
    const members = await call({ method: 'PATCH', url: `${base}/${created.id}`, body: { deviceIds: ['c'] } });
    expect(members.statusCode).toBe(400);
    const unknown = await call({ method: 'PATCH', url: `${base}/aud_nothing`, body: { name: 'x' } });
    expect(unknown.statusCode).toBe(404);
  });

  test('delete is refused with 409 AUDIENCE_IN_USE while a scheduled task uses it, allowed once it completed', async () => {
    const ids = Array.from({ length: 12_000 }, (_, i) => `d-${i}`);
    const created = await createFromIds('Targeted', ids);
    const taskId = await insertTask(created.id, 'scheduled');

    const shown = (await call({ method: 'GET', url: `${base}/${created.id}` })).json();
    expect(shown).toMatchObject({ usedByTasks: 1, activeTasks: 1 });

    const refused = await call({ method: 'DELETE', url: `${base}/${created.id}` });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('AUDIENCE_IN_USE');
    expect(refused.json().error.details).toEqual({ taskIds: [taskId] });
    expect((await call({ method: 'GET', url: `${base}/${created.id}` })).statusCode).toBe(200);

    await t.db.updateTable('tasks').set({ status: 'sending' }).where('id', '=', taskId).execute();
    expect((await call({ method: 'DELETE', url: `${base}/${created.id}` })).statusCode).toBe(409);

    await t.db.updateTable('tasks').set({ status: 'completed' }).where('id', '=', taskId).execute();
    expect((await call({ method: 'GET', url: `${base}/${created.id}` })).json()).toMatchObject({
      usedByTasks: 1,
      activeTasks: 0,
    });
    const deleted = await call({ method: 'DELETE', url: `${base}/${created.id}` });
    expect(deleted.statusCode).toBe(204);
    expect((await call({ method: 'GET', url: `${base}/${created.id}` })).statusCode).toBe(404);
    expect(await storedRows()).toEqual({ audiences: 0, members: 0 });
    // The finished task keeps pointing at the audience it was sent to.
    const task = await t.db.selectFrom('tasks').select('audience_id').executeTakeFirstOrThrow();
    expect(task.audience_id).toBe(created.id);
  });

  test('deleting an unknown audience answers 404 AUDIENCE_NOT_FOUND', async () => {
    const res = await call({ method: 'DELETE', url: `${base}/aud_nothing` });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('AUDIENCE_NOT_FOUND');
  });
});

describe('API document', () => {
  test('the audience routes appear in the OpenAPI document with their upload media types', async () => {
    const doc = (await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' })).json();
    const post = doc.paths['/api/v1/workspaces/{workspaceId}/audiences'].post;
    expect(Object.keys(post.requestBody.content).sort()).toEqual([
      'application/json',
      'multipart/form-data',
      'text/csv',
      'text/plain',
    ]);
    expect(doc.paths).toHaveProperty('/api/v1/workspaces/{workspaceId}/audiences/{audienceId}/members');
  });
});
