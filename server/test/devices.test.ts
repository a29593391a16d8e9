import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import * as refusedImports from '../src/storage/migrations/0007-refused-imports.ts';
import { createTestInstance, multipartBody, type TestInstance } from './helpers.ts';

let t: TestInstance;
let android: string;
let ios: string;
beforeEach(async () => {
  t = await createTestInstance();
  android = await createApp('Shop (Android)', 'android', 'simulator');
  ios = await createApp('Shop (iOS)', 'ios', 'simulator');
});
afterEach(async () => {
  await t.close();
});

const WS = '/api/v1/workspaces/default';

async function createApp(name: string, platform: string, provider: string, providerConfig?: object) {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/apps`,
    body: { name, platform, provider, providerConfig },
  });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
}

function devicesOf(appId: string) {
  return `${WS}/apps/${appId}/devices`;
}

function importCsv(appId: string, csv: string | Buffer, token = t.adminToken) {
  return t.request(token, {
    method: 'POST',
    url: `${devicesOf(appId)}/import`,
    headers: { 'content-type': 'text/csv' },
    payload: csv,
  });
}

async function storedDevices(appId: string) {
  return t.db
    .selectFrom('devices')
    .select(['device_id', 'push_token', 'channel'])
    .where('app_id', '=', appId)
    .orderBy('device_id')
    .execute();
}

async function stagingRows() {
  return t.db.selectFrom('device_import_rows').selectAll().execute();
}

async function viewerToken(): Promise<string> {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/tokens`,
    body: { name: 'read only', role: 'viewer' },
  });
  return res.json().token;
}

describe('single devices', () => {
  test('registering a device answers 201, registering it again answers 200 with the new token', async () => {
    const first = await t.request(t.adminToken, {
      method: 'POST',
      url: devicesOf(android),
      body: { deviceId: 'oaid-1', pushToken: 'token-1', channel: 'huawei' },
    });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ deviceId: 'oaid-1', pushToken: 'token-1', channel: 'huawei' });
    const again = await t.request(t.adminToken, {
      method: 'POST',
      url: devicesOf(android),
      body: { deviceId: 'oaid-1', pushToken: 'token-2', channel: 'xiaomi' },
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ deviceId: 'oaid-1', pushToken: 'token-2', channel: 'xiaomi' });
    const read = await t.request(t.adminToken, { method: 'GET', url: `${devicesOf(android)}/oaid-1` });
    expect(read.json()).toEqual(again.json());
  });

  test('a device without a channel gets its app default: apns on iOS, the provider on Android', async () => {
    const umeng = await createApp('Umeng', 'android', 'umeng', { appKey: 'k', appMasterSecret: 's' });
    const channels: string[] = [];
    for (const appId of [ios, android, umeng]) {
      const res = await t.request(t.adminToken, {
        method: 'POST',
        url: devicesOf(appId),
        body: { deviceId: 'dev-1', pushToken: 'tok-1' },
      });
      channels.push(res.json().channel);
    }
    expect(channels).toEqual(['apns', 'simulator', 'umeng']);
  });

  test('bad device fields answer 400 VALIDATION_FAILED naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ pushToken: 't' }, 'deviceId'],
      [{ deviceId: 'a b', pushToken: 't' }, 'deviceId'],
      [{ deviceId: 'x'.repeat(129), pushToken: 't' }, 'deviceId'],
      [{ deviceId: 'd', pushToken: '' }, 'pushToken'],
      [{ deviceId: 'd', pushToken: 't'.repeat(513) }, 'pushToken'],
      [{ deviceId: 'd', pushToken: 't', channel: 'Huawei' }, 'channel'],
      [{ deviceId: 'd', pushToken: 't', colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const res = await t.request(t.adminToken, { method: 'POST', url: devicesOf(android), body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
      expect(res.json().error.details.map((d: { field: string }) => d.field)).toEqual([field]);
    }
    expect(await storedDevices(android)).toEqual([]);
  });

  test('deleting a device answers 204, then 404 DEVICE_NOT_FOUND', async () => {
    await t.request(t.adminToken, {
      method: 'POST',
      url: devicesOf(android),
      body: { deviceId: 'id/with?odd#chars', pushToken: 't' },
    });
    const url = `${devicesOf(android)}/${encodeURIComponent('id/with?odd#chars')}`;
    expect((await t.request(t.adminToken, { method: 'GET', url })).statusCode).toBe(200);
    expect((await t.request(t.adminToken, { method: 'DELETE', url })).statusCode).toBe(204);
    const again = await t.request(t.adminToken, { method: 'DELETE', url });
    expect(again.statusCode).toBe(404);
    expect(again.json().error.code).toBe('DEVICE_NOT_FOUND');
    const read = await t.request(t.adminToken, { method: 'GET', url });
    expect(read.json().error.code).toBe('DEVICE_NOT_FOUND');
  });
});

describe('listing devices', () => {
  beforeEach(async () => {
    const devices = ['b-2', 'a-1', 'c-3', 'a-2', 'b-1'].map((deviceId, i) => ({
      deviceId,
      pushToken: `tok-${deviceId}`,
      channel: i % 2 === 0 ? 'huawei' : 'xiaomi',
    }));
    // One at a time, a second apart, so that "newest first" has a clear order.
    for (const device of devices) {
      await t.request(t.adminToken, { method: 'POST', url: devicesOf(android), body: device });
      t.clock.now = new Date(t.clock.now.getTime() + 1000);
    }
  });

  const ids = (res: { json(): { items: { deviceId: string }[] } }) => res.json().items.map((d) => d.deviceId);

  test('devices are listed newest first by default, or by device ID', async () => {
    const newest = await t.request(t.adminToken, { method: 'GET', url: devicesOf(android) });
    expect(ids(newest)).toEqual(['b-1', 'a-2', 'c-3', 'a-1', 'b-2']);
    expect(newest.json()).toMatchObject({ total: 5, page: 1, pageSize: 20 });
    const byId = await t.request(t.adminToken, { method: 'GET', url: `${devicesOf(android)}?sort=deviceId` });
    expect(ids(byId)).toEqual(['a-1', 'a-2', 'b-1', 'b-2', 'c-3']);
  });

  test('the listing filters by channel and device ID prefix, and pages', async () => {
    const huawei = await t.request(t.adminToken, {
      method: 'GET',
      url: `${devicesOf(android)}?channel=huawei`,
    });
    expect(ids(huawei)).toEqual(['b-1', 'c-3', 'b-2']);
    expect(huawei.json().total).toBe(3);
    const prefix = await t.request(t.adminToken, {
      method: 'GET',
      url: `${devicesOf(android)}?q=a-&sort=deviceId`,
    });
    expect(ids(prefix)).toEqual(['a-1', 'a-2']);
    const both = await t.request(t.adminToken, {
      method: 'GET',
      url: `${devicesOf(android)}?q=b&channel=xiaomi`,
    });
    expect(ids(both)).toEqual([]);
    const paged = await t.request(t.adminToken, {
      method: 'GET',
      url: `${devicesOf(android)}?sort=deviceId&page=2&pageSize=2`,
    });
    expect(ids(paged)).toEqual(['b-1', 'b-2']);
    expect(paged.json().total).toBe(5);
  });

  test('bad listing parameters answer 400', async () => {
    for (const query of ['channel=HUAWEI', 'pageSize=5000', 'sort=random', 'q=a%20b']) {
      const res = await t.request(t.adminToken, { method: 'GET', url: `${devicesOf(android)}?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
    }
  });

  test('the workspace counts devices per app, platform and channel', async () => {
    await t.request(t.adminToken, {
      method: 'POST',
      url: devicesOf(ios),
      body: { deviceId: 'i', pushToken: 't' },
    });
    const res = await t.request(t.adminToken, { method: 'GET', url: `${WS}/devices/counts` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      total: 6,
      apps: expect.arrayContaining([
        {
          appId: android,
          name: 'Shop (Android)',
          platform: 'android',
          devices: 5,
          channels: [
            { channel: 'huawei', devices: 3 },
            { channel: 'xiaomi', devices: 2 },
          ],
        },
        {
          appId: ios,
          name: 'Shop (iOS)',
          platform: 'ios',
          devices: 1,
          channels: [{ channel: 'apns', devices: 1 }],
        },
      ]),
      platforms: [
        { platform: 'android', devices: 5 },
        { platform: 'ios', devices: 1 },
      ],
      channels: [
        { channel: 'huawei', devices: 3 },
        { channel: 'xiaomi', devices: 2 },
        { channel: 'apns', devices: 1 },
      ],
    });
  });
});

describe('batch upsert', () => {
  test('valid items are stored and bad ones refused one by one with their index and reason', async () => {
    await t.request(t.adminToken, {
      method: 'POST',
      url: devicesOf(android),
      body: { deviceId: 'old', pushToken: 'o' },
    });
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `${devicesOf(android)}/batch`,
      body: {
        devices: [
          { deviceId: 'new-1', pushToken: 'n1', channel: 'oppo' },
          { deviceId: 'old', pushToken: 'o2' },
          { deviceId: 'bad id', pushToken: 'x' },
          { deviceId: 'no-token' },
          { deviceId: 'bad-channel', pushToken: 'x', channel: 'OPPO' },
          { deviceId: 42, pushToken: 'x' },
          { deviceId: 'extra', pushToken: 'x', colour: 'red' },
          { deviceId: 'new-1', pushToken: 'n1-last' },
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      inserted: 1,
      updated: 2,
      rejected: 5,
      errors: [
        {
          index: 2,
          deviceId: 'bad id',
          code: 'DEVICE_ID_INVALID',
          message: expect.stringContaining('deviceId'),
        },
        { index: 3, deviceId: 'no-token', code: 'PUSH_TOKEN_INVALID', message: 'pushToken is missing' },
        {
          index: 4,
          deviceId: 'bad-channel',
          code: 'CHANNEL_INVALID',
          message: expect.stringContaining('lowercase'),
        },
        { index: 5, deviceId: null, code: 'DEVICE_ID_INVALID', message: 'deviceId must be a string' },
        { index: 6, deviceId: 'extra', code: 'DEVICE_INVALID', message: expect.stringContaining('colour') },
      ],
    });
    expect(await storedDevices(android)).toEqual([
      { device_id: 'new-1', push_token: 'n1-last', channel: 'simulator' },
      { device_id: 'old', push_token: 'o2', channel: 'simulator' },
    ]);
  });

  test('a batch of 10,000 devices is stored', async () => {
    const devices = Array.from({ length: 10_000 }, (_, i) => ({
      deviceId: `oaid-${i}`,
      pushToken: `token-${i}-${'x'.repeat(40)}`,
      channel: i % 3 === 0 ? 'huawei' : 'vivo',
    }));
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `${devicesOf(android)}/batch`,
      body: { devices },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ inserted: 10_000, updated: 0, rejected: 0, errors: [] });
    const list = await t.request(t.adminToken, { method: 'GET', url: `${devicesOf(android)}?pageSize=1` });
    expect(list.json().total).toBe(10_000);
  });

  test('more than 50,000 devices, or a body over 32 MiB, answer 413 and store nothing', async () => {
    const devices = Array.from({ length: 50_001 }, (_, i) => ({ deviceId: `d${i}`, pushToken: 't' }));
    const many = await t.request(t.adminToken, {
      method: 'POST',
      url: `${devicesOf(android)}/batch`,
      body: { devices },
    });
    expect(many.statusCode).toBe(413);
    expect(many.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(many.json().error.message).toContain('50000');

    const huge = Array.from({ length: 70_000 }, (_, i) => ({
      deviceId: `d${i}`,
      pushToken: 't'.repeat(500),
    }));
    const big = await t.request(t.adminToken, {
      method: 'POST',
      url: `${devicesOf(android)}/batch`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ devices: huge }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await storedDevices(android)).toEqual([]);
  });

  test('a batch without a devices array answers 400', async () => {
    for (const body of [{}, { devices: 'nope' }, { devices: [1] }]) {
      const res = await t.request(t.adminToken, { method: 'POST', url: `${devicesOf(android)}/batch`, body });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('CSV import', () => {
  test('a valid CSV with a header, CRLF line ends, quotes and blank lines is imported', async () => {
    await t.request(t.adminToken, {
      method: 'POST',
      url: devicesOf(android),
      body: { deviceId: 'd2', pushToken: 'old' },
    });
    const csv =
      '\ufeffdeviceId,pushToken,channel\r\nd1,t1,huawei\r\n\r\n"d2","t2",\r\n d3 , t3 , oppo\r\nd1,t1-last,xiaomi\r\n';
    const res = await importCsv(android, csv);
    expect(res.statusCode).toBe(200);
    // Lines are upserts in file order: the second d1 line updates the device the first one registered.
    expect(res.json()).toEqual({ lines: 4, inserted: 2, updated: 2 });
    expect(await storedDevices(android)).toEqual([
      { device_id: 'd1', push_token: 't1-last', channel: 'xiaomi' },
      { device_id: 'd2', push_token: 't2', channel: 'simulator' },
      { device_id: 'd3', push_token: 't3', channel: 'oppo' },
    ]);
    expect(await stagingRows()).toEqual([]);
    const imports = await t.db.selectFrom('device_imports').select('status').execute();
    expect(imports).toEqual([{ status: 'applied' }]);
  });

  test('a CSV without a header may leave the channel out line by line', async () => {
    const res = await importCsv(ios, 'idfa-1,aaaa\nidfa-2,bbbb,apns\nidfa-3,cccc');
    expect(res.json()).toEqual({ lines: 3, inserted: 3, updated: 0 });
    expect((await storedDevices(ios)).map((d) => d.channel)).toEqual(['apns', 'apns', 'apns']);
  });

  test('a header may name its columns in another order', async () => {
    const res = await importCsv(android, 'push_token,device_id\ntok-1,dev-1\n');
    expect(res.statusCode).toBe(200);
    expect(await storedDevices(android)).toEqual([
      { device_id: 'dev-1', push_token: 'tok-1', channel: 'simulator' },
    ]);
  });

  test('a file sent as multipart/form-data is imported', async () => {
    const { payload, headers } = multipartBody(
      {},
      { field: 'file', filename: 'devices.csv', content: 'm1,t1\nm2,t2\n' },
    );
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `${devicesOf(android)}/import`,
      headers,
      payload,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ lines: 2, inserted: 2, updated: 0 });
  });

  test('a CSV with bad lines is refused whole with CSV_INVALID naming the lines, leaving nothing behind', async () => {
    await t.request(t.adminToken, {
      method: 'POST',
      url: devicesOf(android),
      body: { deviceId: 'keep', pushToken: 'k' },
    });
    const csv = [
      'deviceId,pushToken,channel',
      'keep,changed,huawei',
      'ok-1,t1,huawei',
      ',missing-id,huawei',
      'no-token,,huawei',
      'bad-channel,t,Huawei!',
      'too,many,columns,here',
      `${'x'.repeat(129)},t,vivo`,
      'ok-2,t2',
      '"unclosed,t,vivo',
    ].join('\n');
    const res = await importCsv(android, csv);
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error.code).toBe('CSV_INVALID');
    expect(error.message).toContain('line 4');
    expect(error.details.errorCount).toBe(6);
    expect(error.details.errors.map((e: { line: number; code: string }) => [e.line, e.code])).toEqual([
      [4, 'DEVICE_ID_INVALID'],
      [5, 'PUSH_TOKEN_INVALID'],
      [6, 'CHANNEL_INVALID'],
      [7, 'COLUMN_COUNT'],
      [8, 'DEVICE_ID_INVALID'],
      [10, 'QUOTE_INVALID'],
    ]);
    expect(await storedDevices(android)).toEqual([
      { device_id: 'keep', push_token: 'k', channel: 'simulator' },
    ]);
    expect(await stagingRows()).toEqual([]);
  });

  test('a refused file lists its first 100 bad lines and counts the rest', async () => {
    const lines = ['good,t'];
    for (let i = 0; i < 250; i++) lines.push(`bad ${i},t`);
    const res = await importCsv(android, lines.join('\n'));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.errorCount).toBe(250);
    expect(res.json().error.details.errors).toHaveLength(100);
    expect(res.json().error.details.errors[0].line).toBe(2);
    expect(await storedDevices(android)).toEqual([]);
  });

  test('a large file is applied whole, its last line of a device winning across apply ranges', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 60_000; i++) lines.push(`oaid-${i},token-${i},${i % 2 ? 'vivo' : 'honor'}`);
    lines.push('oaid-0,token-last');
    const res = await importCsv(android, `${lines.join('\n')}\n`);
    expect(res.json()).toEqual({ lines: 60_001, inserted: 60_000, updated: 1 });
    const first = await t.request(t.adminToken, { method: 'GET', url: `${devicesOf(android)}/oaid-0` });
    expect(first.json()).toMatchObject({ pushToken: 'token-last', channel: 'simulator' });
    expect(await stagingRows()).toEqual([]);
  });

  test('a bad line at the end of a large file leaves no staged line behind', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 12_000; i++) lines.push(`oaid-${i},token-${i}`);
    lines.push('oaid-last');
    const res = await importCsv(android, lines.join('\n'));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.errors).toEqual([
      { line: 12_001, code: 'COLUMN_COUNT', params: expect.any(Object), message: expect.any(String) },
    ]);
    expect(await storedDevices(android)).toEqual([]);
    expect(await stagingRows()).toEqual([]);
  });

  test('an empty file and a header without devices are refused', async () => {
    for (const csv of ['', '\n\n', 'deviceId,pushToken\n']) {
      const res = await importCsv(android, csv);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('CSV_INVALID');
    }
  });

  test('a line without line breaks longer than any device is refused without being held', async () => {
    const res = await importCsv(android, `ok,t\n${'x'.repeat(100_000)}\nok2,t2\n`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.errors).toEqual([
      { line: 2, code: 'LINE_TOO_LONG', params: { limit: expect.any(Number) }, message: expect.any(String) },
    ]);
  });

  test('a file over the upload limit answers 413 and stores nothing', async () => {
    const small = await createTestInstance({ PUSHBOARD_UPLOAD_LIMIT_BYTES: '2048' });
    try {
      const appId = (
        await small.request(small.adminToken, {
          method: 'POST',
          url: `${WS}/apps`,
          body: { name: 'S', platform: 'android', provider: 'simulator' },
        })
      ).json().id;
      const csv = Array.from({ length: 300 }, (_, i) => `device-${i},token-${i}`).join('\n');
      const raw = await small.request(small.adminToken, {
        method: 'POST',
        url: `${devicesOf(appId)}/import`,
        headers: { 'content-type': 'text/csv' },
        payload: csv,
      });
      expect(raw.statusCode).toBe(413);
      expect(raw.json().error.code).toBe('PAYLOAD_TOO_LARGE');
      const { payload, headers } = multipartBody({}, { field: 'file', filename: 'd.csv', content: csv });
      const multipart = await small.request(small.adminToken, {
        method: 'POST',
        url: `${devicesOf(appId)}/import`,
        headers,
        payload,
      });
      expect(multipart.statusCode).toBe(413);
      // Without a Content-Length the limit is enforced while reading, for both kinds of upload.
      for (const upload of [
        { headers: { 'content-type': 'text/csv' }, payload: csv },
        multipartBody({}, { field: 'file', filename: 'd.csv', content: csv }),
      ]) {
        const streamed = await small.request(small.adminToken, {
          method: 'POST',
          url: `${devicesOf(appId)}/import`,
          headers: upload.headers,
          payload: Readable.from([Buffer.from(upload.payload)]),
        });
        expect(streamed.statusCode).toBe(413);
        expect(streamed.json().error.code).toBe('PAYLOAD_TOO_LARGE');
      }
      expect(await small.db.selectFrom('devices').selectAll().execute()).toEqual([]);
      expect(await small.db.selectFrom('device_import_rows').selectAll().execute()).toEqual([]);
    } finally {
      await small.close();
    }
  });

  test('a JSON body or a multipart request without a file is refused', async () => {
    const json = await t.request(t.adminToken, {
      method: 'POST',
      url: `${devicesOf(android)}/import`,
      body: { devices: [] },
    });
    expect(json.statusCode).toBe(415);
    expect(json.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const { payload, headers } = multipartBody({ note: 'no file' });
    const noFile = await t.request(t.adminToken, {
      method: 'POST',
      url: `${devicesOf(android)}/import`,
      headers,
      payload,
    });
    expect(noFile.statusCode).toBe(400);
    expect(noFile.json().error.details).toEqual([
      { field: 'file', code: 'REQUIRED', message: 'attach one CSV file' },
    ]);
  });
});

describe('access', () => {
  test('devices of an unknown app or of an app of another workspace answer 404 APP_NOT_FOUND', async () => {
    const other = (
      await t.request(t.adminToken, { method: 'POST', url: '/api/v1/workspaces', body: { name: 'B' } })
    ).json();
    const foreign = (
      await t.request(t.adminToken, {
        method: 'POST',
        url: `/api/v1/workspaces/${other.id}/apps`,
        body: { name: 'B', platform: 'android', provider: 'simulator' },
      })
    ).json().id;
    for (const appId of ['app_nope', foreign]) {
      const requests = [
        t.request(t.adminToken, { method: 'GET', url: devicesOf(appId) }),
        t.request(t.adminToken, {
          method: 'POST',
          url: devicesOf(appId),
          body: { deviceId: 'd', pushToken: 't' },
        }),
        t.request(t.adminToken, { method: 'GET', url: `${devicesOf(appId)}/d` }),
        t.request(t.adminToken, { method: 'DELETE', url: `${devicesOf(appId)}/d` }),
        t.request(t.adminToken, { method: 'POST', url: `${devicesOf(appId)}/batch`, body: { devices: [] } }),
        importCsv(appId, 'd,t\n'),
      ];
      for (const res of await Promise.all(requests)) {
        expect(res.statusCode).toBe(404);
        expect(res.json().error.code).toBe('APP_NOT_FOUND');
      }
    }
    const counts = (await t.request(t.adminToken, { method: 'GET', url: `${WS}/devices/counts` })).json();
    expect(counts.apps.map((a: { appId: string }) => a.appId)).not.toContain(foreign);
  });

  test('a viewer lists devices but every write answers 403', async () => {
    const viewer = await viewerToken();
    expect((await t.request(viewer, { method: 'GET', url: devicesOf(android) })).statusCode).toBe(200);
    expect((await t.request(viewer, { method: 'GET', url: `${WS}/devices/counts` })).statusCode).toBe(200);
    const writes = [
      t.request(viewer, { method: 'POST', url: devicesOf(android), body: { deviceId: 'd', pushToken: 't' } }),
      t.request(viewer, { method: 'DELETE', url: `${devicesOf(android)}/d` }),
      t.request(viewer, { method: 'POST', url: `${devicesOf(android)}/batch`, body: { devices: [] } }),
      importCsv(android, 'd,t\n', viewer),
    ];
    for (const res of await Promise.all(writes)) {
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
    }
    expect(await storedDevices(android)).toEqual([]);
  });

  test('the OpenAPI document describes the import as a CSV or multipart upload', async () => {
    const doc = (await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' })).json();
    const path = doc.paths['/api/v1/workspaces/{workspaceId}/apps/{appId}/devices/import'];
    expect(path.post.description).toContain('CSV_INVALID');
    expect(Object.keys(path.post.requestBody.content)).toEqual(['text/csv', 'multipart/form-data']);
    expect(Object.keys(doc.paths)).toContain('/api/v1/workspaces/{workspaceId}/devices/counts');
  });
});

describe('refused imports', () => {
  test('leave no row behind, and the refused imports older versions kept are removed by migration 0007', async () => {
    const app = (
      await t.request(t.adminToken, {
        method: 'POST',
        url: '/api/v1/workspaces/default/apps',
        body: { name: 'Imports', platform: 'android', provider: 'simulator' },
      })
    ).json();
    const refused = await t.request(t.adminToken, {
      method: 'POST',
      url: `/api/v1/workspaces/default/apps/${app.id}/devices/import`,
      headers: { 'content-type': 'text/csv' },
      payload: 'ok-1,t1\nbad id,t2\n',
    });
    expect(refused.statusCode).toBe(400);
    expect(await t.db.selectFrom('device_imports').select('id').execute()).toEqual([]);

    // What an older version left: a refused import's row, and a staged line under it.
    const now = new Date().toISOString();
    await t.db
      .insertInto('device_imports')
      .values({ id: 'imp_old', app_id: app.id, status: 'rejected' as 'applied', created_at: now })
      .execute();
    await t.db
      .insertInto('device_import_rows')
      .values({ import_id: 'imp_old', line: 1, device_id: 'd', push_token: 'p', channel: 'simulator' })
      .execute();
    await refusedImports.up(t.db);
    expect(await t.db.selectFrom('device_imports').select('id').execute()).toEqual([]);
    expect(await t.db.selectFrom('device_import_rows').select('import_id').execute()).toEqual([]);
  });
});
