/**
 * PostgreSQL only: the audience of every audience member is checked once per statement instead of
 * once per row. A foreign key is checked by a trigger per inserted row (a lookup and a row lock
 * each), which made Generate Audience of 1M members 2.5–3 × slower than the insert itself
 * (bench/README.md, `generate_audience`). The same guarantees, set-based:
 *
 * - a member's audience exists: after each INSERT or UPDATE statement, a trigger reads the
 *   statement's new rows (a transition table) once, and fails the statement with SQLSTATE 23503
 *   (`foreign_key_violation`) when one names no audience; it also takes the foreign key's
 *   `FOR KEY SHARE` lock on the audiences it found, so an audience cannot be deleted under members
 *   being added (a delete waits for the insert's transaction, and then removes its members too);
 * - deleting an audience deletes its members (the foreign key's `on delete cascade`), by a trigger
 *   per deleted audience.
 *
 * SQLite keeps the foreign key: its check is a lookup in the same process, cheap per row.
 */
import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../dialect.ts';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Replaces the members' foreign key by the statement-level check and the cascading delete. */
export async function up(db: AnyDb): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`alter table audience_members drop constraint audience_members_audience_id_fkey`.execute(db);
  // The tables are named through the trigger's own schema (`TG_TABLE_SCHEMA`), so the functions work
  // whatever the calling session's search_path; several deployments may share a database, one schema each.
  // Almost every statement adds members of one audience (min = max): one aggregate pass over the new
  // rows, no hashing, one locked lookup.
  await sql`
    create function audience_members_check_audience() returns trigger language plpgsql as $$
    declare
      lowest text;
      highest text;
      wanted bigint;
      present bigint;
    begin
      select min(audience_id), max(audience_id) into lowest, highest from added;
      if lowest is null then
        return null;
      end if;
      if lowest = highest then
        wanted := 1;
        execute format('select count(*) from (select 1 from %I.audiences where id = $1 for key share) a', tg_table_schema)
          into present using lowest;
      else
        select count(distinct audience_id) into wanted from added;
        execute format(
          'select count(*) from (select 1 from %I.audiences where id in (select audience_id from added) for key share) a',
          tg_table_schema
        ) into present;
      end if;
      if present < wanted then
        raise foreign_key_violation using
          message = 'insert or update on table "audience_members" names an audience that does not exist',
          table = 'audience_members';
      end if;
      return null;
    end
    $$`.execute(db);
  // Transition tables allow one event per trigger, hence two triggers for the one function.
  await sql`
    create trigger audience_members_audience_inserted after insert on audience_members
    referencing new table as added for each statement execute function audience_members_check_audience()`.execute(
    db,
  );
  await sql`
    create trigger audience_members_audience_updated after update on audience_members
    referencing new table as added for each statement execute function audience_members_check_audience()`.execute(
    db,
  );
  await sql`
    create function audiences_delete_members() returns trigger language plpgsql as $$
    begin
      execute format('delete from %I.audience_members where audience_id = $1', tg_table_schema) using old.id;
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger audiences_members_deleted after delete on audiences
    for each row execute function audiences_delete_members()`.execute(db);
}

/** Puts the foreign key back (checking every existing member once). */
export async function down(db: AnyDb): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`drop trigger audiences_members_deleted on audiences`.execute(db);
  await sql`drop function audiences_delete_members()`.execute(db);
  await sql`drop trigger audience_members_audience_updated on audience_members`.execute(db);
  await sql`drop trigger audience_members_audience_inserted on audience_members`.execute(db);
  await sql`drop function audience_members_check_audience()`.execute(db);
  await sql`
    alter table audience_members add constraint audience_members_audience_id_fkey
    foreign key (audience_id) references audiences (id) on delete cascade`.execute(db);
}
