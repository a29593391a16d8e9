import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { UNSENT_TASK_COUNTERS } from '../src/tasks/task-store.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  // Umeng apps below point at a local address, which the deployment must allow (docs/providers.md#endpoints-and-credentials).
  t = await createTestInstance({ PUSHBOARD_PROVIDER_URL_ALLOWLIST: 'http://127.0.0.1:' });
});
afterEach(async () => {
  await t.close();
});

const APPS = '/api/v1/workspaces/default/apps';
const UMENG = { appKey: '5f1a2b3c4d5e6f7a8b9c0d1e', appMasterSecret: 'k3jd8s7f6g5h4j3k2l1mqwertyui1a2b' };

async function createApp(body: Record<string, unknown>, token = t.adminToken) {
  return t.request(token, { method: 'POST', url: APPS, body });
}

async function workspaceToken(role: 'owner' | 'operator' | 'viewer'): Promise<string> {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: '/api/v1/workspaces/default/tokens',
    body: { name: `${role} token`, role },
  });
  expect(res.statusCode).toBe(201);
  return res.json().token;
}

function fields(res: { json(): { error: { details: { field: string }[] } } }): string[] {
  return res
    .json()
    .error.details.map((d) => d.field)
    .sort();
}

describe('creating apps', () => {
  test('a new app answers 201 with its secrets in full, and every later read masks them', async () => {
    const res = await createApp({ name: 'Shop (Android)', platform: 'android', provider: 'simulator' });
    expect(res.statusCode).toBe(201);
    const created = res.json();
    expect(created).toMatchObject({
      name: 'Shop (Android)',
      platform: 'android',
      provider: 'simulator',
      providerConfig: {},
      devices: 0,
      invalidTokens: 0,
    });
    expect(created.id).toMatch(/^app_/);
    for (const secret of [created.receiptSecret, created.sdkKey, created.sdkSecret]) {
      expect(secret.length).toBeGreaterThan(20);
      expect(secret).not.toContain('•');
    }

    const read = (await t.request(t.adminToken, { method: 'GET', url: `${APPS}/${created.id}` })).json();
    expect(read.receiptSecret).toBe(`••••${created.receiptSecret.slice(-4)}`);
    // The SDK key is an identifier every copy of the app carries: the console shows it to integrators.
    expect(read.sdkKey).toBe(created.sdkKey);
    expect(read.sdkSecret).toBe(`••••${created.sdkSecret.slice(-4)}`);
    const listed = (await t.request(t.adminToken, { method: 'GET', url: APPS })).json();
    expect(listed.items[0].sdkSecret).toBe(read.sdkSecret);
  });

  test('a umeng app keeps its credentials but shows the master secret masked', async () => {
    const res = await createApp({
      name: 'Shop (Umeng)',
      platform: 'android',
      provider: 'umeng',
      providerConfig: { ...UMENG, baseUrl: 'http://127.0.0.1:9999', productionMode: false },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().providerConfig).toEqual({
      appKey: UMENG.appKey,
      appMasterSecret: '••••1a2b',
      baseUrl: 'http://127.0.0.1:9999',
      productionMode: false,
    });
    const row = await t.db.selectFrom('apps').selectAll().where('id', '=', res.json().id).executeTakeFirst();
    expect(JSON.parse(row!.provider_config).appMasterSecret).toBe(UMENG.appMasterSecret);
  });

  test('a umeng app without credentials names each missing field', async () => {
    const res = await createApp({ name: 'U', platform: 'ios', provider: 'umeng' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('VALIDATION_FAILED');
    expect(fields(res)).toEqual(['providerConfig.appKey', 'providerConfig.appMasterSecret']);
  });

  test('a bad umeng base URL or production mode is refused field by field', async () => {
    const res = await createApp({
      name: 'U',
      platform: 'android',
      provider: 'umeng',
      providerConfig: { ...UMENG, baseUrl: 'ftp://umeng.example', productionMode: 'yes' },
    });
    expect(res.statusCode).toBe(400);
    expect(fields(res)).toEqual(['providerConfig.baseUrl', 'providerConfig.productionMode']);
    expect(res.json().error.message).toContain('http(s) URL');
  });

  test('simulator rates outside [0,1], a non-integer seed, a zero time scale and unknown keys are refused', async () => {
    const res = await createApp({
      name: 'S',
      platform: 'android',
      provider: 'simulator',
      providerConfig: {
        acceptRate: 1.5,
        openRate: -0.1,
        seed: 1.5,
        timeScale: 0,
        appKey: 'x',
        rateLimitPerSecond: -1,
      },
    });
    expect(res.statusCode).toBe(400);
    expect(fields(res)).toEqual([
      'providerConfig.acceptRate',
      'providerConfig.appKey',
      'providerConfig.openRate',
      'providerConfig.rateLimitPerSecond',
      'providerConfig.seed',
      'providerConfig.timeScale',
    ]);
    const details = res.json().error.details as { field: string; message: string }[];
    expect(details.find((d) => d.field === 'providerConfig.appKey')?.message).toContain(
      'not a simulator setting',
    );
  });

  test('a full simulator config is stored as given', async () => {
    const providerConfig = {
      seed: 7,
      acceptRate: 0.98,
      deliveryRate: 0.9,
      impressionRate: 0.7,
      openRate: 0.1,
      dismissalRate: 0.2,
      timeScale: 60,
      rateLimitPerSecond: 5000,
    };
    const res = await createApp({ name: 'S', platform: 'android', provider: 'simulator', providerConfig });
    expect(res.statusCode).toBe(201);
    expect(res.json().providerConfig).toEqual(providerConfig);
  });

  test('missing and mistyped fields answer 400 VALIDATION_FAILED naming them', async () => {
    const missing = await createApp({});
    expect(missing.statusCode).toBe(400);
    expect(fields(missing)).toEqual(['name', 'platform', 'provider']);
    const mistyped = await createApp({ name: '  ', platform: 'windows', provider: 'onesignal', extra: 1 });
    expect(mistyped.statusCode).toBe(400);
    expect(fields(mistyped)).toEqual(expect.arrayContaining(['extra', 'name', 'platform', 'provider']));
    const notObject = await createApp({
      name: 'S',
      platform: 'ios',
      provider: 'simulator',
      providerConfig: 3,
    });
    expect(notObject.statusCode).toBe(400);
  });

  test('a JSON body over the limit answers 413', async () => {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: APPS,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), platform: 'ios', provider: 'simulator' }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('changing apps', () => {
  async function umengApp() {
    return (
      await createApp({ name: 'U', platform: 'android', provider: 'umeng', providerConfig: UMENG })
    ).json();
  }
  async function storedConfig(id: string) {
    const row = await t.db
      .selectFrom('apps')
      .select('provider_config')
      .where('id', '=', id)
      .executeTakeFirst();
    return JSON.parse(row!.provider_config);
  }

  test('a config change without the master secret keeps the stored one', async () => {
    const app = await umengApp();
    const res = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${APPS}/${app.id}`,
      body: { name: 'Renamed', providerConfig: { appKey: UMENG.appKey, productionMode: true } },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      name: 'Renamed',
      providerConfig: { appKey: UMENG.appKey, appMasterSecret: '••••1a2b', productionMode: true },
    });
    expect(await storedConfig(app.id)).toEqual({ ...UMENG, productionMode: true });
    // A new app key is another Umeng app: its secret must be typed again (provider-credentials.test.ts).
    const moved = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${APPS}/${app.id}`,
      body: { providerConfig: { appKey: 'newkey123' } },
    });
    expect(moved.json().error.code).toBe('PROVIDER_SECRET_REQUIRED');
  });

  test('sending back the masked secret keeps it, and a new secret replaces it', async () => {
    const app = await umengApp();
    await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${APPS}/${app.id}`,
      body: { providerConfig: app.providerConfig },
    });
    expect((await storedConfig(app.id)).appMasterSecret).toBe(UMENG.appMasterSecret);
    await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${APPS}/${app.id}`,
      body: { providerConfig: { appKey: UMENG.appKey, appMasterSecret: 'brand-new-master-secret-9z9z' } },
    });
    expect((await storedConfig(app.id)).appMasterSecret).toBe('brand-new-master-secret-9z9z');
  });

  test('a bad config change is refused and leaves the app as it was', async () => {
    const app = await umengApp();
    const res = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${APPS}/${app.id}`,
      body: { providerConfig: { appKey: '' } },
    });
    expect(res.statusCode).toBe(400);
    expect(fields(res)).toEqual(['providerConfig.appKey']);
    expect(await storedConfig(app.id)).toEqual(UMENG);
  });

  test('platform and provider cannot change, and the error says so', async () => {
    const app = await umengApp();
    const res = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${APPS}/${app.id}`,
      body: { platform: 'ios', provider: 'simulator' },
    });
    expect(res.statusCode).toBe(400);
    expect(fields(res)).toEqual(['platform', 'provider']);
    expect(res.json().error.message).toContain('cannot change');
    const same = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${APPS}/${app.id}`,
      body: { platform: 'android', provider: 'umeng', name: 'Same platform' },
    });
    expect(same.statusCode).toBe(200);
  });

  test('rotating the secrets needs the owner role and shows the new secrets once', async () => {
    const app = (await createApp({ name: 'S', platform: 'ios', provider: 'simulator' })).json();
    const operator = await workspaceToken('operator');
    const refused = await t.request(operator, { method: 'POST', url: `${APPS}/${app.id}/secrets/rotate` });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('FORBIDDEN');

    const res = await t.request(t.adminToken, { method: 'POST', url: `${APPS}/${app.id}/secrets/rotate` });
    expect(res.statusCode).toBe(200);
    const rotated = res.json();
    for (const key of ['receiptSecret', 'sdkKey', 'sdkSecret']) {
      expect(rotated[key]).not.toContain('•');
      expect(rotated[key]).not.toBe(app[key]);
    }
    const read = (await t.request(t.adminToken, { method: 'GET', url: `${APPS}/${app.id}` })).json();
    expect(read.sdkSecret).toBe(`••••${rotated.sdkSecret.slice(-4)}`);
    expect(read.sdkKey).toBe(rotated.sdkKey);
  });
});

describe('listing and deleting apps', () => {
  test('the list is paged and filters by name, platform and provider, with device counts', async () => {
    const ios = (await createApp({ name: 'Shop iOS', platform: 'ios', provider: 'simulator' })).json();
    await createApp({ name: 'Shop Android', platform: 'android', provider: 'simulator' });
    await createApp({ name: 'News', platform: 'android', provider: 'umeng', providerConfig: UMENG });
    await t.request(t.adminToken, {
      method: 'POST',
      url: `${APPS}/${ios.id}/devices`,
      body: { deviceId: 'idfa-1', pushToken: 'a'.repeat(64) },
    });

    const all = (await t.request(t.adminToken, { method: 'GET', url: `${APPS}?pageSize=2` })).json();
    expect(all.total).toBe(3);
    expect(all.items).toHaveLength(2);
    expect(all).toMatchObject({ page: 1, pageSize: 2 });
    const page2 = (await t.request(t.adminToken, { method: 'GET', url: `${APPS}?pageSize=2&page=2` })).json();
    expect(page2.items).toHaveLength(1);

    const shop = (await t.request(t.adminToken, { method: 'GET', url: `${APPS}?q=shop` })).json();
    expect(shop.items.map((a: { name: string }) => a.name).sort()).toEqual(['Shop Android', 'Shop iOS']);
    const iosOnly = (await t.request(t.adminToken, { method: 'GET', url: `${APPS}?platform=ios` })).json();
    expect(iosOnly.items).toEqual([expect.objectContaining({ id: ios.id, devices: 1 })]);
    const umeng = (await t.request(t.adminToken, { method: 'GET', url: `${APPS}?provider=umeng` })).json();
    expect(umeng.items.map((a: { name: string }) => a.name)).toEqual(['News']);
    const bad = await t.request(t.adminToken, { method: 'GET', url: `${APPS}?platform=windows` });
    expect(bad.statusCode).toBe(400);
  });

  test('deleting an app removes it with its devices', async () => {
    const app = (await createApp({ name: 'S', platform: 'android', provider: 'simulator' })).json();
    await t.request(t.adminToken, {
      method: 'POST',
      url: `${APPS}/${app.id}/devices`,
      body: { deviceId: 'oaid-1', pushToken: 'token-1' },
    });
    const res = await t.request(t.adminToken, { method: 'DELETE', url: `${APPS}/${app.id}` });
    expect(res.statusCode).toBe(204);
    const gone = await t.request(t.adminToken, { method: 'GET', url: `${APPS}/${app.id}` });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe('APP_NOT_FOUND');
    expect(await t.db.selectFrom('devices').selectAll().execute()).toEqual([]);
  });

  test('an app used by a task cannot be deleted: 409 APP_IN_USE', async () => {
    const app = (await createApp({ name: 'S', platform: 'android', provider: 'simulator' })).json();
    const now = new Date().toISOString();
    await t.db
      .insertInto('tasks')
      .values({
        id: 'tsk_1',
        workspace_id: 'default',
        app_id: app.id,
        name: 'Welcome',
        title: 'Hi',
        content: 'Hello',
        click_action: '{"type":"open_app"}',
        audience_id: 'aud_1',
        send_type: 'immediate',
        scheduled_at: null,
        status: 'completed',
        failure_reason: null,
        created_at: now,
        updated_at: now,
        started_at: now,
        completed_at: now,
        ...UNSENT_TASK_COUNTERS,
      })
      .execute();
    const res = await t.request(t.adminToken, { method: 'DELETE', url: `${APPS}/${app.id}` });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'APP_IN_USE', details: { tasks: 1 } });
    expect((await t.request(t.adminToken, { method: 'GET', url: `${APPS}/${app.id}` })).statusCode).toBe(200);
  });
});

describe('access', () => {
  test('an unknown app and an app of another workspace both answer 404 APP_NOT_FOUND', async () => {
    const other = await t.request(t.adminToken, {
      method: 'POST',
      url: '/api/v1/workspaces',
      body: { name: 'B' },
    });
    expect(other.statusCode).toBe(201);
    const foreign = (
      await t.request(t.adminToken, {
        method: 'POST',
        url: `/api/v1/workspaces/${other.json().id}/apps`,
        body: { name: 'B app', platform: 'ios', provider: 'simulator' },
      })
    ).json();
    for (const id of ['app_unknown', foreign.id]) {
      for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
        const res = await t.request(t.adminToken, {
          method,
          url: `${APPS}/${id}`,
          ...(method === 'PATCH' && { body: { name: 'x' } }),
        });
        expect(res.statusCode).toBe(404);
        expect(res.json().error.code).toBe('APP_NOT_FOUND');
      }
    }
    const listed = (await t.request(t.adminToken, { method: 'GET', url: APPS })).json();
    expect(listed.total).toBe(0);
  });

  test('a viewer reads apps but writing answers 403', async () => {
    const viewer = await workspaceToken('viewer');
    const app = (await createApp({ name: 'S', platform: 'ios', provider: 'simulator' })).json();
    expect((await t.request(viewer, { method: 'GET', url: APPS })).statusCode).toBe(200);
    expect((await t.request(viewer, { method: 'GET', url: `${APPS}/${app.id}` })).statusCode).toBe(200);
    const writes = [
      createApp({ name: 'V', platform: 'ios', provider: 'simulator' }, viewer),
      t.request(viewer, { method: 'PATCH', url: `${APPS}/${app.id}`, body: { name: 'x' } }),
      t.request(viewer, { method: 'DELETE', url: `${APPS}/${app.id}` }),
    ];
    for (const res of await Promise.all(writes)) {
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
    }
  });

  test('the OpenAPI document lists the app routes', async () => {
    const doc = (await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/workspaces/{workspaceId}/apps',
        '/api/v1/workspaces/{workspaceId}/apps/{appId}',
        '/api/v1/workspaces/{workspaceId}/apps/{appId}/secrets/rotate',
      ]),
    );
  });
});

describe('delivery settings (docs/delivery-controls.md)', () => {
  const quiet = { start: '22:00', end: '08:00', timeZone: 'Asia/Shanghai' };

  test('a frequency cap and quiet hours are stored, read back, changed and removed', async () => {
    const created = await createApp({
      name: 'Capped',
      platform: 'android',
      provider: 'simulator',
      frequencyCap: { perDay: 1, perWeek: 3 },
      quietHours: quiet,
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ frequencyCap: { perDay: 1, perWeek: 3 }, quietHours: quiet });
    const url = `${APPS}/${created.json().id}`;
    const renamed = await t.request(t.adminToken, { method: 'PATCH', url, body: { name: 'Renamed' } });
    expect(renamed.json()).toMatchObject({ frequencyCap: { perDay: 1, perWeek: 3 }, quietHours: quiet });
    const changed = await t.request(t.adminToken, {
      method: 'PATCH',
      url,
      body: { frequencyCap: { perWeek: 2 }, quietHours: null },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ frequencyCap: { perWeek: 2 }, quietHours: null });
    const read = await t.request(t.adminToken, { method: 'GET', url });
    expect(read.json()).toMatchObject({ frequencyCap: { perWeek: 2 }, quietHours: null });
    const plain = await createApp({ name: 'Plain', platform: 'ios', provider: 'simulator' });
    expect(plain.json()).toMatchObject({ frequencyCap: null, quietHours: null });
  });

  test('bad settings are refused field by field and change nothing', async () => {
    const res = await createApp({
      name: 'Bad',
      platform: 'android',
      provider: 'simulator',
      frequencyCap: { perDay: 3, perWeek: 2 },
      quietHours: { start: '22:00', end: '22:00', timeZone: 'Mars/Olympus_Mons' },
    });
    expect(res.statusCode).toBe(400);
    expect(fields(res)).toEqual(['frequencyCap.perWeek', 'quietHours.end', 'quietHours.timeZone']);
    expect(res.json().error.message).toBeTruthy();
    const empty = await createApp({
      name: 'E',
      platform: 'android',
      provider: 'simulator',
      frequencyCap: {},
    });
    expect(fields(empty)).toEqual(['frequencyCap']);
    const malformed = await createApp({
      name: 'M',
      platform: 'android',
      provider: 'simulator',
      frequencyCap: { perDay: 0 },
      quietHours: { start: '24:00', end: '8:00', timeZone: 'UTC' },
    });
    expect(malformed.statusCode).toBe(400);
    expect(fields(malformed)).toEqual(
      expect.arrayContaining(['frequencyCap.perDay', 'quietHours.start', 'quietHours.end']),
    );
    const app = (await createApp({ name: 'Ok', platform: 'android', provider: 'simulator' })).json();
    const patch = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${APPS}/${app.id}`,
      body: { name: 'Changed', quietHours: { ...quiet, timeZone: 'Nowhere' } },
    });
    expect(patch.statusCode).toBe(400);
    const after = await t.request(t.adminToken, { method: 'GET', url: `${APPS}/${app.id}` });
    expect(after.json()).toMatchObject({ name: 'Ok', quietHours: null });
  });
});
