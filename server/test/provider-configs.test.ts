/**
 * FCM and APNs app configs through the API (docs/providers.md): what each takes and refuses, one
 * platform per provider, keys masked on every read, a key file's unused fields not kept, and docs/providers.md#endpoints-and-credentials
 * rules (owners only, a new identity or endpoint needs the key again, endpoints on the allowlist)
 * holding for their nested and second endpoints.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createTestInstance, type TestInstance } from './helpers.ts';

const APPS = '/api/v1/workspaces/default/apps';

const rsaPem = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
const p256Pem = () =>
  generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

/** A service-account key file as the Firebase console downloads it. */
function keyFile(overrides: Record<string, unknown> = {}) {
  return {
    type: 'service_account',
    project_id: 'shop-push-4f2a1',
    private_key_id: '2f6c1e0b9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b',
    private_key: RSA_KEY,
    client_email: 'firebase-adminsdk-x1y2z@shop-push-4f2a1.iam.gserviceaccount.com',
    client_id: '109876543210987654321',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: 'https://www.googleapis.com/robot/v1/metadata/x509/firebase-adminsdk',
    universe_domain: 'googleapis.com',
    ...overrides,
  };
}

const RSA_KEY = rsaPem();
const P8_KEY = p256Pem();
const APNS = {
  teamId: 'AB12CD34EF',
  keyId: 'ZX98YW76VU',
  privateKey: P8_KEY,
  bundleId: 'com.example.shop',
  environment: 'production',
};

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

function create(token: string, body: Record<string, unknown>) {
  return t.request(token, { method: 'POST', url: APPS, body });
}
function patch(id: string, providerConfig: Record<string, unknown>, token = t.adminToken) {
  return t.request(token, { method: 'PATCH', url: `${APPS}/${id}`, body: { providerConfig } });
}
async function storedConfig(id: string) {
  const row = await t.db.selectFrom('apps').select('provider_config').where('id', '=', id).executeTakeFirst();
  return JSON.parse(row!.provider_config);
}
const fields = (res: { json(): { error: { details?: { field: string }[] } } }) =>
  (res.json().error.details ?? []).map((d) => d.field);

describe('fcm apps', () => {
  test('take a downloaded service-account key, keep only what FCM needs, and never show the private key', async () => {
    const res = await create(t.adminToken, {
      name: 'Shop Android',
      platform: 'android',
      provider: 'fcm',
      providerConfig: { serviceAccount: keyFile(), androidChannelId: 'promotions' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const app = res.json();
    expect(app.providerConfig).toEqual({
      serviceAccount: {
        type: 'service_account',
        project_id: 'shop-push-4f2a1',
        private_key_id: '2f6c1e0b9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b',
        private_key: `••••${RSA_KEY.slice(-4)}`,
        client_email: 'firebase-adminsdk-x1y2z@shop-push-4f2a1.iam.gserviceaccount.com',
        token_uri: 'https://oauth2.googleapis.com/token',
      },
      androidChannelId: 'promotions',
    });
    expect(res.body).not.toContain('BEGIN PRIVATE KEY');
    const read = await t.request(t.adminToken, { method: 'GET', url: `${APPS}/${app.id}` });
    expect(read.body).not.toContain('BEGIN PRIVATE KEY');
    expect(read.json()).toMatchObject({ devices: 0, invalidTokens: 0 });
    const stored = await storedConfig(app.id);
    expect(stored.serviceAccount.private_key).toBe(RSA_KEY);
    expect(Object.keys(stored.serviceAccount).sort()).toEqual([
      'client_email',
      'private_key',
      'private_key_id',
      'project_id',
      'token_uri',
      'type',
    ]);
  });

  test('refuse a key that is not a service-account key, naming what to fix', async () => {
    const cases: [unknown, string][] = [
      ['{"not":"an object"}', 'service-account JSON key object'],
      [keyFile({ type: 'authorized_user' }), 'not a service-account key'],
      [keyFile({ private_key: 'not a key' }), 'private_key must be the PEM text of an RSA private key'],
      [keyFile({ private_key: P8_KEY }), 'private_key must be the PEM text of an RSA private key'],
      [keyFile({ client_email: 'nobody' }), 'client_email'],
      [keyFile({ project_id: '' }), 'project_id'],
      [keyFile({ token_uri: 'http://oauth2.googleapis.com/token' }), 'token_uri must be an https URL'],
      [keyFile({ surprise: 1 }), 'surprise is not a field of a service-account key file'],
    ];
    for (const [serviceAccount, message] of cases) {
      const res = await create(t.adminToken, {
        name: 'A',
        platform: 'android',
        provider: 'fcm',
        providerConfig: { serviceAccount },
      });
      expect(res.statusCode, message).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
      expect(fields(res)).toEqual(['providerConfig.serviceAccount']);
      expect(JSON.stringify(res.json().error.details), message).toContain(message);
    }
    const missing = await create(t.adminToken, { name: 'A', platform: 'android', provider: 'fcm' });
    expect(fields(missing)).toEqual(['providerConfig.serviceAccount']);
    const ios = await create(t.adminToken, {
      name: 'A',
      platform: 'ios',
      provider: 'fcm',
      providerConfig: { serviceAccount: keyFile() },
    });
    expect(ios.statusCode).toBe(400);
    expect(fields(ios)).toEqual(['platform']);
    expect((await t.request(t.adminToken, { method: 'GET', url: APPS })).json().total).toBe(0);
  });

  test('a config nested thousands of levels deep is a 400 naming providerConfig, not a crash', async () => {
    // Written as text: JSON.stringify itself cannot go this deep.
    const deep = `${'{"next":'.repeat(20_000)}true${'}'.repeat(20_000)}`;
    const made = await create(t.adminToken, {
      name: 'A',
      platform: 'android',
      provider: 'fcm',
      providerConfig: { serviceAccount: keyFile() },
    });
    expect(made.statusCode).toBe(201);
    const before = await storedConfig(made.json().id);
    const send = (method: 'POST' | 'PATCH', url: string, payload: string) =>
      t.request(t.adminToken, { method, url, payload, headers: { 'content-type': 'application/json' } });
    for (const res of [
      await send('PATCH', `${APPS}/${made.json().id}`, `{"providerConfig":{"serviceAccount":${deep}}}`),
      await send('PATCH', `${APPS}/${made.json().id}`, `{"providerConfig":{"baseUrl":${deep}}}`),
      await send(
        'POST',
        APPS,
        `{"name":"B","platform":"android","provider":"fcm","providerConfig":{"serviceAccount":${deep}}}`,
      ),
    ]) {
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
      expect(fields(res)).toHaveLength(1);
      expect(fields(res)[0]).toMatch(/^providerConfig/);
    }
    expect(await storedConfig(made.json().id)).toEqual(before);
    expect((await t.request(t.adminToken, { method: 'GET', url: APPS })).json().total).toBe(1);
  });

  test('a new project, client or key id needs the private key again; the masked key keeps it', async () => {
    const app = (
      await create(t.adminToken, {
        name: 'A',
        platform: 'android',
        provider: 'fcm',
        providerConfig: { serviceAccount: keyFile() },
      })
    ).json();
    const masked = app.providerConfig.serviceAccount;
    for (const change of [
      { project_id: 'another-project' },
      { client_email: 'x@another-project.iam.gserviceaccount.com' },
      { private_key_id: 'ffffffffffffffffffffffffffffffffffffffff' },
      { token_uri: 'https://127.0.0.1:9443/token' },
    ]) {
      const res = await patch(app.id, { serviceAccount: { ...masked, ...change } });
      expect(res.statusCode, JSON.stringify(change)).toBe(400);
      expect(res.json().error.code).toBe('PROVIDER_SECRET_REQUIRED');
      expect(res.json().error.message).toContain('providerConfig.serviceAccount.private_key');
    }
    const option = await patch(app.id, { serviceAccount: masked, androidChannelId: 'news' });
    expect(option.statusCode).toBe(200);
    expect((await storedConfig(app.id)).serviceAccount.private_key).toBe(RSA_KEY);
    const newKey = rsaPem();
    const moved = await patch(app.id, {
      serviceAccount: keyFile({ project_id: 'another-project', private_key: newKey }),
    });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json().providerConfig.serviceAccount.project_id).toBe('another-project');
    expect((await storedConfig(app.id)).serviceAccount.private_key).toBe(newKey);
  });

  test('both endpoints, the FCM base URL and the token URI, must be on the allowlist', async () => {
    for (const [config, field] of [
      [{ serviceAccount: keyFile(), baseUrl: 'https://fcm.evil.example' }, 'providerConfig.baseUrl'],
      [
        { serviceAccount: keyFile({ token_uri: 'https://oauth.evil.example/token' }) },
        'providerConfig.serviceAccount.token_uri',
      ],
    ] as const) {
      const res = await create(t.adminToken, {
        name: 'A',
        platform: 'android',
        provider: 'fcm',
        providerConfig: config,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('PROVIDER_URL_NOT_ALLOWED');
      expect(res.json().error.details).toEqual({ field });
    }
    const local = await create(t.adminToken, {
      name: 'A',
      platform: 'android',
      provider: 'fcm',
      providerConfig: {
        serviceAccount: keyFile({ token_uri: 'https://127.0.0.1:9443/token' }),
        baseUrl: 'https://127.0.0.1:9443',
      },
    });
    expect(local.statusCode).toBe(201);
  });

  test('receive no provider callbacks: their receipt URL says that devices report through the SDK', async () => {
    const app = (
      await create(t.adminToken, {
        name: 'A',
        platform: 'android',
        provider: 'fcm',
        providerConfig: { serviceAccount: keyFile() },
      })
    ).json();
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/receipts/fcm/${app.id}?secret=${app.receiptSecret}`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ receipts: [] }),
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.message).toContain('POST /api/v1/receipts/sdk');
    expect(await t.db.selectFrom('unreadable_receipts').selectAll().execute()).toEqual([]);
  });

  test('only owners may create or change them', async () => {
    const denied = await create(operator, {
      name: 'A',
      platform: 'android',
      provider: 'fcm',
      providerConfig: { serviceAccount: keyFile() },
    });
    expect(denied.statusCode).toBe(403);
    const app = (
      await create(t.adminToken, {
        name: 'A',
        platform: 'android',
        provider: 'fcm',
        providerConfig: { serviceAccount: keyFile() },
      })
    ).json();
    const change = await patch(app.id, { ...app.providerConfig, concurrency: 50 }, operator);
    expect(change.statusCode).toBe(403);
    const same = await patch(app.id, app.providerConfig, operator);
    expect(same.statusCode).toBe(200);
  });
});

describe('apns apps', () => {
  test('take a .p8 key, show team, key, bundle and environment, and never the key', async () => {
    const res = await create(t.adminToken, {
      name: 'Shop iOS',
      platform: 'ios',
      provider: 'apns',
      providerConfig: APNS,
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().providerConfig).toEqual({ ...APNS, privateKey: `••••${P8_KEY.slice(-4)}` });
    expect(res.body).not.toContain('BEGIN PRIVATE KEY');
    expect((await storedConfig(res.json().id)).privateKey).toBe(P8_KEY);
  });

  test('refuse wrong fields, naming each, and Android apps', async () => {
    const res = await create(t.adminToken, {
      name: 'A',
      platform: 'ios',
      provider: 'apns',
      providerConfig: {
        teamId: 'team',
        keyId: 'ZX98YW76V',
        privateKey: RSA_KEY,
        bundleId: 'com example',
        environment: 'staging',
      },
    });
    expect(res.statusCode).toBe(400);
    expect(fields(res).sort()).toEqual(
      [
        'providerConfig.bundleId',
        'providerConfig.environment',
        'providerConfig.keyId',
        'providerConfig.privateKey',
        'providerConfig.teamId',
      ].sort(),
    );
    const android = await create(t.adminToken, {
      name: 'A',
      platform: 'android',
      provider: 'apns',
      providerConfig: APNS,
    });
    expect(fields(android)).toEqual(['platform']);
  });

  test('a new team, key ID or base URL needs the .p8 key again; other changes keep it', async () => {
    const app = (
      await create(t.adminToken, { name: 'A', platform: 'ios', provider: 'apns', providerConfig: APNS })
    ).json();
    for (const change of [
      { teamId: 'QQ12CD34EF' },
      { keyId: 'QQ98YW76VU' },
      { baseUrl: 'https://127.0.0.1:9443' },
    ]) {
      const res = await patch(app.id, { ...app.providerConfig, ...change });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('PROVIDER_SECRET_REQUIRED');
      expect(res.json().error.message).toContain('providerConfig.privateKey');
    }
    const sandbox = await patch(app.id, { ...app.providerConfig, environment: 'sandbox' });
    expect(sandbox.statusCode).toBe(200);
    expect(await storedConfig(app.id)).toEqual({ ...APNS, environment: 'sandbox' });
    const outside = await patch(app.id, { ...APNS, baseUrl: 'https://apns.evil.example' });
    expect(outside.json().error.code).toBe('PROVIDER_URL_NOT_ALLOWED');
    const sandboxHost = await patch(app.id, { ...APNS, baseUrl: 'https://api.sandbox.push.apple.com' });
    expect(sandboxHost.statusCode).toBe(200);
  });
});
