/**
 * docs/operations.md#secrets-at-rest "Secrets at rest": app secrets and provider credentials are sealed (AES-256-GCM) in the
 * database file and rows; the data folder is 0700 and the SQLite files 0600; secrets of older
 * databases are sealed at start; a wrong key stops the start with a clear error.
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type Config, ConfigError, loadConfig } from '../src/config.ts';
import { signBody } from '../src/http/signed-bodies.ts';
import { createSecretBox } from '../src/security/secret-box.ts';
import type { Db } from '../src/storage/database.ts';
import { openStore } from '../src/storage/open-store.ts';
import { bootstrapTenancy } from '../src/tenancy/bootstrap.ts';
import { freshStoreEnv, SCALED, type StoreEnv } from './backends.ts';
import { createTestInstance, type TestInstance, tempDir } from './helpers.ts';

const APPS = '/api/v1/workspaces/default/apps';
const UMENG = { appKey: '5f1a2b3c4d5e6f7a8b9c0d1e', appMasterSecret: 'k3jd8s7f6g5h4j3k2l1mqwertyui1a2b' };

/** Every byte SQLite keeps of a database: the file and its WAL and shared-memory companions. */
function sqliteBytes(file: string): string {
  return [file, `${file}-wal`, `${file}-shm`]
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f).toString('latin1'))
    .join('\n');
}

/** The apps rows as the database holds them (no sealing or opening on the way). */
async function rawApps(db: Db) {
  return db.withoutPlugins().selectFrom('apps').selectAll().orderBy('id').execute();
}

describe('secrets are sealed in the store', () => {
  let t: TestInstance;
  beforeEach(async () => {
    t = await createTestInstance();
  });
  afterEach(async () => {
    await t.close();
  });

  test('after creating an app, neither the database file nor its row holds a secret in clear; receipts still work', async () => {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: APPS,
      body: { name: 'Shop', platform: 'android', provider: 'umeng', providerConfig: UMENG },
    });
    expect(res.statusCode).toBe(201);
    const app = res.json();
    const secrets = [app.receiptSecret, app.sdkSecret, UMENG.appMasterSecret];

    const [row] = await rawApps(t.db);
    const rowText = JSON.stringify(row);
    for (const secret of secrets) expect(rowText).not.toContain(secret);
    expect(row!.receipt_secret).toMatch(/^pbenc1:/);
    expect(row!.sdk_secret).toMatch(/^pbenc1:/);
    expect(row!.provider_config).toMatch(/^pbenc1:/);
    expect(row!.sdk_key).toBe(app.sdkKey); // the identifier receipts are looked up by
    if (!SCALED) {
      const bytes = sqliteBytes(t.config.sqliteFile);
      expect(bytes).toContain(app.sdkKey); // the file was read for real
      for (const secret of secrets) expect(bytes).not.toContain(secret);
    }

    // Above the store, secrets are in clear: reads mask them, receipts are checked against them.
    const read = (await t.request(t.adminToken, { method: 'GET', url: `${APPS}/${app.id}` })).json();
    expect(read.providerConfig.appMasterSecret).toBe('••••1a2b');
    expect(read.receiptSecret).toBe(`••••${app.receiptSecret.slice(-4)}`);
    const body = JSON.stringify({ receipts: [] });
    const sdk = await t.request(null, {
      method: 'POST',
      url: '/api/v1/receipts/sdk',
      headers: {
        'content-type': 'application/json',
        'x-pushboard-key': app.sdkKey,
        'x-pushboard-signature': signBody(body, app.sdkSecret),
      },
      payload: body,
    });
    expect(sdk.statusCode).toBe(200);
    const provider = await t.request(null, {
      method: 'POST',
      url: `/api/v1/receipts/umeng/${app.id}?secret=${encodeURIComponent(app.receiptSecret)}`,
      headers: { 'content-type': 'application/json' },
      payload: '[]',
    });
    expect(provider.statusCode).toBe(200);
    const wrong = await t.request(null, {
      method: 'POST',
      url: `/api/v1/receipts/umeng/${app.id}?secret=${encodeURIComponent(row!.receipt_secret)}`,
      headers: { 'content-type': 'application/json' },
      payload: '[]',
    });
    expect(wrong.statusCode).toBe(401);
  });

  test('a secret rotated or re-entered is sealed too', async () => {
    const app = (
      await t.request(t.adminToken, {
        method: 'POST',
        url: APPS,
        body: { name: 'Shop', platform: 'android', provider: 'umeng', providerConfig: UMENG },
      })
    ).json();
    const rotated = (
      await t.request(t.adminToken, { method: 'POST', url: `${APPS}/${app.id}/secrets/rotate` })
    ).json();
    const changed = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${APPS}/${app.id}`,
      body: {
        providerConfig: { appKey: 'another-app-key-1', appMasterSecret: 'a-brand-new-master-secret-77' },
      },
    });
    expect(changed.statusCode).toBe(200);
    const rowText = JSON.stringify(await rawApps(t.db));
    for (const secret of [rotated.receiptSecret, rotated.sdkSecret, 'a-brand-new-master-secret-77']) {
      expect(rowText).not.toContain(secret);
    }
    if (!SCALED) expect(sqliteBytes(t.config.sqliteFile)).not.toContain('a-brand-new-master-secret-77');
  });

  test('every query-builder form that writes a secret seals it, or is refused', async () => {
    const app = (
      await t.request(t.adminToken, {
        method: 'POST',
        url: APPS,
        body: { name: 'Shop', platform: 'android', provider: 'umeng', providerConfig: UMENG },
      })
    ).json();
    const written: string[] = [];
    const config = (secret: string) => JSON.stringify({ ...UMENG, appMasterSecret: secret });

    // `.set(column, value)` and a table-qualified column name build a reference around the column.
    await t.db
      .updateTable('apps')
      .set('sdk_secret', 'plain-sdk-secret-by-set-1')
      .where('id', '=', app.id)
      .execute();
    await t.db
      .updateTable('apps')
      .set({ receipt_secret: 'plain-receipt-by-object-set' })
      .where('id', '=', app.id)
      .execute();
    written.push('plain-sdk-secret-by-set-1', 'plain-receipt-by-object-set');
    // A table-qualified column is no valid SET target on either database, yet the builder types one:
    // what would be sent is checked.
    const qualified = t.db
      .updateTable('apps')
      .set('apps.provider_config', config('plain-master-by-qualified-set'))
      .where('id', '=', app.id)
      .compile();
    expect(JSON.stringify(qualified.parameters)).not.toMatch(/plain-/);
    expect(String(qualified.parameters[0])).toMatch(/^pbenc1:/);

    // An upsert's DO UPDATE SET writes the row as an UPDATE does.
    const row = await t.db.selectFrom('apps').selectAll().where('id', '=', app.id).executeTakeFirstOrThrow();
    await t.db
      .insertInto('apps')
      .values(row)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          sdk_secret: 'plain-sdk-secret-by-upsert',
          provider_config: config('plain-master-by-upsert'),
        }),
      )
      .execute();
    written.push('plain-sdk-secret-by-upsert', 'plain-master-by-upsert');

    const [stored] = await rawApps(t.db);
    for (const name of ['receipt_secret', 'sdk_secret', 'provider_config'] as const) {
      expect(stored![name]).toMatch(/^pbenc1:/);
    }
    const rowText = JSON.stringify(stored);
    for (const secret of written) expect(rowText).not.toContain(secret);
    if (!SCALED) {
      const bytes = sqliteBytes(t.config.sqliteFile);
      for (const secret of written) expect(bytes).not.toContain(secret);
    }
    // Above the store the last values are read back in clear.
    const opened = await t.db
      .selectFrom('apps')
      .selectAll()
      .where('id', '=', app.id)
      .executeTakeFirstOrThrow();
    expect(opened.sdk_secret).toBe('plain-sdk-secret-by-upsert');
    expect(JSON.parse(opened.provider_config).appMasterSecret).toBe('plain-master-by-upsert');

    // Copied from a query or from the proposed row, a secret cannot be sealed on the way: refused.
    await expect(
      t.db
        .insertInto('apps')
        .columns(['id', 'sdk_secret'])
        .expression((eb) => eb.selectFrom('apps').select(['id', 'sdk_secret']).where('id', '=', 'none'))
        .execute(),
    ).rejects.toThrow(/apps secrets/);
    await expect(
      t.db
        .insertInto('apps')
        .values(row)
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({ sdk_secret: eb.ref('excluded.sdk_secret') })),
        )
        .execute(),
    ).rejects.toThrow(/apps secrets/);
    expect(await rawApps(t.db)).toEqual([stored]);
  });
});

describe('at start', () => {
  let dir: string;
  let store: StoreEnv;
  let config: Config;
  const open: Db[] = [];
  beforeEach(async () => {
    dir = tempDir('pushboard-secrets-');
    store = await freshStoreEnv(dir);
    config = loadConfig({ logLevel: 'silent' }, store.env);
  });
  afterEach(async () => {
    for (const db of open.splice(0)) await db.destroy();
    await store.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  async function start(settings: Config = config): Promise<Db> {
    const db = await openStore(settings);
    open.push(db);
    return db;
  }
  async function stop(db: Db) {
    open.splice(open.indexOf(db), 1);
    await db.destroy();
  }

  test('secrets an older version stored in clear are sealed, and still work', async () => {
    const first = await start();
    await bootstrapTenancy(first, 'admin-password-for-tests', new Date());
    // As an older version wrote it: straight into the row, in clear.
    const now = new Date().toISOString();
    await first
      .withoutPlugins()
      .insertInto('apps')
      .values({
        id: 'app_old',
        workspace_id: 'default',
        name: 'Old',
        platform: 'android',
        provider: 'umeng',
        provider_config: JSON.stringify(UMENG),
        receipt_secret: 'pbr_old-receipt-secret-in-clear',
        sdk_key: 'pbk_old-sdk-key',
        sdk_secret: 'pbs_old-sdk-secret-in-clear',
        created_at: now,
        updated_at: now,
      })
      .execute();
    await stop(first);

    const second = await start();
    const [row] = await rawApps(second);
    expect(row!.receipt_secret).toMatch(/^pbenc1:/);
    expect(row!.sdk_secret).toMatch(/^pbenc1:/);
    expect(row!.provider_config).toMatch(/^pbenc1:/);
    expect(JSON.stringify(row)).not.toContain('in-clear');
    expect(JSON.stringify(row)).not.toContain(UMENG.appMasterSecret);
    const opened = await second.selectFrom('apps').selectAll().executeTakeFirstOrThrow();
    expect(opened).toMatchObject({
      receipt_secret: 'pbr_old-receipt-secret-in-clear',
      sdk_secret: 'pbs_old-sdk-secret-in-clear',
      sdk_key: 'pbk_old-sdk-key',
    });
    expect(JSON.parse(opened.provider_config)).toEqual(UMENG);
  });

  test('another key than the one the secrets were sealed with stops the start with a clear error', async () => {
    const first = await start();
    await bootstrapTenancy(first, 'admin-password-for-tests', new Date());
    const now = new Date().toISOString();
    await first
      .insertInto('apps')
      .values({
        id: 'app_1',
        workspace_id: 'default',
        name: 'A',
        platform: 'ios',
        provider: 'simulator',
        provider_config: '{}',
        receipt_secret: 'pbr_receipt-secret-value',
        sdk_key: 'pbk_key',
        sdk_secret: 'pbs_sdk-secret-value',
        created_at: now,
        updated_at: now,
      })
      .execute();
    await stop(first);
    const otherKey = Buffer.alloc(32, 9).toString('base64');
    const other = loadConfig({ logLevel: 'silent' }, { ...store.env, PUSHBOARD_SECRET_KEY: otherKey });
    const error = await openStore(other).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/sealed with another (key|one)/);
    expect((error as Error).message).toContain('PUSHBOARD_SECRET_KEY');
  });

  test.skipIf(SCALED)(
    'the data folder is 0700, the SQLite files and the key file 0600, also for an older 0644 file',
    async () => {
      // An older version's folder and file, made with the usual umask.
      fs.chmodSync(dir, 0o755);
      fs.writeFileSync(config.sqliteFile, '', { mode: 0o644 });
      fs.chmodSync(config.sqliteFile, 0o644);
      const db = await start();
      await bootstrapTenancy(db, 'admin-password-for-tests', new Date()); // writes: the WAL exists
      const mode = (file: string) => fs.statSync(file).mode & 0o777;
      expect(mode(dir)).toBe(0o700);
      expect(mode(config.sqliteFile)).toBe(0o600);
      expect(mode(`${config.sqliteFile}-wal`)).toBe(0o600);
      expect(mode(`${config.sqliteFile}-shm`)).toBe(0o600);
      expect(mode(path.join(dir, 'secret.key'))).toBe(0o600);

      const fresh = path.join(dir, 'new-folder');
      await start(loadConfig({ logLevel: 'silent' }, { PUSHBOARD_DATA_DIR: fresh }));
      expect(mode(fresh)).toBe(0o700);
      expect(mode(path.join(fresh, 'pushboard.db'))).toBe(0o600);
    },
  );

  test('the scaled mode does not start without PUSHBOARD_SECRET_KEY; a malformed key is refused', async () => {
    const scaled = loadConfig(
      {},
      { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', PUSHBOARD_DATA_DIR: dir },
    );
    await expect(openStore(scaled)).rejects.toThrow(ConfigError);
    await expect(openStore(scaled)).rejects.toThrow(/PUSHBOARD_SECRET_KEY is required with DATABASE_URL/);
    for (const bad of ['short', 'zz'.repeat(32), Buffer.alloc(31).toString('base64')]) {
      expect(() => loadConfig({}, { PUSHBOARD_SECRET_KEY: bad }), bad).toThrow(
        /PUSHBOARD_SECRET_KEY must be 32/,
      );
    }
    const hex = 'ab'.repeat(32);
    expect(loadConfig({}, { PUSHBOARD_SECRET_KEY: hex }).secretKey).toEqual(Buffer.from(hex, 'hex'));

    // Both errors give the same way to make a key, and what it makes is taken.
    const hints = [
      await openStore(scaled).catch((e: Error) => e.message),
      (() => {
        try {
          loadConfig({}, { PUSHBOARD_SECRET_KEY: 'short' });
        } catch (e) {
          return (e as Error).message;
        }
      })(),
    ].map((message) => /make one with: (node -e .*)$/.exec(String(message))?.[1]);
    expect(hints[0]).toBeDefined();
    expect(hints[1]).toBe(hints[0]);
    const made = execSync(hints[0]!, { encoding: 'utf8' }).trim();
    expect(loadConfig({}, { PUSHBOARD_SECRET_KEY: made }).secretKey).toHaveLength(32);
  });
});

describe('the secret box', () => {
  test('seals with a fresh IV each time, opens what it sealed, and refuses an altered or foreign value', () => {
    const box = createSecretBox(Buffer.alloc(32, 1));
    const a = box.seal('pbr_the-receipt-secret');
    const b = box.seal('pbr_the-receipt-secret');
    expect(a).not.toBe(b);
    expect(a).not.toContain('the-receipt-secret');
    expect(box.open(a)).toBe('pbr_the-receipt-secret');
    expect(box.open('pbr_stored-in-clear-by-an-older-version')).toBe(
      'pbr_stored-in-clear-by-an-older-version',
    );
    const altered = `${a.slice(0, -2)}${a.endsWith('A') ? 'B' : 'A'}${a.slice(-1)}`;
    expect(() => box.open(altered)).toThrow(ConfigError);
    expect(() => createSecretBox(Buffer.alloc(32, 2)).open(a)).toThrow(/sealed with another/);
  });
});
