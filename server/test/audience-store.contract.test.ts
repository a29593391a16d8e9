/**
 * Audience store contract: imports (streamed files and inline lists), visibility by status, keyset
 * member paging, usage by tasks, deletion and clean-up, run on every backend of `backends.ts`.
 * Talks to the store interfaces (and the import functions built on them) only.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createAppStore, newAppSecrets } from '../src/apps/app-store.ts';
import {
  importAudienceFile,
  importAudienceIds,
  purgeAbandonedAudiences,
} from '../src/audiences/audience-import.ts';
import { type AudienceStore, createAudienceStore } from '../src/audiences/audience-store.ts';
import type { AudienceRow } from '../src/storage/database.ts';
import { createTaskStore } from '../src/tasks/task-store.ts';
import { createTenancyStore } from '../src/tenancy/tenancy-store.ts';
import { BACKENDS, type BackendHandle } from './backends.ts';
import { at, taskRow } from './store-rows.ts';

/** Zero-padded IDs sort the same in every collation and in byte order. */
const pad = (n: number) => String(n).padStart(5, '0');

/** The `beginImport` row of an audience. */
function audienceRow(
  id: string,
  changes: Partial<Omit<AudienceRow, 'status' | 'size'>> = {},
): Omit<AudienceRow, 'status' | 'size'> {
  return {
    id,
    workspace_id: 'ws_1',
    name: id,
    source: 'api',
    file_name: null,
    source_task_id: null,
    source_filter: null,
    created_at: at(0),
    ...changes,
  };
}

/** A ready audience made through the store: begun, filled, finished. */
async function readyAudience(
  store: AudienceStore,
  id: string,
  members: string[],
  changes: Partial<Omit<AudienceRow, 'status' | 'size'>> = {},
): Promise<void> {
  await store.beginImport(audienceRow(id, changes));
  await store.addMembers(id, members);
  await store.finishImport(id);
}

/** Every member, read through keyset pages of `limit`. */
async function allMembers(store: AudienceStore, audienceId: string, limit: number): Promise<string[]> {
  const members: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listMembers(audienceId, after, limit);
    members.push(...page);
    if (page.length < limit) return members;
    after = page[page.length - 1];
  }
}

async function* chunks(...items: (string | Buffer)[]): AsyncGenerator<string | Buffer> {
  for (const item of items) yield item;
}

describe.each(BACKENDS)('audience store on $name', (backend) => {
  let h: BackendHandle;
  let store: AudienceStore;
  beforeEach(async () => {
    h = await backend.open();
    store = createAudienceStore(h.db);
    const tenancy = createTenancyStore(h.db);
    await tenancy.insertWorkspace({ id: 'ws_1', name: 'One', created_at: at(0) }, null);
    await tenancy.insertWorkspace({ id: 'ws_2', name: 'Two', created_at: at(0) }, null);
    await createAppStore(h.db).insertApp({
      id: 'app_1',
      workspace_id: 'ws_1',
      name: 'Shop',
      platform: 'android',
      provider: 'simulator',
      provider_config: '{}',
      ...newAppSecrets(),
      frequency_cap: null,
      quiet_hours: null,
      created_at: at(0),
      updated_at: at(0),
    });
  });
  afterEach(async () => {
    await h.dispose();
  });

  describe('imports', () => {
    test('a file streamed in chunks counts its distinct device IDs, skipping blank lines', async () => {
      const imported = await importAudienceFile(h.db, {
        workspaceId: 'ws_1',
        name: ' Upload ',
        fileName: 'ids.txt',
        source: 'upload',
        // Lines split across chunks, CRLF, blank lines, duplicates, a BOM, and a two-byte character
        // split between two Buffers.
        lines: chunks(
          '\uFEFFdev-b\r\ndev-',
          'a\n\n  dev-b  \r\n',
          Buffer.from('dev-\xc3', 'latin1'),
          Buffer.from('\xa9\n\r\ndev-a\ndev-c', 'latin1'),
        ),
        now: new Date(at(1)),
      });
      expect(imported).toMatchObject({ name: 'Upload', size: 4, source: 'upload' });
      expect(await store.find('ws_1', imported.id)).toMatchObject({
        name: 'Upload',
        size: 4,
        source: 'upload',
        status: 'ready',
        file_name: 'ids.txt',
        created_at: at(1),
        used_by_tasks: 0,
        active_tasks: 0,
      });
      expect((await allMembers(store, imported.id, 10)).sort()).toEqual(
        ['dev-a', 'dev-b', 'dev-c', 'dev-é'].sort(),
      );
    });

    test('a CSV file with a deviceId column reads only that column', async () => {
      const imported = await importAudienceFile(h.db, {
        workspaceId: 'ws_1',
        name: 'CSV',
        fileName: 'ids.csv',
        source: 'upload',
        lines: chunks('name,device_id\n', 'Amy,d1\n"Bob, Jr",d2\n', 'Amy again,d1\n'),
        now: new Date(at(0)),
      });
      expect(imported.size).toBe(2);
      expect(await allMembers(store, imported.id, 10)).toEqual(['d1', 'd2']);
    });

    test('inline IDs are trimmed and collapse; a bad one rejects the list before anything is written', async () => {
      const imported = await importAudienceIds(h.db, {
        workspaceId: 'ws_1',
        name: 'Inline',
        deviceIds: [' x1', 'x2 ', 'x1', 'x3', 'x2'],
        now: new Date(at(0)),
      });
      expect(imported).toMatchObject({ name: 'Inline', size: 3, source: 'api' });
      expect(await allMembers(store, imported.id, 2)).toEqual(['x1', 'x2', 'x3']);

      await expect(
        importAudienceIds(h.db, {
          workspaceId: 'ws_1',
          name: 'Bad',
          deviceIds: ['ok', '  ', 'a b'],
          now: new Date(),
        }),
      ).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        details: [{ field: 'deviceIds.1' }, { field: 'deviceIds.2' }],
      });
      expect((await store.list('ws_1', {}, 0, 10)).rows.map((r) => r.name)).toEqual(['Inline']);
      expect(await store.listAbandoned(at(10_000))).toEqual([]);
    });

    test('an import into a workspace that does not exist is refused', async () => {
      await expect(
        importAudienceIds(h.db, { workspaceId: 'ws_gone', name: 'X', deviceIds: ['a'], now: new Date() }),
      ).rejects.toMatchObject({ code: 'WORKSPACE_NOT_FOUND' });
      expect(await store.workspaceExists('ws_1')).toBe(true);
      expect(await store.workspaceExists('ws_gone')).toBe(false);
    });

    test('a file with a bad line, or a stream that fails, leaves no audience behind', async () => {
      await expect(
        importAudienceFile(h.db, {
          workspaceId: 'ws_1',
          name: 'Bad line',
          fileName: 'bad.txt',
          source: 'upload',
          lines: chunks('a1\na2\n', 'two,values\na3\n'),
          now: new Date(at(0)),
        }),
      ).rejects.toMatchObject({ code: 'CSV_INVALID' });
      await expect(
        importAudienceFile(h.db, {
          workspaceId: 'ws_1',
          name: 'Empty',
          fileName: 'empty.txt',
          source: 'upload',
          lines: chunks('\n', ' \r\n'),
          now: new Date(at(0)),
        }),
      ).rejects.toMatchObject({ code: 'CSV_INVALID' });

      async function* failing(): AsyncGenerator<string> {
        // More than one write batch, so some members are committed before the failure.
        yield `${Array.from({ length: 25_000 }, (_, i) => `m${pad(i)}`).join('\n')}\n`;
        throw new Error('upload aborted');
      }
      await expect(
        importAudienceFile(h.db, {
          workspaceId: 'ws_1',
          name: 'Aborted',
          fileName: 'big.txt',
          source: 'upload',
          lines: failing(),
          now: new Date(at(0)),
        }),
      ).rejects.toThrow('upload aborted');

      expect(await store.list('ws_1', {}, 0, 10)).toEqual({ rows: [], total: 0 });
      expect(await store.listAbandoned(at(10_000))).toEqual([]);
    });

    test('an audience being imported is invisible and undeletable until finished', async () => {
      await store.beginImport(audienceRow('aud_1', { name: 'Pending' }));
      await store.addMembers('aud_1', ['b', 'a']);
      await store.addMembers('aud_1', ['c', 'a']);
      await store.addMembers('aud_1', []);
      expect(await store.find('ws_1', 'aud_1')).toBeUndefined();
      expect(await store.list('ws_1', {}, 0, 10)).toEqual({ rows: [], total: 0 });
      expect(await store.markDeleting('ws_1', 'aud_1')).toEqual({ marked: false, activeTaskIds: [] });
      // The task side sees it, with its status, so it can refuse to use it.
      expect(await createTaskStore(h.db).findAudience('ws_1', 'aud_1')).toEqual({
        id: 'aud_1',
        name: 'Pending',
        status: 'importing',
      });

      expect(await store.finishImport('aud_1')).toBe(3);
      expect(await store.find('ws_1', 'aud_1')).toMatchObject({ size: 3, status: 'ready' });
      expect(typeof (await store.find('ws_1', 'aud_1'))?.size).toBe('number');
    });
  });

  describe('members', () => {
    test('keyset pages visit every member exactly once, in device ID order', async () => {
      const ids = Array.from({ length: 2_345 }, (_, i) => `dev${pad((i * 7_919) % 2_345)}`);
      // Added unsorted, in several calls, with repeats across calls.
      await store.beginImport(audienceRow('aud_1'));
      await store.addMembers('aud_1', ids.slice(0, 1_500));
      await store.addMembers('aud_1', ids.slice(1_000));
      expect(await store.finishImport('aud_1')).toBe(2_345);
      const expected = [...ids].sort();
      for (const limit of [300, 2_345, 5_000])
        expect(await allMembers(store, 'aud_1', limit)).toEqual(expected);
      // The smallest page, at the start and at the end.
      expect(await store.listMembers('aud_1', undefined, 1)).toEqual([expected[0]]);
      expect(await store.listMembers('aud_1', expected[2_343], 1)).toEqual([expected[2_344]]);
      expect(await store.listMembers('aud_1', expected[2_344], 1)).toEqual([]);
      // `after` need not be a member: paging resumes at the next one.
      expect(await store.listMembers('aud_1', 'dev00010x', 2)).toEqual(['dev00011', 'dev00012']);
    });

    test('members of one audience never show in another', async () => {
      await readyAudience(store, 'aud_1', ['a', 'b']);
      await readyAudience(store, 'aud_2', ['b', 'c']);
      expect(await allMembers(store, 'aud_1', 10)).toEqual(['a', 'b']);
      expect(await allMembers(store, 'aud_2', 10)).toEqual(['b', 'c']);
    });

    test('a member naming no audience is refused with its whole statement, even beside a real audience', async () => {
      await readyAudience(store, 'aud_1', ['a']);
      // PostgreSQL checks the audience once per statement (migration 0013), SQLite per row (foreign key).
      await expect(
        h.db.insertInto('audience_members').values({ audience_id: 'aud_missing', device_id: 'x' }).execute(),
      ).rejects.toThrow(/foreign key|audience/i);
      await expect(
        h.db
          .insertInto('audience_members')
          .values([
            { audience_id: 'aud_1', device_id: 'b' },
            { audience_id: 'aud_missing', device_id: 'c' },
          ])
          .execute(),
      ).rejects.toThrow(/foreign key|audience/i);
      await expect(
        h.db
          .updateTable('audience_members')
          .set({ audience_id: 'aud_missing' })
          .where('audience_id', '=', 'aud_1')
          .execute(),
      ).rejects.toThrow(/foreign key|audience/i);
      expect(await allMembers(store, 'aud_1', 10)).toEqual(['a']);
      // One statement may add members of several real audiences.
      await store.beginImport(audienceRow('aud_2'));
      await h.db
        .insertInto('audience_members')
        .values([
          { audience_id: 'aud_1', device_id: 'b' },
          { audience_id: 'aud_2', device_id: 'b' },
        ])
        .execute();
      expect(await allMembers(store, 'aud_1', 10)).toEqual(['a', 'b']);
      expect(await allMembers(store, 'aud_2', 10)).toEqual(['b']);
    });

    test('deleting an audience row deletes its members, and only its own', async () => {
      await readyAudience(store, 'aud_1', ['a', 'b']);
      await readyAudience(store, 'aud_2', ['b', 'c']);
      await h.db.deleteFrom('audiences').where('id', '=', 'aud_1').execute();
      const left = await h.db.selectFrom('audience_members').select(['audience_id', 'device_id']).execute();
      expect(left.sort((x, y) => x.device_id.localeCompare(y.device_id))).toEqual([
        { audience_id: 'aud_2', device_id: 'b' },
        { audience_id: 'aud_2', device_id: 'c' },
      ]);
    });
  });

  describe('listing', () => {
    test('audiences list newest first with exact totals, by source and a literal, case-insensitive name search', async () => {
      await readyAudience(store, 'aud_1', ['a'], { name: '50% off', created_at: at(1) });
      await readyAudience(store, 'aud_2', ['a', 'b'], {
        name: '50 OFF',
        created_at: at(3),
        source: 'upload',
      });
      await readyAudience(store, 'aud_3', ['a'], { name: 'vip_users', created_at: at(2) });
      await readyAudience(store, 'aud_4', ['a'], { name: 'vipXusers', created_at: at(2) });
      await readyAudience(store, 'aud_9', ['a'], { name: '50% off', workspace_id: 'ws_2' });
      await store.beginImport(audienceRow('aud_5', { name: '50% off importing', created_at: at(9) }));
      const ids = async (filter: Parameters<AudienceStore['list']>[1], offset = 0, limit = 10) => {
        const { rows, total } = await store.list('ws_1', filter, offset, limit);
        return { ids: rows.map((r) => r.id), total };
      };
      expect(await ids({})).toEqual({ ids: ['aud_2', 'aud_4', 'aud_3', 'aud_1'], total: 4 });
      expect(await ids({}, 1, 2)).toEqual({ ids: ['aud_4', 'aud_3'], total: 4 });
      expect(await ids({ q: '% OFF' })).toEqual({ ids: ['aud_1'], total: 1 });
      expect(await ids({ q: 'p_u' })).toEqual({ ids: ['aud_3'], total: 1 });
      expect(await ids({ q: 'off' })).toEqual({ ids: ['aud_2', 'aud_1'], total: 2 });
      expect(await ids({ source: 'upload' })).toEqual({ ids: ['aud_2'], total: 1 });
      expect(await ids({ source: 'task_result' })).toEqual({ ids: [], total: 0 });
      const [first] = (await store.list('ws_1', {}, 0, 1)).rows;
      expect(first).toMatchObject({ size: 2, used_by_tasks: 0, active_tasks: 0 });
    });

    test('another workspace’s audience is neither found nor renamed', async () => {
      await readyAudience(store, 'aud_1', ['a'], { name: 'Mine' });
      expect(await store.find('ws_2', 'aud_1')).toBeUndefined();
      await store.rename('ws_2', 'aud_1', 'Theirs');
      expect((await store.find('ws_1', 'aud_1'))?.name).toBe('Mine');
      await store.rename('ws_1', 'aud_1', 'Renamed');
      expect((await store.find('ws_1', 'aud_1'))?.name).toBe('Renamed');
    });
  });

  describe('usage and deletion', () => {
    test('an audience used by a scheduled or sending task is not marked deleting', async () => {
      const tasks = createTaskStore(h.db);
      await readyAudience(store, 'aud_1', ['a', 'b']);
      await tasks.insertTask(taskRow('tsk_2', { status: 'sending', started_at: at(1) }), []);
      await tasks.insertTask(taskRow('tsk_1', { status: 'scheduled' }), []);
      await tasks.insertTask(taskRow('tsk_3', { status: 'completed', started_at: at(1) }), []);
      await tasks.insertTask(taskRow('tsk_4', { status: 'failed', started_at: at(1) }), []);
      expect(await store.find('ws_1', 'aud_1')).toMatchObject({ used_by_tasks: 4, active_tasks: 2 });

      expect(await store.markDeleting('ws_1', 'aud_1')).toEqual({
        marked: false,
        activeTaskIds: ['tsk_1', 'tsk_2'],
      });
      expect(await store.find('ws_1', 'aud_1')).toBeDefined();
      expect(await tasks.deleteDeletableTask('ws_1', 'tsk_1')).toBe(true);
      expect(await store.markDeleting('ws_1', 'aud_1')).toEqual({ marked: false, activeTaskIds: ['tsk_2'] });
      expect(await store.find('ws_1', 'aud_1')).toMatchObject({ used_by_tasks: 3, active_tasks: 1 });
    });

    test('an audience only finished tasks used is marked deleting, then purged with its members', async () => {
      const tasks = createTaskStore(h.db);
      await readyAudience(store, 'aud_1', ['a', 'b', 'c']);
      await readyAudience(store, 'aud_2', ['a']);
      await tasks.insertTask(taskRow('tsk_1', { status: 'completed', started_at: at(1) }), []);
      // Another workspace cannot mark it.
      expect(await store.markDeleting('ws_2', 'aud_1')).toEqual({ marked: false, activeTaskIds: [] });
      expect(await store.find('ws_1', 'aud_1')).toBeDefined();

      expect(await store.markDeleting('ws_1', 'aud_1')).toEqual({ marked: true, activeTaskIds: [] });
      expect(await store.find('ws_1', 'aud_1')).toBeUndefined();
      expect((await store.list('ws_1', {}, 0, 10)).rows.map((r) => r.id)).toEqual(['aud_2']);
      // Marking twice does nothing more.
      expect(await store.markDeleting('ws_1', 'aud_1')).toEqual({ marked: false, activeTaskIds: [] });
      // The task keeps the audience's ID but no longer shows its name.
      expect(await tasks.findTask('ws_1', 'tsk_1')).toMatchObject({
        audience_id: 'aud_1',
        audience_name: null,
      });
      expect(await store.listAbandoned(at(0))).toEqual(['aud_1']);

      await store.purge('aud_1');
      expect(await store.listMembers('aud_1', undefined, 10)).toEqual([]);
      expect(await store.listAbandoned(at(0))).toEqual([]);
      expect(await tasks.findAudience('ws_1', 'aud_1')).toBeUndefined();
      expect(await allMembers(store, 'aud_2', 10)).toEqual(['a']);
    });

    test('purging removes members beyond one delete chunk', async () => {
      await readyAudience(
        store,
        'aud_1',
        Array.from({ length: 12_000 }, (_, i) => `m${pad(i)}`),
      );
      expect((await store.find('ws_1', 'aud_1'))?.size).toBe(12_000);
      expect((await store.markDeleting('ws_1', 'aud_1')).marked).toBe(true);
      await store.purge('aud_1');
      expect(await store.listMembers('aud_1', undefined, 10)).toEqual([]);
    });

    test('audiences left deleting, or importing since before the cut-off, are listed as abandoned', async () => {
      await store.beginImport(audienceRow('aud_old', { created_at: at(0) }));
      await store.beginImport(audienceRow('aud_new', { created_at: at(5) }));
      await readyAudience(store, 'aud_ready', ['a'], { created_at: at(0) });
      await readyAudience(store, 'aud_del', ['a'], { created_at: at(9), workspace_id: 'ws_2' });
      await store.markDeleting('ws_2', 'aud_del');
      expect((await store.listAbandoned(at(5))).sort()).toEqual(['aud_del', 'aud_old']);
      expect((await store.listAbandoned(at(6))).sort()).toEqual(['aud_del', 'aud_new', 'aud_old']);

      // Purging them all leaves only the ready audience.
      expect(await purgeAbandonedAudiences(h.db, new Date(at(6 + 24)))).toBe(3);
      expect(await store.listAbandoned(at(10_000))).toEqual([]);
      expect((await store.list('ws_1', {}, 0, 10)).rows.map((r) => r.id)).toEqual(['aud_ready']);
    });
  });
});
