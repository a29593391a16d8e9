/**
 * The first start's demo, so that a fresh install can send a task at once with no account anywhere:
 * two `simulator` apps (Android and iOS), a virtual device fleet registered for them, and an audience
 * holding every simulated device. Everything is deterministic (IDs, tokens, channels); the fleet is
 * written in bounded batches inside one transaction, so memory stays flat whatever its size.
 */
import { createHash } from 'node:crypto';
import { createAppStore, newAppRow } from '../apps/app-store.ts';
import { bulkWriter, createDeviceStore } from '../devices/device-store.ts';
import { newId } from '../ids.ts';
import type { AppRow, AudienceMemberRow, Db, DeviceRegistration } from '../storage/database.ts';

/** Name of the demo audience holding every simulated device. */
export const DEMO_AUDIENCE_NAME = 'All simulator devices';

/**
 * Channel mix of the Android fleet, in percent: the provider's own channel and the OEM vendor channels
 * in roughly the shares a Chinese Android user base shows.
 */
export const ANDROID_CHANNEL_MIX: readonly (readonly [channel: string, percent: number])[] = [
  ['simulator', 35],
  ['huawei', 22],
  ['xiaomi', 16],
  ['oppo', 11],
  ['vivo', 10],
  ['honor', 6],
];

// Devices generated and written per step.
const BATCH_DEVICES = 5000;
// Registration times are spread over the last 30 days, so that "newest first" listings look real.
const REGISTRATION_SPAN_MS = 30 * 24 * 60 * 60 * 1000;

// One channel per percent point; stepping through it with a stride coprime to 100 mixes the channels
// evenly while keeping the exact shares in every hundred devices.
const CHANNEL_BY_PERCENT = ANDROID_CHANNEL_MIX.flatMap(([channel, percent]) =>
  Array.from({ length: percent }, () => channel),
);
const CHANNEL_STRIDE = 37;

/**
 * Creates the demo apps, `fleetSize` Android and `fleetSize / 2` iOS devices, and the demo audience in
 * `workspaceId`; answers what it created, for the start-up log.
 */
export async function seedFirstRun(
  db: Db,
  workspaceId: string,
  fleetSize: number,
  now: Date,
): Promise<Record<string, number>> {
  const iosFleetSize = Math.floor(fleetSize / 2);
  const devices = createDeviceStore(db);
  const insertMembers = bulkWriter<AudienceMemberRow>(['audience_id', 'device_id'], (rows) =>
    db.insertInto('audience_members').values(rows),
  );

  await db.transaction().execute(async (trx) => {
    const apps = createAppStore(trx);
    const android = newAppRow({
      workspaceId,
      name: 'Pushboard Demo (Android)',
      platform: 'android',
      provider: 'simulator',
      providerConfig: { seed: 1, timeScale: 60 },
      now,
    });
    const ios = newAppRow({
      workspaceId,
      name: 'Pushboard Demo (iOS)',
      platform: 'ios',
      provider: 'simulator',
      providerConfig: { seed: 2, timeScale: 60 },
      now,
    });
    await apps.insertApp(android);
    await apps.insertApp(ios);

    const audienceId = newId('aud');
    await trx
      .insertInto('audiences')
      .values({
        id: audienceId,
        workspace_id: workspaceId,
        name: DEMO_AUDIENCE_NAME,
        source: 'api',
        status: 'ready',
        size: fleetSize + iosFleetSize,
        file_name: null,
        source_task_id: null,
        source_filter: null,
        created_at: now.toISOString(),
      })
      .execute();

    for (const [app, count] of [
      [android, fleetSize],
      [ios, iosFleetSize],
    ] as const) {
      for (let start = 0; start < count; start += BATCH_DEVICES) {
        const batch: DeviceRegistration[] = [];
        for (let i = start; i < Math.min(count, start + BATCH_DEVICES); i++) {
          batch.push(simulatedDevice(app, i, count, now));
        }
        await devices.insertNewDevices(batch, trx);
        await insertMembers(
          trx,
          batch.map((d) => ({ audience_id: audienceId, device_id: d.device_id })),
        );
      }
    }
  });

  return {
    apps: 2,
    androidDevices: fleetSize,
    iosDevices: iosFleetSize,
    audienceMembers: fleetSize + iosFleetSize,
  };
}

/**
 * Device `index` of a demo app's fleet of `count`: an ID such as `sim-a-0000042`, a token of the
 * length the platform's real tokens have (44 characters like a Umeng device token on Android, 64 hex
 * digits like an APNs token on iOS) and its channel.
 */
export function simulatedDevice(
  app: Pick<AppRow, 'id' | 'platform'>,
  index: number,
  count: number,
  now: Date,
): DeviceRegistration {
  const android = app.platform === 'android';
  const deviceId = `sim-${android ? 'a' : 'i'}-${String(index + 1).padStart(7, '0')}`;
  const digest = createHash('sha256').update(deviceId);
  const registeredAt = new Date(now.getTime() - Math.floor(((count - index) * REGISTRATION_SPAN_MS) / count));
  return {
    app_id: app.id,
    device_id: deviceId,
    push_token: android ? `A${digest.digest('base64url')}` : digest.digest('hex'),
    channel: android ? (CHANNEL_BY_PERCENT[(index * CHANNEL_STRIDE) % 100] as string) : 'apns',
    created_at: registeredAt.toISOString(),
    updated_at: registeredAt.toISOString(),
  };
}
