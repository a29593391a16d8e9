/**
 * Device store contract: upserts (single, batch, bulk), listings, counts and the staged CSV import,
 * run on every backend of `backends.ts`. Talks to the store interfaces only.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createAppStore } from '../src/apps/app-store.ts';
import type { DeviceInput } from '../src/devices/device-input.ts';
import { bulkWriter, createDeviceStore, type DeviceStore } from '../src/devices/device-store.ts';
import type { DeviceImportLineRow, DeviceRegistration } from '../src/storage/database.ts';
import { createTenancyStore } from '../src/tenancy/tenancy-store.ts';
import { BACKENDS, type BackendHandle } from './backends.ts';
import { appRow, at } from './store-rows.ts';

function deviceRow(
  appId: string,
  deviceId: string,
  changes: Partial<DeviceRegistration> = {},
): DeviceRegistration {
  return {
    app_id: appId,
    device_id: deviceId,
    push_token: `tok-${deviceId}`,
    channel: 'umeng',
    created_at: at(0),
    updated_at: at(0),
    ...changes,
  };
}

/** A registration as read back: an active token. */
const stored = (row: DeviceRegistration) => ({
  time_zone: null,
  locale: null,
  app_version: null,
  ...row,
  token_status: 'active',
  token_invalid_at: null,
  token_invalid_reason: null,
});

const device = (deviceId: string, pushToken = `tok-${deviceId}`, channel = 'umeng'): DeviceInput => ({
  deviceId,
  pushToken,
  channel,
});

/** Zero-padded IDs sort the same in every collation and in byte order. */
const pad = (n: number) => String(n).padStart(5, '0');

/** Every device of an app, in device ID order, as [deviceId, pushToken, channel]. */
async function dump(store: DeviceStore, appId: string): Promise<[string, string, string][]> {
  const { rows, total } = await store.listDevices(appId, {}, 'deviceId', 0, 100_000);
  expect(rows.length).toBe(total);
  return rows.map((r) => [r.device_id, r.push_token, r.channel]);
}

describe.each(BACKENDS)('device store on $name', (backend) => {
  let h: BackendHandle;
  let store: DeviceStore;
  beforeEach(async () => {
    h = await backend.open();
    store = createDeviceStore(h.db);
    const tenancy = createTenancyStore(h.db);
    await tenancy.insertWorkspace({ id: 'ws_1', name: 'One', created_at: at(0) }, null);
    await tenancy.insertWorkspace({ id: 'ws_2', name: 'Two', created_at: at(0) }, null);
    const apps = createAppStore(h.db);
    await apps.insertApp(appRow('app_1', 'ws_1', { created_at: at(2) }));
    await apps.insertApp(appRow('app_2', 'ws_1', { created_at: at(1), platform: 'ios', name: 'iPhone' }));
    await apps.insertApp(appRow('app_3', 'ws_1', { created_at: at(0) }));
    await apps.insertApp(appRow('app_9', 'ws_2'));
  });
  afterEach(async () => {
    await h.dispose();
  });

  describe('single and batch upserts', () => {
    test('a single upsert inserts, then updates token and channel and keeps the registration time', async () => {
      expect(await store.upsertDevice(deviceRow('app_1', 'd1'))).toBe('inserted');
      expect(await store.findDevice('app_1', 'd1')).toEqual(stored(deviceRow('app_1', 'd1')));
      expect(
        await store.upsertDevice(
          deviceRow('app_1', 'd1', {
            push_token: 'new',
            channel: 'huawei',
            created_at: at(5),
            updated_at: at(5),
          }),
        ),
      ).toBe('updated');
      expect(await store.findDevice('app_1', 'd1')).toEqual(
        stored(deviceRow('app_1', 'd1', { push_token: 'new', channel: 'huawei', updated_at: at(5) })),
      );
      expect(await store.findDevice('app_2', 'd1')).toBeUndefined();
      expect(await store.upsertDevice(deviceRow('app_2', 'd1'))).toBe('inserted');
    });

    test('a batch upsert counts inserts and updates, and a repeated device counts as both, the last winning', async () => {
      await store.upsertDevice(deviceRow('app_1', 'old'));
      const counts = await store.upsertDevices(
        'app_1',
        [
          device('a', 't1'),
          device('old', 't2', 'xiaomi'),
          device('a', 't3', 'oppo'),
          device('b'),
          device('a', 't4'),
        ],
        at(1),
      );
      expect(counts).toEqual({ inserted: 2, updated: 3 });
      expect(await dump(store, 'app_1')).toEqual([
        ['a', 't4', 'umeng'],
        ['b', 'tok-b', 'umeng'],
        ['old', 't2', 'xiaomi'],
      ]);
      const old = await store.findDevice('app_1', 'old');
      expect(old).toMatchObject({ created_at: at(0), updated_at: at(1) });
      expect(await store.findDevice('app_1', 'a')).toMatchObject({ created_at: at(1), updated_at: at(1) });
      expect(await store.upsertDevices('app_1', [], at(2))).toEqual({ inserted: 0, updated: 0 });
    });

    test('batch upserts of thousands of devices span several statements and lookups exactly', async () => {
      // 2,600 entries: three multi-row statements and six lookup chunks; every 10th ID repeats.
      const first: DeviceInput[] = [];
      for (let i = 0; i < 2_400; i++) first.push(device(`d${pad(i)}`, `first-${i}`));
      for (let i = 0; i < 2_400; i += 12) first.push(device(`d${pad(i)}`, `again-${i}`, 'vivo'));
      expect(await store.upsertDevices('app_1', first, at(1))).toEqual({ inserted: 2_400, updated: 200 });
      const rows = await dump(store, 'app_1');
      expect(rows).toHaveLength(2_400);
      expect(rows[0]).toEqual(['d00000', 'again-0', 'vivo']);
      expect(rows[1]).toEqual(['d00001', 'first-1', 'umeng']);
      expect(rows[2_399]).toEqual(['d02399', 'first-2399', 'umeng']);

      // Half known, half new: the known ones are found across lookup chunks.
      const second: DeviceInput[] = [];
      for (let i = 1_200; i < 3_600; i++) second.push(device(`d${pad(i)}`, `second-${i}`));
      expect(await store.upsertDevices('app_1', second, at(2))).toEqual({ inserted: 1_200, updated: 1_200 });
      const after = await store.listDevices('app_1', {}, 'deviceId', 0, 1);
      expect(after.total).toBe(3_600);
      expect(await store.findDevice('app_1', `d${pad(1_200)}`)).toMatchObject({
        push_token: 'second-1200',
        created_at: at(1),
        updated_at: at(2),
      });
    });

    test('new devices are bulk-inserted, inside the caller’s transaction when one is given', async () => {
      const rows = Array.from({ length: 2_001 }, (_, i) => deviceRow('app_1', `n${pad(i)}`));
      await expect(
        h.db.transaction().execute(async (trx) => {
          await store.insertNewDevices(rows, trx);
          throw new Error('caller changed its mind');
        }),
      ).rejects.toThrow('caller changed its mind');
      expect((await store.listDevices('app_1', {}, 'deviceId', 0, 1)).total).toBe(0);

      await h.db.transaction().execute((trx) => store.insertNewDevices(rows, trx));
      await store.insertNewDevices([deviceRow('app_2', 'solo')]);
      expect((await store.listDevices('app_1', {}, 'deviceId', 0, 1)).total).toBe(2_001);
      expect(await store.findDevice('app_1', `n${pad(2_000)}`)).toEqual(stored(rows[2_000]!));
      expect(await store.findDevice('app_2', 'solo')).toBeDefined();
    });

    test('the bulk writer refuses a statement whose parameters are not exactly the given columns', async () => {
      const write = bulkWriter<DeviceRegistration>(
        ['app_id', 'device_id', 'push_token', 'channel', 'created_at'],
        (rows) => h.db.insertInto('devices').values(rows.map((r) => ({ ...r, updated_at: 'constant' }))),
      );
      await expect(write(h.db, [deviceRow('app_1', 'x')])).rejects.toThrow(/5 columns expected/);
      expect(await store.findDevice('app_1', 'x')).toBeUndefined();
    });

    test('deleting a device answers whether there was one', async () => {
      await store.upsertDevice(deviceRow('app_1', 'd1'));
      expect(await store.deleteDevice('app_2', 'd1')).toBe(false);
      expect(await store.deleteDevice('app_1', 'd1')).toBe(true);
      expect(await store.deleteDevice('app_1', 'd1')).toBe(false);
      expect(await store.findDevice('app_1', 'd1')).toBeUndefined();
    });
  });

  describe('listings and counts', () => {
    test('newest first lists by registration time, ties by device ID descending, and pages cover it once', async () => {
      await store.upsertDevices('app_1', [device('m'), device('a'), device('z')], at(1));
      await store.upsertDevices('app_1', [device('b'), device('y')], at(3));
      await store.upsertDevices('app_1', [device('c')], at(2));
      // Re-registering does not move a device.
      await store.upsertDevices('app_1', [device('a', 'renewed')], at(9));
      const expected = ['y', 'b', 'c', 'z', 'm', 'a'];
      const all = await store.listDevices('app_1', {}, 'newest', 0, 100);
      expect(all.total).toBe(6);
      expect(all.rows.map((r) => r.device_id)).toEqual(expected);
      const paged: string[] = [];
      for (let offset = 0; offset < 8; offset += 4) {
        const page = await store.listDevices('app_1', {}, 'newest', offset, 4);
        expect(page.total).toBe(6);
        paged.push(...page.rows.map((r) => r.device_id));
      }
      expect(paged).toEqual(expected);
    });

    test('device ID order is byte order, the same on every backend', async () => {
      const ids = ['b-1', 'B-1', 'a', 'A', '_x', '~x', 'a0', 'Z9', '0'];
      await store.upsertDevices(
        'app_1',
        ids.map((id) => device(id)),
        at(0),
      );
      const listed = (await store.listDevices('app_1', {}, 'deviceId', 0, 100)).rows.map((r) => r.device_id);
      expect(listed).toEqual(['0', 'A', 'B-1', 'Z9', '_x', 'a', 'a0', 'b-1', '~x']);
    });

    test('a device ID prefix matches literally: % and _ are plain characters, and case counts', async () => {
      const ids = ['a%1', 'a%2', 'ab', 'a_1', 'aX1', 'A%1', 'a~~', 'a', 'b%1', '%a'];
      await store.upsertDevices(
        'app_1',
        ids.map((id) => device(id)),
        at(0),
      );
      const prefixed = async (prefix: string) => {
        const { rows, total } = await store.listDevices(
          'app_1',
          { deviceIdPrefix: prefix },
          'deviceId',
          0,
          100,
        );
        expect(total).toBe(rows.length);
        return rows.map((r) => r.device_id);
      };
      expect(await prefixed('a%')).toEqual(['a%1', 'a%2']);
      expect(await prefixed('a_')).toEqual(['a_1']);
      expect(await prefixed('%')).toEqual(['%a']);
      expect(await prefixed('A')).toEqual(['A%1']);
      expect(await prefixed('a')).toEqual(['a', 'a%1', 'a%2', 'aX1', 'a_1', 'ab', 'a~~']);
      expect(await prefixed('a~')).toEqual(['a~~']);
      expect(await prefixed('a%1')).toEqual(['a%1']);
      expect(await prefixed('c')).toEqual([]);
    });

    test('the channel filter combines with the prefix, in either order, with exact totals', async () => {
      await store.upsertDevices(
        'app_1',
        [
          device('p1', 't', 'huawei'),
          device('p2', 't', 'xiaomi'),
          device('p3', 't', 'huawei'),
          device('q1', 't', 'huawei'),
        ],
        at(0),
      );
      await store.upsertDevices('app_2', [device('p9', 't', 'huawei')], at(0));
      const huawei = await store.listDevices('app_1', { channel: 'huawei' }, 'deviceId', 0, 2);
      expect(huawei.total).toBe(3);
      expect(huawei.rows.map((r) => r.device_id)).toEqual(['p1', 'p3']);
      const both = await store.listDevices(
        'app_1',
        { channel: 'huawei', deviceIdPrefix: 'p' },
        'newest',
        0,
        10,
      );
      expect(both.total).toBe(2);
      expect(both.rows.map((r) => r.device_id)).toEqual(['p3', 'p1']);
      expect((await store.listDevices('app_1', { channel: 'apns' }, 'deviceId', 0, 10)).total).toBe(0);
    });

    test('counts per app and channel cover the workspace’s apps, newest app first, empty apps once', async () => {
      await store.upsertDevices(
        'app_1',
        [device('a', 't', 'umeng'), device('b', 't', 'huawei'), device('c', 't', 'umeng')],
        at(0),
      );
      await store.upsertDevices('app_2', [device('a', 't', 'apns')], at(0));
      await store.upsertDevices('app_9', [device('a', 't', 'umeng')], at(0));
      const rows = await store.countDevices('ws_1');
      // Channels within an app come in no promised order.
      const byApp = (appId: string) =>
        rows
          .filter((r) => r.app_id === appId)
          .sort((x, y) => String(x.channel).localeCompare(String(y.channel)));
      expect([...new Set(rows.map((r) => r.app_id))]).toEqual(['app_1', 'app_2', 'app_3']);
      expect(byApp('app_1')).toEqual([
        { app_id: 'app_1', name: 'app_1', platform: 'android', channel: 'huawei', devices: 1 },
        { app_id: 'app_1', name: 'app_1', platform: 'android', channel: 'umeng', devices: 2 },
      ]);
      expect(byApp('app_2')).toEqual([
        { app_id: 'app_2', name: 'iPhone', platform: 'ios', channel: 'apns', devices: 1 },
      ]);
      expect(byApp('app_3')).toEqual([
        { app_id: 'app_3', name: 'app_3', platform: 'android', channel: null, devices: 0 },
      ]);
      expect(await store.countDevices('ws_unknown')).toEqual([]);
    });
  });

  describe('staged CSV import', () => {
    const line = (importId: string, n: number, deviceId: string, pushToken: string, channel = 'umeng') =>
      ({
        import_id: importId,
        line: n,
        device_id: deviceId,
        push_token: pushToken,
        channel,
      }) satisfies DeviceImportLineRow;

    test('staged lines reach the devices only when applied, the last line of a device winning', async () => {
      await store.upsertDevice(deviceRow('app_1', 'known', { push_token: 'before' }));
      await store.startImport({ id: 'imp_1', app_id: 'app_1', status: 'staging', created_at: at(1) });
      await store.stageImportLines([
        line('imp_1', 1, 'd1', 'first'),
        line('imp_1', 2, 'known', 'replaced', 'honor'),
        line('imp_1', 3, 'd2', 'only'),
      ]);
      // Staged in a later batch, and out of order: file order (the line number) decides, not staging order.
      await store.stageImportLines([
        line('imp_1', 5, 'd1', 'last', 'oppo'),
        line('imp_1', 4, 'd1', 'middle'),
      ]);
      expect(await store.findDevice('app_1', 'd1')).toBeUndefined();
      expect(await dump(store, 'app_1')).toEqual([['known', 'before', 'umeng']]);

      expect(await store.applyImport('imp_1', 'app_1', at(2))).toBe(2);
      expect(await dump(store, 'app_1')).toEqual([
        ['d1', 'last', 'oppo'],
        ['d2', 'only', 'umeng'],
        ['known', 'replaced', 'honor'],
      ]);
      expect(await store.findDevice('app_1', 'd1')).toMatchObject({ created_at: at(2), updated_at: at(2) });
      expect(await store.findDevice('app_1', 'known')).toMatchObject({
        created_at: at(0),
        updated_at: at(2),
      });
    });

    test('applying removes the staging lines and ends the import', async () => {
      await store.startImport({ id: 'imp_1', app_id: 'app_1', status: 'staging', created_at: at(0) });
      await store.stageImportLines([line('imp_1', 1, 'd1', 'imported')]);
      expect(await store.applyImport('imp_1', 'app_1', at(1))).toBe(1);
      // No longer staging: nothing stale to reject.
      expect(await store.rejectStaleImports(at(100))).toBe(0);
      // Its lines are gone: applying it again writes nothing over a later registration.
      await store.upsertDevice(deviceRow('app_1', 'd1', { push_token: 'later' }));
      expect(await store.applyImport('imp_1', 'app_1', at(3))).toBe(0);
      expect((await store.findDevice('app_1', 'd1'))?.push_token).toBe('later');
    });

    test('a rejected import leaves no devices and no staging lines', async () => {
      await store.upsertDevice(deviceRow('app_1', 'known', { push_token: 'before' }));
      await store.startImport({ id: 'imp_1', app_id: 'app_1', status: 'staging', created_at: at(0) });
      await store.stageImportLines([line('imp_1', 1, 'd1', 'x'), line('imp_1', 2, 'known', 'y')]);
      await store.rejectImport('imp_1');
      expect(await dump(store, 'app_1')).toEqual([['known', 'before', 'umeng']]);
      expect(await store.rejectStaleImports(at(100))).toBe(0);
      // Nothing of it is left to apply.
      expect(await store.applyImport('imp_1', 'app_1', at(1))).toBe(0);
      expect(await dump(store, 'app_1')).toEqual([['known', 'before', 'umeng']]);
    });

    test('an apply that fails changes nothing: the import stays staged with all its lines', async () => {
      await store.startImport({ id: 'imp_1', app_id: 'app_1', status: 'staging', created_at: at(0) });
      await store.stageImportLines([line('imp_1', 1, 'd1', 'x'), line('imp_1', 2, 'd2', 'y')]);
      // The lines cannot be written for an app that does not exist.
      await expect(store.applyImport('imp_1', 'app_missing', at(1))).rejects.toThrow();
      expect(await store.findDevice('app_1', 'd1')).toBeUndefined();
      expect(await store.applyImport('imp_1', 'app_1', at(1))).toBe(2);
      expect(await dump(store, 'app_1')).toEqual([
        ['d1', 'x', 'umeng'],
        ['d2', 'y', 'umeng'],
      ]);
    });

    test('imports stay apart: applying one neither applies nor removes another', async () => {
      await store.startImport({ id: 'imp_1', app_id: 'app_1', status: 'staging', created_at: at(0) });
      await store.startImport({ id: 'imp_2', app_id: 'app_2', status: 'staging', created_at: at(0) });
      await store.stageImportLines([line('imp_1', 1, 'd1', 'one'), line('imp_2', 1, 'd1', 'two')]);
      expect(await store.applyImport('imp_1', 'app_1', at(1))).toBe(1);
      expect(await store.findDevice('app_2', 'd1')).toBeUndefined();
      expect(await store.applyImport('imp_2', 'app_2', at(1))).toBe(1);
      expect((await store.findDevice('app_1', 'd1'))?.push_token).toBe('one');
      expect((await store.findDevice('app_2', 'd1'))?.push_token).toBe('two');
    });

    test('a large import with repeated devices applies in file order', async () => {
      await store.startImport({ id: 'imp_1', app_id: 'app_1', status: 'staging', created_at: at(0) });
      const lines: DeviceImportLineRow[] = [];
      for (let i = 0; i < 2_500; i++) lines.push(line('imp_1', i + 1, `d${pad(i % 2_000)}`, `line-${i + 1}`));
      for (let start = 0; start < lines.length; start += 1_000) {
        await store.stageImportLines(lines.slice(start, start + 1_000));
      }
      expect(await store.applyImport('imp_1', 'app_1', at(1))).toBe(2_000);
      expect((await store.findDevice('app_1', `d${pad(0)}`))?.push_token).toBe('line-2001');
      expect((await store.findDevice('app_1', `d${pad(499)}`))?.push_token).toBe('line-2500');
      expect((await store.findDevice('app_1', `d${pad(500)}`))?.push_token).toBe('line-501');
      expect((await store.listDevices('app_1', {}, 'deviceId', 0, 1)).total).toBe(2_000);
    });

    test('stale imports still staging are rejected; newer and finished ones are left alone', async () => {
      await store.startImport({ id: 'imp_old', app_id: 'app_1', status: 'staging', created_at: at(0) });
      await store.startImport({ id: 'imp_new', app_id: 'app_1', status: 'staging', created_at: at(5) });
      await store.startImport({ id: 'imp_done', app_id: 'app_1', status: 'staging', created_at: at(0) });
      await store.stageImportLines([
        line('imp_old', 1, 'old', 'x'),
        line('imp_new', 1, 'new', 'x'),
        line('imp_done', 1, 'done', 'x'),
      ]);
      await store.applyImport('imp_done', 'app_1', at(1));
      expect(await store.rejectStaleImports(at(2))).toBe(1);
      expect(await store.rejectStaleImports(at(2))).toBe(0);
      // The stale import's lines are gone; the newer one's are still there.
      expect(await store.applyImport('imp_old', 'app_1', at(6))).toBe(0);
      expect(await store.applyImport('imp_new', 'app_1', at(6))).toBe(1);
      expect((await dump(store, 'app_1')).map(([id]) => id)).toEqual(['done', 'new']);
    });
  });
});
