/**
 * What several processes sharing one store need. The simulator's outbox gets a claim, so that several
 * workers' reporters never post the same receipt at once. PostgreSQL only: `device_results` becomes
 * a table partitioned by task ID range, one partition per day of task creation
 * (`../result-partitions.ts`), so that retention drops whole partitions; SQLite keeps one table.
 */
import { type Kysely, sql } from 'kysely';
import type { Db } from '../database.ts';
import { isPostgres } from '../dialect.ts';
import { ensureResultPartitions } from '../result-partitions.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Adds the outbox claim; partitions `device_results` on PostgreSQL (moving any rows over). */
export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable('simulator_receipts').addColumn('claimed_until', 'text').execute();
  if (!isPostgres(db)) return;
  await sql`alter table device_results rename to device_results_unpartitioned`.execute(db);
  await sql`alter index device_results_pk rename to device_results_unpartitioned_pk`.execute(db);
  await sql`
    create table device_results (like device_results_unpartitioned including defaults)
    partition by range (task_id)`.execute(db);
  // Unique across partitions, since the partition key (task_id) is part of it.
  await sql`alter table device_results add constraint device_results_pk primary key (task_id, device_id)`.execute(
    db,
  );
  await sql`create table device_results_default partition of device_results default`.execute(db);
  await sql`insert into device_results select * from device_results_unpartitioned`.execute(db);
  await sql`drop table device_results_unpartitioned`.execute(db);
  await ensureResultPartitions(db as unknown as Db, new Date());
}

/** Drops the outbox claim; turns `device_results` back into one table on PostgreSQL. */
export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable('simulator_receipts').dropColumn('claimed_until').execute();
  if (!isPostgres(db)) return;
  await sql`create table device_results_plain (like device_results including defaults)`.execute(db);
  await sql`insert into device_results_plain select * from device_results`.execute(db);
  await sql`drop table device_results`.execute(db);
  await sql`alter table device_results_plain rename to device_results`.execute(db);
  await sql`alter table device_results add constraint device_results_pk primary key (task_id, device_id)`.execute(
    db,
  );
}
