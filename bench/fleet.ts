/**
 * Bench fixtures written straight into a store with SQL: a workspace, a simulator Android app, its
 * device fleet (OAID-like 36-character IDs, 44-character tokens, the first-run channel mix) and
 * audiences of its first devices. Rows are generated inside the database (SQLite or PostgreSQL), in
 * key order and in chunks of a million per transaction, so seeding ten million devices needs neither
 * JavaScript memory nor a giant WAL.
 */
import { sql } from 'kysely';
import type { Db } from '../server/src/storage/database.ts';
import { isPostgres } from '../server/src/storage/dialect.ts';

/** Devices written per transaction while seeding. */
const SEED_CHUNK = 1_000_000;

/** What `seedFleet` creates. */
export interface FleetSpec {
  workspaceId: string;
  appId: string;
  /** Registered devices of the app. */
  devices: number;
  /** Audiences to create, each holding the fleet's first `size` devices. */
  audiences: { id: string; size: number }[];
  now: Date;
  /** The app's provider; the simulator when absent. */
  provider?: 'simulator' | 'fcm';
  /** The app's provider config; `{seed: 1}` (the simulator's default funnel) when absent. */
  providerConfig?: Record<string, unknown>;
}

/** The ID of device `i` of a bench fleet: OAID-shaped, and sorting in the order of `i`. */
export const deviceIdSql = (i: string) =>
  `printf('%08x-%04x-4%03x-8%03x-%012x', ${i}, (${i} * 7919) % 65536, (${i} * 31) % 4096, (${i} * 17) % 4096, (${i} * 2654435761) % 281474976710656)`;

/** `deviceIdSql` in PostgreSQL's words (it has no printf); `i` must be a bigint, as SQLite's integers are. */
export const deviceIdPostgresSql = (i: string) =>
  `lpad(to_hex(${i}), 8, '0') || '-' || lpad(to_hex((${i} * 7919) % 65536), 4, '0') || '-4' ||
   lpad(to_hex((${i} * 31) % 4096), 3, '0') || '-8' || lpad(to_hex((${i} * 17) % 4096), 3, '0') || '-' ||
   lpad(to_hex((${i} * 2654435761) % 281474976710656), 12, '0')`;

/**
 * PostgreSQL's `n(i)`, the integers from `from` to `to - 1` in order, as the head of a `WITH` (the
 * recursive CTE the SQLite statements use, as `generate_series`): bigints, as SQLite's integers are.
 */
export function postgresSeries(from: number, to: number): string {
  return `with n(i) as (select generate_series(${from}::bigint, ${to - 1}))`;
}

/** The same ID as `deviceIdSql` computes inside SQLite, computed in JavaScript (receipts name devices by ID). */
export function deviceIdOf(i: number): string {
  const hex = (value: number | bigint, width: number) => value.toString(16).padStart(width, '0');
  // i × 2654435761 passes 2^53 from i ≈ 3.4M on: BigInt keeps it exact, as SQLite's 64-bit integers are.
  const mixed = (BigInt(i) * 2654435761n) % 281474976710656n;
  return `${hex(i, 8)}-${hex((i * 7919) % 65536, 4)}-4${hex((i * 31) % 4096, 3)}-8${hex((i * 17) % 4096, 3)}-${hex(mixed, 12)}`;
}

/** Writes the workspace (if new), the app, its fleet and the audiences. */
export async function seedFleet(db: Db, spec: FleetSpec): Promise<void> {
  const now = spec.now.toISOString();
  await db
    .insertInto('workspaces')
    .values({ id: spec.workspaceId, name: spec.workspaceId, created_at: now })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  await db
    .insertInto('apps')
    .values({
      id: spec.appId,
      workspace_id: spec.workspaceId,
      name: `Bench ${spec.appId}`,
      platform: 'android',
      provider: spec.provider ?? 'simulator',
      provider_config: JSON.stringify(spec.providerConfig ?? { seed: 1 }),
      receipt_secret: 'bench-receipt-secret',
      sdk_key: `bench-sdk-key-${spec.appId}`,
      sdk_secret: 'bench-sdk-secret',
      created_at: now,
      updated_at: now,
    })
    .execute();
  // The first-run channel mix (demo/first-run.ts): 35 % own channel, then Huawei, Xiaomi, OPPO, vivo, Honor.
  // An FCM app's devices are all reached through FCM.
  const channel =
    spec.provider === 'fcm'
      ? `'fcm'`
      : `case when (i * 37) % 100 < 35 then 'simulator' when (i * 37) % 100 < 57 then 'huawei'
    when (i * 37) % 100 < 73 then 'xiaomi' when (i * 37) % 100 < 84 then 'oppo'
    when (i * 37) % 100 < 94 then 'vivo' else 'honor' end`;
  const postgres = isPostgres(db);
  for (let from = 0; from < spec.devices; from += SEED_CHUNK) {
    const to = Math.min(spec.devices, from + SEED_CHUNK);
    if (postgres) {
      // 42 random hex digits, as SQLite's hex(randomblob(21)) (PostgreSQL has no random bytes without pgcrypto).
      await sql`
        ${sql.raw(postgresSeries(from, to))}
        insert into devices (app_id, device_id, push_token, channel, created_at, updated_at)
        select ${spec.appId}, ${sql.raw(deviceIdPostgresSql('i'))},
          'Ag' || upper(substr(md5(random()::text) || md5(random()::text), 1, 42)), ${sql.raw(channel)},
          ${now}, ${now}
        from n`.execute(db);
      continue;
    }
    await sql`
      with recursive n(i) as (select ${from} union all select i + 1 from n where i + 1 < ${to})
      insert into devices (app_id, device_id, push_token, channel, created_at, updated_at)
      select ${spec.appId}, ${sql.raw(deviceIdSql('i'))}, 'Ag' || hex(randomblob(21)), ${sql.raw(channel)},
        ${now}, ${now}
      from n`.execute(db);
  }
  for (const audience of spec.audiences) {
    await db
      .insertInto('audiences')
      .values({
        id: audience.id,
        workspace_id: spec.workspaceId,
        name: `Bench ${audience.size.toLocaleString('en')}`,
        source: 'api',
        status: 'ready',
        size: audience.size,
        file_name: null,
        source_task_id: null,
        source_filter: null,
        created_at: now,
      })
      .execute();
    for (let from = 0; from < audience.size; from += SEED_CHUNK) {
      const to = Math.min(audience.size, from + SEED_CHUNK);
      if (postgres) {
        await sql`
          ${sql.raw(postgresSeries(from, to))}
          insert into audience_members (audience_id, device_id)
          select ${audience.id}, ${sql.raw(deviceIdPostgresSql('i'))} from n`.execute(db);
        continue;
      }
      await sql`
        with recursive n(i) as (select ${from} union all select i + 1 from n where i + 1 < ${to})
        insert into audience_members (audience_id, device_id)
        select ${audience.id}, ${sql.raw(deviceIdSql('i'))} from n`.execute(db);
    }
  }
}
