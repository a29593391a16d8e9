/**
 * Quiet hours (docs/delivery-controls.md#quiet-hours): the pure window and its end in a time zone,
 * daylight-saving days included; and the scheduler's deferral of a marketing task due inside the
 * window — it waits with `deferredUntil` and starts at the end — while a service task passes.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { QuietHours } from '../src/domain/delivery-settings.ts';
import { isQuiet, localMinutes, quietUntil } from '../src/domain/quiet-hours.ts';
import { createTask, readTask, sendFixture, testDispatcher } from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const shanghai: QuietHours = { start: '22:00', end: '08:00', timeZone: 'Asia/Shanghai' };
const until = (quiet: QuietHours, at: string) => quietUntil(quiet, new Date(at))?.toISOString() ?? null;

describe('the quiet window', () => {
  test('local time comes from the zone', () => {
    expect(localMinutes(new Date('2026-06-01T14:30:00Z'), 'Asia/Shanghai')).toBe(22 * 60 + 30);
    expect(localMinutes(new Date('2026-06-01T14:30:00Z'), 'America/New_York')).toBe(10 * 60 + 30);
  });

  test('a window wrapping midnight holds the evening and the morning, not the day; its end is exclusive', () => {
    expect(isQuiet(shanghai, new Date('2026-06-01T14:00:00Z'))).toBe(true); // 22:00 local
    expect(isQuiet(shanghai, new Date('2026-06-01T19:00:00Z'))).toBe(true); // 03:00
    expect(isQuiet(shanghai, new Date('2026-06-01T23:59:00Z'))).toBe(true); // 07:59
    expect(isQuiet(shanghai, new Date('2026-06-02T00:00:00Z'))).toBe(false); // 08:00
    expect(isQuiet(shanghai, new Date('2026-06-01T13:59:00Z'))).toBe(false); // 21:59
  });

  test('a window within one day holds only its hours', () => {
    const lunch: QuietHours = { start: '12:00', end: '13:30', timeZone: 'UTC' };
    expect(isQuiet(lunch, new Date('2026-06-01T12:00:00Z'))).toBe(true);
    expect(isQuiet(lunch, new Date('2026-06-01T13:29:59Z'))).toBe(true);
    expect(isQuiet(lunch, new Date('2026-06-01T13:30:00Z'))).toBe(false);
    expect(isQuiet(lunch, new Date('2026-06-01T11:59:59Z'))).toBe(false);
    expect(until(lunch, '2026-06-01T12:10:42Z')).toBe('2026-06-01T13:30:00.000Z');
  });

  test('the end is the next local end time: the same night after midnight, the next morning before it', () => {
    // 23:15 in Shanghai (UTC+8, no daylight saving): the window ends at 08:00 the next local day.
    expect(until(shanghai, '2026-06-01T15:15:20Z')).toBe('2026-06-02T00:00:00.000Z');
    // 02:00 local: the same local day's 08:00.
    expect(until(shanghai, '2026-06-01T18:00:00Z')).toBe('2026-06-02T00:00:00.000Z');
    // Outside the window there is no end.
    expect(until(shanghai, '2026-06-02T00:00:00Z')).toBeNull();
  });

  test('New York, spring forward: a window ending after the skipped hour ends at the right UTC instant', () => {
    // 2026-03-08 02:00 EST → 03:00 EDT (07:00Z). Window 22:00–08:00; at 23:00 EST on the 7th (04:00Z).
    const ny: QuietHours = { start: '22:00', end: '08:00', timeZone: 'America/New_York' };
    expect(until(ny, '2026-03-08T04:00:00Z')).toBe('2026-03-08T12:00:00.000Z'); // 08:00 EDT
    // The day before, still standard time: 08:00 EST.
    expect(until(ny, '2026-03-07T04:00:00Z')).toBe('2026-03-07T13:00:00.000Z');
  });

  test('New York, spring forward: an end inside the skipped hour is when the clocks jump', () => {
    const ny: QuietHours = { start: '22:00', end: '02:30', timeZone: 'America/New_York' };
    // 02:30 does not exist on 2026-03-08: local time goes 01:59 EST → 03:00 EDT at 07:00Z.
    expect(until(ny, '2026-03-08T04:00:00Z')).toBe('2026-03-08T07:00:00.000Z');
  });

  test('New York, fall back: the end is the first time the local clock shows it', () => {
    // 2026-11-01 02:00 EDT → 01:00 EST (06:00Z). Window 22:00–08:00 from 23:00 EDT on Oct 31 (03:00Z).
    const ny: QuietHours = { start: '22:00', end: '08:00', timeZone: 'America/New_York' };
    expect(until(ny, '2026-11-01T03:00:00Z')).toBe('2026-11-01T13:00:00.000Z'); // 08:00 EST
    // Ending at 01:30, which the night shows twice: the first one (EDT, 05:30Z).
    const early: QuietHours = { start: '22:00', end: '01:30', timeZone: 'America/New_York' };
    expect(until(early, '2026-11-01T03:00:00Z')).toBe('2026-11-01T05:30:00.000Z');
  });

  test('Asia/Shanghai has no daylight saving: the end is 08:00 +08:00 every day of the year', () => {
    for (const day of ['2026-01-15', '2026-03-08', '2026-07-01', '2026-11-01']) {
      const at = new Date(`${day}T16:00:00Z`); // 00:00 local the next day
      const end = new Date(at.getTime() + 8 * 3_600_000);
      expect(quietUntil(shanghai, at)?.toISOString()).toBe(end.toISOString());
    }
  });
});

describe('a task due in quiet hours', () => {
  let t: TestInstance;
  beforeEach(async () => {
    t = await createTestInstance();
  });
  afterEach(async () => {
    await t.close();
  });

  /** An app with quiet hours (set through the API) and a task of `category` due now. */
  async function dueTask(category: 'marketing' | 'service', quietHours: QuietHours | null) {
    const fixture = await sendFixture(t, { devices: 20 });
    const patch = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `/api/v1/workspaces/${t.workspaceId}/apps/${fixture.appId}`,
      body: { quietHours },
    });
    expect(patch.statusCode, patch.body).toBe(200);
    const taskId = await createTask(t, fixture, {}, { category });
    return { appId: fixture.appId, taskId };
  }

  const readApi = async (taskId: string) => {
    const res = await t.request(t.adminToken, {
      method: 'GET',
      url: `/api/v1/workspaces/${t.workspaceId}/tasks/${taskId}`,
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { status: string; deferredUntil: string | null };
  };

  test('a marketing task waits with deferredUntil and starts when the window ends', async () => {
    t.clock.now = new Date('2026-06-01T15:15:00Z'); // 23:15 in Shanghai
    const { taskId } = await dueTask('marketing', shanghai);
    const dispatcher = testDispatcher(t);
    expect(await dispatcher.poll()).toEqual([]);
    expect(await readApi(taskId)).toMatchObject({
      status: 'scheduled',
      deferredUntil: '2026-06-02T00:00:00.000Z',
    });

    t.clock.now = new Date('2026-06-01T23:59:59Z'); // still quiet: the due query passes it over
    expect(await dispatcher.poll()).toEqual([]);
    expect((await readApi(taskId)).status).toBe('scheduled');

    t.clock.now = new Date('2026-06-02T00:00:00Z'); // 08:00: judged again, outside the window
    expect(await dispatcher.poll()).toEqual([taskId]);
    expect((await readTask(t.db, taskId)).status).toBe('sending');
    expect((await readApi(taskId)).deferredUntil).toBeNull();
  });

  test('a service task is never held', async () => {
    t.clock.now = new Date('2026-06-01T15:15:00Z');
    const { taskId } = await dueTask('service', shanghai);
    expect(await testDispatcher(t).poll()).toEqual([taskId]);
    expect((await readApi(taskId)).deferredUntil).toBeNull();
  });

  test('outside the window a marketing task starts at once', async () => {
    t.clock.now = new Date('2026-06-01T04:00:00Z'); // 12:00 in Shanghai
    const { taskId } = await dueTask('marketing', shanghai);
    expect(await testDispatcher(t).poll()).toEqual([taskId]);
  });

  test('changing the app’s quiet hours judges a deferred task again at once', async () => {
    t.clock.now = new Date('2026-06-01T15:15:00Z');
    const { appId, taskId } = await dueTask('marketing', shanghai);
    const dispatcher = testDispatcher(t);
    expect(await dispatcher.poll()).toEqual([]);
    // A shorter window that ended at 23:00 local: the task is no longer held.
    const patch = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `/api/v1/workspaces/${t.workspaceId}/apps/${appId}`,
      body: { quietHours: { start: '21:00', end: '23:00', timeZone: 'Asia/Shanghai' } },
    });
    expect(patch.statusCode, patch.body).toBe(200);
    expect((await readApi(taskId)).deferredUntil).toBeNull();
    expect(await dispatcher.poll()).toEqual([taskId]);
  });

  test('editing a deferred task clears deferredUntil; a longer window defers it again to the new end', async () => {
    t.clock.now = new Date('2026-06-01T15:15:00Z');
    const { appId, taskId } = await dueTask('marketing', shanghai);
    const dispatcher = testDispatcher(t);
    expect(await dispatcher.poll()).toEqual([]);
    const edit = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `/api/v1/workspaces/${t.workspaceId}/tasks/${taskId}`,
      body: { content: 'Morning news' },
    });
    expect(edit.statusCode, edit.body).toBe(200);
    expect((await readApi(taskId)).deferredUntil).toBeNull();
    const patch = await t.request(t.adminToken, {
      method: 'PATCH',
      url: `/api/v1/workspaces/${t.workspaceId}/apps/${appId}`,
      body: { quietHours: { start: '22:00', end: '09:30', timeZone: 'Asia/Shanghai' } },
    });
    expect(patch.statusCode, patch.body).toBe(200);
    expect(await dispatcher.poll()).toEqual([]);
    expect((await readApi(taskId)).deferredUntil).toBe('2026-06-02T01:30:00.000Z');
  });
});
