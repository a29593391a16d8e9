/**
 * Stopping a send (docs/delivery-controls.md#stop): no batch is handed over after the stop is
 * answered, the batches begun before are recorded, every device never handed over is `cancelled`
 * (listed, saved as an audience) and the task ends `stopped` with the invariants holding at every
 * observation; a stop survives a restart. Runs on both backends (`PUSHBOARD_TEST_SCALED=1`: PostgreSQL).
 */
import { once } from 'node:events';
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createDispatchStore } from '../src/dispatch/dispatch-store.ts';
import { batchIdOf } from '../src/domain/batch.ts';
import { statisticsViolations } from '../src/domain/statistics.ts';
import { classifyUnchanged } from '../src/receipts/receipt-classification.ts';
import type { Db } from '../src/storage/database.ts';
import { freshStoreEnv, openStoreOf, SCALED, type StoreEnv } from './backends.ts';
import {
  createTask,
  expectConsistentSend,
  readTask,
  type SendFixture,
  scriptedProvider,
  sendFixture,
  simulatorOn,
  testDispatcher,
  waitFor,
} from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance, tempDir } from './helpers.ts';
import {
  baseUrlOf,
  call,
  killAll,
  LISTENING,
  sendToDemoAudience,
  spawnServe,
  type TaskView,
  WS,
  watchTask,
} from './serve-harness.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

const tasksUrl = () => `/api/v1/workspaces/${t.workspaceId}/tasks`;

function stop(taskId: string) {
  return t.request(t.adminToken, { method: 'POST', url: `${tasksUrl()}/${taskId}/stop` });
}

/** The batches whose hand-over was claimed (a provider call counted): the only ones that may reach it. */
async function claimedBatchIds(taskId: string): Promise<Set<string>> {
  const rows = await t.db
    .selectFrom('batches')
    .select('seq')
    .where('task_id', '=', taskId)
    .where('attempts', '>', 0)
    .execute();
  return new Set(rows.map((r) => batchIdOf(taskId, r.seq)));
}

/** Reads the task's counters until it is `stopped`, checking the invariants at every observation. */
async function watchUntilStopped(taskId: string) {
  let observations = 0;
  const task = await waitFor(
    async () => {
      const task = await readTask(t.db, taskId);
      expect(statisticsViolations(task.counts, { platform: 'android', status: task.status })).toEqual([]);
      observations++;
      return task;
    },
    (task) => task.status !== 'sending',
  );
  return { task, observations };
}

/** Checks a stopped send: the accounting, the device results and the simulator's ledger. */
async function expectStoppedSend(taskId: string, fixture: SendFixture, devices: number, unmatched: number) {
  const { task } = await expectConsistentSend(t.db, taskId);
  expect(task.status).toBe('stopped');
  const c = task.counts;
  expect(c.plannedSends).toBe(devices + unmatched);
  expect(c.totalSent + c.cancelled + c.unmatched).toBe(c.plannedSends);
  expect(c.capped).toBe(0);
  expect(c.cancelled).toBeGreaterThan(0);
  expect(c.totalSent).toBeGreaterThan(0);
  const cancelledRows = await t.db
    .selectFrom('device_results')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('task_id', '=', taskId)
    .where('send_result', '=', 'cancelled')
    .executeTakeFirstOrThrow();
  expect(Number(cancelledRows.n)).toBe(c.cancelled);
  // Handed over once each: the simulator saw exactly the recorded batches.
  const ledger = await t.db
    .selectFrom('simulator_batches')
    .select(['batch_id', 'device_count'])
    .where('task_id', '=', taskId)
    .execute();
  expect(ledger.reduce((sum, b) => sum + Number(b.device_count), 0)).toBe(c.totalSent);
  const row = await t.db
    .selectFrom('tasks')
    .select(['stopped_at', 'completed_at'])
    .where('id', '=', taskId)
    .executeTakeFirstOrThrow();
  expect(row.stopped_at).not.toBe(null);
  expect(row.completed_at).not.toBe(null);
  expect(fixture.audienceId).toBeTruthy();
  return task;
}

test('a 40,000-device send stopped mid-way ends stopped: nothing handed over after the answer, the rest cancelled, listed and saved', async () => {
  const devices = 40_000;
  const unmatched = 1000;
  const fixture = await sendFixture(t, { devices, unmatched });
  const taskId = await createTask(t, fixture);
  // The first ten batches are answered; from the eleventh every call waits for the gate, so that the
  // stop lands while batches are in flight.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const wrapped = scriptedProvider(simulatorOn(t.db), (call) => (call <= 10 ? 'answer' : gate));
  const dispatcher = testDispatcher(t, {
    providers: { simulator: wrapped.provider },
    settings: { batchSize: 500 },
  });
  await dispatcher.start();
  try {
    await waitFor(
      async () => wrapped.calls.length,
      (n) => n >= 11,
    );
    const watching = watchUntilStopped(taskId);
    const res = await stop(taskId);
    expect(res.statusCode, res.body).toBe(202);
    const answered = res.json();
    expect(answered.id).toBe(taskId);
    expect(answered.stoppedAt).not.toBe(null);
    expect(['sending', 'stopped']).toContain(answered.status);
    // What may still reach the provider: the batches claimed before the answer, no other.
    const claimed = await claimedBatchIds(taskId);
    const callsAtAnswer = wrapped.calls.length;
    // A repeat answers the same.
    const again = await stop(taskId);
    expect(again.statusCode).toBe(202);
    expect(again.json().stoppedAt).toBe(answered.stoppedAt);
    open();

    const { task, observations } = await watching;
    expect(observations).toBeGreaterThan(0);
    expect(task.status).toBe('stopped');
    expect(wrapped.calls.length).toBe(callsAtAnswer);
    for (const call of wrapped.calls) expect(claimed).toContain(call.batchId);
    const stopped = await expectStoppedSend(taskId, fixture, devices, unmatched);
    expect(stopped.counts.totalSent).toBe(wrapped.calls.reduce((sum, call) => sum + call.devices, 0));

    // Stopping a stopped task answers the same.
    const late = await stop(taskId);
    expect(late.statusCode).toBe(202);
    expect(late.json()).toMatchObject({ status: 'stopped', stoppedAt: answered.stoppedAt });

    // The cancelled devices are listed and saved as an audience, to be sent later.
    const list = await t.request(t.adminToken, {
      method: 'GET',
      url: `${tasksUrl()}/${taskId}/devices?sendResult=cancelled&limit=5`,
    });
    expect(list.statusCode, list.body).toBe(200);
    const page = list.json();
    expect(page.total).toBe(stopped.counts.cancelled);
    expect(page.items).toHaveLength(5);
    for (const item of page.items) expect(item).toMatchObject({ sendResult: 'cancelled', batchId: null });
    const generated = await t.request(t.adminToken, {
      method: 'POST',
      url: `${tasksUrl()}/${taskId}/audiences`,
      body: { name: 'Not reached by the stopped sale', filter: { sendResult: 'cancelled' } },
    });
    expect(generated.statusCode, generated.body).toBe(201);
    expect(generated.json().size).toBe(stopped.counts.cancelled);
  } finally {
    open();
    await dispatcher.stop();
  }
}, 120_000);

test('a stop requested while no dispatcher runs ends the task stopped when one starts', async () => {
  const devices = 4000;
  const fixture = await sendFixture(t, { devices, unmatched: 100 });
  const taskId = await createTask(t, fixture);
  // Batches 1–4 are answered; 5–8 are in flight when the process "dies" (never answered).
  const first = scriptedProvider(simulatorOn(t.db), (call) => (call <= 4 ? 'answer' : 'hang-unsent'));
  const dying = testDispatcher(t, { providers: { simulator: first.provider }, settings: { batchSize: 200 } });
  await dying.start();
  await waitFor(
    async () => first.calls.length,
    (n) => n === 8,
  );
  void dying.stop(); // Never returns: its sends hang like a dead process's.

  const res = await stop(taskId);
  expect(res.statusCode, res.body).toBe(202);
  expect(res.json()).toMatchObject({ status: 'sending' });
  expect(res.json().stoppedAt).not.toBe(null);
  const claimed = await claimedBatchIds(taskId);
  // Written ahead and never claimed: a batch the next run must cancel, not hand over.
  const prepared = await t.db
    .selectFrom('batches')
    .select(['seq', 'attempts'])
    .where('task_id', '=', taskId)
    .where('status', '=', 'prepared')
    .execute();
  expect(prepared.length).toBeGreaterThan(0);

  const second = scriptedProvider(simulatorOn(t.db), () => 'answer');
  const next = testDispatcher(t, { providers: { simulator: second.provider }, settings: { batchSize: 200 } });
  await next.start();
  try {
    const { task } = await watchUntilStopped(taskId);
    expect(task.status).toBe('stopped');
    // Only the batches begun before the stop were handed over again (as repeats), nothing new.
    expect(second.calls.length).toBeGreaterThan(0);
    for (const call of second.calls) {
      expect(claimed).toContain(call.batchId);
      expect(call.resend).toBe(true);
    }
    await expectStoppedSend(taskId, fixture, devices, 100);
  } finally {
    await next.stop();
  }
}, 60_000);

test('a batch written ahead but not claimed when the stop comes is cancelled, never handed over', async () => {
  const fixture = await sendFixture(t, { devices: 1000 });
  const taskId = await createTask(t, fixture);
  const dispatcher = testDispatcher(t, { settings: { batchSize: 200 } });
  // Started and written ahead by hand (as the scaled mode's task job does): batch 1, not claimed.
  const store = createDispatchStore(t.db, () => t.clock.now);
  expect(await store.startTask(taskId, t.clock.now.toISOString())).toBe(true);
  const send = await store.loadSend(taskId);
  const written = await store.prepareBatch(send!, 200, t.clock.now.toISOString(), false);
  expect(written?.batch?.attempts).toBe(0);
  expect((await stop(taskId)).statusCode).toBe(202);
  // Writing ahead and claiming both see the stop; the claim cancels the batch in the same write.
  expect((await store.prepareBatch(written!.send, 200, t.clock.now.toISOString(), true))?.stopped).toBe(true);
  expect(await store.claimHandOver(send!, 1, t.clock.now.toISOString())).toBe('cancelled');
  expect(await store.claimHandOver(send!, 1, t.clock.now.toISOString())).toBe('gone');
  const midway = await readTask(t.db, taskId);
  expect(statisticsViolations(midway.counts, { status: 'sending' })).toEqual([]);
  expect(midway.counts.cancelled).toBe(200);

  await dispatcher.start();
  try {
    const { task } = await watchUntilStopped(taskId);
    expect(task.counts).toMatchObject({ plannedSends: 1000, cancelled: 1000, totalSent: 0, pending: 0 });
    const ledger = await t.db
      .selectFrom('simulator_batches')
      .selectAll()
      .where('task_id', '=', taskId)
      .execute();
    expect(ledger).toEqual([]);
  } finally {
    await dispatcher.stop();
  }
});

test('a stopped batch with devices the frequency cap held back cancels only the others and gives their cap back', async () => {
  const fixture = await sendFixture(t, { devices: 400 });
  await t.db
    .updateTable('apps')
    .set({ frequency_cap: JSON.stringify({ perDay: 1 }) })
    .where('id', '=', fixture.appId)
    .execute();
  // Every other device was handed a marketing task of the app an hour ago: it is at its cap.
  const earlier = new Date(t.clock.now.getTime() - 3_600_000).toISOString();
  const members = await t.db
    .selectFrom('audience_members')
    .select('device_id')
    .where('audience_id', '=', fixture.audienceId)
    .orderBy('device_id')
    .execute();
  const atCap = members.filter((_, i) => i % 2 === 0).map((m) => m.device_id);
  await t.db
    .insertInto('frequency_sends')
    .values(
      atCap.map((device_id) => ({
        app_id: fixture.appId,
        device_id,
        sent_at: earlier,
        task_id: 'tsk_earlier',
        batch_seq: 1,
      })),
    )
    .execute();
  const taskId = await createTask(t, fixture);
  const store = createDispatchStore(t.db, () => t.clock.now);
  const now = t.clock.now.toISOString();
  expect(await store.startTask(taskId, now)).toBe(true);
  const send = await store.loadSend(taskId);
  const written = await store.prepareBatch(send!, 200, now, false);
  expect(written?.batch?.devices).toHaveLength(100);
  const counted = async () =>
    Number(
      (
        await t.db
          .selectFrom('frequency_sends')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('task_id', '=', taskId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  expect(await counted()).toBe(100);
  expect((await stop(taskId)).statusCode).toBe(202);
  expect(await store.claimHandOver(send!, 1, now)).toBe('cancelled');
  // The capped devices keep their result; the batch's others are cancelled and did not use up their cap.
  expect(await counted()).toBe(0);
  const ended = await store.cancelUnsent(send!, now);
  expect(ended?.stopped).toBe(true);
  const { status, counts } = await readTask(t.db, taskId);
  expect(status).toBe('stopped');
  expect(counts).toMatchObject({ plannedSends: 400, capped: 100, cancelled: 300, totalSent: 0, pending: 0 });
  expect(statisticsViolations(counts, { status })).toEqual([]);
  const results = await t.db
    .selectFrom('device_results')
    .select(['send_result', (eb) => eb.fn.countAll<number>().as('n')])
    .where('task_id', '=', taskId)
    .groupBy('send_result')
    .orderBy('send_result')
    .execute();
  expect(results.map((r) => [r.send_result, Number(r.n)])).toEqual([
    ['cancelled', 300],
    ['capped', 100],
  ]);
  // The device list counts every device with a result; the channels only those handed over (none).
  const all = await t.request(t.adminToken, {
    method: 'GET',
    url: `${tasksUrl()}/${taskId}/devices?limit=5`,
  });
  expect(all.statusCode, all.body).toBe(200);
  expect(all.json().total).toBe(400);
  const breakdown = await t.request(t.adminToken, {
    method: 'GET',
    url: `${tasksUrl()}/${taskId}/breakdown`,
  });
  expect(breakdown.statusCode, breakdown.body).toBe(200);
  expect(breakdown.json().channels).toEqual([]);
  expect(breakdown.json().failureReasons).toEqual([]);
});

test('a receipt for a cancelled device counts nowhere: refused as not in the send', () => {
  const receipt = {
    index: 0,
    taskId: 'tsk_x',
    deviceId: 'dev-1',
    kind: 'impression',
    at: new Date().toISOString(),
    late: false,
    detailsExpired: false,
  } as Parameters<typeof classifyUnchanged>[0];
  expect(classifyUnchanged(receipt, 'cancelled')).toBe('DEVICE_NOT_IN_SEND');
});

test('only a sending task can be stopped: scheduled, completed and unknown tasks are refused', async () => {
  const fixture = await sendFixture(t, { devices: 50 });
  const scheduled = await createTask(t, fixture, {
    scheduledAt: new Date(t.clock.now.getTime() + 3_600_000),
  });
  const refused = await stop(scheduled);
  expect(refused.statusCode).toBe(409);
  expect(refused.json().error).toMatchObject({
    code: 'TASK_NOT_STOPPABLE',
    details: { status: 'scheduled' },
  });
  expect(refused.json().error.message).toMatch(/scheduled.*only a sending task can be stopped.*delete it/);
  expect((await readTask(t.db, scheduled)).status).toBe('scheduled');

  const immediate = await createTask(t, fixture);
  const dispatcher = testDispatcher(t);
  await dispatcher.start();
  try {
    await waitFor(
      () => readTask(t.db, immediate),
      (task) => task.status === 'completed',
    );
  } finally {
    await dispatcher.stop();
  }
  const done = await stop(immediate);
  expect(done.statusCode).toBe(409);
  expect(done.json().error).toMatchObject({ code: 'TASK_NOT_STOPPABLE', details: { status: 'completed' } });
  const row = await t.db
    .selectFrom('tasks')
    .select('stopped_at')
    .where('id', '=', immediate)
    .executeTakeFirstOrThrow();
  expect(row.stopped_at).toBe(null);

  expect((await stop('tsk_unknown')).statusCode).toBe(404);
  // Stopping is editing: a viewer may not.
  const token = await t.request(t.adminToken, {
    method: 'POST',
    url: `/api/v1/workspaces/${t.workspaceId}/tokens`,
    body: { name: 'read only', role: 'viewer' },
  });
  expect(token.statusCode, token.body).toBe(201);
  const asViewer = await t.request(token.json().token, {
    method: 'POST',
    url: `${tasksUrl()}/${scheduled}/stop`,
  });
  expect(asViewer.statusCode).toBe(403);
  const doc = await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' });
  expect(doc.json().paths['/api/v1/workspaces/{workspaceId}/tasks/{taskId}/stop'].post).toBeTruthy();
});

let scaledStore: StoreEnv | undefined;
let scaledDb: Db | undefined;
afterAll(async () => {
  killAll();
  await scaledDb?.destroy();
  await scaledStore?.dispose();
});

describe.runIf(SCALED)('scaled deployment: one API, two BullMQ workers', () => {
  test('a send stopped mid-way ends stopped: batch jobs claimed before the answer finish, no other reaches the provider', async () => {
    scaledStore = await freshStoreEnv(tempDir('pushboard-stop-'));
    const password = 'stop-test-password';
    const env = {
      ...scaledStore.env,
      PUSHBOARD_ADMIN_PASSWORD: password,
      // 40,000 Android devices (the task's) and 20,000 iOS ones, all in the demo audience.
      PUSHBOARD_DEMO_FLEET_SIZE: '40000',
      PUSHBOARD_DISPATCH_BATCH_SIZE: '500',
      // Spreads the send over about five seconds, so that the stop lands mid-send.
      PUSHBOARD_DISPATCH_RATE_LIMIT: '8000',
      PUSHBOARD_JOB_LOCK_MS: '2000',
      LOG_LEVEL: 'info',
    };
    const api = await spawnServe(['--role', 'api'], env, LISTENING);
    const base = baseUrlOf(api);
    const workerEnv = { ...env, PUSHBOARD_PUBLIC_URL: base };
    const workers = await Promise.all([
      spawnServe(['--role', 'worker'], workerEnv, /worker started/),
      spawnServe(['--role', 'worker'], workerEnv, /worker started/),
    ]);
    const send = await sendToDemoAudience(base, password, 'Stop test');
    await watchTask(base, send.token, send.taskId, (task) => Number(task.statistics.totalSent) >= 8000);

    const answered = await call<TaskView & { stoppedAt: string | null }>(
      base,
      send.token,
      'POST',
      `${WS}/tasks/${send.taskId}/stop`,
    );
    expect(answered.stoppedAt).not.toBe(null);
    scaledDb = await openStoreOf(scaledStore.env);
    const claimedRows = await scaledDb
      .selectFrom('batches')
      .select('seq')
      .where('task_id', '=', send.taskId)
      .where('attempts', '>', 0)
      .execute();
    const claimed = new Set(claimedRows.map((r) => batchIdOf(send.taskId, r.seq)));

    // Every reading checks the invariants (watchTask) while the stop completes.
    const task = await watchTask(base, send.token, send.taskId, (task) => task.status !== 'sending', 20);
    expect(task.status).toBe('stopped');
    const c = task.statistics as Record<string, number>;
    expect(c.plannedSends).toBe(60_000);
    expect(c.totalSent! + c.cancelled! + c.unmatched!).toBe(60_000);
    expect(c.cancelled).toBeGreaterThan(0);
    expect(c.totalSent).toBeLessThan(40_000);
    for (const worker of workers) {
      worker.child.kill('SIGTERM');
      await once(worker.child, 'exit');
    }
    expect(workers.some((w) => /task stopped/.test(w.output()))).toBe(true);

    const { task: stored } = await expectConsistentSend(scaledDb, send.taskId);
    expect(stored.counts.cancelled).toBe(c.cancelled);
    // Nothing handed over after the answer, and nothing twice: the simulator saw claimed batches only.
    const ledger = await scaledDb
      .selectFrom('simulator_batches')
      .select(['batch_id', 'device_count'])
      .where('task_id', '=', send.taskId)
      .execute();
    for (const row of ledger) expect(claimed).toContain(row.batch_id);
    expect(ledger.reduce((sum, b) => sum + Number(b.device_count), 0)).toBe(stored.counts.totalSent);
    const cancelledRows = await scaledDb
      .selectFrom('device_results')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('task_id', '=', send.taskId)
      .where('send_result', '=', 'cancelled')
      .executeTakeFirstOrThrow();
    expect(Number(cancelledRows.n)).toBe(stored.counts.cancelled);
  }, 240_000);
});
