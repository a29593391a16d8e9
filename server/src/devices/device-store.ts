/**
 * What the devices module needs from storage, and its Kysely implementation. Devices are keyed by
 * (app, device ID); a CSV import is staged in `device_import_rows` and applied in one statement.
 */
import { type Compilable, type CompiledQuery, type Kysely, sql } from 'kysely';
import type {
  AppRow,
  Database,
  Db,
  DeviceImportLineRow,
  DeviceImportRow,
  DeviceRegistration,
  DeviceRow,
} from '../storage/database.ts';
import type { DeviceInput } from './device-input.ts';

/** Order of a device listing: most recently registered first, or by device ID. */
export type DeviceSort = 'newest' | 'deviceId';

/** Filters of a device listing. */
export interface DeviceFilter {
  channel?: string;
  /** Device IDs starting with this (printable ASCII, as device IDs are). */
  deviceIdPrefix?: string;
  /** Only devices whose push token is active, or only those a provider called invalid (docs/devices.md#push-token-lifecycle). */
  tokenStatus?: DeviceRow['token_status'];
}

/** Devices of one app on one channel; apps without devices appear once with `channel` null. */
export interface DeviceCountRow {
  app_id: string;
  name: string;
  platform: AppRow['platform'];
  channel: string | null;
  devices: number;
}

/** How many devices a write created and how many it changed. */
export interface UpsertCounts {
  inserted: number;
  updated: number;
}

/** Storage operations of the devices module; the route checks that the app is the caller's. */
export interface DeviceStore {
  listDevices(
    appId: string,
    filter: DeviceFilter,
    sort: DeviceSort,
    offset: number,
    limit: number,
  ): Promise<{ rows: DeviceRow[]; total: number }>;
  findDevice(appId: string, deviceId: string): Promise<DeviceRow | undefined>;
  /** The devices of `appId` among a few `deviceIds` (a test push's), in one query; unknown IDs are absent. */
  findDevices(appId: string, deviceIds: readonly string[]): Promise<DeviceRow[]>;
  /** Registers a device or replaces its token and channel; answers which of the two happened. */
  upsertDevice(row: DeviceRegistration): Promise<'inserted' | 'updated'>;
  /**
   * Upserts checked devices in one transaction, as if one after the other: a device ID repeated in
   * `devices` counts as inserted then updated, and its last occurrence wins.
   */
  upsertDevices(appId: string, devices: DeviceInput[], now: string): Promise<UpsertCounts>;
  /** Adds devices known to be new (a fresh app's fleet); within the caller's transaction when given. */
  insertNewDevices(rows: DeviceRegistration[], trx?: Kysely<Database>): Promise<void>;
  /** Answers false when there was no such device. */
  deleteDevice(appId: string, deviceId: string): Promise<boolean>;
  /** Devices per app and channel over a workspace's apps. */
  countDevices(workspaceId: string): Promise<DeviceCountRow[]>;
  startImport(row: DeviceImportRow): Promise<void>;
  /** Stages checked lines of an import; nothing reaches `devices` before `applyImport`. */
  stageImportLines(lines: DeviceImportLineRow[]): Promise<void>;
  /**
   * Applies a staged import in one transaction, as if its lines were upserted in file order (the
   * last line of a device wins); removes the staging rows and marks the import `applied`. Answers
   * how many devices the app gained.
   */
  applyImport(importId: string, appId: string, now: string): Promise<number>;
  /** Removes a refused or interrupted import: its staging rows and its own row. */
  rejectImport(importId: string): Promise<void>;
  /** Rejects imports still staging that started before `before` (their process died mid-import). */
  rejectStaleImports(before: string): Promise<number>;
}

// The widest multi-row statements: 1,000 rows of 6 columns stay far below SQLite's 32,766 and
// PostgreSQL's 65,535 bound parameters, and are big enough that per-statement costs vanish.
const ROWS_PER_STATEMENT = 1000;
// Lines applied per statement of an import. Each range is sorted by device ID; SQLite's sorter holds
// up to the page cache (16 MiB, storage/sqlite.ts) in memory and spills the rest to disk, so even a
// whole 1M-line file sorts in bounded memory, and one big range writes the index in order (fastest).
const APPLY_RANGE_LINES = 1_000_000;
// Rows looked up per `IN (…)` list.
const LOOKUP_CHUNK = 500;
// One byte above the highest printable ASCII character: every ID starting with a prefix sorts
// between the prefix and the prefix followed by this.
const AFTER_PRINTABLE = '\x7f';

const DEVICE_COLUMNS = ['app_id', 'device_id', 'push_token', 'channel', 'created_at', 'updated_at'] as const;
// A registration that may carry what the device says about itself (docs/devices.md#device-profile).
const PROFILE_COLUMNS = [...DEVICE_COLUMNS, 'time_zone', 'locale', 'app_version'] as const;

/** A registration with every profile column present (null when the device did not say). */
type ProfiledRegistration = DeviceRegistration & Pick<DeviceRow, 'time_zone' | 'locale' | 'app_version'>;

/** `row` with its left-out profile fields as null, as a multi-row statement needs every column. */
function profiled(row: DeviceRegistration): ProfiledRegistration {
  return {
    ...row,
    time_zone: row.time_zone ?? null,
    locale: row.locale ?? null,
    app_version: row.app_version ?? null,
  };
}

// Whether the push token a device is registered again with is the one it had (`devices` is the row
// as stored, `excluded` the registration): the same token keeps its status, a different one is a new
// token, active again (docs/devices.md#push-token-lifecycle).
const SAME_TOKEN = sql`devices.push_token = excluded.push_token`;

/**
 * What registering a known device again changes: token, channel, time, the token's status, and what
 * the device says about itself where the registration says it (a server-side batch or a CSV import
 * that knows no time zone keeps the one the SDK reported).
 */
const RE_REGISTRATION = {
  time_zone: sql<string | null>`coalesce(excluded.time_zone, devices.time_zone)`,
  locale: sql<string | null>`coalesce(excluded.locale, devices.locale)`,
  app_version: sql<string | null>`coalesce(excluded.app_version, devices.app_version)`,
  push_token: sql<string>`excluded.push_token`,
  channel: sql<string>`excluded.channel`,
  updated_at: sql<string>`excluded.updated_at`,
  token_status: sql<
    'active' | 'invalid'
  >`case when ${SAME_TOKEN} then devices.token_status else 'active' end`,
  token_invalid_at: sql<string | null>`case when ${SAME_TOKEN} then devices.token_invalid_at else null end`,
  token_invalid_reason: sql<
    string | null
  >`case when ${SAME_TOKEN} then devices.token_invalid_reason else null end`,
};
const STAGING_COLUMNS = ['import_id', 'line', 'device_id', 'push_token', 'channel'] as const;

/**
 * Writes many rows with one multi-row statement per `ROWS_PER_STATEMENT` rows. Kysely compiles the
 * full-size statement once and then only the parameters change: building the query tree of a thousand
 * rows again for every statement costs as much as SQLite's work (measured: 1M rows in 3.7 s instead
 * of 6.4 s). `build` receives placeholder rows whose keys are `columns` in that order.
 */
export function bulkWriter<R extends object>(
  columns: readonly (keyof R & string)[],
  build: (rows: R[]) => Compilable<unknown>,
): (executor: Kysely<Database>, rows: readonly R[]) => Promise<void> {
  const compile = (count: number): CompiledQuery => {
    const placeholder = Object.fromEntries(columns.map((c) => [c, null])) as R;
    const statement = build(Array.from({ length: count }, () => placeholder)).compile();
    // The compiled parameters must be exactly the placeholders, row by row, in column order.
    if (statement.parameters.length !== count * columns.length) {
      throw new Error(`bulkWriter: ${columns.length} columns expected in ${statement.sql.slice(0, 80)}`);
    }
    return statement;
  };
  let full: CompiledQuery | undefined;
  // Only the full size is kept: the last, shorter statement of a write varies in size and is rare.
  const compiled = (count: number): CompiledQuery => {
    if (count !== ROWS_PER_STATEMENT) return compile(count);
    full ??= compile(count);
    return full;
  };
  return async (executor, rows) => {
    for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
      const slice = rows.slice(start, start + ROWS_PER_STATEMENT);
      const parameters: unknown[] = [];
      for (const row of slice) for (const column of columns) parameters.push(row[column]);
      await executor.executeQuery({ ...compiled(slice.length), parameters });
    }
  };
}

/** What registering `device` for app `appId` at `now` (ISO 8601) writes. */
export function registrationOf(appId: string, device: DeviceInput, at: string): DeviceRegistration {
  return {
    app_id: appId,
    device_id: device.deviceId,
    push_token: device.pushToken,
    channel: device.channel,
    created_at: at,
    updated_at: at,
    time_zone: device.timeZone ?? null,
    locale: device.locale ?? null,
    app_version: device.appVersion ?? null,
  };
}

/** The device store over Kysely. */
export function createDeviceStore(db: Db): DeviceStore {
  const insertDevices = bulkWriter<DeviceRegistration>(DEVICE_COLUMNS, (rows) =>
    db.insertInto('devices').values(rows),
  );
  const upsertDeviceRows = bulkWriter<ProfiledRegistration>(PROFILE_COLUMNS, (rows) =>
    db
      .insertInto('devices')
      .values(rows)
      .onConflict((oc) => oc.columns(['app_id', 'device_id']).doUpdateSet(RE_REGISTRATION)),
  );
  const insertStagingRows = bulkWriter<DeviceImportLineRow>(STAGING_COLUMNS, (rows) =>
    db.insertInto('device_import_rows').values(rows),
  );

  async function countAppDevices(executor: Kysely<Database>, appId: string): Promise<number> {
    const row = await executor
      .selectFrom('devices')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('app_id', '=', appId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  // A refused import leaves nothing behind: neither its staged lines nor its own row.
  async function rejectImport(importId: string): Promise<void> {
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('device_import_rows').where('import_id', '=', importId).execute();
      await trx.deleteFrom('device_imports').where('id', '=', importId).execute();
    });
  }

  const filtered = (appId: string, filter: DeviceFilter) => {
    let query = db.selectFrom('devices').where('app_id', '=', appId);
    if (filter.channel) query = query.where('channel', '=', filter.channel);
    if (filter.tokenStatus) query = query.where('token_status', '=', filter.tokenStatus);
    if (filter.deviceIdPrefix) {
      // A range on the primary key instead of LIKE, which SQLite cannot serve from an index when it
      // ignores case. On PostgreSQL the range needs byte order: the "C" collation on device_id.
      query = query
        .where('device_id', '>=', filter.deviceIdPrefix)
        .where('device_id', '<', filter.deviceIdPrefix + AFTER_PRINTABLE);
    }
    return query;
  };

  return {
    async listDevices(appId, filter, sort, offset, limit) {
      const query = filtered(appId, filter);
      const ordered =
        sort === 'newest'
          ? query.orderBy('created_at', 'desc').orderBy('device_id', 'desc')
          : query.orderBy('device_id', 'asc');
      const [rows, count] = await Promise.all([
        ordered.selectAll().offset(offset).limit(limit).execute(),
        query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ]);
      return { rows, total: Number(count.n) };
    },
    findDevice: (appId, deviceId) =>
      db
        .selectFrom('devices')
        .selectAll()
        .where('app_id', '=', appId)
        .where('device_id', '=', deviceId)
        .executeTakeFirst(),
    findDevices: async (appId, deviceIds) =>
      deviceIds.length === 0
        ? []
        : db
            .selectFrom('devices')
            .selectAll()
            .where('app_id', '=', appId)
            .where('device_id', 'in', [...deviceIds])
            .execute(),
    upsertDevice: (row) =>
      db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('devices')
          .select('device_id')
          .where('app_id', '=', row.app_id)
          .where('device_id', '=', row.device_id)
          .executeTakeFirst();
        await upsertDeviceRows(trx, [profiled(row)]);
        return existing ? 'updated' : 'inserted';
      }),
    upsertDevices: (appId, devices, now) =>
      db.transaction().execute(async (trx) => {
        const known = new Set<string>();
        const ids = [...new Set(devices.map((d) => d.deviceId))];
        for (let start = 0; start < ids.length; start += LOOKUP_CHUNK) {
          const rows = await trx
            .selectFrom('devices')
            .select('device_id')
            .where('app_id', '=', appId)
            .where('device_id', 'in', ids.slice(start, start + LOOKUP_CHUNK))
            .execute();
          for (const row of rows) known.add(row.device_id);
        }
        const counts: UpsertCounts = { inserted: 0, updated: 0 };
        // One row per device ID, the last occurrence winning: PostgreSQL refuses a statement that
        // updates the same row twice.
        const latest = new Map<string, ProfiledRegistration>();
        for (const d of devices) {
          if (known.has(d.deviceId)) counts.updated++;
          else counts.inserted++;
          known.add(d.deviceId);
          latest.delete(d.deviceId);
          latest.set(d.deviceId, profiled(registrationOf(appId, d, now)));
        }
        await upsertDeviceRows(trx, [...latest.values()]);
        return counts;
      }),
    insertNewDevices: (rows, trx) => insertDevices(trx ?? db, rows),
    async deleteDevice(appId, deviceId) {
      const result = await db
        .deleteFrom('devices')
        .where('app_id', '=', appId)
        .where('device_id', '=', deviceId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async countDevices(workspaceId) {
      const rows = await db
        .selectFrom('apps')
        .leftJoin('devices', 'devices.app_id', 'apps.id')
        .select([
          'apps.id as app_id',
          'apps.name',
          'apps.platform',
          'devices.channel',
          (eb) => eb.fn.count<number>('devices.device_id').as('devices'),
        ])
        .where('apps.workspace_id', '=', workspaceId)
        .groupBy(['apps.id', 'apps.name', 'apps.platform', 'devices.channel'])
        .orderBy('apps.created_at', 'desc')
        .orderBy('apps.id', 'desc')
        .execute();
      return rows.map((r) => ({ ...r, devices: Number(r.devices) }));
    },
    async startImport(row) {
      await db.insertInto('device_imports').values(row).execute();
    },
    stageImportLines: (lines) => insertStagingRows(db, lines),
    applyImport: (importId, appId, now) =>
      db.transaction().execute(async (trx) => {
        const before = await countAppDevices(trx, appId);
        const { last } = await trx
          .selectFrom('device_import_rows')
          .select((eb) => eb.fn.max('line').as('last'))
          .where('import_id', '=', importId)
          .executeTakeFirstOrThrow();
        // Ranges of lines in file order, so that a later range overwrites what an earlier one wrote.
        // Each range is sorted by device ID and keeps each device's last line: PostgreSQL refuses a
        // statement that updates a row twice, and sorted rows keep the index writes local. A range
        // is bounded so that the sort fits in little memory whatever the file's size.
        for (let from = 0; from <= Number(last ?? -1); from += APPLY_RANGE_LINES) {
          const lastLines = trx
            .selectFrom((eb) =>
              eb
                .selectFrom('device_import_rows')
                .select((inner) => [
                  'device_id',
                  'push_token',
                  'channel',
                  inner.fn
                    .agg<number>('row_number')
                    .over((ob) => ob.partitionBy('device_id').orderBy('line', 'desc'))
                    .as('recency'),
                ])
                .where('import_id', '=', importId)
                .where('line', '>=', from)
                .where('line', '<', from + APPLY_RANGE_LINES)
                .as('ranked'),
            )
            .where('ranked.recency', '=', 1);
          await trx
            .insertInto('devices')
            .columns([...DEVICE_COLUMNS])
            .expression(
              lastLines.select((eb) => [
                eb.val(appId).as('app_id'),
                'ranked.device_id',
                'ranked.push_token',
                'ranked.channel',
                eb.val(now).as('created_at'),
                eb.val(now).as('updated_at'),
              ]),
            )
            .onConflict((oc) => oc.columns(['app_id', 'device_id']).doUpdateSet(RE_REGISTRATION))
            .execute();
        }
        await trx.deleteFrom('device_import_rows').where('import_id', '=', importId).execute();
        await trx
          .updateTable('device_imports')
          .set({ status: 'applied' })
          .where('id', '=', importId)
          .execute();
        // Cheaper than probing every line's device first. Exact on SQLite, where this transaction is
        // the only writer; on PostgreSQL a device registered for the app meanwhile counts as gained.
        return (await countAppDevices(trx, appId)) - before;
      }),
    rejectImport,
    async rejectStaleImports(before) {
      const stale = await db
        .selectFrom('device_imports')
        .select('id')
        .where('status', '=', 'staging')
        .where('created_at', '<', before)
        .execute();
      for (const { id } of stale) await rejectImport(id);
      return stale.length;
    },
  };
}
