/**
 * The dialect helpers of `storage/dialect.ts` and `storage/result-partitions.ts`: on both backends
 * they read the same rows; on PostgreSQL the lock helpers take the locks they are named for (another
 * connection's `nowait` lock fails while they hold them).
 */
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Db } from '../src/storage/database.ts';
import {
  lockRowsForUpdate,
  lockRowsInKeyOrder,
  selectForShare,
  selectForUpdate,
  skipLockedRows,
} from '../src/storage/dialect.ts';
import { resultsDeletedRowByRow, rotateResultPartitions } from '../src/storage/result-partitions.ts';
import { createTenancyStore } from '../src/tenancy/tenancy-store.ts';
import { BACKENDS, type BackendHandle, SCALED } from './backends.ts';
import { at, insertReadyAudience } from './store-rows.ts';

/** Whether another connection's `for <mode> nowait` on the audience is refused: someone holds a lock. */
async function lockedAgainst(db: Db, mode: 'share' | 'update'): Promise<boolean> {
  try {
    await sql`select id from audiences where id = 'aud_1' for ${sql.raw(mode)} nowait`.execute(db);
    return false;
  } catch {
    return true;
  }
}

describe.each(BACKENDS)('dialect helpers on $name', (backend) => {
  let h: BackendHandle;
  beforeEach(async () => {
    h = await backend.open();
    await createTenancyStore(h.db).insertWorkspace({ id: 'ws_1', name: 'One', created_at: at(0) }, null);
    await insertReadyAudience(h.db, 'aud_1');
  });
  afterEach(async () => {
    await h.dispose();
  });

  const audience = (db: Db) => db.selectFrom('audiences').select('id').where('id', '=', 'aud_1');

  test('selectForUpdate reads the rows and holds them exclusively', async () => {
    await h.db.transaction().execute(async (trx) => {
      expect(await selectForUpdate(trx, audience(trx)).execute()).toEqual([{ id: 'aud_1' }]);
      if (SCALED) expect(await lockedAgainst(h.db, 'share')).toBe(true);
    });
  });

  test('selectForShare reads the rows and holds them against writers only', async () => {
    await h.db.transaction().execute(async (trx) => {
      expect(await selectForShare(trx, audience(trx)).execute()).toEqual([{ id: 'aud_1' }]);
      if (SCALED) {
        expect(await lockedAgainst(h.db, 'share')).toBe(false);
        expect(await lockedAgainst(h.db, 'update')).toBe(true);
      }
    });
  });

  test('lockRowsForUpdate and lockRowsInKeyOrder hold the rows exclusively', async () => {
    await h.db.transaction().execute(async (trx) => {
      await lockRowsForUpdate(trx, audience(trx));
      if (SCALED) expect(await lockedAgainst(h.db, 'share')).toBe(true);
    });
    await h.db.transaction().execute(async (trx) => {
      await lockRowsInKeyOrder(trx, 'audiences', ['workspace_id', 'id'], [['ws_1', 'aud_1']]);
      await lockRowsInKeyOrder(trx, 'audiences', ['workspace_id', 'id'], []);
      if (SCALED) expect(await lockedAgainst(h.db, 'share')).toBe(true);
    });
  });

  test('skipLockedRows passes over the rows another transaction holds', async () => {
    const claimable = (db: Db) =>
      sql<{ id: string }>`select id from audiences where id = 'aud_1' ${skipLockedRows(db)}`.execute(db);
    expect((await claimable(h.db)).rows).toEqual([{ id: 'aud_1' }]);
    if (!SCALED) return;
    await h.db.transaction().execute(async (trx) => {
      await selectForUpdate(trx, audience(trx)).execute();
      expect((await claimable(h.db)).rows).toEqual([]);
    });
  });

  test('device results are deleted row by row from the table outside the day partitions', async () => {
    expect(resultsDeletedRowByRow(h.db)).toBe(SCALED ? 'device_results_default' : 'device_results');
    expect(await rotateResultPartitions(h.db, new Date())).toBe(0);
  });
});
