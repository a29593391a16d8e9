import { afterEach, beforeEach, expect, test } from 'vitest';
import {
  ANDROID_CHANNEL_MIX,
  DEMO_AUDIENCE_NAME,
  seedFirstRun,
  simulatedDevice,
} from '../src/demo/first-run.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

const FLEET = 300;

test('the first run creates an Android and an iOS simulator app with their fleets', async () => {
  const counts = await seedFirstRun(t.db, t.workspaceId, FLEET, t.clock.now);
  expect(counts).toEqual({ apps: 2, androidDevices: 300, iosDevices: 150, audienceMembers: 450 });

  const apps = (
    await t.request(t.adminToken, { method: 'GET', url: '/api/v1/workspaces/default/apps' })
  ).json();
  const summary = apps.items
    .map((a: { name: string; platform: string; provider: string; devices: number }) => [
      a.name,
      a.platform,
      a.provider,
      a.devices,
    ])
    .sort();
  expect(summary).toEqual([
    ['Pushboard Demo (Android)', 'android', 'simulator', 300],
    ['Pushboard Demo (iOS)', 'ios', 'simulator', 150],
  ]);
});

test('the Android fleet has the configured channel mix and the iOS fleet is all on apns', async () => {
  await seedFirstRun(t.db, t.workspaceId, FLEET, t.clock.now);
  const counts = (
    await t.request(t.adminToken, { method: 'GET', url: '/api/v1/workspaces/default/devices/counts' })
  ).json();
  expect(counts.total).toBe(450);
  expect(counts.platforms).toEqual([
    { platform: 'android', devices: 300 },
    { platform: 'ios', devices: 150 },
  ]);
  const android = counts.apps.find((a: { platform: string }) => a.platform === 'android');
  expect(android.channels).toEqual(
    ANDROID_CHANNEL_MIX.map(([channel, percent]) => ({ channel, devices: (percent * FLEET) / 100 })),
  );
  const ios = counts.apps.find((a: { platform: string }) => a.platform === 'ios');
  expect(ios.channels).toEqual([{ channel: 'apns', devices: 150 }]);
});

test('the demo audience holds every simulated device of both apps', async () => {
  await seedFirstRun(t.db, t.workspaceId, FLEET, t.clock.now);
  const audience = await t.db
    .selectFrom('audiences')
    .selectAll()
    .where('workspace_id', '=', t.workspaceId)
    .executeTakeFirstOrThrow();
  expect(audience).toMatchObject({ name: DEMO_AUDIENCE_NAME, source: 'api', status: 'ready', size: 450 });
  const members = await t.db
    .selectFrom('audience_members')
    .leftJoin('devices', 'devices.device_id', 'audience_members.device_id')
    .select((eb) => [
      eb.fn.countAll<number>().as('members'),
      eb.fn.count<number>('devices.app_id').as('matched'),
    ])
    .where('audience_id', '=', audience.id)
    .executeTakeFirstOrThrow();
  expect(members).toEqual({ members: 450, matched: 450 });
});

test('simulated devices are deterministic, with tokens as long as real ones', async () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const a = simulatedDevice({ id: 'app_a', platform: 'android' }, 41, 100, now);
  expect(a).toEqual(simulatedDevice({ id: 'app_a', platform: 'android' }, 41, 100, now));
  expect(a.device_id).toBe('sim-a-0000042');
  expect(a.push_token).toHaveLength(44);
  const i = simulatedDevice({ id: 'app_i', platform: 'ios' }, 0, 100, now);
  expect(i.device_id).toBe('sim-i-0000001');
  expect(i.push_token).toMatch(/^[0-9a-f]{64}$/);
  expect(i.channel).toBe('apns');
  expect(new Date(i.created_at).getTime()).toBeLessThan(now.getTime());
});

test('the demo devices page newest first like any other', async () => {
  await seedFirstRun(t.db, t.workspaceId, FLEET, t.clock.now);
  const apps = (
    await t.request(t.adminToken, { method: 'GET', url: '/api/v1/workspaces/default/apps?platform=android' })
  ).json();
  const res = await t.request(t.adminToken, {
    method: 'GET',
    url: `/api/v1/workspaces/default/apps/${apps.items[0].id}/devices?pageSize=2`,
  });
  expect(res.json().items.map((d: { deviceId: string }) => d.deviceId)).toEqual([
    'sim-a-0000300',
    'sim-a-0000299',
  ]);
  expect(res.json().total).toBe(300);
});
