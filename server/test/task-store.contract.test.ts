/**
 * Task store contract: inserts with sub-campaign links, reads with names, every list filter, every
 * sort key in both orders, pagination, and edits/deletes conditional on the status, run on every
 * backend of `backends.ts`. Talks to the store interfaces only.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createAppStore } from '../src/apps/app-store.ts';
import { createAudienceStore } from '../src/audiences/audience-store.ts';
import { createCampaignStore } from '../src/campaigns/campaign-store.ts';
import { TASK_STATUSES } from '../src/domain/task-state.ts';
import type { TaskRow } from '../src/storage/database.ts';
import {
  createTaskStore,
  type TaskFilter,
  type TaskSortKey,
  type TaskStore,
} from '../src/tasks/task-store.ts';
import { createTenancyStore } from '../src/tenancy/tenancy-store.ts';
import { BACKENDS, type BackendHandle } from './backends.ts';
import { appRow, at, taskRow as baseTaskRow } from './store-rows.ts';

/** The suite's tasks belong to app `app_a`. */
const taskRow = (id: string, changes: Partial<TaskRow> = {}) =>
  baseTaskRow(id, { app_id: 'app_a', ...changes });

const COUNTERS = [
  'planned_sends',
  'unmatched',
  'total_sent',
  'deliveries',
  'failures',
  'no_feedback',
  'impressions',
  'opens',
  'dismissals',
  'pending',
  'late',
] as const;

describe.each(BACKENDS)('task store on $name', (backend) => {
  let h: BackendHandle;
  let store: TaskStore;
  beforeEach(async () => {
    h = await backend.open();
    store = createTaskStore(h.db);
    const tenancy = createTenancyStore(h.db);
    await tenancy.insertWorkspace({ id: 'ws_1', name: 'One', created_at: at(0) }, null);
    await tenancy.insertWorkspace({ id: 'ws_2', name: 'Two', created_at: at(0) }, null);
    const apps = createAppStore(h.db);
    await apps.insertApp(appRow('app_a', 'ws_1', { name: 'Alpha' }));
    await apps.insertApp(appRow('app_i', 'ws_1', { name: 'Iris', platform: 'ios' }));
    await apps.insertApp(appRow('app_z', 'ws_2', { name: 'Zulu' }));
    const audiences = createAudienceStore(h.db);
    for (const [id, workspaceId, name] of [
      ['aud_1', 'ws_1', 'Buyers'],
      ['aud_2', 'ws_1', 'Lapsed'],
      ['aud_z', 'ws_2', 'Theirs'],
    ] as const) {
      await audiences.beginImport({
        id,
        workspace_id: workspaceId,
        name,
        source: 'api',
        file_name: null,
        source_task_id: null,
        source_filter: null,
        created_at: at(0),
      });
      await audiences.addMembers(id, ['d1', 'd2']);
      await audiences.finishImport(id);
    }
    const campaigns = createCampaignStore(h.db);
    await campaigns.insertCampaign({
      id: 'cmp_1',
      workspace_id: 'ws_1',
      name: 'Seasons',
      description: '',
      created_at: at(0),
      updated_at: at(0),
    });
    for (const [id, workspaceId, campaignId, name] of [
      ['sub_x', 'ws_1', 'cmp_1', 'Xmas'],
      ['sub_y', 'ws_1', 'cmp_1', 'Autumn'],
      ['sub_i', 'ws_1', null, 'Independent'],
      ['sub_z', 'ws_2', null, 'Theirs'],
    ] as const) {
      await campaigns.insertSubCampaign({
        id,
        workspace_id: workspaceId,
        campaign_id: campaignId,
        name,
        created_at: at(0),
        updated_at: at(0),
      });
    }
  });
  afterEach(async () => {
    await h.dispose();
  });

  describe('insert and read', () => {
    test('a task is found with its app and audience names, numeric counters and its sub-campaigns by name', async () => {
      const row = taskRow('tsk_1', {
        name: 'Launch',
        app_id: 'app_i',
        send_type: 'scheduled',
        scheduled_at: at(10),
        planned_sends: 1_000,
        deliveries: 900,
        late: 3,
      });
      await store.insertTask(row, ['sub_x', 'sub_y', 'sub_i']);
      await store.insertTask(taskRow('tsk_2'), []);
      const found = await store.findTask('ws_1', 'tsk_1');
      expect(found).toEqual({
        ...row,
        app_name: 'Iris',
        platform: 'ios',
        audience_name: 'Buyers',
        audience_size: 2,
        send_error: null,
      });
      for (const column of COUNTERS) expect(typeof found?.[column]).toBe('number');
      expect(await store.subCampaignsOf(['tsk_1', 'tsk_2', 'tsk_unknown'])).toEqual(
        new Map([
          [
            'tsk_1',
            [
              { id: 'sub_y', name: 'Autumn' },
              { id: 'sub_i', name: 'Independent' },
              { id: 'sub_x', name: 'Xmas' },
            ],
          ],
        ]),
      );
      expect(await store.subCampaignsOf([])).toEqual(new Map());
    });

    // Ordered ignoring case, like the task list's name sort, so no backend's collation shows through.
    test('a task’s sub-campaigns are ordered by name ignoring case, on every backend alike', async () => {
      const campaigns = createCampaignStore(h.db);
      for (const [id, name] of [
        ['sub_l1', 'autumn'],
        ['sub_l2', 'Xmas'],
        ['sub_l3', 'Beta'],
      ] as const) {
        await campaigns.insertSubCampaign({
          id,
          workspace_id: 'ws_1',
          campaign_id: null,
          name,
          created_at: at(0),
          updated_at: at(0),
        });
      }
      await store.insertTask(taskRow('tsk_1'), ['sub_l2', 'sub_l1', 'sub_l3']);
      expect((await store.subCampaignsOf(['tsk_1'])).get('tsk_1')?.map((s) => s.name)).toEqual([
        'autumn',
        'Beta',
        'Xmas',
      ]);
    });

    test('another workspace’s task, app, audience and sub-campaigns are not found', async () => {
      await store.insertTask(taskRow('tsk_1'), []);
      expect(await store.findTask('ws_2', 'tsk_1')).toBeUndefined();
      expect(await store.findTask('ws_1', 'tsk_unknown')).toBeUndefined();
      expect(await store.findApp('ws_1', 'app_i')).toEqual({
        id: 'app_i',
        name: 'Iris',
        platform: 'ios',
        provider: 'simulator',
      });
      expect(await store.findApp('ws_2', 'app_i')).toBeUndefined();
      expect(await store.findAudience('ws_1', 'aud_1')).toEqual({
        id: 'aud_1',
        name: 'Buyers',
        status: 'ready',
      });
      expect(await store.findAudience('ws_2', 'aud_1')).toBeUndefined();
      expect(await store.existingSubCampaignIds('ws_1', ['sub_x', 'sub_z', 'sub_gone', 'sub_i'])).toEqual(
        new Set(['sub_x', 'sub_i']),
      );
      expect(await store.existingSubCampaignIds('ws_1', [])).toEqual(new Set());
    });

    test('a task whose audience is being deleted shows no audience name', async () => {
      await store.insertTask(taskRow('tsk_1', { status: 'completed', started_at: at(1) }), []);
      expect((await createAudienceStore(h.db).markDeleting('ws_1', 'aud_1')).marked).toBe(true);
      expect(await store.findTask('ws_1', 'tsk_1')).toMatchObject({
        audience_id: 'aud_1',
        audience_name: null,
      });
      expect(
        (await store.listTasks('ws_1', {}, { key: 'createdAt', order: 'desc' }, 0, 10)).rows,
      ).toMatchObject([{ id: 'tsk_1', audience_name: null }]);
    });

    test('a task and its links are inserted together or not at all', async () => {
      await expect(store.insertTask(taskRow('tsk_1'), ['sub_x', 'sub_gone'])).rejects.toThrow();
      expect(await store.findTask('ws_1', 'tsk_1')).toBeUndefined();
      expect(await createCampaignStore(h.db).countLinkedTasks(['sub_x'])).toBe(0);
    });
  });

  describe('list filters', () => {
    beforeEach(async () => {
      const tasks: [TaskRow, string[]][] = [
        [
          taskRow('tsk_a', {
            name: 'Spring sale',
            send_type: 'scheduled',
            scheduled_at: at(50),
            created_at: at(1),
          }),
          ['sub_x', 'sub_y'],
        ],
        [
          taskRow('tsk_b', {
            name: 'spring SALE 2',
            status: 'completed',
            created_at: at(2),
            started_at: at(2),
          }),
          ['sub_x'],
        ],
        [
          taskRow('tsk_c', {
            name: '100% off',
            status: 'sending',
            app_id: 'app_i',
            created_at: at(3),
            started_at: at(3),
          }),
          [],
        ],
        [
          taskRow('tsk_d', {
            name: '1000 off',
            status: 'failed',
            send_type: 'scheduled',
            scheduled_at: at(4),
            app_id: 'app_i',
            created_at: at(4),
            started_at: at(4),
          }),
          ['sub_i'],
        ],
        [
          taskRow('tsk_e', { name: 'new_users', status: 'completed', created_at: at(5), started_at: at(6) }),
          ['sub_y'],
        ],
        [taskRow('tsk_f', { name: 'newXusers', created_at: at(6) }), []],
        [
          taskRow('tsk_z', {
            name: 'Spring sale',
            workspace_id: 'ws_2',
            app_id: 'app_z',
            audience_id: 'aud_z',
            created_at: at(1),
          }),
          ['sub_z'],
        ],
      ];
      for (const [row, subs] of tasks) await store.insertTask(row, subs);
    });

    const ids = async (filter: TaskFilter) => {
      const { rows, total } = await store.listTasks(
        'ws_1',
        filter,
        { key: 'createdAt', order: 'asc' },
        0,
        100,
      );
      expect(total).toBe(rows.length);
      return rows.map((r) => r.id);
    };

    test('no filter lists the workspace’s tasks only', async () => {
      expect(await ids({})).toEqual(['tsk_a', 'tsk_b', 'tsk_c', 'tsk_d', 'tsk_e', 'tsk_f']);
      expect(await ids({ statuses: [] })).toEqual(['tsk_a', 'tsk_b', 'tsk_c', 'tsk_d', 'tsk_e', 'tsk_f']);
    });

    test('status takes a list of statuses', async () => {
      expect(await ids({ statuses: ['scheduled'] })).toEqual(['tsk_a', 'tsk_f']);
      expect(await ids({ statuses: ['sending', 'failed'] })).toEqual(['tsk_c', 'tsk_d']);
      expect(await ids({ statuses: ['completed', 'failed', 'sending'] })).toEqual([
        'tsk_b',
        'tsk_c',
        'tsk_d',
        'tsk_e',
      ]);
    });

    test('send type, app and sub-campaign each narrow the list', async () => {
      expect(await ids({ sendType: 'scheduled' })).toEqual(['tsk_a', 'tsk_d']);
      expect(await ids({ sendType: 'immediate' })).toEqual(['tsk_b', 'tsk_c', 'tsk_e', 'tsk_f']);
      expect(await ids({ appId: 'app_i' })).toEqual(['tsk_c', 'tsk_d']);
      expect(await ids({ appId: 'app_z' })).toEqual([]);
      expect(await ids({ subCampaignId: 'sub_x' })).toEqual(['tsk_a', 'tsk_b']);
      expect(await ids({ subCampaignId: 'sub_y' })).toEqual(['tsk_a', 'tsk_e']);
      expect(await ids({ subCampaignId: 'sub_z' })).toEqual([]);
    });

    test('the name search ignores case and treats % and _ literally', async () => {
      expect(await ids({ q: 'SPRING sale' })).toEqual(['tsk_a', 'tsk_b']);
      expect(await ids({ q: '100%' })).toEqual(['tsk_c']);
      expect(await ids({ q: '0%' })).toEqual(['tsk_c']);
      expect(await ids({ q: 'w_u' })).toEqual(['tsk_e']);
      expect(await ids({ q: '_' })).toEqual(['tsk_e']);
      expect(await ids({ q: 'XUSERS' })).toEqual(['tsk_f']);
      expect(await ids({ q: 'no such task' })).toEqual([]);
    });

    test('created and sent ranges are inclusive, and unsent tasks never match a sent range', async () => {
      expect(await ids({ createdFrom: at(2), createdTo: at(4) })).toEqual(['tsk_b', 'tsk_c', 'tsk_d']);
      expect(await ids({ createdFrom: at(5) })).toEqual(['tsk_e', 'tsk_f']);
      expect(await ids({ createdTo: at(1) })).toEqual(['tsk_a']);
      expect(await ids({ sentFrom: at(3), sentTo: at(4) })).toEqual(['tsk_c', 'tsk_d']);
      expect(await ids({ sentFrom: at(0) })).toEqual(['tsk_b', 'tsk_c', 'tsk_d', 'tsk_e']);
      expect(await ids({ sentTo: at(100) })).toEqual(['tsk_b', 'tsk_c', 'tsk_d', 'tsk_e']);
      expect(await ids({ sentTo: at(2) })).toEqual(['tsk_b']);
    });

    test('filters combine with AND', async () => {
      expect(await ids({ statuses: ['completed'], q: 'spring' })).toEqual(['tsk_b']);
      expect(await ids({ appId: 'app_a', subCampaignId: 'sub_y', statuses: ['completed'] })).toEqual([
        'tsk_e',
      ]);
      expect(await ids({ sendType: 'scheduled', createdFrom: at(2), sentTo: at(4) })).toEqual(['tsk_d']);
      expect(await ids({ sendType: 'scheduled', appId: 'app_a', statuses: ['failed'] })).toEqual([]);
    });

    // SQLite's own lower() folds ASCII only; storage/sqlite.ts replaces it so both backends agree.
    test('the name search finds non-ASCII names, whatever their case', async () => {
      await store.insertTask(taskRow('tsk_u', { name: 'Été promo Ärger', created_at: at(7) }), []);
      expect(await ids({ q: 'Été' })).toEqual(['tsk_u']);
      expect(await ids({ q: 'été' })).toEqual(['tsk_u']);
      expect(await ids({ q: 'ärger' })).toEqual(['tsk_u']);
    });
  });

  describe('sorting and pagination', () => {
    interface Spec {
      id: string;
      name: string;
      created: number;
      started: number | null;
      scheduled: number | null;
      planned: number;
      deliveries: number;
    }
    // Names are letters only, so their lower-cased order is the same in every collation. Every key
    // has ties (and the times have nulls), so the tiebreak shows.
    const SPECS: Spec[] = [
      { id: 'tsk_a', name: 'Gamma', created: 1, started: null, scheduled: 50, planned: 0, deliveries: 0 },
      { id: 'tsk_b', name: 'alpha', created: 2, started: 2, scheduled: null, planned: 100, deliveries: 80 },
      {
        id: 'tsk_c',
        name: 'Alphabet',
        created: 2,
        started: 3,
        scheduled: null,
        planned: 100,
        deliveries: 50,
      },
      { id: 'tsk_d', name: 'delta', created: 3, started: 4, scheduled: 4, planned: 10, deliveries: 0 },
      { id: 'tsk_e', name: 'Epsilon', created: 4, started: 3, scheduled: 3, planned: 10, deliveries: 80 },
      { id: 'tsk_f', name: 'zeta', created: 5, started: null, scheduled: null, planned: 0, deliveries: 0 },
      {
        id: 'tsk_g',
        name: 'Beta',
        created: 5,
        started: null,
        scheduled: 50,
        planned: 5_000_000_000,
        deliveries: 7,
      },
      { id: 'tsk_h', name: 'beta', created: 1, started: 2, scheduled: null, planned: 9, deliveries: 1_000 },
    ];
    const value = (spec: Spec, key: TaskSortKey): string | number | null => {
      switch (key) {
        case 'createdAt':
          return spec.created;
        case 'startedAt':
          return spec.started;
        case 'scheduledAt':
          return spec.scheduled;
        case 'name':
          return spec.name.toLowerCase();
        case 'plannedSends':
          return spec.planned;
        case 'deliveries':
          return spec.deliveries;
      }
    };
    /** The documented order: by key (nulls last either way), then by ID in the same direction. */
    const expectedOrder = (key: TaskSortKey, order: 'asc' | 'desc') =>
      [...SPECS]
        .sort((x, y) => {
          const a = value(x, key);
          const b = value(y, key);
          const sign = order === 'asc' ? 1 : -1;
          if (a !== b) {
            if (a === null) return 1;
            if (b === null) return -1;
            return (a < b ? -1 : 1) * sign;
          }
          return (x.id < y.id ? -1 : 1) * sign;
        })
        .map((s) => s.id);

    beforeEach(async () => {
      for (const s of SPECS) {
        await store.insertTask(
          taskRow(s.id, {
            name: s.name,
            created_at: at(s.created),
            started_at: s.started === null ? null : at(s.started),
            status: s.started === null ? 'scheduled' : 'completed',
            send_type: s.scheduled === null ? 'immediate' : 'scheduled',
            scheduled_at: s.scheduled === null ? null : at(s.scheduled),
            planned_sends: s.planned,
            total_sent: s.planned,
            deliveries: s.deliveries,
          }),
          [],
        );
      }
    });

    const KEYS: TaskSortKey[] = [
      'createdAt',
      'startedAt',
      'scheduledAt',
      'name',
      'plannedSends',
      'deliveries',
    ];
    const CASES = KEYS.flatMap((key) => (['asc', 'desc'] as const).map((order) => ({ key, order })));

    test.each(CASES)(
      'sorting by $key $order orders by it, nulls last, ties by ID the same way',
      async (sort) => {
        const { rows, total } = await store.listTasks('ws_1', {}, sort, 0, 100);
        expect(total).toBe(SPECS.length);
        expect(rows.map((r) => r.id)).toEqual(expectedOrder(sort.key, sort.order));
      },
    );

    test.each(CASES)('pages sorted by $key $order cover every task exactly once', async (sort) => {
      const paged: string[] = [];
      for (let offset = 0; offset < SPECS.length + 3; offset += 3) {
        const page = await store.listTasks('ws_1', {}, sort, offset, 3);
        expect(page.total).toBe(SPECS.length);
        paged.push(...page.rows.map((r) => r.id));
      }
      expect(paged).toEqual(expectedOrder(sort.key, sort.order));
    });

    test('a filtered page answers the filtered total', async () => {
      const page = await store.listTasks(
        'ws_1',
        { statuses: ['completed'] },
        { key: 'deliveries', order: 'desc' },
        1,
        2,
      );
      expect(page.total).toBe(5);
      expect(page.rows.map((r) => r.id)).toEqual(['tsk_e', 'tsk_b']);
      expect(page.rows[0]).toMatchObject({ app_name: 'Alpha', platform: 'android', audience_name: 'Buyers' });
      for (const row of page.rows) for (const column of COUNTERS) expect(typeof row[column]).toBe('number');
      expect((await store.listTasks('ws_1', {}, { key: 'name', order: 'asc' }, 8, 5)).rows).toEqual([]);
    });
  });

  describe('conditional edits and deletes', () => {
    beforeEach(async () => {
      for (const status of TASK_STATUSES) {
        await store.insertTask(
          taskRow(`tsk_${status}`, { status, started_at: status === 'scheduled' ? null : at(1) }),
          ['sub_x'],
        );
      }
    });

    test('an edit applies only while the task is scheduled', async () => {
      for (const status of TASK_STATUSES) {
        const id = `tsk_${status}`;
        const before = await store.findTask('ws_1', id);
        const edited = await store.updateEditableTask(
          'ws_1',
          id,
          { name: 'Edited', audience_id: 'aud_2', app_id: 'app_i', updated_at: at(9) },
          ['sub_y'],
        );
        expect(edited).toBe(status === 'scheduled');
        const after = await store.findTask('ws_1', id);
        const links = (await store.subCampaignsOf([id])).get(id)?.map((s) => s.id);
        if (status === 'scheduled') {
          expect(after).toMatchObject({
            name: 'Edited',
            audience_id: 'aud_2',
            audience_name: 'Lapsed',
            app_id: 'app_i',
            app_name: 'Iris',
            platform: 'ios',
            updated_at: at(9),
            status: 'scheduled',
          });
          expect(links).toEqual(['sub_y']);
        } else {
          expect(after).toEqual(before);
          expect(links).toEqual(['sub_x']);
        }
      }
    });

    test('an edit keeps the links when none are given, and clears them when given none', async () => {
      expect(await store.updateEditableTask('ws_1', 'tsk_scheduled', { title: 'New title' }, undefined)).toBe(
        true,
      );
      expect(await store.findTask('ws_1', 'tsk_scheduled')).toMatchObject({
        title: 'New title',
        name: 'tsk_scheduled',
      });
      expect((await store.subCampaignsOf(['tsk_scheduled'])).get('tsk_scheduled')).toEqual([
        { id: 'sub_x', name: 'Xmas' },
      ]);
      expect(await store.updateEditableTask('ws_1', 'tsk_scheduled', { content: 'New' }, [])).toBe(true);
      expect((await store.subCampaignsOf(['tsk_scheduled'])).has('tsk_scheduled')).toBe(false);
    });

    test('an edit whose links cannot be written changes nothing', async () => {
      await expect(
        store.updateEditableTask('ws_1', 'tsk_scheduled', { name: 'Half done' }, ['sub_y', 'sub_gone']),
      ).rejects.toThrow();
      expect((await store.findTask('ws_1', 'tsk_scheduled'))?.name).toBe('tsk_scheduled');
      expect((await store.subCampaignsOf(['tsk_scheduled'])).get('tsk_scheduled')).toEqual([
        { id: 'sub_x', name: 'Xmas' },
      ]);
    });

    test('another workspace can neither edit nor delete a task', async () => {
      expect(await store.updateEditableTask('ws_2', 'tsk_scheduled', { name: 'Theirs' }, [])).toBe(false);
      expect(await store.deleteDeletableTask('ws_2', 'tsk_scheduled')).toBe(false);
      expect(await store.findTask('ws_1', 'tsk_scheduled')).toMatchObject({ name: 'tsk_scheduled' });
      expect(await store.updateEditableTask('ws_1', 'tsk_unknown', { name: 'X' }, undefined)).toBe(false);
    });

    test('a delete applies only while the task is scheduled, and takes its links along', async () => {
      for (const status of TASK_STATUSES) {
        expect(await store.deleteDeletableTask('ws_1', `tsk_${status}`)).toBe(status === 'scheduled');
      }
      expect(await store.findTask('ws_1', 'tsk_scheduled')).toBeUndefined();
      expect(await store.deleteDeletableTask('ws_1', 'tsk_scheduled')).toBe(false);
      const left = await store.listTasks('ws_1', {}, { key: 'name', order: 'asc' }, 0, 10);
      expect(left.rows.map((r) => r.status)).toEqual(['completed', 'failed', 'sending', 'stopped']);
      expect(await createCampaignStore(h.db).countLinkedTasks(['sub_x'])).toBe(4);
    });
  });
});
