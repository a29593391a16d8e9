/**
 * The seeded database the `receipts`, `task_list`, `device_page`, `generate_audience` and `purge`
 * scenarios share: workspace `default` and its admin, one Android simulator app, ten "receipt" tasks
 * and one "details" task of `resultsPerTask` device results each (1M; 100k with --quick), all started
 * an hour ago (inside both windows), and filler tasks up to `tasks` in all (10,000; 1,000 with
 * --quick) for the task list. It is built once per run, inside the database (recursive CTEs on
 * SQLite, `generate_series` on PostgreSQL; in key order), and every scenario works on its own copy:
 * a copy of the file, or (`--scaled`) a clone of the database.
 *
 * On PostgreSQL the big tasks get IDs that begin with a creation time, as real ones do (`ids.ts`), so
 * that their results land in day partitions as the product's do (`result-partitions.ts`): the ten
 * receipt tasks in the partition of the day they would have been created on to be expired by the
 * `purge` scenario (`EXPIRED_BY_HOURS` past the retention window), the details task in today's. The
 * fixed embedded IDs (`tsk_bench…`) would sort after every day partition, into the default one.
 *
 * Every task's results follow one deterministic model of device index `i` (`RESULT_MODEL`), so the
 * receipt streams know which receipts are new without reading the database, and the task counters
 * agree with the rows (the device list takes some totals from them).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { loadConfig } from '../server/src/config.ts';
import { idFloor } from '../server/src/ids.ts';
import { KEY_FILE_NAME } from '../server/src/security/secret-box.ts';
import type { Database, Db, ReceiptKind } from '../server/src/storage/database.ts';
import { isPostgres } from '../server/src/storage/dialect.ts';
import { migrateToLatest } from '../server/src/storage/migrations/index.ts';
import { openPostgres } from '../server/src/storage/postgres.ts';
import { dayPartition, ensureResultPartitions } from '../server/src/storage/result-partitions.ts';
import { openSqlite } from '../server/src/storage/sqlite.ts';
import { bootstrapTenancy, DEFAULT_WORKSPACE_ID } from '../server/src/tenancy/bootstrap.ts';
import { deviceIdOf, deviceIdPostgresSql, deviceIdSql, postgresSeries } from './fleet.ts';
import type { BenchContext } from './harness.ts';
import type { ScaledRun } from './scaled.ts';
import type { BenchStore } from './store.ts';

/** Password of the seeded `admin` user. */
export const ADMIN_PASSWORD = 'bench-admin-password';
/** The Android simulator app every seeded task belongs to (IDs as long as real ones: they are in every key). */
export const APP_ID = 'app_benchresults00000000000000';
/** The app's SDK key (`X-Pushboard-Key` of SDK receipts). */
export const SDK_KEY = 'pbk_benchresults000000000000000000000000';
/** The app's SDK secret: SDK receipt bodies are signed with it. */
export const SDK_SECRET = 'bench-sdk-secret-0123456789abcdefghijklmnop';
/** The app's receipt secret: the simulator's callbacks are signed with it. */
export const RECEIPT_SECRET = 'bench-receipt-secret-0123456789abcdefghijkl';
const AUDIENCE_ID = 'aud_benchresults00000000000000';
/** Tasks receiving the receipt load, and the ones the purge scenario expires (embedded IDs). */
export const RECEIPT_TASKS = Array.from(
  { length: 10 },
  (_, k) => `tsk_benchreceipts${String(k).padStart(13, '0')}`,
);
/** The task whose devices are listed and saved as audiences, and which receives receipts during a purge (embedded ID). */
export const DETAILS_TASK = 'tsk_benchdetails00000000000000';
/** Hours past the retention window the `purge` scenario moves the receipt tasks' start to. */
export const EXPIRED_BY_HOURS = 28;

/** When the `purge` scenario says the receipt tasks started: `EXPIRED_BY_HOURS` past the retention window at `nowMs`. */
export function expiredStart(nowMs: number, retentionHours: number): Date {
  return new Date(nowMs - (retentionHours + EXPIRED_BY_HOURS) * 3_600_000);
}

/**
 * The task IDs of the scaled fixture: as long as real ones, beginning with the time a real task
 * would have been created at (receipt tasks: when the purge scenario says they started; details
 * task: now), so that their results live in that day's partition.
 */
function scaledTaskIds(now: Date): { receiptTasks: string[]; detailsTask: string } {
  const { retentionHours } = loadConfig({}, {});
  const receiptHead = idFloor('tsk', expiredStart(now.getTime(), retentionHours));
  return {
    receiptTasks: Array.from(
      { length: 10 },
      (_, k) => `${receiptHead}benchreceipt${String(k).padStart(4, '0')}`,
    ),
    detailsTask: `${idFloor('tsk', now)}benchdetails0000`,
  };
}

/**
 * The result of device `i` of every seeded task, by `h = (i × 19) mod 100` (19 is prime to 100, so
 * neighbours differ): 2 % failures, 58 % delivered, 40 % no feedback; impressions on 28 %, opens on
 * 10 %, dismissals on 6 % (all of them delivered devices).
 */
export const RESULT_MODEL = {
  failureBelow: 2,
  successBelow: 60,
  impressionBelow: 30,
  openBelow: 12,
  dismissalFrom: 12,
  dismissalBelow: 18,
} as const;

/** The model's bucket of device `i`. */
export function bucketOf(i: number): number {
  return (i * 19) % 100;
}

/** Whether device `i` of a seeded task already has receipt `kind` (`delivered`: is a success). */
export function hasReceipt(i: number, kind: ReceiptKind): boolean {
  const h = bucketOf(i);
  const m = RESULT_MODEL;
  if (h < m.failureBelow) return false;
  switch (kind) {
    case 'delivered':
      return h < m.successBelow;
    case 'impression':
      return h < m.impressionBelow;
    case 'open':
      return h < m.openBelow;
    case 'dismissal':
      return h >= m.dismissalFrom && h < m.dismissalBelow;
  }
}

/** Whether device `i` was rejected by the provider (no receipt applies to it). */
export function isFailure(i: number): boolean {
  return bucketOf(i) < RESULT_MODEL.failureBelow;
}

/** The seeded database of one run. */
export interface ResultsFixture {
  /** The template: copy it (`copyStore`), never write to it. */
  store: BenchStore;
  /** The ten tasks receiving receipts (and expired by `purge`): `RECEIPT_TASKS`, or their scaled twins. */
  receiptTasks: string[];
  /** The task listed and saved as audiences: `DETAILS_TASK`, or its scaled twin. */
  detailsTask: string;
  /** PostgreSQL: the day partition holding the receipt tasks' results (what `purge` drops). */
  receiptPartition?: string;
  /** Device results of each seeded task. */
  resultsPerTask: number;
  /** Device results in the table (all seeded tasks). */
  deviceResults: number;
  /** Tasks in the workspace (seeded ones and fillers). */
  tasks: number;
  /** When the seeded tasks started sending (ISO 8601). */
  startedAt: string;
  /** Seconds the seeding took. */
  seedSeconds: number;
  /** Size of the file (or database), in bytes. */
  bytes: number;
}

let shared: { key: string; fixture: Promise<ResultsFixture> } | undefined;

/**
 * The run's seeded database, built on first use and removed when the process exits (it outlives one
 * scenario's work folder, since seeding 11M rows is the slowest part of these scenarios).
 */
export function resultsFixture(
  sizes: { resultsPerTask: number; tasks: number },
  log: (message: string) => void,
  scaled?: ScaledRun,
): Promise<ResultsFixture> {
  const key = `${scaled ? 'scaled' : 'embedded'}/${sizes.resultsPerTask}/${sizes.tasks}`;
  if (shared?.key !== key) {
    if (scaled) {
      // The database is dropped with every other one of the run (`ScaledRun.cleanUp`).
      shared = { key, fixture: seedScaled(scaled, sizes, log) };
    } else {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushboard-bench-results-'));
      // An interrupted run exits through 'exit' too (run.ts), rather than leaving 1.5 GB in the temp folder.
      process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
      shared = { key, fixture: seed(path.join(dir, 'template.db'), sizes, log) };
    }
  }
  return shared.fixture;
}

function taskCounters(devices: number) {
  const counters = { deliveries: 0, failures: 0, no_feedback: 0, impressions: 0, opens: 0, dismissals: 0 };
  for (let i = 0; i < devices; i++) {
    if (isFailure(i)) counters.failures++;
    else if (hasReceipt(i, 'delivered')) counters.deliveries++;
    else counters.no_feedback++;
    if (hasReceipt(i, 'impression')) counters.impressions++;
    if (hasReceipt(i, 'open')) counters.opens++;
    if (hasReceipt(i, 'dismissal')) counters.dismissals++;
  }
  return counters;
}

async function seed(
  file: string,
  sizes: { resultsPerTask: number; tasks: number },
  log: (message: string) => void,
): Promise<ResultsFixture> {
  const started = performance.now();
  const ids = { receiptTasks: RECEIPT_TASKS, detailsTask: DETAILS_TASK };
  const db = openSqlite(file);
  let startedAt: string;
  try {
    startedAt = await seedContent(db, ids, sizes, log);
    await sql`pragma wal_checkpoint(truncate)`.execute(db);
  } finally {
    await db.destroy();
  }
  const seedSeconds = (performance.now() - started) / 1000;
  const bytes = fs.statSync(file).size;
  log(`results fixture: ${seedSeconds.toFixed(1)} s, ${(bytes / 1e6).toFixed(0)} MB`);
  return {
    store: { kind: 'sqlite', file },
    ...ids,
    resultsPerTask: sizes.resultsPerTask,
    deviceResults: sizes.resultsPerTask * (ids.receiptTasks.length + 1),
    tasks: sizes.tasks,
    startedAt,
    seedSeconds,
    bytes,
  };
}

/** The fixture in a PostgreSQL database of the run, vacuumed and analysed as a database in service would be. */
async function seedScaled(
  scaled: ScaledRun,
  sizes: { resultsPerTask: number; tasks: number },
  log: (message: string) => void,
): Promise<ResultsFixture> {
  const started = performance.now();
  const now = new Date();
  const ids = scaledTaskIds(now);
  const database = await scaled.createDatabase('results');
  const db = await openPostgres(database.url);
  let startedAt: string;
  let bytes: number;
  try {
    await migrateToLatest(db);
    // The receipt tasks' day partition, made as the retention job makes partitions ahead.
    const { retentionHours } = loadConfig({}, {});
    await ensureResultPartitions(db, expiredStart(now.getTime(), retentionHours));
    startedAt = await seedContent(db, ids, sizes, log);
    // Without statistics the planner guesses; without the visibility map no index-only scan. A
    // database in service has both (autovacuum), so the fixture gets them before anything is timed.
    await sql`vacuum (analyze)`.execute(db);
    const { rows } = await sql<{ bytes: number }>`
      select pg_database_size(current_database()) as bytes`.execute(db);
    bytes = Number(rows[0]?.bytes ?? 0);
  } finally {
    await db.destroy();
  }
  const receiptPartition = dayPartition(expiredStart(now.getTime(), loadConfig({}, {}).retentionHours)).table;
  const seedSeconds = (performance.now() - started) / 1000;
  log(
    `results fixture: ${seedSeconds.toFixed(1)} s, ${(bytes / 1e6).toFixed(0)} MB (PostgreSQL ${database.name})`,
  );
  return {
    store: { kind: 'postgres', ...database },
    ...ids,
    receiptPartition,
    resultsPerTask: sizes.resultsPerTask,
    deviceResults: sizes.resultsPerTask * (ids.receiptTasks.length + 1),
    tasks: sizes.tasks,
    startedAt,
    seedSeconds,
    bytes,
  };
}

/** Writes the fixture's rows into a migrated (or new SQLite) store; answers when the big tasks started. */
async function seedContent(
  db: Db,
  ids: { receiptTasks: string[]; detailsTask: string },
  sizes: { resultsPerTask: number; tasks: number },
  log: (message: string) => void,
): Promise<string> {
  const n = sizes.resultsPerTask;
  const bigTasks = [...ids.receiptTasks, ids.detailsTask];
  log(
    `results fixture: seeding ${(n * bigTasks.length).toLocaleString('en')} device results and ` +
      `${sizes.tasks.toLocaleString('en')} tasks…`,
  );
  const now = new Date();
  const iso = now.toISOString();
  const startedAt = new Date(now.getTime() - 3_600_000).toISOString();
  const receiptAt = new Date(now.getTime() - 3_000_000).toISOString();
  await migrateToLatest(db);
  await bootstrapTenancy(db, ADMIN_PASSWORD, now);
  await db
    .insertInto('apps')
    .values({
      id: APP_ID,
      workspace_id: DEFAULT_WORKSPACE_ID,
      name: 'Bench Android',
      platform: 'android',
      provider: 'simulator',
      provider_config: JSON.stringify({ seed: 1 }),
      receipt_secret: RECEIPT_SECRET,
      sdk_key: SDK_KEY,
      sdk_secret: SDK_SECRET,
      created_at: iso,
      updated_at: iso,
    })
    .execute();
  // The tasks' audience; its members are not needed (nothing is sent), only its name in the list.
  await db
    .insertInto('audiences')
    .values({
      id: AUDIENCE_ID,
      workspace_id: DEFAULT_WORKSPACE_ID,
      name: 'Bench audience',
      source: 'api',
      status: 'ready',
      size: n,
      file_name: null,
      source_task_id: null,
      source_filter: null,
      created_at: iso,
    })
    .execute();
  await seedSubCampaigns(db, iso);
  const counters = taskCounters(n);
  const content = {
    workspace_id: DEFAULT_WORKSPACE_ID,
    app_id: APP_ID,
    title: 'Spring sale',
    content: '20% off everything today, only in the app',
    click_action: JSON.stringify({ type: 'open_app' }),
    audience_id: AUDIENCE_ID,
    send_type: 'immediate' as const,
    scheduled_at: null,
    failure_reason: null,
    unmatched: 0,
    capped: 0,
    pending: 0,
    cancelled: 0,
    late: 0,
    details_purged_at: null,
  };
  for (const [k, id] of bigTasks.entries()) {
    const createdAt = new Date(now.getTime() - 3_700_000 - k * 60_000).toISOString();
    await db
      .insertInto('tasks')
      .values({
        ...content,
        id,
        name: `Bench send ${k + 1}`,
        status: 'completed',
        created_at: createdAt,
        updated_at: startedAt,
        started_at: startedAt,
        completed_at: startedAt,
        planned_sends: n,
        total_sent: n,
        ...counters,
      })
      .execute();
  }
  await seedResults(db, bigTasks, n, receiptAt);
  await seedFillerTasks(db, sizes.tasks - bigTasks.length, now);
  // The JavaScript twin of the SQL device IDs must agree, or every receipt would be rejected.
  const probe = Math.min(n - 1, 987_654);
  const row = await db
    .selectFrom('device_results')
    .select('device_id')
    .where('task_id', '=', ids.detailsTask)
    .orderBy('device_id')
    .offset(probe)
    .limit(1)
    .executeTakeFirstOrThrow();
  if (row.device_id !== deviceIdOf(probe)) {
    throw new Error(`deviceIdOf(${probe}) = ${deviceIdOf(probe)} but the database wrote ${row.device_id}`);
  }
  return startedAt;
}

/**
 * Writes the model's results for every task: generated once into a scratch table (the series and the
 * ID formatting are the slow part), then copied per task in key order, a task per statement (1M rows
 * ≈ 1.2 s on SQLite). On PostgreSQL the scratch table is unlogged rather than temporary (a temporary
 * one would belong to one connection of the pool) and has no `with recursive` series.
 */
async function seedResults(db: Db, taskIds: string[], devices: number, at: string): Promise<void> {
  const postgres = isPostgres(db);
  const m = RESULT_MODEL;
  const channel = `case when (i * 37) % 100 < 35 then 'simulator' when (i * 37) % 100 < 57 then 'huawei'
    when (i * 37) % 100 < 73 then 'xiaomi' when (i * 37) % 100 < 84 then 'oppo'
    when (i * 37) % 100 < 94 then 'vivo' else 'honor' end`;
  const scratch = sql.table(postgres ? 'bench_seed_results' : 'seed_results');
  // CREATE TABLE AS takes no bound parameters on PostgreSQL: the few constants are literals.
  const time = sql.lit(at);
  const below = (name: keyof typeof m) => sql.lit(m[name]);
  if (postgres) await sql`drop table if exists ${scratch}`.execute(db);
  // The same model as `hasReceipt`, in SQL; batches of 2,000 devices as the dispatcher makes them.
  // The series comes out in `i` order, which is device ID order: the copies append to the B-tree.
  await sql`
    create ${sql.raw(postgres ? 'unlogged' : 'temp')} table ${scratch} as
    ${sql.raw(postgres ? postgresSeries(0, devices) : `with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ${devices})`)},
    d(i, h) as (select i, (i * 19) % 100 from n)
    select ${sql.raw(postgres ? deviceIdPostgresSql('i') : deviceIdSql('i'))} as device_id,
      cast(i / 2000 + 1 as integer) as batch_seq, ${sql.raw(channel)} as channel,
      case when h < ${below('failureBelow')} then 'failure' when h < ${below('successBelow')} then 'success'
        else 'no_feedback' end as send_result,
      case when h < ${below('failureBelow')} then 'INVALID_TOKEN' end as failure_reason,
      case when h >= ${below('failureBelow')} and h < ${below('successBelow')} then ${time} end as delivered_at,
      case when h >= ${below('failureBelow')} and h < ${below('impressionBelow')} then ${time} end as impression_at,
      case when h >= ${below('failureBelow')} and h < ${below('openBelow')} then ${time} end as open_at,
      case when h >= ${below('dismissalFrom')} and h < ${below('dismissalBelow')} then ${time} end as dismissal_at
    from d order by i`.execute(db);
  for (const taskId of taskIds) {
    await sql`
      insert into device_results (task_id, device_id, batch_seq, channel, send_result, failure_reason,
        delivered_at, impression_at, open_at, dismissal_at)
      select ${taskId}, device_id, batch_seq, channel, send_result, failure_reason, delivered_at,
        impression_at, open_at, dismissal_at
      from ${scratch}`.execute(db);
  }
  await sql`drop table ${scratch}`.execute(db);
}

/** One campaign with five sub-campaigns; a third of the tasks are linked to one, as the list shows them. */
async function seedSubCampaigns(db: Db, iso: string): Promise<void> {
  await db
    .insertInto('campaigns')
    .values({
      id: 'cmp_bench000000000000000000000',
      workspace_id: DEFAULT_WORKSPACE_ID,
      name: 'Bench campaign',
      description: '',
      created_at: iso,
      updated_at: iso,
    })
    .execute();
  await db
    .insertInto('sub_campaigns')
    .values(
      Array.from({ length: 5 }, (_, k) => ({
        id: `sub_bench${String(k).padStart(21, '0')}`,
        workspace_id: DEFAULT_WORKSPACE_ID,
        campaign_id: 'cmp_bench000000000000000000000',
        name: `Wave ${k + 1}`,
        created_at: iso,
        updated_at: iso,
      })),
    )
    .execute();
}

/**
 * Older tasks of the workspace, one every few minutes back over 90 days: mostly completed (their
 * details purged long ago), some failed, some scheduled for later; counters of a 50,000-device send.
 * One statement for both backends; only the series, the padding and the time formatting differ.
 */
async function seedFillerTasks(db: Db, count: number, now: Date): Promise<void> {
  if (count <= 0) return;
  const postgres = isPostgres(db);
  const spacingMs = Math.floor((90 * 86_400_000) / count);
  const base = now.getTime() - 7_200_000;
  /** ISO text of the epoch milliseconds that `expression` computes. */
  const time = (expression: string) =>
    sql.raw(
      postgres
        ? `to_char(to_timestamp((${expression}) / 1000.0) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
        : `strftime('%Y-%m-%dT%H:%M:%fZ', (${expression}) / 1000.0, 'unixepoch')`,
    );
  /** `prefix` then the integer `expression` zero-padded to `width` digits. */
  const padded = (prefix: string, expression: string, width: number) =>
    sql.raw(
      postgres
        ? `'${prefix}' || lpad((${expression})::text, ${width}, '0')`
        : `printf('${prefix}%0${width}d', ${expression})`,
    );
  const series = postgres
    ? sql.raw(postgresSeries(0, count))
    : sql`with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ${count})`;
  await sql`
    ${series}
    insert into tasks (id, workspace_id, app_id, name, title, content, click_action, audience_id, send_type,
      scheduled_at, status, failure_reason, created_at, updated_at, started_at, completed_at, planned_sends,
      unmatched, total_sent, deliveries, failures, no_feedback, impressions, opens, dismissals, pending, late,
      details_purged_at)
    select ${padded('tsk_benchlist', 'i', 17)}, ${DEFAULT_WORKSPACE_ID}, ${APP_ID}, 'Weekly digest #' || i,
      'Weekly digest', 'What happened this week', '{"type":"open_app"}', ${AUDIENCE_ID},
      case when i % 50 = 0 then 'scheduled' else 'immediate' end,
      case when i % 50 = 0 then ${time(`${now.getTime()} + 86400000 + i * 60000`)} end,
      case when i % 50 = 0 then 'scheduled' when i % 50 = 1 then 'failed' else 'completed' end,
      case when i % 50 = 1 then 'Provider rejected the request' end,
      ${time(`${base} - i * ${spacingMs}`)}, ${time(`${base} - i * ${spacingMs} + 60000`)},
      case when i % 50 = 0 then null else ${time(`${base} - i * ${spacingMs} + 60000`)} end,
      case when i % 50 = 0 then null else ${time(`${base} - i * ${spacingMs} + 120000`)} end,
      p, p - t, t, d, f, t - d - f, d / 2, d / 10, d / 20, 0, 0,
      case when i % 50 = 0 then null else ${time(`${now.getTime()} - 3600000`)} end
    from (select i, case when i % 50 = 0 then 0 else 51000 end as p, case when i % 50 = 0 then 0 else 50000 end as t,
      case when i % 50 = 0 then 0 else 28000 + i % 1000 end as d,
      case when i % 50 = 0 then 0 else 1000 end as f from n) as s`.execute(db);
  await sql`
    insert into task_sub_campaigns (task_id, sub_campaign_id)
    select id, ${padded('sub_bench', 'cast(substr(id, 14) as integer) % 5', 21)} from tasks
    where id like 'tsk_benchlist%' and cast(substr(id, 14) as integer) % 3 = 0`.execute(db);
}

/** The pragmas the server's store runs with (`openSqlite`), read back from it, for raw probes. */
export async function storePragmas(file: string): Promise<string[]> {
  const db = openSqlite(file);
  try {
    const pragmas: string[] = [];
    for (const name of [
      'journal_mode',
      'synchronous',
      'foreign_keys',
      'busy_timeout',
      'cache_size',
      'temp_store',
    ]) {
      const row = (await sql.raw(`pragma ${name}`).execute(db)).rows[0] as Record<string, unknown>;
      pragmas.push(`${name} = ${String(Object.values(row)[0])}`);
    }
    return pragmas;
  } finally {
    await db.destroy();
  }
}

/** A raw better-sqlite3 handle on `file` with the store's pragmas (and its `lower`), for probes. */
export function openRaw(file: string, pragmas: string[]): SQLite.Database {
  const database = new SQLite(file);
  for (const pragma of pragmas) database.pragma(pragma);
  // As `openSqlite` does: the store's queries may call it (sub-campaign names are sorted with it).
  database.function('lower', { deterministic: true }, (text: unknown) =>
    typeof text === 'string' ? text.toLowerCase() : text,
  );
  return database;
}

/** A statement as the store sent it to SQLite. */
export interface CapturedQuery {
  sql: string;
  parameters: readonly unknown[];
}

/**
 * Runs store code over `database` and answers the SQL it sent, so that a probe can time exactly the
 * statements a request runs, as prepared better-sqlite3 statements without Kysely or HTTP around.
 */
export async function captureQueries(
  database: SQLite.Database,
  run: (db: Db) => Promise<unknown>,
): Promise<CapturedQuery[]> {
  const captured: CapturedQuery[] = [];
  // Not destroyed: that would close `database`, which the caller owns.
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database }),
    log: (event) => {
      if (event.level === 'query')
        captured.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  await run(db);
  return captured;
}

/** Copies a database file (after a checkpoint, the file alone is the database). */
export function copyDatabase(from: string, to: string): void {
  fs.copyFileSync(from, to);
  // The app secrets in the file are sealed with the key file beside it (storage/sqlite.ts): without
  // it the copy would get a new key and every signed receipt request would fail to open them.
  const key = path.join(path.dirname(from), KEY_FILE_NAME);
  const copiedKey = path.join(path.dirname(to), KEY_FILE_NAME);
  if (fs.existsSync(key) && !fs.existsSync(copiedKey)) fs.copyFileSync(key, copiedKey);
}

/** Removes a database file and its WAL files. */
export function removeDatabase(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
}

/** The run's seeded database at docs/benchmarks.md sizes: 1M results per task and 10,000 tasks (÷ 10 with --quick). */
export function benchFixture(ctx: BenchContext): Promise<ResultsFixture> {
  return resultsFixture(
    { resultsPerTask: ctx.scale(1_000_000), tasks: ctx.scale(10_000) },
    ctx.log,
    ctx.scaled,
  );
}
