/**
 * Store contract suite: the behaviour every store implementation must have, run once per backend
 * in `backends.ts`. These tests talk to the store interfaces only, never to SQL or HTTP.
 * This file holds the migrations, tenancy and campaign stores; apps, devices, audiences and tasks
 * have their own `*-store.contract.test.ts`.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createAppStore, newAppSecrets } from '../src/apps/app-store.ts';
import { createCampaignStore } from '../src/campaigns/campaign-store.ts';
import type { AccessTokenRow, CampaignRow, SubCampaignRow } from '../src/storage/database.ts';
import { migrateToLatest } from '../src/storage/migrations/index.ts';
import { createTaskStore } from '../src/tasks/task-store.ts';
import { loginWaitSeconds, USER_FREE_ATTEMPTS } from '../src/tenancy/auth-routes.ts';
import { createTenancyStore, MAX_LOCKOUT_S } from '../src/tenancy/tenancy-store.ts';
import { BACKENDS, type BackendHandle } from './backends.ts';
import { insertReadyAudience, taskRow } from './store-rows.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';
const T2 = '2026-01-03T00:00:00.000Z';

function tokenRow(id: string, changes: Partial<AccessTokenRow> = {}): AccessTokenRow {
  return {
    id,
    kind: 'api',
    token_hash: `hash-${id}`,
    token_hint: 'abcd',
    name: id,
    user_id: null,
    workspace_id: 'ws_1',
    role: 'viewer',
    created_at: T0,
    expires_at: null,
    last_used_at: null,
    revoked_at: null,
    ...changes,
  };
}

function campaignRow(id: string, changes: Partial<CampaignRow> = {}): CampaignRow {
  return { id, workspace_id: 'ws_1', name: id, description: '', created_at: T0, updated_at: T0, ...changes };
}

function subCampaignRow(
  id: string,
  campaignId: string | null,
  changes: Partial<SubCampaignRow> = {},
): SubCampaignRow {
  return {
    id,
    workspace_id: 'ws_1',
    campaign_id: campaignId,
    name: id,
    created_at: T0,
    updated_at: T0,
    ...changes,
  };
}

describe.each(BACKENDS)('stores on $name', (backend) => {
  let h: BackendHandle;
  beforeEach(async () => {
    h = await backend.open();
  });
  afterEach(async () => {
    await h.dispose();
  });

  test('migrating twice is harmless and applies nothing the second time', async () => {
    expect(await migrateToLatest(h.db)).toEqual([]);
  });

  describe('tenancy store', () => {
    test('a username is unique: the second insert reports false and changes nothing', async () => {
      const store = createTenancyStore(h.db);
      const user = { id: 'usr_1', username: 'amy', password_hash: 'x', is_admin: 0, created_at: T0 };
      expect(await store.insertUser(user)).toBe(true);
      expect(await store.insertUser({ ...user, id: 'usr_2', password_hash: 'y' })).toBe(false);
      expect(await store.countUsers()).toBe(1);
      expect((await store.findUserByUsername('amy'))?.password_hash).toBe('x');
    });

    test('workspaces, memberships and roles round-trip', async () => {
      const store = createTenancyStore(h.db);
      await store.insertUser({
        id: 'usr_1',
        username: 'amy',
        password_hash: 'x',
        is_admin: 0,
        created_at: T0,
      });
      await store.insertWorkspace(
        { id: 'ws_1', name: 'One', created_at: T0 },
        { workspace_id: 'ws_1', user_id: 'usr_1', role: 'owner', created_at: T0 },
      );
      await store.insertWorkspace({ id: 'ws_2', name: 'Two', created_at: T1 }, null);
      expect(
        await store.insertMembership({
          workspace_id: 'ws_2',
          user_id: 'usr_1',
          role: 'viewer',
          created_at: T1,
        }),
      ).toBe(true);
      expect(
        await store.insertMembership({
          workspace_id: 'ws_2',
          user_id: 'usr_1',
          role: 'owner',
          created_at: T1,
        }),
      ).toBe(false);
      expect(await store.listUserWorkspaces('usr_1')).toEqual([
        { id: 'ws_1', name: 'One', role: 'owner' },
        { id: 'ws_2', name: 'Two', role: 'viewer' },
      ]);
      expect(await store.countOwners('ws_1')).toBe(1);
      expect(await store.countOwners('ws_2')).toBe(0);
      await store.updateMembershipRole('ws_2', 'usr_1', 'owner');
      expect(await store.countOwners('ws_2')).toBe(1);
      await store.deleteMembership('ws_2', 'usr_1');
      expect(await store.findMembership('ws_2', 'usr_1')).toBeUndefined();
    });

    test('only unrevoked, unexpired tokens are live', async () => {
      const store = createTenancyStore(h.db);
      const base = {
        kind: 'api' as const,
        token_hint: 'abcd',
        name: 'n',
        user_id: null,
        workspace_id: null,
        role: null,
        created_at: T0,
        last_used_at: null,
        revoked_at: null,
      };
      await store.insertToken({ ...base, id: 'tok_live', token_hash: 'h1', expires_at: null });
      await store.insertToken({ ...base, id: 'tok_expired', token_hash: 'h2', expires_at: T0 });
      await store.insertToken({ ...base, id: 'tok_future', token_hash: 'h3', expires_at: T1 });
      expect((await store.findLiveToken('h1', T0))?.token.id).toBe('tok_live');
      expect(await store.findLiveToken('h2', T0)).toBeUndefined();
      expect((await store.findLiveToken('h3', T0))?.token.id).toBe('tok_future');
      await store.revokeToken('tok_live', T1);
      expect(await store.findLiveToken('h1', T1)).toBeUndefined();
    });

    test('a user change and the end of their sessions are written together, or neither is', async () => {
      const store = createTenancyStore(h.db);
      await store.insertUser({
        id: 'usr_1',
        username: 'amy',
        password_hash: 'old',
        is_admin: 0,
        created_at: T0,
      });
      for (const id of ['tok_a', 'tok_b', 'tok_c']) {
        await store.insertToken(
          tokenRow(id, { kind: 'session', user_id: 'usr_1', workspace_id: null, role: null }),
        );
      }
      expect(await store.updateUserEndingSessions('usr_1', { password_hash: 'new' }, T1, 'tok_c')).toBe(2);
      expect((await store.findUser('usr_1'))?.password_hash).toBe('new');
      expect(await store.findLiveToken('hash-tok_a', T1)).toBeUndefined();
      expect((await store.findLiveToken('hash-tok_c', T1))?.token.id).toBe('tok_c');
      // A revocation that fails (here: the token table is gone) takes the user change back with it.
      await h.db.schema.dropTable('access_tokens').execute();
      await expect(store.updateUserEndingSessions('usr_1', { password_hash: 'newer' }, T2)).rejects.toThrow();
      expect((await store.findUser('usr_1'))?.password_hash).toBe('new');
    });

    test('the wait the SQL of reserveLoginAttempt imposes is the one loginWaitSeconds tells', async () => {
      const store = createTenancyStore(h.db);
      const t0 = Date.parse(T0);
      const free = USER_FREE_ATTEMPTS;
      for (const failures of [
        1,
        free - 1,
        free,
        free + 1,
        free + 2,
        free + 9,
        free + 10,
        free + 11,
        free + 40,
      ]) {
        const wait = loginWaitSeconds(failures, new Date(t0), new Date(t0), free);
        // Just before the wait is over, and when it is: the store must agree with the formula on both.
        for (const elapsedMs of new Set([Math.max(0, wait * 1000 - 1), wait * 1000])) {
          const key = `k-${failures}-${elapsedMs}`;
          await h.db.insertInto('login_throttles').values({ key, failures, last_failure_ms: t0 }).execute();
          const expected = loginWaitSeconds(failures, new Date(t0), new Date(t0 + elapsedMs), free) === 0;
          expect({
            failures,
            elapsedMs,
            counted: await store.reserveLoginAttempt(key, t0 + elapsedMs, free),
          }).toEqual({
            failures,
            elapsedMs,
            counted: expected,
          });
        }
      }
      expect(loginWaitSeconds(free + 10, new Date(t0), new Date(t0), free)).toBe(MAX_LOCKOUT_S);
    });

    test('login attempts are counted until a key must wait, given back and cleared', async () => {
      const store = createTenancyStore(h.db);
      const t0 = Date.parse(T0);
      for (let i = 0; i < 2; i++) expect(await store.reserveLoginAttempt('k', t0, 2)).toBe(true);
      // Two failures with two free attempts: the next waits 1 s, then 2 s after the third.
      expect(await store.reserveLoginAttempt('k', t0 + 999, 2)).toBe(false);
      expect(await store.reserveLoginAttempt('k', t0 + 1000, 2)).toBe(true);
      expect(await store.reserveLoginAttempt('k', t0 + 2999, 2)).toBe(false);
      expect(await store.getLoginAttempts('k')).toEqual({ failures: 3, lastFailureMs: t0 + 1000 });
      await store.refundLoginAttempt('k');
      expect(await store.getLoginAttempts('k')).toEqual({ failures: 2, lastFailureMs: t0 + 1000 });
      expect(await store.reserveLoginAttempt('once', t0, 2)).toBe(true);
      await store.refundLoginAttempt('once');
      expect(await store.getLoginAttempts('once')).toBeUndefined();
      // A day without failures and the key starts over.
      expect(await store.reserveLoginAttempt('k', t0 + 1000 + 86_400_001, 2)).toBe(true);
      expect((await store.getLoginAttempts('k'))?.failures).toBe(1);
      await store.clearLoginAttempts('k');
      expect(await store.getLoginAttempts('k')).toBeUndefined();
    });

    test('users are found by ID and by name, and listed in order of creation', async () => {
      const store = createTenancyStore(h.db);
      expect(await store.countUsers()).toBe(0);
      await store.insertUser({
        id: 'usr_2',
        username: 'bob',
        password_hash: 'b',
        is_admin: 0,
        created_at: T1,
      });
      await store.insertUser({
        id: 'usr_1',
        username: 'admin',
        password_hash: 'a',
        is_admin: 1,
        created_at: T0,
      });
      expect(await store.countUsers()).toBe(2);
      expect(await store.findUser('usr_1')).toEqual({
        id: 'usr_1',
        username: 'admin',
        password_hash: 'a',
        is_admin: 1,
        created_at: T0,
        disabled_at: null,
        password_change_required: 0,
      });
      expect(await store.findUser('usr_gone')).toBeUndefined();
      expect(await store.findUserByUsername('ADMIN')).toBeUndefined();
      expect((await store.listUsers()).map((u) => u.username)).toEqual(['admin', 'bob']);
    });

    test('a workspace is found and renamed; its members list with usernames, oldest first', async () => {
      const store = createTenancyStore(h.db);
      for (const [id, username] of [
        ['usr_1', 'zoe'],
        ['usr_2', 'amy'],
        ['usr_3', 'bob'],
      ] as const) {
        await store.insertUser({ id, username, password_hash: 'x', is_admin: 0, created_at: T0 });
      }
      await store.insertWorkspace(
        { id: 'ws_1', name: 'One', created_at: T0 },
        { workspace_id: 'ws_1', user_id: 'usr_1', role: 'owner', created_at: T0 },
      );
      await store.insertMembership({
        workspace_id: 'ws_1',
        user_id: 'usr_3',
        role: 'viewer',
        created_at: T1,
      });
      await store.insertMembership({
        workspace_id: 'ws_1',
        user_id: 'usr_2',
        role: 'operator',
        created_at: T1,
      });
      expect(await store.listMembers('ws_1')).toEqual([
        { userId: 'usr_1', username: 'zoe', role: 'owner', createdAt: T0 },
        { userId: 'usr_2', username: 'amy', role: 'operator', createdAt: T1 },
        { userId: 'usr_3', username: 'bob', role: 'viewer', createdAt: T1 },
      ]);
      expect(await store.findMembership('ws_1', 'usr_2')).toEqual({
        workspace_id: 'ws_1',
        user_id: 'usr_2',
        role: 'operator',
        created_at: T1,
      });
      await store.renameWorkspace('ws_1', 'Renamed');
      expect(await store.findWorkspace('ws_1')).toEqual({ id: 'ws_1', name: 'Renamed', created_at: T0 });
      expect(await store.findWorkspace('ws_gone')).toBeUndefined();
      expect(await store.listMembers('ws_gone')).toEqual([]);
    });

    test('a workspace lists and finds only its own API tokens', async () => {
      const store = createTenancyStore(h.db);
      await store.insertUser({
        id: 'usr_1',
        username: 'amy',
        password_hash: 'x',
        is_admin: 0,
        created_at: T0,
      });
      await store.insertWorkspace({ id: 'ws_1', name: 'One', created_at: T0 }, null);
      await store.insertWorkspace({ id: 'ws_2', name: 'Two', created_at: T0 }, null);
      await store.insertToken(tokenRow('tok_b', { created_at: T1 }));
      await store.insertToken(tokenRow('tok_a', { created_at: T0, role: 'owner' }));
      await store.insertToken(tokenRow('tok_other', { workspace_id: 'ws_2' }));
      await store.insertToken(
        tokenRow('tok_session', { kind: 'session', user_id: 'usr_1', workspace_id: null, role: null }),
      );
      expect((await store.listWorkspaceTokens('ws_1')).map((t) => t.id)).toEqual(['tok_a', 'tok_b']);
      expect(await store.findWorkspaceToken('ws_1', 'tok_a')).toEqual(tokenRow('tok_a', { role: 'owner' }));
      expect(await store.findWorkspaceToken('ws_1', 'tok_other')).toBeUndefined();
      expect(await store.findWorkspaceToken('ws_1', 'tok_session')).toBeUndefined();
    });

    test('using a token records when; revoking it keeps the first revocation time', async () => {
      const store = createTenancyStore(h.db);
      await store.insertWorkspace({ id: 'ws_1', name: 'One', created_at: T0 }, null);
      await store.insertToken(tokenRow('tok_1'));
      await store.touchToken('tok_1', T1);
      expect((await store.findLiveToken('hash-tok_1', T1))?.token.last_used_at).toBe(T1);
      await store.revokeToken('tok_1', T1);
      await store.revokeToken('tok_1', T2);
      expect((await store.findWorkspaceToken('ws_1', 'tok_1'))?.revoked_at).toBe(T1);
      expect(await store.findLiveToken('hash-tok_1', T0)).toBeUndefined();
    });

    test('deleting a workspace member leaves the user and other memberships', async () => {
      const store = createTenancyStore(h.db);
      await store.insertUser({
        id: 'usr_1',
        username: 'amy',
        password_hash: 'x',
        is_admin: 0,
        created_at: T0,
      });
      await store.insertWorkspace(
        { id: 'ws_1', name: 'One', created_at: T0 },
        { workspace_id: 'ws_1', user_id: 'usr_1', role: 'owner', created_at: T0 },
      );
      await store.insertWorkspace(
        { id: 'ws_2', name: 'Two', created_at: T1 },
        { workspace_id: 'ws_2', user_id: 'usr_1', role: 'viewer', created_at: T1 },
      );
      await store.deleteMembership('ws_1', 'usr_1');
      expect(await store.listUserWorkspaces('usr_1')).toEqual([{ id: 'ws_2', name: 'Two', role: 'viewer' }]);
      expect(await store.countOwners('ws_1')).toBe(0);
      expect(await store.findUser('usr_1')).toBeDefined();
    });
  });

  describe('campaign store', () => {
    beforeEach(async () => {
      await createTenancyStore(h.db).insertWorkspace({ id: 'ws_1', name: 'One', created_at: T0 }, null);
    });

    test('campaigns list newest first with a literal, case-insensitive name search', async () => {
      const store = createCampaignStore(h.db);
      await store.insertCampaign({
        id: 'cmp_1',
        workspace_id: 'ws_1',
        name: '50% OFF',
        description: '',
        created_at: T0,
        updated_at: T0,
      });
      await store.insertCampaign({
        id: 'cmp_2',
        workspace_id: 'ws_1',
        name: '50 off',
        description: '',
        created_at: T1,
        updated_at: T1,
      });
      expect((await store.listCampaigns('ws_1', undefined, 0, 10)).rows.map((r) => r.id)).toEqual([
        'cmp_2',
        'cmp_1',
      ]);
      const found = await store.listCampaigns('ws_1', '% off', 0, 10);
      expect(found).toMatchObject({ total: 1, rows: [{ id: 'cmp_1' }] });
    });

    test('deleting a campaign deletes its sub-campaigns but not independent ones', async () => {
      const store = createCampaignStore(h.db);
      await store.insertCampaign({
        id: 'cmp_1',
        workspace_id: 'ws_1',
        name: 'C',
        description: '',
        created_at: T0,
        updated_at: T0,
      });
      await store.insertSubCampaign({
        id: 'sub_1',
        workspace_id: 'ws_1',
        campaign_id: 'cmp_1',
        name: 'In',
        created_at: T0,
        updated_at: T0,
      });
      await store.insertSubCampaign({
        id: 'sub_2',
        workspace_id: 'ws_1',
        campaign_id: null,
        name: 'Out',
        created_at: T0,
        updated_at: T0,
      });
      expect((await store.subCampaignsOf(['cmp_1'])).get('cmp_1')?.map((s) => s.id)).toEqual(['sub_1']);
      await store.deleteCampaign('ws_1', 'cmp_1');
      const left = await store.listSubCampaigns('ws_1', {}, 0, 10);
      expect(left.rows.map((r) => [r.id, r.campaign_name])).toEqual([['sub_2', null]]);
    });

    test('campaigns are found, updated and paged only within their workspace', async () => {
      const store = createCampaignStore(h.db);
      await createTenancyStore(h.db).insertWorkspace({ id: 'ws_2', name: 'Two', created_at: T0 }, null);
      await store.insertCampaign(campaignRow('cmp_a', { created_at: T1 }));
      await store.insertCampaign(campaignRow('cmp_b', { created_at: T0 }));
      await store.insertCampaign(campaignRow('cmp_c', { created_at: T1 }));
      await store.insertCampaign(campaignRow('cmp_z', { workspace_id: 'ws_2', created_at: T2 }));
      expect(await store.findCampaign('ws_2', 'cmp_a')).toBeUndefined();
      await store.updateCampaign('ws_2', 'cmp_a', { name: 'Theirs' });
      await store.updateCampaign('ws_1', 'cmp_a', { name: 'Mine', description: 'About', updated_at: T2 });
      expect(await store.findCampaign('ws_1', 'cmp_a')).toEqual(
        campaignRow('cmp_a', { name: 'Mine', description: 'About', created_at: T1, updated_at: T2 }),
      );
      const first = await store.listCampaigns('ws_1', undefined, 0, 2);
      const second = await store.listCampaigns('ws_1', undefined, 2, 2);
      expect([first.total, second.total]).toEqual([3, 3]);
      expect([...first.rows, ...second.rows].map((r) => r.id)).toEqual(['cmp_c', 'cmp_a', 'cmp_b']);
      expect((await store.listCampaigns('ws_1', 'MINE', 0, 10)).rows.map((r) => r.id)).toEqual(['cmp_a']);
    });

    test('sub-campaigns filter by campaign, independence and a literal name search, with the campaign name', async () => {
      const store = createCampaignStore(h.db);
      await store.insertCampaign(campaignRow('cmp_1', { name: 'Seasons' }));
      await store.insertCampaign(campaignRow('cmp_2', { name: 'Other' }));
      await store.insertSubCampaign(
        subCampaignRow('sub_a', 'cmp_1', { name: 'spring_sale', created_at: T0 }),
      );
      await store.insertSubCampaign(
        subCampaignRow('sub_b', 'cmp_1', { name: 'springXsale', created_at: T1 }),
      );
      await store.insertSubCampaign(subCampaignRow('sub_c', 'cmp_2', { name: 'Winter', created_at: T1 }));
      await store.insertSubCampaign(subCampaignRow('sub_d', null, { name: 'Spring alone', created_at: T2 }));
      const ids = async (filter: Parameters<typeof store.listSubCampaigns>[1]) => {
        const { rows, total } = await store.listSubCampaigns('ws_1', filter, 0, 10);
        expect(total).toBe(rows.length);
        return rows.map((r) => r.id);
      };
      expect(await ids({})).toEqual(['sub_d', 'sub_c', 'sub_b', 'sub_a']);
      expect(await ids({ campaignId: 'cmp_1' })).toEqual(['sub_b', 'sub_a']);
      expect(await ids({ independent: true })).toEqual(['sub_d']);
      expect(await ids({ q: 'g_s' })).toEqual(['sub_a']);
      expect(await ids({ q: 'SPRING' })).toEqual(['sub_d', 'sub_b', 'sub_a']);
      expect(await ids({ q: 'spring', campaignId: 'cmp_1' })).toEqual(['sub_b', 'sub_a']);
      const page = await store.listSubCampaigns('ws_1', {}, 1, 2);
      expect(page.total).toBe(4);
      expect(page.rows.map((r) => [r.id, r.campaign_name])).toEqual([
        ['sub_c', 'Other'],
        ['sub_b', 'Seasons'],
      ]);
      expect(await store.findSubCampaign('ws_1', 'sub_d')).toEqual({
        ...subCampaignRow('sub_d', null, { name: 'Spring alone', created_at: T2 }),
        campaign_name: null,
      });
    });

    test('a sub-campaign moves between campaigns and is deleted only within its workspace', async () => {
      const store = createCampaignStore(h.db);
      await createTenancyStore(h.db).insertWorkspace({ id: 'ws_2', name: 'Two', created_at: T0 }, null);
      await store.insertCampaign(campaignRow('cmp_1', { name: 'Seasons' }));
      await store.insertSubCampaign(subCampaignRow('sub_1', 'cmp_1'));
      expect(await store.findSubCampaign('ws_2', 'sub_1')).toBeUndefined();
      await store.updateSubCampaign('ws_2', 'sub_1', { campaign_id: null });
      expect((await store.findSubCampaign('ws_1', 'sub_1'))?.campaign_name).toBe('Seasons');
      await store.updateSubCampaign('ws_1', 'sub_1', { campaign_id: null, name: 'Alone', updated_at: T1 });
      expect(await store.findSubCampaign('ws_1', 'sub_1')).toMatchObject({
        campaign_id: null,
        campaign_name: null,
        name: 'Alone',
        updated_at: T1,
      });
      expect(await store.subCampaignsOf(['cmp_1'])).toEqual(new Map());
      await store.deleteSubCampaign('ws_2', 'sub_1');
      expect(await store.findSubCampaign('ws_1', 'sub_1')).toBeDefined();
      await store.deleteSubCampaign('ws_1', 'sub_1');
      expect(await store.findSubCampaign('ws_1', 'sub_1')).toBeUndefined();
    });

    test('linked tasks are counted once each and listed newest first, every page exactly once', async () => {
      const store = createCampaignStore(h.db);
      const tasks = createTaskStore(h.db);
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
        created_at: T0,
        updated_at: T0,
      });
      await store.insertSubCampaign(subCampaignRow('sub_1', null));
      await store.insertSubCampaign(subCampaignRow('sub_2', null));
      await store.insertSubCampaign(subCampaignRow('sub_3', null));
      await insertReadyAudience(h.db, 'aud_1');
      // Three tasks created at the same moment, one earlier, one later.
      await tasks.insertTask(taskRow('tsk_1', { created_at: T0 }), ['sub_1', 'sub_2']);
      await tasks.insertTask(taskRow('tsk_2', { created_at: T1 }), ['sub_1']);
      await tasks.insertTask(taskRow('tsk_3', { created_at: T1 }), ['sub_1']);
      await tasks.insertTask(taskRow('tsk_4', { created_at: T1, status: 'completed' }), ['sub_1']);
      await tasks.insertTask(taskRow('tsk_5', { created_at: T2 }), ['sub_1', 'sub_2']);
      await tasks.insertTask(taskRow('tsk_6', { created_at: T2 }), []);
      expect(await store.countLinkedTasks(['sub_1', 'sub_2'])).toBe(5);
      expect(await store.countLinkedTasks(['sub_2'])).toBe(2);
      expect(await store.countLinkedTasks(['sub_3'])).toBe(0);
      expect(await store.countLinkedTasks([])).toBe(0);

      const listed: string[] = [];
      for (let offset = 0; offset < 6; offset += 2) {
        const page = await store.listLinkedTasks('sub_1', offset, 2);
        expect(page.total).toBe(5);
        listed.push(...page.rows.map((r) => r.id));
      }
      expect(listed[0]).toBe('tsk_5');
      expect(listed[4]).toBe('tsk_1');
      expect([...listed].sort()).toEqual(['tsk_1', 'tsk_2', 'tsk_3', 'tsk_4', 'tsk_5']);
      expect((await store.listLinkedTasks('sub_1', 0, 1)).rows[0]).toEqual({
        id: 'tsk_5',
        name: 'tsk_5',
        status: 'scheduled',
        send_type: 'immediate',
        created_at: T2,
      });
    });
  });
});
