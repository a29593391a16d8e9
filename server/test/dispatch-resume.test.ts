/**
 * A send survives its process: batches written ahead and not recorded are sent again after a restart
 * with the same batch IDs, the provider recognises the repeat, and every device ends with exactly one
 * result. (crash.test.ts does the same with a real `kill -9`; here each interruption point is exact.)
 */
import { afterEach, beforeEach, expect, test } from 'vitest';
import { SCALED } from './backends.ts';
import {
  createTask,
  expectConsistentSend,
  readTask,
  scriptedProvider,
  sendFixture,
  simulatorOn,
  testDispatcher,
  waitFor,
} from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

const finished = (taskId: string) =>
  waitFor(
    () => readTask(t.db, taskId),
    (task) => task.status === 'completed' || task.status === 'failed',
  );

const ledger = (taskId: string) =>
  t.db
    .selectFrom('simulator_batches')
    .selectAll()
    .where('task_id', '=', taskId)
    .orderBy('batch_id')
    .execute();

test('a process that died mid-send is resumed: the same batch IDs are sent again and recognised, nothing twice', async () => {
  const fixture = await sendFixture(t, { devices: 2000, unmatched: 100 });
  const taskId = await createTask(t, fixture);
  // Batch 3 reaches the simulator and the answer is lost; batches 4–6 are written ahead and never
  // handed over: then the process "dies".
  const first = scriptedProvider(simulatorOn(t.db), (call) =>
    call <= 2 ? 'answer' : call === 3 ? 'hang' : 'hang-unsent',
  );
  const dying = testDispatcher(t, { providers: { simulator: first.provider }, settings: { batchSize: 200 } });
  await dying.start();
  await waitFor(
    async () => first.calls.length,
    (n) => n === 6,
  );
  void dying.stop(); // Never returns: its sends hang like a dead process's.

  const stuck = await readTask(t.db, taskId);
  expect(stuck.status).toBe('sending');
  const prepared = await t.db
    .selectFrom('batches')
    .select('seq')
    .where('task_id', '=', taskId)
    .where('status', '=', 'prepared')
    .orderBy('seq')
    .execute();
  expect(prepared.map((b) => b.seq)).toEqual([3, 4, 5, 6]);

  const second = scriptedProvider(simulatorOn(t.db), () => 'answer');
  const restarted = testDispatcher(t, {
    providers: { simulator: second.provider },
    settings: { batchSize: 200 },
  });
  await restarted.start();
  const task = await finished(taskId);
  await restarted.stop();

  expect(task.status).toBe('completed');
  expect(task.counts).toMatchObject({ plannedSends: 2100, totalSent: 2000, pending: 0 });
  const { batches } = await expectConsistentSend(t.db, taskId);
  // The interrupted batches were sent again, each once, as repeats under their own IDs; every other
  // call was a new batch. In one process they go first (concurrently: in any order); in the scaled mode
  // each repeat is a queue job, and a worker may take the next new batch before the last repeat.
  const repeats = second.calls.filter((c) => c.resend).map((c) => c.batchId);
  expect(repeats.sort()).toEqual([3, 4, 5, 6].map((seq) => `${taskId}-${seq}`));
  const firstCalls = SCALED ? second.calls : second.calls.slice(0, 4);
  expect(firstCalls.filter((c) => c.resend)).toHaveLength(4);
  expect(second.calls.filter((c) => !c.resend).every((c) => Number(c.batchId.split('-').pop()) > 6)).toBe(
    true,
  );
  // The simulator accepted each batch once; only batch 3 reached it twice, as a recognised repeat.
  const accepted = await ledger(taskId);
  expect(accepted).toHaveLength(batches.length);
  expect(accepted.reduce((sum, b) => sum + b.device_count, 0)).toBe(2000);
  expect(accepted.filter((b) => b.sends > 1).map((b) => [b.batch_id, b.sends])).toEqual([[`${taskId}-3`, 2]]);
  const results = await t.db
    .selectFrom('device_results')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('task_id', '=', taskId)
    .executeTakeFirstOrThrow();
  expect(Number(results.n)).toBe(2000);
});

test('a stopped dispatcher finishes its batches in flight and leaves the task sending; the next start finishes it', async () => {
  const fixture = await sendFixture(t, { devices: 2000 });
  const taskId = await createTask(t, fixture);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const first = scriptedProvider(simulatorOn(t.db), (call) => (call <= 2 ? 'answer' : gate));
  const stopping = testDispatcher(t, {
    providers: { simulator: first.provider },
    settings: { batchSize: 100 },
  });
  await stopping.start();
  await waitFor(
    async () => first.calls.length,
    (n) => n === 6,
  );
  const stopped = stopping.stop();
  release();
  await stopped;

  const paused = await readTask(t.db, taskId);
  expect(paused.status).toBe('sending');
  expect(paused.counts.totalSent).toBe(600);
  expect(paused.counts.pending).toBe(1400);
  const unrecorded = await t.db
    .selectFrom('batches')
    .select('seq')
    .where('task_id', '=', taskId)
    .where('status', '=', 'prepared')
    .execute();
  expect(unrecorded).toEqual([]);

  const restarted = testDispatcher(t, { settings: { batchSize: 100 } });
  await restarted.start();
  const task = await finished(taskId);
  await restarted.stop();
  expect(task.status).toBe('completed');
  await expectConsistentSend(t.db, taskId);
  expect((await ledger(taskId)).every((b) => b.sends === 1)).toBe(true);
});

test('a device deleted after its batch was handed over still gets its result, counted as sent', async () => {
  const fixture = await sendFixture(t, { devices: 300 });
  const taskId = await createTask(t, fixture);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const { provider, calls } = scriptedProvider(simulatorOn(t.db), (call) => (call === 1 ? gate : 'answer'));
  const dispatcher = testDispatcher(t, { providers: { simulator: provider }, settings: { batchSize: 100 } });
  await dispatcher.start();
  await waitFor(
    async () => calls.length,
    (n) => n >= 1,
  );
  // While batch 1 is with the provider: one of its devices is deleted, another registers a new token.
  const device = (id: string) => `/api/v1/workspaces/${t.workspaceId}/apps/${fixture.appId}/devices/${id}`;
  expect((await t.request(t.adminToken, { method: 'DELETE', url: device('dev-0000005') })).statusCode).toBe(
    204,
  );
  await t.db
    .updateTable('devices')
    .set({ push_token: 'tok-new', updated_at: new Date(t.clock.now.getTime() + 1).toISOString() })
    .where('app_id', '=', fixture.appId)
    .where('device_id', '=', 'dev-0000006')
    .execute();
  release();
  const task = await finished(taskId);
  await dispatcher.stop();
  expect(task.counts).toMatchObject({ plannedSends: 300, unmatched: 0, totalSent: 300 });
  await expectConsistentSend(t.db, taskId);
  const results = await t.db
    .selectFrom('device_results')
    .select('device_id')
    .where('task_id', '=', taskId)
    .where('device_id', 'in', ['dev-0000005', 'dev-0000006'])
    .execute();
  expect(results).toHaveLength(2);
});

test('a device deleted while the server was down, between writing its batch and sending it, counts as unmatched', async () => {
  const fixture = await sendFixture(t, { devices: 400 });
  const taskId = await createTask(t, fixture);
  const first = scriptedProvider(simulatorOn(t.db), (call) => (call === 1 ? 'answer' : 'hang-unsent'));
  const dying = testDispatcher(t, { providers: { simulator: first.provider }, settings: { batchSize: 100 } });
  await dying.start();
  await waitFor(
    async () => first.calls.length,
    (n) => n === 4,
  );
  void dying.stop();
  // Batch 2 (dev-0000100…dev-0000199) is written ahead; its device dev-0000150 leaves the app.
  await t.db
    .deleteFrom('devices')
    .where('app_id', '=', fixture.appId)
    .where('device_id', '=', 'dev-0000150')
    .execute();

  const restarted = testDispatcher(t, { settings: { batchSize: 100 } });
  await restarted.start();
  const task = await finished(taskId);
  await restarted.stop();
  expect(task.status).toBe('completed');
  expect(task.counts).toMatchObject({ plannedSends: 400, unmatched: 1, totalSent: 399, pending: 0 });
  await expectConsistentSend(t.db, taskId);
});
