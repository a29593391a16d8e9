/**
 * Store contract suite: the behaviour every store implementation must have, run once per backend
 * in `backends.ts`. These tests talk to the store interfaces only, never to SQL or HTTP.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createCampaignStore } from '../src/campaigns/campaign-store.ts';
import { migrateToLatest } from '../src/storage/migrations/index.ts';
import { createTenancyStore } from '../src/tenancy/tenancy-store.ts';
import { BACKENDS, type BackendHandle } from './backends.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';

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
      expect((await store.findLiveToken('h1', T0))?.id).toBe('tok_live');
      expect(await store.findLiveToken('h2', T0)).toBeUndefined();
      expect((await store.findLiveToken('h3', T0))?.id).toBe('tok_future');
      await store.revokeToken('tok_live', T1);
      expect(await store.findLiveToken('h1', T1)).toBeUndefined();
    });

    test('login failures count up per username and clear', async () => {
      const store = createTenancyStore(h.db);
      await store.recordLoginFailure('amy', T0);
      await store.recordLoginFailure('amy', T1);
      expect(await store.getLoginFailures('amy')).toEqual({ failures: 2, lastFailureAt: T1 });
      await store.clearLoginFailures('amy');
      expect(await store.getLoginFailures('amy')).toBeUndefined();
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
  });
});
