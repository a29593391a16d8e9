/**
 * The retention rule (docs/statistics.md#windows): device results are deleted once a task's retention window has
 * passed — by the function, the periodic job and `pushboard purge --as-of` — while the aggregate
 * statistics stay; nothing before the window's end is touched.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRetentionJob, purgeExpiredDetails } from '../src/retention/retention.ts';
import { dayPartition, dropExpiredResultPartitions } from '../src/storage/result-partitions.ts';
import { SCALED } from './backends.ts';
import { createTask, readTask, sendFixture, testDispatcher, waitFor } from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/pushboard.js');
const HOUR = 3_600_000;

/**
 * What a purge reports having deleted row by row: on PostgreSQL the results of tasks made today sit
 * in today's day partition, which is dropped whole once the day is over (tested below), not deleted.
 */
function rowsDeleted(rows: number): number {
  return SCALED ? 0 : rows;
}

/** A purge report with nothing dropped whole. */
function purged(tasks: number, rows: number) {
  return {
    tasks,
    deviceResults: rowsDeleted(rows),
    partitionsDropped: 0,
    unreadableReceipts: 0,
    loginThrottles: 0,
    frequencySends: 0,
  };
}

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

/** Sends a task of `devices` devices now (the test clock) and answers its ID and start time. */
async function sentTask(devices: number) {
  const fixture = await sendFixture(t, { devices, config: { seed: 5 } });
  const dispatcher = testDispatcher(t);
  await dispatcher.start();
  const taskId = await createTask(t, fixture);
  await dispatcher.poll();
  const task = await waitFor(
    () => readTask(t.db, taskId),
    (task) => task.status === 'completed',
  );
  await dispatcher.stop();
  return { taskId, startedAt: new Date(task.startedAt!), counts: task.counts };
}

async function resultCount(taskId: string): Promise<number> {
  const row = await t.db
    .selectFrom('device_results')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('task_id', '=', taskId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('purgeExpiredDetails', () => {
  it('deletes the results of expired tasks in chunks, keeps the statistics, leaves the others', async () => {
    const old = await sentTask(57);
    t.clock.now = new Date(t.clock.now.getTime() + 10 * HOUR);
    const recent = await sentTask(20);
    const settings = { statisticsWindowHours: 72, retentionHours: 72 };
    // A journal group left behind by a batch job that ran twice (scaled mode): nothing else removes it.
    const orphan = (taskId: string) => ({ task_id: taskId, batch_seq: 1, group_id: 'g1', answers: '[]' });
    await t.db
      .insertInto('handover_answers')
      .values([orphan(old.taskId), orphan(recent.taskId)])
      .execute();
    const journal = async () =>
      (await t.db.selectFrom('handover_answers').select('task_id').execute()).map((r) => r.task_id);

    const early = await purgeExpiredDetails(
      t.db,
      new Date(old.startedAt.getTime() + 72 * HOUR - 1),
      settings,
    );
    expect(early).toEqual(purged(0, 0));
    expect(await resultCount(old.taskId)).toBe(57);

    const progress: number[] = [];
    const asOf = new Date(old.startedAt.getTime() + 72 * HOUR);
    const report = await purgeExpiredDetails(t.db, asOf, settings, {
      chunkRows: 10,
      onProgress: (p) => progress.push(p.deviceResults),
    });
    expect(report).toEqual(purged(1, 57));
    expect(progress).toEqual(SCALED ? [0] : [10, 20, 30, 40, 50, 57]);
    expect(await resultCount(old.taskId)).toBe(SCALED ? 57 : 0);
    expect(await resultCount(recent.taskId)).toBe(20);
    const task = await t.db
      .selectFrom('tasks')
      .select('details_purged_at')
      .where('id', '=', old.taskId)
      .executeTakeFirstOrThrow();
    expect(task.details_purged_at).toBe(asOf.toISOString());
    expect((await readTask(t.db, old.taskId)).counts).toEqual(old.counts);
    expect(await journal()).toEqual([recent.taskId]);

    // Done is done: a second run finds nothing, whatever the time.
    expect(await purgeExpiredDetails(t.db, asOf, settings)).toEqual(purged(0, 0));
  });

  it('runs as a periodic job on its clock', async () => {
    const sent = await sentTask(12);
    const clock = { now: t.clock.now };
    const lines: string[] = [];
    const job = createRetentionJob({
      db: t.db,
      settings: { statisticsWindowHours: 72, retentionHours: 24 },
      intervalMs: 60_000,
      clock: () => clock.now,
      logger: { info: (_d, m) => lines.push(m), error: (_d, m) => lines.push(m) },
    });
    expect(await job.runOnce()).toEqual(purged(0, 0));
    clock.now = new Date(sent.startedAt.getTime() + 24 * HOUR);
    expect(await job.runOnce()).toEqual(purged(1, 12));
    await job.stop();
  });
});

describe.runIf(SCALED)('day partitions of device results (PostgreSQL)', () => {
  it('a task lands in the partition of its creation day, which is dropped whole once all its tasks are purged', async () => {
    const sent = await sentTask(30);
    const today = dayPartition(new Date());
    expect(sent.taskId >= today.from && sent.taskId < today.to).toBe(true);
    const inPartition = await t.db
      .selectFrom(today.table as 'device_results')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(inPartition.n)).toBe(30);
    // Noon of the next UTC day, whatever the time now: `now + 26 h` would be the day after next late in
    // the evening, when the empty partition made ahead for tomorrow would be over too.
    const tomorrow = new Date(Math.floor(Date.now() / (24 * HOUR)) * 24 * HOUR + 36 * HOUR);

    // Not before the task's details are purged, even once the day is over.
    expect(await dropExpiredResultPartitions(t.db, tomorrow)).toEqual([]);
    const settings = { statisticsWindowHours: 72, retentionHours: 72 };
    expect(await purgeExpiredDetails(t.db, new Date(sent.startedAt.getTime() + 72 * HOUR), settings)).toEqual(
      purged(1, 30),
    );
    // Not while the day lasts: more tasks may still be made in it.
    expect(await dropExpiredResultPartitions(t.db, new Date())).toEqual([]);
    expect(await dropExpiredResultPartitions(t.db, tomorrow)).toEqual([today.table]);
    expect(await resultCount(sent.taskId)).toBe(0);
    expect((await readTask(t.db, sent.taskId)).counts).toEqual(sent.counts);
  });
});

describe('pushboard purge', () => {
  function pushboard(...args: string[]) {
    const result = spawnSync(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...t.env, PUSHBOARD_SEED_DEMO: 'false', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('applies the rule as of the given time and says what it deleted', async () => {
    const sent = await sentTask(15);
    const before = pushboard('purge', '--as-of', new Date(sent.startedAt.getTime() + HOUR).toISOString());
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/^purged 0 device results of 0 tasks/);

    const after = pushboard('purge', '--as-of', new Date(sent.startedAt.getTime() + 73 * HOUR).toISOString());
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(
      new RegExp(`^purged ${rowsDeleted(15)} device results of 1 tasks \\(retention 72 h, as of `),
    );
    expect(await resultCount(sent.taskId)).toBe(SCALED ? 15 : 0);
  });

  it('refuses a time that is not ISO 8601 with exit code 2', () => {
    const bad = pushboard('purge', '--as-of', 'next tuesday');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('ISO 8601');
  });
});
