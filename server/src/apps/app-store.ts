/**
 * What the apps module needs from storage, its Kysely implementation, and how a new app row (with
 * fresh secrets) is made. Rows are in clear here: the store seals the secrets and provider config on
 * their way into the database and opens them on their way out (`storage/sealed-columns.ts`).
 */
import type { FrequencyCap, QuietHours } from '../domain/delivery-settings.ts';
import { newId, newSecret } from '../ids.ts';
import type { AppRow, Db } from '../storage/database.ts';
import { containsText } from '../storage/text-search.ts';
import type { Platform, Provider, ProviderConfig } from './provider-config.ts';

/** Filters of the app list. */
export interface AppFilter {
  /** Name contains, ignoring case. */
  q?: string;
  platform?: Platform;
  provider?: Provider;
}

/** The secrets an app is reached with: receipts from its provider, SDK receipts from its devices. */
export type AppSecrets = Pick<AppRow, 'receipt_secret' | 'sdk_key' | 'sdk_secret'>;

/** Storage operations of the apps module; every read is scoped to one workspace. */
export interface AppStore {
  listApps(
    workspaceId: string,
    filter: AppFilter,
    offset: number,
    limit: number,
  ): Promise<{ rows: AppRow[]; total: number }>;
  findApp(workspaceId: string, id: string): Promise<AppRow | undefined>;
  insertApp(row: AppRow): Promise<void>;
  /** Changes an app; a change of its quiet hours also clears what they deferred (docs/delivery-controls.md). */
  updateApp(
    workspaceId: string,
    id: string,
    changes: Partial<
      Pick<AppRow, 'name' | 'provider_config' | 'frequency_cap' | 'quiet_hours' | 'updated_at'> & AppSecrets
    >,
  ): Promise<void>;
  /**
   * Deletes an app with its devices and imports, unless a task uses it; answers the number of tasks
   * that use it (0 when deleted). Check and delete share one transaction.
   */
  deleteAppUnlessUsed(workspaceId: string, id: string): Promise<number>;
  /** Registered devices of several apps at once, keyed by app ID (apps without devices are absent). */
  countDevices(appIds: string[]): Promise<Map<string, DeviceCounts>>;
}

/** The app store over Kysely. */
export function createAppStore(db: Db): AppStore {
  return {
    async listApps(workspaceId, filter, offset, limit) {
      let query = db.selectFrom('apps').where('workspace_id', '=', workspaceId);
      if (filter.q) query = query.where(containsText('name', filter.q));
      if (filter.platform) query = query.where('platform', '=', filter.platform);
      if (filter.provider) query = query.where('provider', '=', filter.provider);
      const [rows, count] = await Promise.all([
        query
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .offset(offset)
          .limit(limit)
          .execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { rows, total: Number(count.n) };
    },
    findApp: (workspaceId, id) =>
      db
        .selectFrom('apps')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .where('id', '=', id)
        .executeTakeFirst(),
    async insertApp(row) {
      await db.insertInto('apps').values(row).execute();
    },
    updateApp: (workspaceId, id, changes) =>
      db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('apps')
          .set(changes)
          .where('workspace_id', '=', workspaceId)
          .where('id', '=', id)
          .executeTakeFirst();
        // New quiet hours: the tasks they deferred are judged again by the next poll (deferral.ts).
        if (changes.quiet_hours !== undefined && Number(result.numUpdatedRows) === 1) {
          await trx
            .updateTable('tasks')
            .set({ deferred_until: null })
            .where('app_id', '=', id)
            .where('status', '=', 'scheduled')
            .where('deferred_until', 'is not', null)
            .execute();
        }
      }),
    deleteAppUnlessUsed: (workspaceId, id) =>
      db.transaction().execute(async (trx) => {
        const used = await trx
          .selectFrom('tasks')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('app_id', '=', id)
          .executeTakeFirstOrThrow();
        if (Number(used.n) > 0) return Number(used.n);
        // Devices, imports and staged import lines go with the app (ON DELETE CASCADE).
        await trx.deleteFrom('apps').where('workspace_id', '=', workspaceId).where('id', '=', id).execute();
        return 0;
      }),
    async countDevices(appIds) {
      const counts = new Map<string, DeviceCounts>();
      if (appIds.length === 0) return counts;
      const rows = await db
        .selectFrom('devices')
        .select(['app_id', (eb) => eb.fn.countAll<number>().as('n')])
        .where('app_id', 'in', appIds)
        .groupBy('app_id')
        .execute();
      // Served by the partial index of invalid tokens: cheap however many devices are active.
      const invalid = await db
        .selectFrom('devices')
        .select(['app_id', (eb) => eb.fn.countAll<number>().as('n')])
        .where('app_id', 'in', appIds)
        .where('token_status', '=', 'invalid')
        .groupBy('app_id')
        .execute();
      const invalidOf = new Map(invalid.map((row) => [row.app_id, Number(row.n)]));
      for (const row of rows) {
        counts.set(row.app_id, { devices: Number(row.n), invalidTokens: invalidOf.get(row.app_id) ?? 0 });
      }
      return counts;
    },
  };
}

/** An app's device counts (docs/devices.md#push-token-lifecycle). */
export interface DeviceCounts {
  /** Registered devices. */
  devices: number;
  /** Those whose push token a provider called invalid. */
  invalidTokens: number;
}

/** The counts of an app without devices. */
export const NO_DEVICES: DeviceCounts = Object.freeze({ devices: 0, invalidTokens: 0 });

/** Fresh random app secrets: a receipt secret, and the SDK's key and secret. */
export function newAppSecrets(): AppSecrets {
  return {
    receipt_secret: newSecret('pbr_'),
    sdk_key: newSecret('pbk_', 18),
    sdk_secret: newSecret('pbs_'),
  };
}

/** What a new app is made of. */
export interface NewApp {
  workspaceId: string;
  name: string;
  platform: Platform;
  provider: Provider;
  /** Already checked (`checkProviderConfig`). */
  providerConfig: ProviderConfig;
  /** Already checked (`checkDeliverySettings`); absent: none. */
  frequencyCap?: FrequencyCap | null;
  quietHours?: QuietHours | null;
  now: Date;
}

/** A new app row with a fresh ID and fresh secrets. */
export function newAppRow(app: NewApp): AppRow {
  const iso = app.now.toISOString();
  return {
    id: newId('app'),
    workspace_id: app.workspaceId,
    name: app.name,
    platform: app.platform,
    provider: app.provider,
    provider_config: JSON.stringify(app.providerConfig),
    ...newAppSecrets(),
    frequency_cap: app.frequencyCap ? JSON.stringify(app.frequencyCap) : null,
    quiet_hours: app.quietHours ? JSON.stringify(app.quietHours) : null,
    created_at: iso,
    updated_at: iso,
  };
}
