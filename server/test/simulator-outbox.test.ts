/**
 * The simulator's reporter empties its outbox into the receipt endpoints. Several workers run one
 * each on the same store (scaled mode): a receipt is claimed by one reporter at a time, so it is
 * posted once; what could not be posted is taken again at the next look, and what a dead reporter
 * held is taken again once its claim runs out.
 */
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createSimulatorReporter } from '../src/providers/simulator-outbox.ts';
import type { SimulatorReceiptRow } from '../src/storage/database.ts';
import { sendFixture } from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
let appId: string;
beforeEach(async () => {
  t = await createTestInstance();
  appId = (await sendFixture(t, { devices: 0 })).appId;
});
afterEach(async () => {
  await t.close();
});

const DUE = '2026-01-01T00:00:00.000Z';

/** Puts `count` due receipts (opens and impressions) into the outbox. */
async function fillOutbox(count: number): Promise<void> {
  const rows: SimulatorReceiptRow[] = Array.from({ length: count }, (_, i) => ({
    task_id: 'tsk_outbox',
    device_id: `dev-${String(i).padStart(5, '0')}`,
    kind: i % 2 === 0 ? 'open' : 'impression',
    app_id: appId,
    channel: 'simulator',
    due_at: DUE,
    claimed_until: null,
  }));
  for (let i = 0; i < rows.length; i += 500) {
    await t.db
      .insertInto('simulator_receipts')
      .values(rows.slice(i, i + 500))
      .execute();
  }
}

/** A fake receipt endpoint: records every receipt posted, answers `status`. */
function endpoint(status = 200) {
  const posted: string[] = [];
  const fetch = (async (_url: string, init: RequestInit) => {
    // Let the other reporter run between claiming and answering, as a real network would.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const body = JSON.parse(String(init.body)) as { receipts: { deviceId: string; kind: string }[] };
    if (status < 300) for (const r of body.receipts) posted.push(`${r.deviceId}/${r.kind}`);
    return new Response('{}', { status });
  }) as typeof globalThis.fetch;
  return { posted, fetch };
}

function reporter(fetch: typeof globalThis.fetch, now = new Date('2026-01-01T00:00:01.000Z')) {
  return createSimulatorReporter({
    db: t.db,
    baseUrl: 'http://receipts.invalid',
    sign: () => 'signature',
    clock: () => now,
    fetch,
    batchSize: 100,
  });
}

async function outboxSize(): Promise<number> {
  const row = await t.db
    .selectFrom('simulator_receipts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

test('two reporters on one store post every receipt exactly once between them', async () => {
  await fillOutbox(1_000);
  const a = endpoint();
  const b = endpoint();
  const [postedA, postedB] = await Promise.all([reporter(a.fetch).flush(), reporter(b.fetch).flush()]);
  expect(postedA + postedB).toBe(1_000);
  const all = [...a.posted, ...b.posted];
  expect(all).toHaveLength(1_000);
  expect(new Set(all).size).toBe(1_000);
  expect(await outboxSize()).toBe(0);
});

test('receipts the server did not take are let go at once and posted at the next look', async () => {
  await fillOutbox(150);
  const down = endpoint(503);
  expect(await reporter(down.fetch).flush()).toBe(0);
  expect(await outboxSize()).toBe(150);
  const up = endpoint();
  expect(await reporter(up.fetch).flush()).toBe(150);
  expect(new Set(up.posted).size).toBe(150);
  expect(await outboxSize()).toBe(0);
});

test('receipts a dead reporter held are posted by another once its claim has run out', async () => {
  await fillOutbox(10);
  const claimedAt = new Date('2026-01-01T00:00:01.000Z');
  // A reporter that claimed the receipts and died before posting them.
  await t.db
    .updateTable('simulator_receipts')
    .set({ claimed_until: new Date(claimedAt.getTime() + 30_000).toISOString() })
    .execute();
  const early = endpoint();
  expect(await reporter(early.fetch, new Date(claimedAt.getTime() + 29_000)).flush()).toBe(0);
  const late = endpoint();
  expect(await reporter(late.fetch, new Date(claimedAt.getTime() + 30_000)).flush()).toBe(10);
  expect(await outboxSize()).toBe(0);
});
