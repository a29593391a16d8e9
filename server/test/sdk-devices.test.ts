/**
 * Device registration from the app on the device (docs/devices.md#sdk-registration): `POST /api/v1/sdk/devices` signed with
 * the app's SDK key and secret — what it stores and answers, what it refuses (forged signatures,
 * bad fields, too large bodies) without storing anything, the per-app rate limit, and the time zone,
 * locale and app version it adds to device reads, which server-side writes leave as they are.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { signBody } from '../src/http/signed-bodies.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const WS = '/api/v1/workspaces/default';

let t: TestInstance;
afterEach(async () => {
  await t.close();
});

interface TestApp {
  id: string;
  sdkKey: string;
  sdkSecret: string;
}

async function createApp(platform: 'android' | 'ios' = 'android'): Promise<TestApp> {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/apps`,
    body: { name: `Shop ${platform}`, platform, provider: 'simulator' },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** Posts a registration as the SDK does: the raw body signed with the app's SDK secret. */
function register(app: TestApp, body: unknown, options: { secret?: string; key?: string } = {}) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/sdk/devices',
    headers: {
      'content-type': 'application/json',
      'x-pushboard-key': options.key ?? app.sdkKey,
      'x-pushboard-signature': signBody(raw, options.secret ?? app.sdkSecret),
    },
    body: raw,
  });
}

async function readDevice(app: TestApp, deviceId: string) {
  const res = await t.request(t.adminToken, {
    method: 'GET',
    url: `${WS}/apps/${app.id}/devices/${encodeURIComponent(deviceId)}`,
  });
  return { status: res.statusCode, body: res.json() };
}

async function deviceCount(): Promise<number> {
  const row = await t.db
    .selectFrom('devices')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('registering from the device', () => {
  beforeEach(async () => {
    t = await createTestInstance();
  });

  test('registers a device with its profile, then refreshes it; a field left out stays', async () => {
    const app = await createApp();
    const first = await register(app, {
      deviceId: 'oaid-1',
      pushToken: 'token-1',
      timeZone: 'asia/shanghai',
      locale: 'zh-cn',
      appVersion: '5.2.0 (1234)',
    });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toEqual({ deviceId: 'oaid-1', status: 'inserted' });
    expect((await readDevice(app, 'oaid-1')).body).toMatchObject({
      deviceId: 'oaid-1',
      pushToken: 'token-1',
      channel: 'simulator',
      tokenStatus: 'active',
      // Kept in their canonical forms.
      timeZone: 'Asia/Shanghai',
      locale: 'zh-CN',
      appVersion: '5.2.0 (1234)',
    });

    const refresh = await register(app, { deviceId: 'oaid-1', pushToken: 'token-2', channel: 'huawei' });
    expect(refresh.json()).toEqual({ deviceId: 'oaid-1', status: 'updated' });
    expect((await readDevice(app, 'oaid-1')).body).toMatchObject({
      pushToken: 'token-2',
      channel: 'huawei',
      timeZone: 'Asia/Shanghai',
      locale: 'zh-CN',
      appVersion: '5.2.0 (1234)',
    });

    // A fixed offset as Java names it becomes its IANA zone; a half-hour one has none.
    await register(app, { deviceId: 'oaid-2', pushToken: 'token-9', timeZone: 'GMT+08:00' });
    expect((await readDevice(app, 'oaid-2')).body.timeZone).toBe('Etc/GMT-8');
    await register(app, { deviceId: 'oaid-2', pushToken: 'token-9', timeZone: 'GMT-5' });
    expect((await readDevice(app, 'oaid-2')).body.timeZone).toBe('Etc/GMT+5');
    const halfHour = await register(app, { deviceId: 'oaid-2', pushToken: 'token-9', timeZone: 'GMT+05:30' });
    expect(halfHour.statusCode).toBe(400);
    await t.request(t.adminToken, { method: 'DELETE', url: `${WS}/apps/${app.id}/devices/oaid-2` });

    const moved = await register(app, {
      deviceId: 'oaid-1',
      pushToken: 'token-2',
      timeZone: 'Europe/Berlin',
    });
    expect(moved.json().status).toBe('updated');
    expect((await readDevice(app, 'oaid-1')).body).toMatchObject({
      timeZone: 'Europe/Berlin',
      locale: 'zh-CN',
    });

    // The list carries the same fields.
    const list = await t.request(t.adminToken, { method: 'GET', url: `${WS}/apps/${app.id}/devices` });
    expect(list.json().items).toEqual([
      expect.objectContaining({ deviceId: 'oaid-1', timeZone: 'Europe/Berlin', locale: 'zh-CN' }),
    ]);
  });

  test('an iOS device gets the apns channel; a new token revives a device whose token went invalid', async () => {
    const app = await createApp('ios');
    await register(app, { deviceId: 'idfa-1', pushToken: 'a'.repeat(64) });
    expect((await readDevice(app, 'idfa-1')).body).toMatchObject({
      channel: 'apns',
      timeZone: null,
      locale: null,
      appVersion: null,
    });
    await t.db
      .updateTable('devices')
      .set({
        token_status: 'invalid',
        token_invalid_at: t.clock.now.toISOString(),
        token_invalid_reason: 'Unregistered',
      })
      .where('device_id', '=', 'idfa-1')
      .execute();
    // The same token again keeps it invalid: the provider said it is dead.
    await register(app, { deviceId: 'idfa-1', pushToken: 'a'.repeat(64), appVersion: '2.0' });
    expect((await readDevice(app, 'idfa-1')).body).toMatchObject({
      tokenStatus: 'invalid',
      appVersion: '2.0',
    });
    await register(app, { deviceId: 'idfa-1', pushToken: 'b'.repeat(64) });
    expect((await readDevice(app, 'idfa-1')).body).toMatchObject({
      tokenStatus: 'active',
      tokenInvalidReason: null,
      appVersion: '2.0',
    });
  });

  test('a forged signature, an unknown key or no signature is 401 and stores nothing', async () => {
    const app = await createApp();
    const other = await createApp('ios');
    const body = { deviceId: 'oaid-1', pushToken: 'token-1' };
    const forged = await register(app, body, { secret: 'not-the-secret' });
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error).toMatchObject({ code: 'SDK_SIGNATURE_INVALID' });
    expect(forged.json().error.message).toContain('X-Pushboard-Signature');
    // Another app's secret signs nothing for this app.
    expect((await register(app, body, { secret: other.sdkSecret })).statusCode).toBe(401);
    expect((await register(app, body, { key: 'sdk_unknown' })).statusCode).toBe(401);
    const unsigned = await t.app.inject({
      method: 'POST',
      url: '/api/v1/sdk/devices',
      headers: { 'content-type': 'application/json', 'x-pushboard-key': app.sdkKey },
      body: JSON.stringify(body),
    });
    expect(unsigned.statusCode).toBe(401);
    expect(await deviceCount()).toBe(0);
  });

  test('bad fields are 400 naming the field and what to send; nothing is stored', async () => {
    // The field-problem code of each device field's problem (docs/api.md#field-problems).
    const FIELD_CODE: Record<string, string> = {
      timeZone: 'TIME_ZONE_UNKNOWN',
      locale: 'FORMAT_INVALID',
      channel: 'FORMAT_INVALID',
      appVersion: 'VALUE_INVALID',
      deviceId: 'VALUE_INVALID',
      pushToken: 'VALUE_INVALID',
      body: 'VALUE_INVALID',
    };
    const app = await createApp();
    const cases: [unknown, string][] = [
      [{ deviceId: 'oaid-1', pushToken: 'token-1', timeZone: 'Mars/Olympus' }, 'timeZone'],
      [{ deviceId: 'oaid-1', pushToken: 'token-1', timeZone: 42 }, 'timeZone'],
      [{ deviceId: 'oaid-1', pushToken: 'token-1', locale: 'not a locale' }, 'locale'],
      [{ deviceId: 'oaid-1', pushToken: 'token-1', appVersion: 'x'.repeat(65) }, 'appVersion'],
      [{ deviceId: 'oaid-1', pushToken: 'token-1', appVersion: ' 1.0' }, 'appVersion'],
      [{ deviceId: 'oaid 1', pushToken: 'token-1' }, 'deviceId'],
      [{ deviceId: 'oaid-1' }, 'pushToken'],
      [{ deviceId: 'oaid-1', pushToken: 'token-1', channel: 'Huawei!' }, 'channel'],
      [{ deviceId: 'oaid-1', pushToken: 'token-1', userId: 'u-1' }, 'body'],
      [['oaid-1'], 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await register(app, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      const { error } = res.json();
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.details).toEqual([
        expect.objectContaining({ field, code: FIELD_CODE[field], message: expect.any(String) }),
      ]);
    }
    const timeZone = await register(app, {
      deviceId: 'oaid-1',
      pushToken: 'token-1',
      timeZone: 'Mars/Olympus',
    });
    expect(timeZone.json().error.details[0].message).toContain('Asia/Shanghai');
    const notJson = await register(app, '{"deviceId":');
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.code).toBe('INVALID_JSON');
    const huge = await register(app, { deviceId: 'oaid-1', pushToken: 'token-1', pad: 'x'.repeat(20_000) });
    expect(huge.statusCode).toBe(413);
    expect(await deviceCount()).toBe(0);
  });

  test('server-side writes carry the profile too, and leave what the device said when they do not', async () => {
    const app = await createApp();
    await register(app, {
      deviceId: 'oaid-1',
      pushToken: 'token-1',
      timeZone: 'Asia/Tokyo',
      locale: 'ja-JP',
    });
    const batch = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS}/apps/${app.id}/devices/batch`,
      body: {
        devices: [
          { deviceId: 'oaid-1', pushToken: 'token-9' },
          { deviceId: 'oaid-2', pushToken: 'token-2', timeZone: 'America/New_York', appVersion: '1.0' },
          { deviceId: 'oaid-3', pushToken: 'token-3', timeZone: 'Nowhere/City' },
        ],
      },
    });
    expect(batch.json()).toMatchObject({
      inserted: 1,
      updated: 1,
      rejected: 1,
      errors: [{ index: 2, deviceId: 'oaid-3', code: 'TIME_ZONE_INVALID' }],
    });
    expect((await readDevice(app, 'oaid-1')).body).toMatchObject({
      pushToken: 'token-9',
      timeZone: 'Asia/Tokyo',
      locale: 'ja-JP',
    });
    expect((await readDevice(app, 'oaid-2')).body).toMatchObject({
      timeZone: 'America/New_York',
      appVersion: '1.0',
    });

    const single = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS}/apps/${app.id}/devices`,
      body: { deviceId: 'oaid-2', pushToken: 'token-2b', locale: 'en-us' },
    });
    expect(single.statusCode, single.body).toBe(200);
    expect(single.json()).toMatchObject({ timeZone: 'America/New_York', locale: 'en-US', appVersion: '1.0' });

    const imported = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS}/apps/${app.id}/devices/import`,
      headers: { 'content-type': 'text/csv' },
      payload: 'deviceId,pushToken\noaid-1,token-10\n',
    });
    expect(imported.statusCode, imported.body).toBe(200);
    expect((await readDevice(app, 'oaid-1')).body).toMatchObject({
      pushToken: 'token-10',
      timeZone: 'Asia/Tokyo',
    });
  });
});

describe('the per-app registration rate', () => {
  test('beyond ten seconds of registrations at once the app is told to wait; other apps are not', async () => {
    t = await createTestInstance({ PUSHBOARD_SDK_REGISTRATION_RATE: '2' });
    const app = await createApp();
    const other = await createApp();
    // Forged requests use up nothing.
    for (let i = 0; i < 5; i++) {
      expect((await register(app, { deviceId: 'x', pushToken: 'y' }, { secret: 'forged' })).statusCode).toBe(
        401,
      );
    }
    for (let i = 0; i < 20; i++) {
      const res = await register(app, { deviceId: `oaid-${i}`, pushToken: `token-${i}` });
      expect(res.statusCode, res.body).toBe(200);
    }
    const refused = await register(app, { deviceId: 'oaid-20', pushToken: 'token-20' });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('TOO_MANY_REGISTRATIONS');
    expect(refused.headers['retry-after']).toBe('1');
    expect((await readDevice(app, 'oaid-20')).status).toBe(404);
    expect((await register(other, { deviceId: 'oaid-20', pushToken: 'token-20' })).statusCode).toBe(200);

    t.clock.now = new Date(t.clock.now.getTime() + 1_000);
    expect((await register(app, { deviceId: 'oaid-20', pushToken: 'token-20' })).statusCode).toBe(200);
    expect((await register(app, { deviceId: 'oaid-21', pushToken: 'token-21' })).statusCode).toBe(200);
    expect((await register(app, { deviceId: 'oaid-22', pushToken: 'token-22' })).statusCode).toBe(429);
  });
});
