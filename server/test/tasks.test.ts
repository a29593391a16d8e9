import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { TaskRow } from '../src/storage/database.ts';
import { createTaskStore } from '../src/tasks/task-store.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const HOUR_MS = 3_600_000;

let t: TestInstance;
let f: ReturnType<typeof fixtures>;

beforeEach(async () => {
  t = await createTestInstance();
  f = fixtures(t);
});
afterEach(async () => {
  await t.close();
});

/**
 * Apps, audiences and sub-campaigns written straight into the database, so these tests do not
 * depend on the routes of the modules that own them.
 */
function fixtures(instance: TestInstance) {
  let seq = 0;
  const now = () => instance.clock.now.toISOString();
  return {
    async app(workspaceId: string, platform: 'ios' | 'android', name = `${platform} app`): Promise<string> {
      const id = `app_test${++seq}`;
      await instance.db
        .insertInto('apps')
        .values({
          id,
          workspace_id: workspaceId,
          name,
          platform,
          provider: 'simulator',
          provider_config: '{}',
          receipt_secret: `receipt-${id}`,
          sdk_key: `sdk-key-${id}`,
          sdk_secret: `sdk-secret-${id}`,
          created_at: now(),
          updated_at: now(),
        })
        .execute();
      return id;
    },
    async audience(
      workspaceId: string,
      name = 'VIP users',
      status: 'ready' | 'importing' = 'ready',
    ): Promise<string> {
      const id = `aud_test${++seq}`;
      await instance.db
        .insertInto('audiences')
        .values({
          id,
          workspace_id: workspaceId,
          name,
          source: 'api',
          status,
          size: 3,
          file_name: null,
          source_task_id: null,
          source_filter: null,
          created_at: now(),
        })
        .execute();
      return id;
    },
    async subCampaign(workspaceId: string, name: string): Promise<string> {
      const id = `sub_test${++seq}`;
      await instance.db
        .insertInto('sub_campaigns')
        .values({
          id,
          workspace_id: workspaceId,
          campaign_id: null,
          name,
          created_at: now(),
          updated_at: now(),
        })
        .execute();
      return id;
    },
    /** A second workspace owned by the admin, for foreign-ID checks. */
    async otherWorkspace(): Promise<string> {
      const res = await instance.request(instance.adminToken, {
        method: 'POST',
        url: '/api/v1/workspaces',
        body: { name: 'Other team' },
      });
      expect(res.statusCode).toBe(201);
      return res.json().id as string;
    },
    async viewerToken(): Promise<string> {
      const res = await instance.request(instance.adminToken, {
        method: 'POST',
        url: `/api/v1/workspaces/${instance.workspaceId}/tokens`,
        body: { name: 'read only', role: 'viewer' },
      });
      expect(res.statusCode).toBe(201);
      return res.json().token as string;
    },
    /** Moves a task past `scheduled` the way the dispatcher (a later issue) will. */
    async setTask(id: string, changes: Partial<TaskRow>): Promise<void> {
      await instance.db.updateTable('tasks').set(changes).where('id', '=', id).execute();
    },
  };
}

interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  token?: string;
  workspaceId?: string;
}

/** Calls a route of the default workspace (or `workspaceId`) as the admin (or `token`). */
function api({ method, path, body, token, workspaceId }: Call): Promise<LightMyRequestResponse> {
  return t.request(token ?? t.adminToken, {
    method,
    url: `/api/v1/workspaces/${workspaceId ?? t.workspaceId}${path}`,
    ...(body !== undefined && { body: body as Record<string, unknown> }),
  });
}

function errorFields(res: LightMyRequestResponse): string[] {
  return (res.json().error.details as { field: string }[]).map((d) => d.field);
}

function errorFor(res: LightMyRequestResponse, field: string): string | undefined {
  return (res.json().error.details as { field: string; message: string }[]).find((d) => d.field === field)
    ?.message;
}

/** The default workspace's Android app and ready audience, and a valid immediate task body for them. */
async function basics() {
  const android = await f.app(t.workspaceId, 'android', 'Shop Android');
  const ios = await f.app(t.workspaceId, 'ios', 'Shop iOS');
  const audience = await f.audience(t.workspaceId);
  const body = {
    name: 'Spring sale',
    appId: android,
    title: 'Spring sale',
    content: 'Everything 20% off today',
    clickAction: { type: 'open_app' },
    audienceId: audience,
    sendType: 'immediate',
    subCampaignIds: [] as string[],
  };
  return { android, ios, audience, body };
}

async function createTask(body: Record<string, unknown>): Promise<Record<string, unknown> & { id: string }> {
  const res = await api({ method: 'POST', path: '/tasks', body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

const inHours = (hours: number) => new Date(t.clock.now.getTime() + hours * HOUR_MS).toISOString();

describe('create', () => {
  test('a task created while its audience is deleted: exactly one of the two wins, never both', async () => {
    const { body } = await basics();
    for (let i = 0; i < 12; i++) {
      const audience = await f.audience(t.workspaceId, `race ${i}`);
      const [created, deleted] = await Promise.all([
        api({ method: 'POST', path: '/tasks', body: { ...body, name: `race ${i}`, audienceId: audience } }),
        api({ method: 'DELETE', path: `/audiences/${audience}` }),
      ]);
      const taskWon = created.statusCode === 201;
      const deleteWon = deleted.statusCode === 204;
      expect(
        taskWon !== deleteWon,
        `${created.statusCode} ${created.body} / ${deleted.statusCode} ${deleted.body}`,
      ).toBe(true);
      if (taskWon) expect(deleted.json().error.code).toBe('AUDIENCE_IN_USE');
      else expect(errorFields(created)).toContain('audienceId');
    }
  });

  test('an immediate task is created scheduled, with its app, audience and zero statistics', async () => {
    const { android, audience, body } = await basics();
    const res = await api({ method: 'POST', path: '/tasks', body });
    expect(res.statusCode).toBe(201);
    const now = t.clock.now.toISOString();
    expect(res.json()).toEqual({
      id: expect.stringMatching(/^tsk_/),
      name: 'Spring sale',
      status: 'scheduled',
      appId: android,
      appName: 'Shop Android',
      platform: 'android',
      title: 'Spring sale',
      content: 'Everything 20% off today',
      clickAction: { type: 'open_app' },
      audienceId: audience,
      audienceName: 'VIP users',
      audienceSize: 3,
      sendType: 'immediate',
      scheduledAt: null,
      ttlSeconds: 259_200,
      category: 'marketing',
      spreadMinutes: null,
      deferredUntil: null,
      stoppedAt: null,
      subCampaignIds: [],
      subCampaigns: [],
      failureReason: null,
      sendError: null,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      completedAt: null,
      statisticsFinalAt: null,
      detailsExpireAt: null,
      statistics: {
        plannedSends: 0,
        unmatched: 0,
        capped: 0,
        totalSent: 0,
        deliveries: 0,
        failures: 0,
        noFeedback: 0,
        impressions: 0,
        opens: 0,
        dismissals: 0,
        pending: 0,
        cancelled: 0,
        late: 0,
        impressionRate: null,
        openRate: null,
        dismissalRate: null,
      },
    });
  });

  test('a scheduled task keeps its time in UTC and its sub-campaigns with names', async () => {
    const { body } = await basics();
    const spring = await f.subCampaign(t.workspaceId, 'Spring');
    const autumn = await f.subCampaign(t.workspaceId, 'Autumn');
    const at = new Date(t.clock.now.getTime() + 2 * HOUR_MS);
    at.setUTCMilliseconds(0);
    // The same instant written with a +08:00 offset.
    const local = new Date(at.getTime() + 8 * HOUR_MS).toISOString().replace('.000Z', '+08:00');
    const task = await createTask({
      ...body,
      sendType: 'scheduled',
      scheduledAt: local,
      subCampaignIds: [spring, autumn, spring],
    });
    expect(task.scheduledAt).toBe(at.toISOString());
    expect(task.subCampaigns).toEqual([
      { id: autumn, name: 'Autumn' },
      { id: spring, name: 'Spring' },
    ]);
    expect(task.subCampaignIds).toEqual([autumn, spring]);
  });

  test('click actions and params are stored as given, trimmed', async () => {
    const { body } = await basics();
    const task = await createTask({
      ...body,
      name: '  Padded  ',
      clickAction: { type: 'open_url', url: ' https://example.com/sale ', params: { coupon: 'SPRING20' } },
    });
    expect(task.name).toBe('Padded');
    expect(task.clickAction).toEqual({
      type: 'open_url',
      url: 'https://example.com/sale',
      params: { coupon: 'SPRING20' },
    });
  });

  test('missing fields are all named in one 400 VALIDATION_FAILED', async () => {
    await basics();
    const res = await api({ method: 'POST', path: '/tasks', body: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('VALIDATION_FAILED');
    expect(errorFields(res).sort()).toEqual(
      ['appId', 'audienceId', 'clickAction', 'content', 'name', 'sendType', 'title'].sort(),
    );
  });

  test('mistyped and unknown fields are refused by the schema', async () => {
    const { body } = await basics();
    const res = await api({
      method: 'POST',
      path: '/tasks',
      body: {
        ...body,
        sendType: 'weekly',
        title: { text: 'x' },
        clickAction: { type: 'open_door', target: 'x' },
        scheduledAt: 'tomorrow',
        priority: 'high',
      },
    });
    expect(res.statusCode).toBe(400);
    expect(new Set(errorFields(res))).toEqual(
      new Set(['sendType', 'title', 'clickAction.type', 'clickAction.target', 'scheduledAt', 'priority']),
    );
    expect(errorFor(res, 'priority')).toBe('is not a known field');
  });

  test('every domain rule is checked at once and reported per field', async () => {
    const { ios, body } = await basics();
    const spring = await f.subCampaign(t.workspaceId, 'Spring');
    const res = await api({
      method: 'POST',
      path: '/tasks',
      body: {
        ...body,
        appId: ios,
        title: '   ',
        clickAction: { type: 'open_url', url: 'https://example.com', params: { d: '1' } },
        sendType: 'scheduled',
        subCampaignIds: [spring, 'sub_nope'],
      },
    });
    expect(res.statusCode).toBe(400);
    expect(errorFields(res)).toEqual([
      'title',
      'clickAction.type',
      'clickAction.params.d',
      'scheduledAt',
      'subCampaignIds.1',
    ]);
  });

  test('open_url and open_page are refused on an iOS app', async () => {
    const { ios, body } = await basics();
    for (const clickAction of [
      { type: 'open_url', url: 'https://example.com' },
      { type: 'open_page', page: 'com.example.PromoActivity' },
    ]) {
      const res = await api({ method: 'POST', path: '/tasks', body: { ...body, appId: ios, clickAction } });
      expect(res.statusCode).toBe(400);
      expect(errorFields(res)).toEqual(['clickAction.type']);
      expect(errorFor(res, 'clickAction.type')).toContain('Android-only');
    }
  });

  test('open_url needs its url, open_page its page and custom its params', async () => {
    const { body } = await basics();
    const cases = [
      [{ type: 'open_url' }, 'clickAction.url'],
      [{ type: 'open_url', url: 'mailto:x@example.com' }, 'clickAction.url'],
      [{ type: 'open_page' }, 'clickAction.page'],
      [{ type: 'custom' }, 'clickAction.params'],
      [{ type: 'custom', params: { 'bad key': 'x' } }, 'clickAction.params.bad key'],
      [{ type: 'custom', params: { pb_task: 'x' } }, 'clickAction.params.pb_task'],
    ] as const;
    for (const [clickAction, field] of cases) {
      const res = await api({ method: 'POST', path: '/tasks', body: { ...body, clickAction } });
      expect(res.statusCode, JSON.stringify(clickAction)).toBe(400);
      expect(errorFields(res)).toEqual([field]);
    }
  });

  test('a scheduledAt in the past or now is refused; an immediate task must not have one', async () => {
    const { body } = await basics();
    for (const scheduledAt of [inHours(-1), t.clock.now.toISOString()]) {
      const res = await api({
        method: 'POST',
        path: '/tasks',
        body: { ...body, sendType: 'scheduled', scheduledAt },
      });
      expect(res.statusCode).toBe(400);
      expect(errorFields(res)).toEqual(['scheduledAt']);
      expect(errorFor(res, 'scheduledAt')).toContain('must be in the future');
    }
    const immediate = await api({
      method: 'POST',
      path: '/tasks',
      body: { ...body, scheduledAt: inHours(1) },
    });
    expect(errorFor(immediate, 'scheduledAt')).toBe('must be left out when sendType is immediate');
  });

  test('content past the platform payload limit says how many bytes too long', async () => {
    const { ios, body } = await basics();
    const res = await api({ method: 'POST', path: '/tasks', body: { ...body, content: '推'.repeat(700) } });
    expect(res.statusCode).toBe(400);
    expect(errorFields(res)).toEqual(['content']);
    expect(errorFor(res, 'content')).toMatch(
      /^is \d+ bytes too long: the android push payload would be \d+ bytes/,
    );
    // The same 2,100 bytes of text fit neither platform; 1,900 bytes fit iOS only.
    const fitsIos = await api({
      method: 'POST',
      path: '/tasks',
      body: { ...body, appId: ios, content: 'x'.repeat(1900) },
    });
    expect(fitsIos.statusCode).toBe(201);
    const tooLongAndroid = await api({
      method: 'POST',
      path: '/tasks',
      body: { ...body, content: 'x'.repeat(1900) },
    });
    expect(errorFields(tooLongAndroid)).toEqual(['content']);
  });

  test('unknown app, audience and sub-campaign IDs are field errors', async () => {
    const { body } = await basics();
    const res = await api({
      method: 'POST',
      path: '/tasks',
      body: { ...body, appId: 'app_nope', audienceId: 'aud_nope', subCampaignIds: ['sub_nope'] },
    });
    expect(res.statusCode).toBe(400);
    expect(errorFields(res)).toEqual(['appId', 'audienceId', 'subCampaignIds.0']);
    expect(errorFor(res, 'appId')).toBe('App app_nope does not exist in this workspace');
  });

  test("another workspace's app, audience and sub-campaigns read as unknown", async () => {
    const { body } = await basics();
    const other = await f.otherWorkspace();
    const mine = await f.subCampaign(t.workspaceId, 'Mine');
    const foreignApp = await f.app(other, 'android');
    const foreignAudience = await f.audience(other);
    const foreignSub = await f.subCampaign(other, 'Theirs');
    const res = await api({
      method: 'POST',
      path: '/tasks',
      body: { ...body, appId: foreignApp, audienceId: foreignAudience, subCampaignIds: [mine, foreignSub] },
    });
    expect(res.statusCode).toBe(400);
    expect(errorFields(res)).toEqual(['appId', 'audienceId', 'subCampaignIds.1']);
  });

  test('an audience that is still importing cannot be used', async () => {
    const { body } = await basics();
    const importing = await f.audience(t.workspaceId, 'Uploading', 'importing');
    const res = await api({ method: 'POST', path: '/tasks', body: { ...body, audienceId: importing } });
    expect(res.statusCode).toBe(400);
    expect(errorFor(res, 'audienceId')).toContain('only a ready audience can be used');
  });

  test('a viewer cannot create a task', async () => {
    const { body } = await basics();
    const res = await api({ method: 'POST', path: '/tasks', body, token: await f.viewerToken() });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('FORBIDDEN');
    expect(await t.db.selectFrom('tasks').select('id').execute()).toEqual([]);
  });
});

describe('read', () => {
  test('a task reads back as it was created, for a viewer too', async () => {
    const { body } = await basics();
    const created = await createTask(body);
    const res = await api({ method: 'GET', path: `/tasks/${created.id}`, token: await f.viewerToken() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(created);
  });

  test('an unknown task and a task of another workspace both answer 404 TASK_NOT_FOUND', async () => {
    await basics();
    const other = await f.otherWorkspace();
    const app = await f.app(other, 'ios');
    const audience = await f.audience(other);
    const res = await api({
      method: 'POST',
      path: '/tasks',
      workspaceId: other,
      body: {
        name: 'Theirs',
        appId: app,
        title: 'T',
        content: 'C',
        clickAction: { type: 'open_app' },
        audienceId: audience,
        sendType: 'immediate',
      },
    });
    expect(res.statusCode).toBe(201);
    for (const id of ['tsk_nope', res.json().id]) {
      const read = await api({ method: 'GET', path: `/tasks/${id}` });
      expect(read.statusCode).toBe(404);
      expect(read.json().error.code).toBe('TASK_NOT_FOUND');
    }
  });

  test('a started task shows its windows and rates over deliveries', async () => {
    const { body } = await basics();
    const task = await createTask(body);
    const startedAt = '2026-03-01T10:00:00.000Z';
    await f.setTask(task.id, {
      status: 'sending',
      started_at: startedAt,
      planned_sends: 10,
      unmatched: 1,
      total_sent: 8,
      pending: 1,
      deliveries: 4,
      failures: 1,
      no_feedback: 3,
      impressions: 3,
      opens: 1,
      dismissals: 0,
    });
    const read = (await api({ method: 'GET', path: `/tasks/${task.id}` })).json();
    expect(read.statisticsFinalAt).toBe('2026-03-04T10:00:00.000Z');
    expect(read.detailsExpireAt).toBe('2026-03-04T10:00:00.000Z');
    expect(read.statistics).toMatchObject({
      plannedSends: 10,
      deliveries: 4,
      impressionRate: 0.75,
      openRate: 0.25,
      dismissalRate: 0,
    });
  });

  test('the windows follow the configured hours', async () => {
    await t.close();
    t = await createTestInstance({
      PUSHBOARD_STATISTICS_WINDOW_HOURS: '24',
      PUSHBOARD_RETENTION_HOURS: '48',
    });
    f = fixtures(t);
    const { body } = await basics();
    const task = await createTask(body);
    await f.setTask(task.id, { status: 'sending', started_at: '2026-03-01T10:00:00.000Z' });
    const read = (await api({ method: 'GET', path: `/tasks/${task.id}` })).json();
    expect(read.statisticsFinalAt).toBe('2026-03-02T10:00:00.000Z');
    expect(read.detailsExpireAt).toBe('2026-03-03T10:00:00.000Z');
  });

  test('a failed task shows its failure reason; the audience name is null once it is deleted', async () => {
    const { audience, body } = await basics();
    const task = await createTask(body);
    await f.setTask(task.id, { status: 'failed', failure_reason: 'Provider rejected the app key (2007).' });
    await t.db.deleteFrom('audiences').where('id', '=', audience).execute();
    const read = (await api({ method: 'GET', path: `/tasks/${task.id}` })).json();
    expect(read.failureReason).toBe('Provider rejected the app key (2007).');
    expect(read.audienceId).toBe(audience);
    expect(read.audienceName).toBeNull();
  });
});

describe('edit', () => {
  test('a patch changes only the given fields and bumps updatedAt', async () => {
    const { body } = await basics();
    const spring = await f.subCampaign(t.workspaceId, 'Spring');
    const task = await createTask({ ...body, subCampaignIds: [spring] });
    t.clock.now = new Date(t.clock.now.getTime() + 60_000);
    const res = await api({ method: 'PATCH', path: `/tasks/${task.id}`, body: { name: 'Spring sale v2' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      ...task,
      name: 'Spring sale v2',
      updatedAt: t.clock.now.toISOString(),
    });
  });

  test('sub-campaigns are replaced as a whole, and an empty list clears them', async () => {
    const { body } = await basics();
    const a = await f.subCampaign(t.workspaceId, 'A');
    const b = await f.subCampaign(t.workspaceId, 'B');
    const task = await createTask({ ...body, subCampaignIds: [a] });
    const replaced = await api({ method: 'PATCH', path: `/tasks/${task.id}`, body: { subCampaignIds: [b] } });
    expect(replaced.json().subCampaigns).toEqual([{ id: b, name: 'B' }]);
    const cleared = await api({ method: 'PATCH', path: `/tasks/${task.id}`, body: { subCampaignIds: [] } });
    expect(cleared.json().subCampaigns).toEqual([]);
  });

  test('the merged task is re-validated: an iOS app with an open_url action is refused', async () => {
    const { ios, body } = await basics();
    const task = await createTask({ ...body, clickAction: { type: 'open_url', url: 'https://example.com' } });
    const res = await api({ method: 'PATCH', path: `/tasks/${task.id}`, body: { appId: ios } });
    expect(res.statusCode).toBe(400);
    expect(errorFields(res)).toEqual(['clickAction.type']);
    const both = await api({
      method: 'PATCH',
      path: `/tasks/${task.id}`,
      body: { appId: ios, clickAction: { type: 'open_app' } },
    });
    expect(both.statusCode).toBe(200);
    expect(both.json()).toMatchObject({
      platform: 'ios',
      appName: 'Shop iOS',
      clickAction: { type: 'open_app' },
    });
  });

  test('switching send type: scheduled needs a future time, immediate drops it', async () => {
    const { body } = await basics();
    const task = await createTask(body);
    const noTime = await api({ method: 'PATCH', path: `/tasks/${task.id}`, body: { sendType: 'scheduled' } });
    expect(errorFields(noTime)).toEqual(['scheduledAt']);
    const past = await api({
      method: 'PATCH',
      path: `/tasks/${task.id}`,
      body: { sendType: 'scheduled', scheduledAt: inHours(-1) },
    });
    expect(errorFields(past)).toEqual(['scheduledAt']);
    const scheduled = await api({
      method: 'PATCH',
      path: `/tasks/${task.id}`,
      body: { sendType: 'scheduled', scheduledAt: inHours(3) },
    });
    expect(scheduled.json()).toMatchObject({ sendType: 'scheduled', scheduledAt: inHours(3) });
    const immediate = await api({
      method: 'PATCH',
      path: `/tasks/${task.id}`,
      body: { sendType: 'immediate' },
    });
    expect(immediate.json()).toMatchObject({ sendType: 'immediate', scheduledAt: null });
  });

  test('a due task whose schedule is left alone can still be renamed', async () => {
    const { body } = await basics();
    const task = await createTask({ ...body, sendType: 'scheduled', scheduledAt: inHours(1) });
    t.clock.now = new Date(t.clock.now.getTime() + 2 * HOUR_MS);
    const res = await api({ method: 'PATCH', path: `/tasks/${task.id}`, body: { name: 'Renamed' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().scheduledAt).toBe(task.scheduledAt);
  });

  test('a patch with unknown or mistyped fields is refused by the schema', async () => {
    const { body } = await basics();
    const task = await createTask(body);
    const res = await api({
      method: 'PATCH',
      path: `/tasks/${task.id}`,
      body: { status: 'completed', sendType: 'later' },
    });
    expect(res.statusCode).toBe(400);
    expect(errorFields(res).sort()).toEqual(['sendType', 'status']);
  });

  test.each(['sending', 'completed', 'failed'] as const)(
    'a %s task cannot be edited: 409 TASK_NOT_EDITABLE',
    async (status) => {
      const { body } = await basics();
      const task = await createTask(body);
      await f.setTask(task.id, { status });
      const res = await api({ method: 'PATCH', path: `/tasks/${task.id}`, body: { name: 'Too late' } });
      expect(res.statusCode).toBe(409);
      expect(res.json().error).toMatchObject({ code: 'TASK_NOT_EDITABLE', details: { status } });
      expect((await api({ method: 'GET', path: `/tasks/${task.id}` })).json().name).toBe('Spring sale');
    },
  );

  test('editing an unknown or foreign task answers 404, and a viewer gets 403', async () => {
    const { body } = await basics();
    const task = await createTask(body);
    const other = await f.otherWorkspace();
    const unknown = await api({ method: 'PATCH', path: '/tasks/tsk_nope', body: { name: 'x' } });
    expect(unknown.json().error.code).toBe('TASK_NOT_FOUND');
    const foreign = await api({
      method: 'PATCH',
      path: `/tasks/${task.id}`,
      workspaceId: other,
      body: { name: 'x' },
    });
    expect(foreign.json().error.code).toBe('TASK_NOT_FOUND');
    const viewer = await api({
      method: 'PATCH',
      path: `/tasks/${task.id}`,
      body: { name: 'x' },
      token: await f.viewerToken(),
    });
    expect(viewer.statusCode).toBe(403);
  });

  test('the edit write is conditional: a task started after it was read is left untouched', async () => {
    const { body } = await basics();
    const task = await createTask(body);
    const store = createTaskStore(t.db);
    // What the route read says "scheduled"; the dispatcher starts the task before the write.
    expect((await store.findTask(t.workspaceId, task.id))?.status).toBe('scheduled');
    await f.setTask(task.id, { status: 'sending' });
    const changed = await store.updateEditableTask(t.workspaceId, task.id, { name: 'Lost edit' }, []);
    expect(changed).toBe(false);
    const row = await store.findTask(t.workspaceId, task.id);
    expect(row?.name).toBe('Spring sale');
  });
});

describe('delete', () => {
  test('a scheduled task is deleted with its sub-campaign links', async () => {
    const { body } = await basics();
    const spring = await f.subCampaign(t.workspaceId, 'Spring');
    const task = await createTask({ ...body, subCampaignIds: [spring] });
    const res = await api({ method: 'DELETE', path: `/tasks/${task.id}` });
    expect(res.statusCode).toBe(204);
    expect((await api({ method: 'GET', path: `/tasks/${task.id}` })).statusCode).toBe(404);
    expect(await t.db.selectFrom('task_sub_campaigns').selectAll().execute()).toEqual([]);
  });

  test.each(['sending', 'completed', 'failed'] as const)(
    'a %s task cannot be deleted: 409 TASK_NOT_DELETABLE',
    async (status) => {
      const { body } = await basics();
      const task = await createTask(body);
      await f.setTask(task.id, { status });
      const res = await api({ method: 'DELETE', path: `/tasks/${task.id}` });
      expect(res.statusCode).toBe(409);
      expect(res.json().error).toMatchObject({ code: 'TASK_NOT_DELETABLE', details: { status } });
      expect((await api({ method: 'GET', path: `/tasks/${task.id}` })).statusCode).toBe(200);
    },
  );

  test('deleting an unknown or foreign task answers 404, and a viewer gets 403', async () => {
    const { body } = await basics();
    const task = await createTask(body);
    const other = await f.otherWorkspace();
    expect((await api({ method: 'DELETE', path: '/tasks/tsk_nope' })).json().error.code).toBe(
      'TASK_NOT_FOUND',
    );
    const foreign = await api({ method: 'DELETE', path: `/tasks/${task.id}`, workspaceId: other });
    expect(foreign.json().error.code).toBe('TASK_NOT_FOUND');
    const viewer = await api({ method: 'DELETE', path: `/tasks/${task.id}`, token: await f.viewerToken() });
    expect(viewer.statusCode).toBe(403);
    expect((await api({ method: 'GET', path: `/tasks/${task.id}` })).statusCode).toBe(200);
  });

  test('the delete is conditional: a task started meanwhile is kept', async () => {
    const { body } = await basics();
    const task = await createTask(body);
    await f.setTask(task.id, { status: 'sending' });
    expect(await createTaskStore(t.db).deleteDeletableTask(t.workspaceId, task.id)).toBe(false);
    expect(await t.db.selectFrom('tasks').select('id').execute()).toEqual([{ id: task.id }]);
  });
});

describe('list', () => {
  async function list(query = '', token?: string) {
    const res = await api({ method: 'GET', path: `/tasks${query}`, ...(token && { token }) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as {
      items: { id: string; name: string }[];
      total: number;
      page: number;
      pageSize: number;
    };
  }
  const names = (page: { items: { name: string }[] }) => page.items.map((i) => i.name);

  test('an empty workspace lists nothing', async () => {
    expect(await list()).toEqual({ items: [], total: 0, page: 1, pageSize: 20 });
  });

  test('newest first by default, ties broken by ID, for a viewer too', async () => {
    const { body } = await basics();
    const first = await createTask({ ...body, name: 'first' });
    const second = await createTask({ ...body, name: 'second' }); // same clock: a tie on createdAt
    t.clock.now = new Date(t.clock.now.getTime() + 1000);
    await createTask({ ...body, name: 'third' });
    const page = await list('', await f.viewerToken());
    const tied = [first, second].sort((a, b) => (a.id < b.id ? 1 : -1)).map((x) => x.name);
    expect(names(page)).toEqual(['third', ...tied]);
    expect(page.total).toBe(3);
  });

  test('items carry their statistics and sub-campaigns', async () => {
    const { body } = await basics();
    const a = await f.subCampaign(t.workspaceId, 'A');
    const b = await f.subCampaign(t.workspaceId, 'B');
    const task = await createTask({ ...body, subCampaignIds: [b, a] });
    await createTask({ ...body, name: 'No campaigns' });
    await f.setTask(task.id, {
      status: 'completed',
      planned_sends: 5,
      total_sent: 5,
      deliveries: 4,
      failures: 1,
      opens: 2,
    });
    const page = await list('?sort=name&order=asc');
    expect(page.items[1]).toMatchObject({
      id: task.id,
      subCampaigns: [
        { id: a, name: 'A' },
        { id: b, name: 'B' },
      ],
      statistics: { plannedSends: 5, deliveries: 4, opens: 2, openRate: 0.5, impressionRate: 0 },
    });
    expect(page.items[0]).toMatchObject({ name: 'No campaigns', subCampaigns: [] });
  });

  test('pages are cut by page and pageSize, with the total of all matches', async () => {
    const { body } = await basics();
    for (let i = 1; i <= 5; i++) {
      t.clock.now = new Date(t.clock.now.getTime() + 1000);
      await createTask({ ...body, name: `task ${i}` });
    }
    expect(await list('?pageSize=2')).toMatchObject({ total: 5, page: 1, pageSize: 2 });
    expect(names(await list('?pageSize=2'))).toEqual(['task 5', 'task 4']);
    expect(names(await list('?pageSize=2&page=3'))).toEqual(['task 1']);
    expect(names(await list('?pageSize=2&page=4'))).toEqual([]);
    const tooBig = await api({ method: 'GET', path: '/tasks?pageSize=201' });
    expect(tooBig.statusCode).toBe(400);
    expect(errorFields(tooBig)).toEqual(['pageSize']);
  });

  test('status filters accept one value, a comma-separated list, or repeats', async () => {
    const { body } = await basics();
    const byStatus: Record<string, string> = {};
    for (const status of ['scheduled', 'sending', 'completed', 'failed'] as const) {
      const task = await createTask({ ...body, name: status });
      await f.setTask(task.id, { status });
      byStatus[status] = task.id;
    }
    expect(names(await list('?status=sending'))).toEqual(['sending']);
    expect(names(await list('?status=completed,failed&sort=name&order=asc'))).toEqual([
      'completed',
      'failed',
    ]);
    expect(names(await list('?status=scheduled&status=failed&sort=name&order=asc'))).toEqual([
      'failed',
      'scheduled',
    ]);
    const bad = await api({ method: 'GET', path: '/tasks?status=sending,cancelled' });
    expect(bad.statusCode).toBe(400);
    expect(errorFor(bad, 'status')).toContain('cancelled is not a task status');
  });

  test('sendType, appId and subCampaignId filter the list', async () => {
    const { ios, body } = await basics();
    const spring = await f.subCampaign(t.workspaceId, 'Spring');
    await createTask({ ...body, name: 'android now', subCampaignIds: [spring] });
    await createTask({ ...body, name: 'android later', sendType: 'scheduled', scheduledAt: inHours(5) });
    await createTask({ ...body, name: 'ios now', appId: ios, subCampaignIds: [spring] });
    const sorted = '&sort=name&order=asc';
    expect(names(await list(`?sendType=scheduled${sorted}`))).toEqual(['android later']);
    expect(names(await list(`?appId=${ios}${sorted}`))).toEqual(['ios now']);
    expect(names(await list(`?subCampaignId=${spring}${sorted}`))).toEqual(['android now', 'ios now']);
    expect(names(await list(`?subCampaignId=${spring}&appId=${ios}`))).toEqual(['ios now']);
    expect((await list('?subCampaignId=sub_nope')).total).toBe(0);
  });

  test('q finds names containing the text, ignoring case and treating % and _ literally', async () => {
    const { body } = await basics();
    await createTask({ ...body, name: 'Spring SALE' });
    await createTask({ ...body, name: '100% off' });
    await createTask({ ...body, name: '100 percent off' });
    await createTask({ ...body, name: '春季促销' });
    expect(names(await list('?q=sale'))).toEqual(['Spring SALE']);
    expect(names(await list(`?q=${encodeURIComponent('0%')}`))).toEqual(['100% off']);
    expect(names(await list(`?q=${encodeURIComponent('促销')}`))).toEqual(['春季促销']);
    expect((await list('?q=_')).total).toBe(0);
  });

  test('created and sent date ranges are inclusive at both ends', async () => {
    const { body } = await basics();
    const start = t.clock.now.getTime();
    const at = (hours: number) => new Date(start + hours * HOUR_MS).toISOString();
    for (const hour of [0, 1, 2]) {
      t.clock.now = new Date(at(hour));
      const task = await createTask({ ...body, name: `created +${hour}h` });
      if (hour > 0) await f.setTask(task.id, { status: 'completed', started_at: at(hour + 10) });
    }
    const sorted = '&sort=name&order=asc';
    expect(names(await list(`?createdFrom=${at(1)}${sorted}`))).toEqual(['created +1h', 'created +2h']);
    expect(names(await list(`?createdTo=${at(1)}${sorted}`))).toEqual(['created +0h', 'created +1h']);
    expect(names(await list(`?createdFrom=${at(1)}&createdTo=${at(1)}`))).toEqual(['created +1h']);
    expect(names(await list(`?sentFrom=${at(12)}`))).toEqual(['created +2h']);
    expect(names(await list(`?sentTo=${at(11)}`))).toEqual(['created +1h']);
    const bad = await api({ method: 'GET', path: '/tasks?createdFrom=yesterday' });
    expect(errorFields(bad)).toEqual(['createdFrom']);
  });

  test('every sort key orders both ways; unset times always come last', async () => {
    const { body } = await basics();
    const rows = [
      { name: 'bravo', planned: 30, deliveries: 5, started: 2, scheduled: null },
      { name: 'Alpha', planned: 10, deliveries: 9, started: 1, scheduled: 3 },
      { name: 'charlie', planned: 20, deliveries: 1, started: null, scheduled: 1 },
    ];
    const start = t.clock.now.getTime();
    for (const [i, row] of rows.entries()) {
      t.clock.now = new Date(start + i * 1000);
      const task = await createTask({
        ...body,
        name: row.name,
        ...(row.scheduled !== null && { sendType: 'scheduled', scheduledAt: inHours(row.scheduled) }),
      });
      await f.setTask(task.id, {
        planned_sends: row.planned,
        deliveries: row.deliveries,
        ...(row.started !== null && {
          status: 'sending',
          started_at: new Date(start + row.started * HOUR_MS).toISOString(),
        }),
      });
    }
    const expectations: Record<string, [string[], string[]]> = {
      createdAt: [
        ['bravo', 'Alpha', 'charlie'],
        ['charlie', 'Alpha', 'bravo'],
      ],
      name: [
        ['Alpha', 'bravo', 'charlie'],
        ['charlie', 'bravo', 'Alpha'],
      ],
      plannedSends: [
        ['Alpha', 'charlie', 'bravo'],
        ['bravo', 'charlie', 'Alpha'],
      ],
      deliveries: [
        ['charlie', 'bravo', 'Alpha'],
        ['Alpha', 'bravo', 'charlie'],
      ],
      startedAt: [
        ['Alpha', 'bravo', 'charlie'],
        ['bravo', 'Alpha', 'charlie'],
      ],
      scheduledAt: [
        ['charlie', 'Alpha', 'bravo'],
        ['Alpha', 'charlie', 'bravo'],
      ],
    };
    for (const [sort, [asc, desc]] of Object.entries(expectations)) {
      expect(names(await list(`?sort=${sort}&order=asc`)), `${sort} asc`).toEqual(asc);
      expect(names(await list(`?sort=${sort}&order=desc`)), `${sort} desc`).toEqual(desc);
    }
    const bad = await api({ method: 'GET', path: '/tasks?sort=status' });
    expect(errorFields(bad)).toEqual(['sort']);
  });

  test("another workspace's tasks are never listed", async () => {
    const { body } = await basics();
    await createTask(body);
    const other = await f.otherWorkspace();
    const res = await api({ method: 'GET', path: '/tasks', workspaceId: other });
    expect(res.json()).toMatchObject({ items: [], total: 0 });
  });

  test('a workspace with 10,000 tasks still lists, filters and counts them exactly', async () => {
    const { android, audience, body } = await basics();
    const spring = await f.subCampaign(t.workspaceId, 'Spring');
    const template = await createTask(body);
    const row = await t.db
      .selectFrom('tasks')
      .selectAll()
      .where('id', '=', template.id)
      .executeTakeFirstOrThrow();
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    await t.db.transaction().execute(async (trx) => {
      for (let chunk = 0; chunk < 10_000; chunk += 500) {
        const rows = Array.from({ length: 500 }, (_, i) => {
          const n = chunk + i;
          return {
            ...row,
            id: `tsk_bulk${String(n).padStart(5, '0')}`,
            name: `Bulk ${n}`,
            app_id: android,
            audience_id: audience,
            status: n % 4 === 0 ? ('completed' as const) : ('scheduled' as const),
            created_at: new Date(base + n * 60_000).toISOString(),
            planned_sends: n,
          };
        });
        await trx.insertInto('tasks').values(rows).execute();
        await trx
          .insertInto('task_sub_campaigns')
          .values(
            rows.filter((_, i) => i % 10 === 0).map((r) => ({ task_id: r.id, sub_campaign_id: spring })),
          )
          .execute();
      }
    });
    const all = await list('?pageSize=200');
    expect(all.total).toBe(10_001);
    expect(all.items).toHaveLength(200);
    const completed = await list('?status=completed&pageSize=5&sort=plannedSends&order=desc');
    expect(completed.total).toBe(2500);
    expect(names(completed)).toEqual(['Bulk 9996', 'Bulk 9992', 'Bulk 9988', 'Bulk 9984', 'Bulk 9980']);
    expect((await list(`?subCampaignId=${spring}`)).total).toBe(1000);
    expect((await list('?q=bulk 99')).total).toBe(111);
  });
});
