/**
 * Unreadable receipts (docs/operations.md#receipts-streams-and-exports): provider callback items nobody could read are kept as received for
 * an operator, but at most 10,000 rows and 50 MB of payload per app; beyond that they are still
 * counted (in the answer, and in the app's tally as `dropped`) but not stored. The retention job
 * purges those older than the retention window, which frees the cap.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  keepUnreadable,
  UNREADABLE_BYTES_PER_APP,
  UNREADABLE_ROWS_PER_APP,
} from '../src/receipts/receipt-store.ts';
import { purgeExpiredDetails } from '../src/retention/retention.ts';
import { sendFixture } from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const HOUR = 3_600_000;

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

/** A Umeng app (its callbacks are the ones with unreadable items); answers its ID and receipt secret. */
async function umengApp() {
  const { appId } = await sendFixture(t, { devices: 1, provider: 'umeng' });
  const app = await t.db
    .selectFrom('apps')
    .select('receipt_secret')
    .where('id', '=', appId)
    .executeTakeFirstOrThrow();
  return { appId, secret: app.receipt_secret };
}

/** Posts `count` items Umeng's format does not describe to the app's receipt URL. */
async function postUnreadable(app: { appId: string; secret: string }, count: number, from = 0) {
  const body = Array.from({ length: count }, (_, i) => ({ unknown_shape: from + i }));
  const res = await t.app.inject({
    method: 'POST',
    url: `/api/v1/receipts/umeng/${app.appId}?secret=${encodeURIComponent(app.secret)}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { rejected: number; unreadable: number };
}

async function stored(appId: string) {
  const row = await t.db
    .selectFrom('unreadable_receipts')
    .select((eb) => [eb.fn.countAll<number>().as('rows'), eb.fn.sum<number>('payload_bytes').as('bytes')])
    .where('app_id', '=', appId)
    .executeTakeFirstOrThrow();
  return { rows: Number(row.rows), bytes: Number(row.bytes ?? 0) };
}

async function tally(appId: string) {
  return t.db
    .selectFrom('unreadable_receipt_counts')
    .select(['stored_rows', 'stored_bytes', 'dropped'])
    .where('app_id', '=', appId)
    .executeTakeFirst();
}

describe('unreadable receipts', () => {
  it(`an app keeps at most ${UNREADABLE_ROWS_PER_APP} of them; more are counted, not stored`, async () => {
    const app = await umengApp();
    const other = await umengApp();
    expect(await postUnreadable(app, 5000)).toMatchObject({ unreadable: 5000, rejected: 5000 });
    expect(await postUnreadable(app, 5000, 5000)).toMatchObject({ unreadable: 5000 });
    expect((await stored(app.appId)).rows).toBe(UNREADABLE_ROWS_PER_APP);
    // Past the cap: still answered and counted, nothing more stored.
    expect(await postUnreadable(app, 3, 10_000)).toMatchObject({ unreadable: 3, rejected: 3 });
    const now = await stored(app.appId);
    expect(now.rows).toBe(UNREADABLE_ROWS_PER_APP);
    expect(await tally(app.appId)).toEqual({ stored_rows: now.rows, stored_bytes: now.bytes, dropped: 3 });
    // The first ones are the ones kept.
    const newest = await t.db
      .selectFrom('unreadable_receipts')
      .select('payload')
      .where('app_id', '=', app.appId)
      .where('payload', '=', JSON.stringify({ unknown_shape: 10_000 }))
      .execute();
    expect(newest).toEqual([]);
    // Another app has a cap of its own.
    await postUnreadable(other, 2);
    expect((await stored(other.appId)).rows).toBe(2);
  });

  it('an app keeps at most 50 MB of their payload', async () => {
    const { appId } = await umengApp();
    // Each item is cut to 64 KiB when kept: 900 of them are more than 50 MB.
    const items = Array.from({ length: 900 }, (_, i) => ({ blob: `${i}-${'x'.repeat(70_000)}` }));
    const result = await keepUnreadable(t.db, appId, items, t.clock.now);
    const { rows, bytes } = await stored(appId);
    expect(bytes).toBeLessThanOrEqual(UNREADABLE_BYTES_PER_APP);
    expect(bytes + 64 * 1024).toBeGreaterThan(UNREADABLE_BYTES_PER_APP);
    expect(result).toEqual({ stored: rows, dropped: 900 - rows });
    expect(await tally(appId)).toEqual({ stored_rows: rows, stored_bytes: bytes, dropped: 900 - rows });
  });

  it('retention purges those older than the retention window, which frees the cap', async () => {
    const app = await umengApp();
    const start = t.clock.now;
    await postUnreadable(app, 5000);
    await postUnreadable(app, 5000, 5000);
    t.clock.now = new Date(start.getTime() + 48 * HOUR);
    await postUnreadable(app, 2, 10_000);
    expect(await tally(app.appId)).toMatchObject({ stored_rows: UNREADABLE_ROWS_PER_APP, dropped: 2 });

    t.clock.now = new Date(start.getTime() + 73 * HOUR);
    const report = await purgeExpiredDetails(t.db, t.clock.now, t.config, { chunkRows: 3000 });
    expect(report.unreadableReceipts).toBe(UNREADABLE_ROWS_PER_APP);
    expect(await stored(app.appId)).toEqual({ rows: 0, bytes: 0 });
    expect(await tally(app.appId)).toEqual({ stored_rows: 0, stored_bytes: 0, dropped: 2 });
    // Room again.
    expect(await postUnreadable(app, 4, 20_000)).toMatchObject({ unreadable: 4 });
    expect((await stored(app.appId)).rows).toBe(4);
    expect(await tally(app.appId)).toMatchObject({ stored_rows: 4, dropped: 2 });
  });
});
