import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { UNSENT_TASK_COUNTERS } from '../src/tasks/task-store.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
const base = '/api/v1/workspaces/default';
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

async function post(url: string, body: unknown) {
  const res = await t.request(t.adminToken, { method: 'POST', url: `${base}${url}`, body: body as object });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

describe('campaigns', () => {
  test('a campaign is created, listed with its sub-campaigns, read, renamed and deleted', async () => {
    const campaign = await post('/campaigns', { name: 'Double 11', description: 'Singles day' });
    expect(campaign).toMatchObject({ name: 'Double 11', description: 'Singles day', subCampaigns: [] });
    const sub = await post(`/campaigns/${campaign.id}/sub-campaigns`, { name: 'Warm-up' });
    expect(sub).toMatchObject({ name: 'Warm-up', campaignId: campaign.id, campaignName: 'Double 11' });

    const list = await t.request(t.adminToken, { method: 'GET', url: `${base}/campaigns` });
    expect(list.json()).toMatchObject({ total: 1, page: 1, pageSize: 20 });
    expect(list.json().items[0].subCampaigns).toEqual([{ id: sub.id, name: 'Warm-up' }]);

    const patched = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${base}/campaigns/${campaign.id}`,
      body: { name: 'Double 12' },
    });
    expect(patched.json()).toMatchObject({ name: 'Double 12', description: 'Singles day' });

    const deleted = await t.request(t.adminToken, {
      method: 'DELETE',
      url: `${base}/campaigns/${campaign.id}`,
    });
    expect(deleted.statusCode).toBe(204);
    expect(
      (await t.request(t.adminToken, { method: 'GET', url: `${base}/campaigns/${campaign.id}` })).statusCode,
    ).toBe(404);
    expect(
      (await t.request(t.adminToken, { method: 'GET', url: `${base}/sub-campaigns/${sub.id}` })).statusCode,
    ).toBe(404);
  });

  test('the list searches names case-insensitively and literally, and pages', async () => {
    for (const name of ['Spring Sale', 'spring_launch', 'Autumn', '100% off'])
      await post('/campaigns', { name });
    const search = async (q: string) =>
      (
        await t.request(t.adminToken, { method: 'GET', url: `${base}/campaigns?q=${encodeURIComponent(q)}` })
      ).json();
    expect((await search('SPRING')).total).toBe(2);
    await expect(search('%').then((r) => r.items.map((i: { name: string }) => i.name))).resolves.toEqual([
      '100% off',
    ]);
    expect((await search('_')).items.map((i: { name: string }) => i.name)).toEqual(['spring_launch']);
    const page2 = (
      await t.request(t.adminToken, { method: 'GET', url: `${base}/campaigns?page=2&pageSize=3` })
    ).json();
    expect(page2).toMatchObject({ total: 4, page: 2, pageSize: 3 });
    expect(page2.items).toHaveLength(1);
  });

  test('bad input answers per-field errors', async () => {
    const missing = await t.request(t.adminToken, { method: 'POST', url: `${base}/campaigns`, body: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.details).toEqual([
      { field: 'name', code: 'REQUIRED', message: expect.any(String) },
    ]);
    const mistyped = await t.request(t.adminToken, {
      method: 'POST',
      url: `${base}/campaigns`,
      body: { name: 42, extra: 1 },
    });
    expect(
      mistyped
        .json()
        .error.details.map((d: { field: string }) => d.field)
        .sort(),
    ).toEqual(['extra', 'name']);
    const blank = await t.request(t.adminToken, {
      method: 'POST',
      url: `${base}/campaigns`,
      body: { name: '   ' },
    });
    expect(blank.statusCode).toBe(400);
    const page = await t.request(t.adminToken, { method: 'GET', url: `${base}/campaigns?pageSize=0` });
    expect(page.json().error.details[0].field).toBe('pageSize');
  });

  test('unknown IDs answer 404 with the object kind in the code', async () => {
    const res = await t.request(t.adminToken, { method: 'GET', url: `${base}/campaigns/cmp_nope` });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('CAMPAIGN_NOT_FOUND');
    const sub = await t.request(t.adminToken, {
      method: 'POST',
      url: `${base}/campaigns/cmp_nope/sub-campaigns`,
      body: { name: 'x' },
    });
    expect(sub.json().error.code).toBe('CAMPAIGN_NOT_FOUND');
  });
});

describe('sub-campaigns', () => {
  test('an independent sub-campaign has no campaign and is listed with independent=true', async () => {
    const campaign = await post('/campaigns', { name: 'Launch' });
    await post(`/campaigns/${campaign.id}/sub-campaigns`, { name: 'Inside' });
    const independent = await post('/sub-campaigns', { name: 'Loose' });
    expect(independent).toMatchObject({ campaignId: null, campaignName: null });
    const all = (await t.request(t.adminToken, { method: 'GET', url: `${base}/sub-campaigns` })).json();
    expect(all.total).toBe(2);
    const loose = (
      await t.request(t.adminToken, { method: 'GET', url: `${base}/sub-campaigns?independent=true` })
    ).json();
    expect(loose.items.map((s: { name: string }) => s.name)).toEqual(['Loose']);
    const inside = (
      await t.request(t.adminToken, { method: 'GET', url: `${base}/campaigns/${campaign.id}/sub-campaigns` })
    ).json();
    expect(inside.items.map((s: { name: string }) => s.name)).toEqual(['Inside']);
  });

  test('a sub-campaign moves into a campaign and back out', async () => {
    const campaign = await post('/campaigns', { name: 'Launch' });
    const sub = await post('/sub-campaigns', { name: 'Loose' });
    const moved = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${base}/sub-campaigns/${sub.id}`,
      body: { campaignId: campaign.id },
    });
    expect(moved.json()).toMatchObject({ campaignId: campaign.id, campaignName: 'Launch' });
    const out = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `${base}/sub-campaigns/${sub.id}`,
      body: { campaignId: null },
    });
    expect(out.json()).toMatchObject({ campaignId: null });
  });

  test('a sub-campaign lists its tasks and cannot be deleted while a task links to it', async () => {
    const campaign = await post('/campaigns', { name: 'Launch' });
    const sub = await post(`/campaigns/${campaign.id}/sub-campaigns`, { name: 'Wave 1' });
    const now = new Date().toISOString();
    await t.db
      .insertInto('apps')
      .values({
        id: 'app_t',
        workspace_id: 'default',
        name: 'A',
        platform: 'android',
        provider: 'simulator',
        provider_config: '{}',
        receipt_secret: 'r',
        sdk_key: 'k',
        sdk_secret: 's',
        created_at: now,
        updated_at: now,
      })
      .execute();
    await t.db
      .insertInto('tasks')
      .values({
        id: 'tsk_t',
        workspace_id: 'default',
        app_id: 'app_t',
        name: 'Hello',
        title: 'T',
        content: 'C',
        click_action: '{"type":"open_app"}',
        audience_id: 'aud_x',
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
    await t.db
      .insertInto('task_sub_campaigns')
      .values({ task_id: 'tsk_t', sub_campaign_id: sub.id })
      .execute();

    const tasks = (
      await t.request(t.adminToken, { method: 'GET', url: `${base}/sub-campaigns/${sub.id}/tasks` })
    ).json();
    expect(tasks.items).toEqual([
      { id: 'tsk_t', name: 'Hello', status: 'completed', sendType: 'immediate', createdAt: now },
    ]);
    const del = await t.request(t.adminToken, { method: 'DELETE', url: `${base}/sub-campaigns/${sub.id}` });
    expect(del.statusCode).toBe(409);
    expect(del.json().error.code).toBe('SUB_CAMPAIGN_IN_USE');
    const delCampaign = await t.request(t.adminToken, {
      method: 'DELETE',
      url: `${base}/campaigns/${campaign.id}`,
    });
    expect(delCampaign.statusCode).toBe(409);
    expect(delCampaign.json().error.code).toBe('CAMPAIGN_IN_USE');
  });
});
