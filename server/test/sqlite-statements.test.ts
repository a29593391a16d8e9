/**
 * The prepared-statement cache of the embedded store (`storage/sqlite.ts`, `withStatementCache`): a
 * statement run again is the one prepared before, statements that return rows and those that do not
 * answer as fresh ones would through Kysely, a streamed query does not share its busy statement, the
 * cache stays within its bound, and closing the connection finalizes what it kept.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { withStatementCache } from '../src/storage/sqlite.ts';

describe('the SQLite statement cache', () => {
  let dir: string;
  let database: SQLite.Database;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-statements-'));
    database = new SQLite(path.join(dir, 'store.db'));
    database.exec('create table things (id integer primary key, name text not null)');
  });
  afterEach(() => {
    if (database.open) database.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a statement run again is the one prepared before, until it is the least recently used past the bound', () => {
    const cached = withStatementCache(database, 2);
    const first = cached.prepare('select 1 as one');
    expect(cached.prepare('select 1 as one')).toBe(first);
    const second = cached.prepare('select 2 as two');
    // Using the first again makes the second the least recently used: a third text drops the second.
    expect(cached.prepare('select 1 as one')).toBe(first);
    cached.prepare('select 3 as three');
    expect(cached.prepare('select 1 as one')).toBe(first);
    expect(cached.prepare('select 2 as two')).not.toBe(second);
  });

  test('through Kysely, writes and reads answer as with fresh statements, run after run', async () => {
    const db = new Kysely<{ things: { id: number; name: string } }>({
      dialect: new SqliteDialect({ database: withStatementCache(database) }),
    });
    for (let round = 1; round <= 3; round++) {
      const inserted = await db
        .insertInto('things')
        .values({ id: round, name: `thing ${round}` })
        .executeTakeFirst();
      expect(inserted.insertId).toBe(BigInt(round));
      const renamed = await db
        .updateTable('things')
        .set({ name: 'renamed' })
        .where('id', '<=', round)
        .executeTakeFirst();
      expect(renamed.numUpdatedRows).toBe(BigInt(round));
      const rows = await db.selectFrom('things').select(['id', 'name']).orderBy('id').execute();
      expect(rows).toEqual(Array.from({ length: round }, (_, k) => ({ id: k + 1, name: 'renamed' })));
      // RETURNING makes a write a reader: its rows come back.
      const returned = await sql<{ id: number }>`delete from things where id = ${round} returning id`.execute(
        db,
      );
      expect(returned.rows).toEqual([{ id: round }]);
      await db.insertInto('things').values({ id: round, name: 'renamed' }).execute();
    }
    await db.destroy();
    expect(database.open).toBe(false);
  });

  test('a query run while the same one is streamed gets a statement of its own', async () => {
    database.exec("insert into things (id, name) values (1, 'a'), (2, 'b'), (3, 'c')");
    const cached = withStatementCache(database);
    const text = 'select id from things order by id';
    const streamed = cached.prepare(text).iterate([]);
    expect(streamed.next().value).toEqual({ id: 1 });
    // The cached statement is busy iterating; running the text again must not disturb it.
    expect(cached.prepare(text).all([])).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect([...streamed]).toEqual([{ id: 2 }, { id: 3 }]);
  });

  test('closing the connection finalizes the kept statements', () => {
    const cached = withStatementCache(database);
    const statement = cached.prepare('select count(*) as n from things');
    expect(statement.all([])).toEqual([{ n: 0 }]);
    cached.close();
    expect(database.open).toBe(false);
    expect(() => statement.all([])).toThrow(/not open/);
  });
});
