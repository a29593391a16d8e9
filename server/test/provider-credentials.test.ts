/**
 * docs/providers.md#endpoints-and-credentials: provider credentials are written by owners only, a new endpoint or identity needs the
 * secret again, endpoints are limited to the deployment's allowlist (checked on writes and again at
 * send time), and what a provider answers is copied into a task bounded and without the request.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { type ProviderApp, ProviderError } from '../src/providers/provider.ts';
import { createUmengProvider } from '../src/providers/umeng.ts';
import { createTask, readTask, sendFixture, testDispatcher, waitFor } from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const APPS = '/api/v1/workspaces/default/apps';
const UMENG = { appKey: '5f1a2b3c4d5e6f7a8b9c0d1e', appMasterSecret: 'k3jd8s7f6g5h4j3k2l1mqwertyui1a2b' };
const ALLOWED = 'https://127.0.0.1:8443/umeng';

let t: TestInstance;
let operator: string;
beforeEach(async () => {
  t = await createTestInstance({ PUSHBOARD_PROVIDER_URL_ALLOWLIST: 'https://127.0.0.1:' });
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: '/api/v1/workspaces/default/tokens',
    body: { name: 'ops', role: 'operator' },
  });
  operator = res.json().token;
});
afterEach(async () => {
  await t.close();
});

async function ownerUmengApp(config: Record<string, unknown> = {}) {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: APPS,
    body: { name: 'Shop', platform: 'android', provider: 'umeng', providerConfig: { ...UMENG, ...config } },
  });
  expect(res.statusCode).toBe(201);
  return res.json();
}

function patch(token: string, id: string, body: Record<string, unknown>) {
  return t.request(token, { method: 'PATCH', url: `${APPS}/${id}`, body });
}

async function storedConfig(id: string) {
  const row = await t.db.selectFrom('apps').select('provider_config').where('id', '=', id).executeTakeFirst();
  return JSON.parse(row!.provider_config);
}

describe('owners only write provider credentials', () => {
  test("an operator's change of a umeng app's base URL answers 403 FORBIDDEN and changes nothing", async () => {
    const app = await ownerUmengApp();
    for (const providerConfig of [
      { ...app.providerConfig, baseUrl: 'https://attacker.example/?x=' },
      { ...app.providerConfig, baseUrl: ALLOWED },
      { ...app.providerConfig, productionMode: false },
      { appKey: 'other-app-key' },
    ]) {
      const res = await patch(operator, app.id, { providerConfig });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('FORBIDDEN');
      expect(res.json().error.message).toContain('owner');
    }
    expect(await storedConfig(app.id)).toEqual(UMENG);
  });

  test('an operator may rename an app, also sending back the config it read unchanged', async () => {
    const app = await ownerUmengApp();
    expect((await patch(operator, app.id, { name: 'Renamed' })).statusCode).toBe(200);
    const same = await patch(operator, app.id, { name: 'Again', providerConfig: app.providerConfig });
    expect(same.statusCode).toBe(200);
    expect(same.json().name).toBe('Again');
    expect(await storedConfig(app.id)).toEqual(UMENG);
  });

  test("sending the config back unchanged does not rewrite it, so an owner's change made meanwhile is kept", async () => {
    const app = await ownerUmengApp();
    const sealed = async () =>
      (
        await t.db
          .withoutPlugins()
          .selectFrom('apps')
          .select('provider_config')
          .where('id', '=', app.id)
          .executeTakeFirstOrThrow()
      ).provider_config;
    // Sealing takes a fresh IV each time: a rewrite of the same config changes the stored bytes.
    const before = await sealed();
    const res = await patch(operator, app.id, { name: 'Again', providerConfig: app.providerConfig });
    expect(res.statusCode).toBe(200);
    expect(await sealed()).toBe(before);
    expect(await storedConfig(app.id)).toEqual(UMENG);
  });

  test('an operator cannot create an app with provider credentials, but may create a simulator app', async () => {
    const umeng = await t.request(operator, {
      method: 'POST',
      url: APPS,
      body: { name: 'U', platform: 'android', provider: 'umeng', providerConfig: UMENG },
    });
    expect(umeng.statusCode).toBe(403);
    expect(umeng.json().error.code).toBe('FORBIDDEN');
    const simulator = await t.request(operator, {
      method: 'POST',
      url: APPS,
      body: { name: 'S', platform: 'android', provider: 'simulator', providerConfig: { seed: 3 } },
    });
    expect(simulator.statusCode).toBe(201);
    const tuned = await patch(operator, simulator.json().id, { providerConfig: { seed: 4, openRate: 0.5 } });
    expect(tuned.statusCode).toBe(200);
  });
});

describe('a new endpoint or identity needs the secret again', () => {
  test('changing the base URL or the app key without the master secret answers 400 PROVIDER_SECRET_REQUIRED', async () => {
    const app = await ownerUmengApp();
    for (const providerConfig of [
      { ...app.providerConfig, baseUrl: ALLOWED },
      { appKey: UMENG.appKey, baseUrl: ALLOWED },
      { ...app.providerConfig, appKey: 'another-umeng-app-key' },
    ]) {
      const res = await patch(t.adminToken, app.id, { providerConfig });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('PROVIDER_SECRET_REQUIRED');
      expect(res.json().error.message).toContain('appMasterSecret');
    }
    expect(await storedConfig(app.id)).toEqual(UMENG);
  });

  test('with the secret typed again the change is taken; other options need no secret', async () => {
    const app = await ownerUmengApp({ baseUrl: ALLOWED });
    const moved = await patch(t.adminToken, app.id, {
      providerConfig: { ...UMENG, baseUrl: 'https://127.0.0.1:9443/' },
    });
    expect(moved.statusCode).toBe(200);
    expect(moved.json().providerConfig.baseUrl).toBe('https://127.0.0.1:9443/');
    const option = await patch(t.adminToken, app.id, {
      providerConfig: { ...moved.json().providerConfig, productionMode: false },
    });
    expect(option.statusCode).toBe(200);
    expect(await storedConfig(app.id)).toEqual({
      ...UMENG,
      baseUrl: 'https://127.0.0.1:9443/',
      productionMode: false,
    });
  });
});

describe('endpoints are limited to PUSHBOARD_PROVIDER_URL_ALLOWLIST', () => {
  test('a base URL outside the allowlist, or dressed up to look inside it, answers 400 PROVIDER_URL_NOT_ALLOWED', async () => {
    for (const baseUrl of [
      'https://attacker.example',
      'http://127.0.0.1:8443', // another scheme than the prefix
      'https://127.0.0.1:@evil.example',
      'https://127.0.0.1:8443@evil.example/',
      'https://user:pw@127.0.0.1:8443/',
      'https://127.0.0.1.evil.example/',
      'https://127.0.0.1:8443/?x=',
      'https://127.0.0.1:8443/api#frag',
      'https://127.0.0.1/', // no port: the prefix asks for one
    ]) {
      const res = await t.request(t.adminToken, {
        method: 'POST',
        url: APPS,
        body: { name: 'U', platform: 'android', provider: 'umeng', providerConfig: { ...UMENG, baseUrl } },
      });
      expect(res.statusCode, baseUrl).toBe(400);
      expect(res.json().error.code, baseUrl).toBe('PROVIDER_URL_NOT_ALLOWED');
      expect(res.json().error.details).toMatchObject({ field: 'providerConfig.baseUrl' });
    }
    expect((await t.request(t.adminToken, { method: 'GET', url: APPS })).json().total).toBe(0);
  });

  test("the provider's real endpoint is allowed with an empty allowlist, nothing else is", async () => {
    const plain = await createTestInstance();
    try {
      const create = (baseUrl: string) =>
        plain.request(plain.adminToken, {
          method: 'POST',
          url: APPS,
          body: { name: 'U', platform: 'android', provider: 'umeng', providerConfig: { ...UMENG, baseUrl } },
        });
      expect((await create('https://msgapi.umeng.com')).statusCode).toBe(201);
      expect((await create('https://msgapi.umeng.com/')).statusCode).toBe(201);
      expect((await create('https://127.0.0.1:8443/')).json().error.code).toBe('PROVIDER_URL_NOT_ALLOWED');
      expect((await create('https://msgapi.umeng.com.evil.example')).statusCode).toBe(400);
    } finally {
      await plain.close();
    }
  });

  test('each allowlist entry must be an http(s) URL prefix, else the start fails with a clear error', () => {
    const load = (value: string) => loadConfig({}, { PUSHBOARD_PROVIDER_URL_ALLOWLIST: value });
    expect(load('').providerUrlAllowlist).toEqual([]);
    expect(load(' https://127.0.0.1: , https://proxy.example/umeng ').providerUrlAllowlist).toEqual([
      'https://127.0.0.1:',
      'https://proxy.example/umeng/',
    ]);
    for (const bad of ['ftp://x.example', 'not a url', 'https://u:p@x.example', 'https://x.example/?q=1']) {
      expect(() => load(bad), bad).toThrow(ConfigError);
      expect(() => load(bad), bad).toThrow(/PUSHBOARD_PROVIDER_URL_ALLOWLIST/);
    }
  });
});

describe('at send time', () => {
  const app = (baseUrl: string): ProviderApp => ({
    id: 'app_1',
    platform: 'android',
    provider: 'umeng',
    config: { ...UMENG, baseUrl },
  });
  const request = (baseUrl: string) => ({
    app: app(baseUrl),
    taskId: 'tsk_1',
    batchId: 'bat_1',
    content: { title: 'Hi', content: 'There', clickAction: { type: 'open_app' as const } },
    devices: [{ deviceId: 'd1', pushToken: 'A'.repeat(44), channel: 'umeng' }],
    sendAt: null,
    receiptUrl: 'https://push.example/api/v1/receipts/umeng/app_1?secret=pbr_receipt-secret-value-123',
  });

  test('a stored base URL the allowlist no longer allows is not called: the send fails saying why', async () => {
    const calls: string[] = [];
    const provider = createUmengProvider({
      urlAllowlist: [],
      fetch: async (url) => {
        calls.push(String(url));
        return new Response('{"ret":"SUCCESS","data":{"msg_id":"m1"}}');
      },
    });
    const error = await provider.sendBatch(request('https://127.0.0.1:8443/')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'PROVIDER_URL_NOT_ALLOWED', retryable: false });
    expect((error as Error).message).toContain('PUSHBOARD_PROVIDER_URL_ALLOWLIST');
    expect(calls).toEqual([]);
    await expect(provider.cancel(app('https://127.0.0.1:8443/'), 'task-1')).rejects.toMatchObject({
      code: 'PROVIDER_URL_NOT_ALLOWED',
    });
    expect(calls).toEqual([]);
  });

  test('a task of an app whose stored base URL is no longer allowed fails saying why, and nothing is sent', async () => {
    // Stored while a wider allowlist held (straight in the database, sealed by the store).
    const fixture = await sendFixture(t, {
      devices: 5,
      provider: 'umeng',
      // sendFixture types its config for the simulator; any provider config is stored the same way.
      config: { ...UMENG, baseUrl: 'https://10.0.0.5:8443/' } as never,
    });
    const taskId = await createTask(t, fixture);
    const calls: string[] = [];
    const umeng = createUmengProvider({
      urlAllowlist: t.config.providerUrlAllowlist, // https://127.0.0.1: only
      fetch: async (url) => {
        calls.push(String(url));
        return new Response('{"ret":"SUCCESS","data":{"msg_id":"m1"}}');
      },
    });
    const dispatcher = testDispatcher(t, { providers: { umeng } });
    await dispatcher.start();
    try {
      const task = await waitFor(
        () => readTask(t.db, taskId),
        (task) => task.status === 'completed' || task.status === 'failed',
      );
      expect(task.status).toBe('failed');
      expect(task.failureReason).toContain('PUSHBOARD_PROVIDER_URL_ALLOWLIST');
      expect(calls).toEqual([]);
    } finally {
      await dispatcher.stop();
    }
  });

  test("the provider's error text is bounded and never carries the request back", async () => {
    const provider = createUmengProvider({
      urlAllowlist: ['https://127.0.0.1:'],
      fetch: async (_url, init) => {
        const echo = String(init?.body);
        return new Response(
          JSON.stringify({
            ret: 'FAIL',
            data: { error_code: `9${'9'.repeat(500)}`, error_msg: `${echo} ${'x'.repeat(10_000)}` },
          }),
        );
      },
    });
    const error = (await provider
      .sendBatch(request('https://127.0.0.1:8443/'))
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.message.length).toBeLessThan(600);
    expect(error.message).not.toContain('receipt-secret-value');
    expect(error.message).not.toContain('receipt_url');
    expect(error.message).not.toContain(UMENG.appKey);
    expect((error as ProviderError).code.length).toBeLessThanOrEqual(32);
  });
});
