/**
 * App store contract: the behaviour every backend's app store must have (see `backends.ts`).
 * Talks to the store interfaces only; fixtures are made through store methods.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createAppStore, newAppSecrets } from '../src/apps/app-store.ts';
import { createDeviceStore } from '../src/devices/device-store.ts';
import { createTaskStore } from '../src/tasks/task-store.ts';
import { createTenancyStore } from '../src/tenancy/tenancy-store.ts';
import { BACKENDS, type BackendHandle } from './backends.ts';
import { appRow, at, taskRow as baseTaskRow, insertReadyAudience } from './store-rows.ts';

describe.each(BACKENDS)('app store on $name', (backend) => {
  let h: BackendHandle;
  beforeEach(async () => {
    h = await backend.open();
    const tenancy = createTenancyStore(h.db);
    await tenancy.insertWorkspace({ id: 'ws_1', name: 'One', created_at: at(0) }, null);
    await tenancy.insertWorkspace({ id: 'ws_2', name: 'Two', created_at: at(0) }, null);
  });
  afterEach(async () => {
    await h.dispose();
  });

  test('an inserted app is found as written, only in its own workspace', async () => {
    const store = createAppStore(h.db);
    const row = appRow('app_1', 'ws_1', { name: 'Shop', platform: 'ios', provider: 'umeng' });
    await store.insertApp(row);
    expect(await store.findApp('ws_1', 'app_1')).toEqual(row);
    expect(await store.findApp('ws_2', 'app_1')).toBeUndefined();
    expect(await store.findApp('ws_1', 'app_unknown')).toBeUndefined();
    expect(await store.listApps('ws_2', {}, 0, 10)).toEqual({ rows: [], total: 0 });
  });

  test('apps list newest first, ties by ID, with exact totals across pages', async () => {
    const store = createAppStore(h.db);
    await store.insertApp(appRow('app_a', 'ws_1', { created_at: at(1) }));
    await store.insertApp(appRow('app_b', 'ws_1', { created_at: at(3) }));
    await store.insertApp(appRow('app_c', 'ws_1', { created_at: at(2) }));
    await store.insertApp(appRow('app_d', 'ws_1', { created_at: at(2) }));
    await store.insertApp(appRow('app_e', 'ws_1', { created_at: at(0) }));
    await store.insertApp(appRow('app_x', 'ws_2', { created_at: at(5) }));
    const all = await store.listApps('ws_1', {}, 0, 100);
    expect(all.total).toBe(5);
    expect(all.rows.map((r) => r.id)).toEqual(['app_b', 'app_d', 'app_c', 'app_a', 'app_e']);
    const pages = [];
    for (let offset = 0; offset < 5; offset += 2) {
      const page = await store.listApps('ws_1', {}, offset, 2);
      expect(page.total).toBe(5);
      pages.push(...page.rows.map((r) => r.id));
    }
    expect(pages).toEqual(all.rows.map((r) => r.id));
    expect(await store.listApps('ws_1', {}, 5, 2)).toEqual({ rows: [], total: 5 });
  });

  test('the app list filters by platform, provider and a literal, case-insensitive name search', async () => {
    const store = createAppStore(h.db);
    await store.insertApp(appRow('app_1', 'ws_1', { name: 'Shop 100% iOS', platform: 'ios' }));
    await store.insertApp(appRow('app_2', 'ws_1', { name: 'Shop 1000 Android', provider: 'umeng' }));
    await store.insertApp(appRow('app_3', 'ws_1', { name: 'news_feed', created_at: at(1) }));
    await store.insertApp(appRow('app_4', 'ws_1', { name: 'newsXfeed', created_at: at(2) }));
    const ids = async (filter: Parameters<typeof store.listApps>[1]) => {
      const { rows, total } = await store.listApps('ws_1', filter, 0, 10);
      expect(total).toBe(rows.length);
      return rows.map((r) => r.id).sort();
    };
    expect(await ids({ q: '100%' })).toEqual(['app_1']);
    expect(await ids({ q: 's_f' })).toEqual(['app_3']);
    expect(await ids({ q: 'SHOP' })).toEqual(['app_1', 'app_2']);
    expect(await ids({ q: 'shop', platform: 'android' })).toEqual(['app_2']);
    expect(await ids({ platform: 'ios' })).toEqual(['app_1']);
    expect(await ids({ provider: 'umeng' })).toEqual(['app_2']);
    expect(await ids({ provider: 'simulator', platform: 'android' })).toEqual(['app_3', 'app_4']);
    expect(await ids({ q: 'nothing like it' })).toEqual([]);
    await store.insertApp(appRow('app_5', 'ws_1', { name: 'C:\\apps\\shop' }));
    await store.insertApp(appRow('app_6', 'ws_1', { name: 'C:apps' }));
    expect(await ids({ q: ':\\a' })).toEqual(['app_5']);
  });

  test('an update changes only the given columns, and only in the app’s own workspace', async () => {
    const store = createAppStore(h.db);
    const row = appRow('app_1', 'ws_1', { name: 'Old' });
    await store.insertApp(row);
    await store.updateApp('ws_2', 'app_1', { name: 'Hijacked' });
    expect(await store.findApp('ws_1', 'app_1')).toEqual(row);
    const secrets = newAppSecrets();
    await store.updateApp('ws_1', 'app_1', {
      name: 'New',
      provider_config: '{"seed":7}',
      updated_at: at(1),
      ...secrets,
    });
    expect(await store.findApp('ws_1', 'app_1')).toEqual({
      ...row,
      name: 'New',
      provider_config: '{"seed":7}',
      updated_at: at(1),
      ...secrets,
    });
  });

  test('secrets and provider config are sealed in the rows and in clear through the store', async () => {
    const store = createAppStore(h.db);
    const config = JSON.stringify({ appKey: 'key-1', appMasterSecret: 'master-secret-in-clear' });
    const row = appRow('app_1', 'ws_1', { provider: 'umeng', provider_config: config });
    await store.insertApp(row);
    const secrets = newAppSecrets();
    await store.updateApp('ws_1', 'app_1', { ...secrets, updated_at: at(1) });
    const raw = await h.db.withoutPlugins().selectFrom('apps').selectAll().executeTakeFirstOrThrow();
    for (const column of ['receipt_secret', 'sdk_secret', 'provider_config'] as const) {
      expect(raw[column]).toMatch(/^pbenc1:/);
    }
    expect(JSON.stringify(raw)).not.toContain('master-secret-in-clear');
    expect(JSON.stringify(raw)).not.toContain(secrets.sdk_secret);
    expect(raw.sdk_key).toBe(secrets.sdk_key);
    const expected = { ...row, ...secrets, updated_at: at(1) };
    expect(await store.findApp('ws_1', 'app_1')).toEqual(expected);
    expect((await store.listApps('ws_1', {}, 0, 10)).rows).toEqual([expected]);
  });

  test('an app a task uses is not deleted: the number of such tasks is answered', async () => {
    const store = createAppStore(h.db);
    const tasks = createTaskStore(h.db);
    await store.insertApp(appRow('app_1', 'ws_1'));
    await insertReadyAudience(h.db, 'aud_1');
    await tasks.insertTask(baseTaskRow('tsk_1'), []);
    await tasks.insertTask(baseTaskRow('tsk_2', { status: 'completed', started_at: at(1) }), []);
    expect(await store.deleteAppUnlessUsed('ws_1', 'app_1')).toBe(2);
    expect(await store.findApp('ws_1', 'app_1')).toBeDefined();
    expect(await tasks.deleteDeletableTask('ws_1', 'tsk_1')).toBe(true);
    expect(await store.deleteAppUnlessUsed('ws_1', 'app_1')).toBe(1);
    expect(await store.findApp('ws_1', 'app_1')).toBeDefined();
  });

  test('deleting an unused app removes it with its devices and its staged imports', async () => {
    const store = createAppStore(h.db);
    const devices = createDeviceStore(h.db);
    await store.insertApp(appRow('app_1', 'ws_1'));
    await store.insertApp(appRow('app_2', 'ws_1'));
    await devices.upsertDevices(
      'app_1',
      [
        { deviceId: 'd1', pushToken: 't1', channel: 'umeng' },
        { deviceId: 'd2', pushToken: 't2', channel: 'huawei' },
      ],
      at(0),
    );
    await devices.upsertDevices('app_2', [{ deviceId: 'd1', pushToken: 'u1', channel: 'umeng' }], at(0));
    await devices.startImport({ id: 'imp_1', app_id: 'app_1', status: 'staging', created_at: at(0) });
    await devices.stageImportLines([
      { import_id: 'imp_1', line: 1, device_id: 'd3', push_token: 't3', channel: 'umeng' },
    ]);

    expect(await store.deleteAppUnlessUsed('ws_1', 'app_1')).toBe(0);
    expect(await store.findApp('ws_1', 'app_1')).toBeUndefined();
    expect(await devices.findDevice('app_1', 'd1')).toBeUndefined();
    expect(await devices.listDevices('app_1', {}, 'deviceId', 0, 10)).toEqual({ rows: [], total: 0 });
    // The import went with the app: nothing is left staging to reject.
    expect(await devices.rejectStaleImports(at(100))).toBe(0);
    // The other app is untouched.
    expect((await devices.findDevice('app_2', 'd1'))?.push_token).toBe('u1');
    expect(await store.countDevices(['app_1', 'app_2'])).toEqual(
      new Map([['app_2', { devices: 1, invalidTokens: 0 }]]),
    );
  });

  test('another workspace cannot delete an app', async () => {
    const store = createAppStore(h.db);
    await store.insertApp(appRow('app_1', 'ws_1'));
    await store.deleteAppUnlessUsed('ws_2', 'app_1');
    expect(await store.findApp('ws_1', 'app_1')).toBeDefined();
  });

  test('device and invalid-token counts are keyed by app, and apps without devices are absent', async () => {
    const store = createAppStore(h.db);
    const devices = createDeviceStore(h.db);
    for (const id of ['app_1', 'app_2', 'app_3']) await store.insertApp(appRow(id, 'ws_1'));
    await devices.upsertDevices(
      'app_1',
      ['a', 'b', 'c'].map((d) => ({
        deviceId: d,
        pushToken: `t-${d}`,
        channel: d === 'c' ? 'xiaomi' : 'umeng',
      })),
      at(0),
    );
    await devices.upsertDevices('app_2', [{ deviceId: 'a', pushToken: 't', channel: 'umeng' }], at(0));
    // A provider said b's token is gone (as the dispatcher marks it with b's result).
    await h.db
      .updateTable('devices')
      .set({ token_status: 'invalid', token_invalid_at: at(1), token_invalid_reason: 'UNREGISTERED' })
      .where('app_id', '=', 'app_1')
      .where('device_id', '=', 'b')
      .execute();
    const counts = await store.countDevices(['app_1', 'app_2', 'app_3', 'app_unknown']);
    expect(counts).toEqual(
      new Map([
        ['app_1', { devices: 3, invalidTokens: 1 }],
        ['app_2', { devices: 1, invalidTokens: 0 }],
      ]),
    );
    for (const n of counts.values()) {
      expect(typeof n.devices).toBe('number');
      expect(typeof n.invalidTokens).toBe('number');
    }
    expect(await store.countDevices(['app_2'])).toEqual(
      new Map([['app_2', { devices: 1, invalidTokens: 0 }]]),
    );
    expect(await store.countDevices([])).toEqual(new Map());
  });
});
