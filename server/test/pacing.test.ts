/**
 * Pacing (docs/delivery-controls.md#pacing): a task with `spreadMinutes` hands its audience over evenly
 * over that time — batch by batch, each no earlier than `startedAt + spread × offset / plannedSends`
 * — and a send resumed after a restart keeps the schedule of its start. The dispatcher's sleep moves
 * the test clock, so the hand-over times are checked against the schedule, not measured.
 */
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createDispatchStore } from '../src/dispatch/dispatch-store.ts';
import { type BatchJob, createDispatcher, type StartJob } from '../src/dispatch/dispatcher.ts';
import { createPacer, PACING_CHECK_MS } from '../src/dispatch/pacing.ts';
import { createRedisRateLimiter } from '../src/dispatch/redis-rate-limit.ts';
import type { SendJob } from '../src/dispatch/scheduler.ts';
import { pacedBatchSize, pacedHandOverAt } from '../src/domain/pacing.ts';
import { createBullmqQueue, deletePrefix } from '../src/queue/bullmq-queue.ts';
import { openRedis } from '../src/queue/redis.ts';
import { SCALED } from './backends.ts';
import {
  clockSleep,
  createTask,
  expectConsistentSend,
  memoryLogger,
  readTask,
  scriptedProvider,
  sendFixture,
  simulatorOn,
  testDispatcher,
  waitFor,
} from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';
import { ensureRedis, REDIS_TEST_URL } from './services.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

/** Creates an immediate task spread over `spreadMinutes` through the API. */
async function pacedTask(devices: number, spreadMinutes: number) {
  const fixture = await sendFixture(t, { devices });
  return createTask(t, fixture, {}, { spreadMinutes });
}

const finished = (taskId: string) =>
  waitFor(
    () => readTask(t.db, taskId),
    (task) => task.status === 'completed' || task.status === 'failed',
  );

/** The batch number of a batch ID `<taskId>-<seq>`. */
const seqOf = (batchId: string) => Number(batchId.slice(batchId.lastIndexOf('-') + 1));

test('the schedule: small batches, member k not before startedAt + spread × k / plannedSends', () => {
  expect(pacedBatchSize(2000, 120, 1)).toBe(2); // two devices a second
  expect(pacedBatchSize(2000, 10, 60)).toBe(1);
  expect(pacedBatchSize(2000, 10_000_000, 1)).toBe(2000); // never above the batch size
  expect(pacedHandOverAt(1_000, 1, 0, 120)).toBe(1_000);
  expect(pacedHandOverAt(1_000, 1, 60, 120)).toBe(31_000);
  expect(pacedHandOverAt(1_000, 1, 120, 120)).toBe(61_000);
  expect(pacedHandOverAt(1_000, 1440, 5, 0)).toBe(1_000);
});

test('a paced task hands its audience over evenly over spreadMinutes', async () => {
  const taskId = await pacedTask(120, 1);
  const sleep = clockSleep(t);
  const scripted = scriptedProvider(
    simulatorOn(t.db),
    () => 'answer',
    () => t.clock.now,
  );
  const dispatcher = testDispatcher(t, { providers: { simulator: scripted.provider }, sleep });
  await dispatcher.start();
  const done = await finished(taskId);
  await dispatcher.stop();
  expect(done.status).toBe('completed');
  await expectConsistentSend(t.db, taskId);

  const startedAt = Date.parse(done.startedAt!);
  // Two devices a second: 60 batches, one per second of the minute, none early.
  expect(scripted.calls).toHaveLength(60);
  for (const call of scripted.calls) {
    expect(call.devices).toBe(2);
    const seq = seqOf(call.batchId);
    expect(call.at).toBeGreaterThanOrEqual(pacedHandOverAt(startedAt, 1, (seq - 1) * 2, 120));
  }
  const seqs = scripted.calls.map((c) => seqOf(c.batchId)).sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  // Spread over the whole minute: the last batch went 59 s after the start, in steps of 1 s.
  expect(sleep.waits.filter((ms) => ms > 0).every((ms) => ms <= 1_000)).toBe(true);
  expect(Math.max(...scripted.calls.map((c) => c.at)) - startedAt).toBeGreaterThanOrEqual(59_000);
});

test('a send resumed after a restart keeps the schedule of its start', async () => {
  const taskId = await pacedTask(120, 1);
  const sleep = clockSleep(t);
  let stopping: Promise<void> | undefined;
  const first = scriptedProvider(
    simulatorOn(t.db),
    (call) => {
      if (call === 20) stopping ??= dying.stop(); // SIGTERM as batch 20 is handed over
      return 'answer';
    },
    () => t.clock.now,
  );
  const dying = testDispatcher(t, { providers: { simulator: first.provider }, sleep });
  await dying.start();
  await waitFor(
    async () => first.calls.length,
    (n) => n >= 20,
  );
  await stopping;
  const stopped = await readTask(t.db, taskId);
  expect(stopped.status).toBe('sending');
  const handedBefore = first.calls.length;
  expect(handedBefore).toBeGreaterThanOrEqual(20);
  expect(handedBefore).toBeLessThan(60);

  const second = scriptedProvider(
    simulatorOn(t.db),
    () => 'answer',
    () => t.clock.now,
  );
  const resumed = testDispatcher(t, { providers: { simulator: second.provider }, sleep });
  await resumed.start();
  const done = await finished(taskId);
  await resumed.stop();
  expect(done.status).toBe('completed');
  await expectConsistentSend(t.db, taskId);

  const startedAt = Date.parse(done.startedAt!);
  const all = [...first.calls, ...second.calls];
  expect(new Set(all.map((c) => c.batchId)).size).toBe(60);
  for (const call of all) {
    const due = pacedHandOverAt(startedAt, 1, (seqOf(call.batchId) - 1) * 2, 120);
    expect(call.at).toBeGreaterThanOrEqual(due);
  }
  // The schedule went on from the start, not from the restart: the send still ended within the minute.
  expect(Math.max(...second.calls.map((c) => c.at)) - startedAt).toBeLessThan(60_000);
});

test('stopping the dispatcher during a long pacing wait does not hang', async () => {
  // 10 devices over a day: one batch every 144 minutes, waited for with the real sleep.
  const taskId = await pacedTask(10, 1440);
  const scripted = scriptedProvider(simulatorOn(t.db), () => 'answer');
  const dispatcher = testDispatcher(t, { providers: { simulator: scripted.provider } });
  await dispatcher.start();
  await waitFor(
    async () => scripted.calls.length,
    (n) => n === 1,
  );
  await dispatcher.stop();
  const task = await readTask(t.db, taskId);
  expect(task.status).toBe('sending');
  expect(scripted.calls).toHaveLength(1);
  expect(task.counts.totalSent).toBe(1);
  expect(task.counts.pending).toBe(9);
});

test.runIf(SCALED)(
  'scaled mode: the sends job waits for the schedule and the batch jobs follow it',
  async () => {
    await ensureRedis();
    const prefix = `pbt-pacing-${process.pid}-${Date.now()}`;
    const open = <T>(name: string) =>
      createBullmqQueue<T>({
        name,
        redisUrl: REDIS_TEST_URL,
        prefix,
        lockDurationMs: 2_000,
        stalledIntervalMs: 1_000,
      });
    const rateRedis = openRedis(REDIS_TEST_URL, `${prefix}:rate`);
    const taskId = await pacedTask(60, 1);
    const sleep = clockSleep(t);
    const scripted = scriptedProvider(
      simulatorOn(t.db),
      () => 'answer',
      () => t.clock.now,
    );
    const dispatcher = createDispatcher({
      db: t.db,
      settings: t.config.dispatch,
      publicUrl: t.config.publicUrl,
      providers: { simulator: scripted.provider },
      logger: memoryLogger(),
      clock: () => t.clock.now,
      sleep,
      scaled: {
        sends: open<SendJob>('sends'),
        batches: open<BatchJob>('batches'),
        starts: open<StartJob>('starts'),
        batchConcurrency: 4,
        rateLimiter: createRedisRateLimiter(rateRedis, prefix, 0, () => t.clock.now, sleep),
      },
    });
    try {
      await dispatcher.start();
      const done = await finished(taskId);
      expect(done.status).toBe('completed');
      await expectConsistentSend(t.db, taskId);
      const startedAt = Date.parse(done.startedAt!);
      // One device a second over the minute, each batch job handed over no earlier than its time.
      expect(new Set(scripted.calls.map((c) => c.batchId)).size).toBe(60);
      for (const call of scripted.calls) {
        expect(call.devices).toBe(1);
        expect(call.at).toBeGreaterThanOrEqual(pacedHandOverAt(startedAt, 1, seqOf(call.batchId) - 1, 60));
      }
    } finally {
      await dispatcher.stop();
      rateRedis.disconnect();
      await deletePrefix(REDIS_TEST_URL, prefix);
    }
  },
);

test('a stop during a long wait ends it within one check, without waiting for the schedule', async () => {
  // 10 devices over a day: the second batch is due 144 minutes after the start.
  const taskId = await pacedTask(10, 1440);
  const dispatcher = testDispatcher(t);
  expect(await dispatcher.poll()).toEqual([taskId]); // started; nothing sends it (the queue is not processed)
  const store = createDispatchStore(t.db, () => t.clock.now);
  // One audience member written ahead: the next is due 144 minutes after the start.
  await t.db.updateTable('tasks').set({ pending: 9, unmatched: 1 }).where('id', '=', taskId).execute();
  const waits: number[] = [];
  const pacer = await createPacer(
    store,
    taskId,
    () => t.clock.now,
    async (ms) => {
      waits.push(ms);
      t.clock.now = new Date(t.clock.now.getTime() + ms);
      if (waits.length === 3) {
        await t.db
          .updateTable('tasks')
          .set({ stopped_at: t.clock.now.toISOString() })
          .where('id', '=', taskId)
          .execute();
      }
    },
  );
  expect(pacer?.batchSize(2000)).toBe(1);
  await pacer!.wait(new AbortController().signal);
  expect(waits).toEqual([PACING_CHECK_MS, PACING_CHECK_MS, PACING_CHECK_MS]);
  await dispatcher.stop();
});
