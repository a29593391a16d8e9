/**
 * The dispatcher on a real SQLite file: tasks start when due and only then, a start and a delete
 * never both win, tasks are sent in batches through a provider and finish with one device result per
 * device and statistics that add up, and provider errors are retried, kept and explained.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { type StartJob, scheduleWakeUp } from '../src/dispatch/dispatcher.ts';
import { PROCESS_DUE_SIGNAL } from '../src/dispatch/due-signal.ts';
import { createRateLimiter } from '../src/dispatch/rate-limit.ts';
import type { SendJob } from '../src/dispatch/scheduler.ts';
import { batchIdOf, MAX_RETRY_DELAY_MS, retryDelayMs } from '../src/domain/batch.ts';
import { ProviderError } from '../src/providers/provider.ts';
import { createInProcessQueue } from '../src/queue/in-process-queue.ts';
import type { JobQueue } from '../src/queue/queue.ts';
import {
  clockSleep,
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
let stops: (() => Promise<void>)[] = [];
beforeEach(async () => {
  t = await createTestInstance();
  stops = [];
});
afterEach(async () => {
  for (const stop of stops) await stop();
  await t.close();
});

const MINUTE_MS = 60_000;

/** Starts a dispatcher and stops it after the test. */
async function started(dispatcher: ReturnType<typeof testDispatcher>) {
  await dispatcher.start();
  stops.push(() => dispatcher.stop());
  return dispatcher;
}

/** Waits until the task has finished sending. */
function finished(taskId: string) {
  return waitFor(
    () => readTask(t.db, taskId),
    (task) => task.status === 'completed' || task.status === 'failed',
  );
}

/** A queue that only records what it is given (nothing runs). */
function recordingQueue(): JobQueue<SendJob> & { added: string[] } {
  const added: string[] = [];
  return {
    added,
    async add(jobId) {
      added.push(jobId);
    },
    remove: async () => false,
    process() {},
    close: async () => {},
  };
}

describe('scheduling', () => {
  test('an immediate task is started by the next poll, with its audience as planned sends, all pending', async () => {
    const fixture = await sendFixture(t, { devices: 30, unmatched: 5 });
    const taskId = await createTask(t, fixture);
    const queue = recordingQueue();
    const dispatcher = testDispatcher(t, { queue });
    expect(await dispatcher.poll()).toEqual([taskId]);
    const task = await readTask(t.db, taskId);
    expect(task.status).toBe('sending');
    expect(task.startedAt).toBe(t.clock.now.toISOString());
    expect(task.counts).toMatchObject({ plannedSends: 35, pending: 35, unmatched: 0, totalSent: 0 });
    expect(queue.added).toEqual([taskId]);
    // Started once only: the next poll finds nothing due.
    expect(await dispatcher.poll()).toEqual([]);
  });

  test('a scheduled task starts when the clock reaches its time, not a millisecond before', async () => {
    const fixture = await sendFixture(t, { devices: 10 });
    const at = new Date(t.clock.now.getTime() + 10 * MINUTE_MS);
    const taskId = await createTask(t, fixture, { scheduledAt: at });
    const dispatcher = testDispatcher(t, { queue: recordingQueue() });
    t.clock.now = new Date(at.getTime() - 1);
    expect(await dispatcher.poll()).toEqual([]);
    expect((await readTask(t.db, taskId)).status).toBe('scheduled');
    t.clock.now = at;
    expect(await dispatcher.poll()).toEqual([taskId]);
    expect((await readTask(t.db, taskId)).startedAt).toBe(at.toISOString());
  });

  test('the scheduler polls at least once a second: the interval defaults to 250 ms and cannot exceed 1,000 ms', () => {
    expect(loadConfig({}, {}).dispatch.pollIntervalMs).toBe(250);
    expect(loadConfig({}, { PUSHBOARD_DISPATCH_POLL_MS: '1000' }).dispatch.pollIntervalMs).toBe(1000);
    expect(() => loadConfig({}, { PUSHBOARD_DISPATCH_POLL_MS: '1001' })).toThrow(ConfigError);
  });

  test('creating an immediate task or changing a schedule wakes the scheduler at once; renaming does not', async () => {
    const fixture = await sendFixture(t, { devices: 5 });
    let signals = 0;
    const unsubscribe = PROCESS_DUE_SIGNAL.listen(() => signals++);
    try {
      const taskId = await createTask(t, fixture, {
        scheduledAt: new Date(t.clock.now.getTime() + MINUTE_MS),
      });
      expect(signals).toBe(1);
      const patch = (body: object) =>
        t.request(t.adminToken, {
          method: 'PATCH',
          url: `/api/v1/workspaces/${t.workspaceId}/tasks/${taskId}`,
          body,
        });
      expect((await patch({ name: 'Renamed' })).statusCode).toBe(200);
      expect(signals).toBe(1);
      expect((await patch({ sendType: 'immediate' })).statusCode).toBe(200);
      expect(signals).toBe(2);
    } finally {
      unsubscribe();
    }
  });

  test('a task that fell due while the server was down starts at start-up', async () => {
    const fixture = await sendFixture(t, { devices: 20 });
    const taskId = await createTask(t, fixture, { scheduledAt: new Date(t.clock.now.getTime() + MINUTE_MS) });
    // The server was down for an hour.
    t.clock.now = new Date(t.clock.now.getTime() + 60 * MINUTE_MS);
    await started(testDispatcher(t));
    const task = await finished(taskId);
    expect(task.status).toBe('completed');
    expect(task.startedAt).toBe(t.clock.now.toISOString());
  });

  test('a start and a delete of the same task never both win, and nothing is queued for a deleted task', async () => {
    const fixture = await sendFixture(t, { devices: 5 });
    const queue = recordingQueue();
    const dispatcher = testDispatcher(t, { queue });
    const outcomes = { deleted: 0, started: 0 };
    for (let i = 0; i < 20; i++) {
      const taskId = await createTask(t, fixture);
      const remove = () =>
        t.request(t.adminToken, {
          method: 'DELETE',
          url: `/api/v1/workspaces/${t.workspaceId}/tasks/${taskId}`,
        });
      // Both orders of arrival, racing on the same connection.
      const [res, startedIds] =
        i % 2 === 0
          ? await Promise.all([remove(), dispatcher.poll()])
          : await Promise.all([dispatcher.poll(), remove()]).then(([ids, r]) => [r, ids] as const);
      const row = await t.db.selectFrom('tasks').select('status').where('id', '=', taskId).executeTakeFirst();
      if (res.statusCode === 204) {
        outcomes.deleted++;
        expect(row).toBeUndefined();
        expect(startedIds).not.toContain(taskId);
        expect(queue.added).not.toContain(taskId);
        const state = await t.db
          .selectFrom('task_dispatch')
          .selectAll()
          .where('task_id', '=', taskId)
          .execute();
        expect(state).toEqual([]);
      } else {
        outcomes.started++;
        expect(res.statusCode).toBe(409);
        expect(res.json().error.code).toBe('TASK_NOT_DELETABLE');
        expect(row?.status).toBe('sending');
        expect(startedIds).toContain(taskId);
      }
    }
    expect(outcomes.deleted + outcomes.started).toBe(20);
  });

  test('a deleted scheduled task is never started, even once its time has passed', async () => {
    const fixture = await sendFixture(t, { devices: 5 });
    const at = new Date(t.clock.now.getTime() + MINUTE_MS);
    const taskId = await createTask(t, fixture, { scheduledAt: at });
    const res = await t.request(t.adminToken, {
      method: 'DELETE',
      url: `/api/v1/workspaces/${t.workspaceId}/tasks/${taskId}`,
    });
    expect(res.statusCode).toBe(204);
    t.clock.now = new Date(at.getTime() + MINUTE_MS);
    const queue = recordingQueue();
    expect(await testDispatcher(t, { queue }).poll()).toEqual([]);
    expect(queue.added).toEqual([]);
  });
});

describe('send pipeline', () => {
  test('an Android task is sent in batches and completes with one result per matched device', async () => {
    const fixture = await sendFixture(t, { devices: 500, unmatched: 40 });
    const taskId = await createTask(t, fixture);
    await started(testDispatcher(t, { settings: { batchSize: 64 } }));
    const task = await finished(taskId);
    expect(task.status).toBe('completed');
    expect(task.failureReason).toBeNull();
    expect(task.counts).toMatchObject({ plannedSends: 540, unmatched: 40, totalSent: 500, pending: 0 });
    // Android: accepted devices wait for their delivery receipt.
    expect(task.counts.deliveries).toBe(0);
    expect(task.counts.noFeedback + task.counts.failures).toBe(500);
    const { batches } = await expectConsistentSend(t.db, taskId);
    expect(batches.length).toBeGreaterThan(500 / 64);
    expect(batches.every((b) => b.status === 'sent' && b.provider_ref === `sim-${taskId}-${b.seq}`)).toBe(
      true,
    );

    const rows = await t.db.selectFrom('device_results').selectAll().where('task_id', '=', taskId).execute();
    const devices = new Map(
      (await t.db.selectFrom('devices').selectAll().where('app_id', '=', fixture.appId).execute()).map(
        (d) => [d.device_id, d],
      ),
    );
    expect(rows).toHaveLength(500);
    expect(rows.every((r) => devices.has(r.device_id))).toBe(true);
    // The registered channel is normally kept; a few vendor-channel devices fall back to the own channel.
    const kept = rows.filter((r) => r.channel === devices.get(r.device_id)!.channel).length;
    expect(kept).toBeGreaterThan(450);
    expect(
      rows
        .filter((r) => r.channel !== devices.get(r.device_id)!.channel)
        .every((r) => r.channel === 'simulator'),
    ).toBe(true);
    for (const r of rows) {
      expect(r.failure_reason === null).toBe(r.send_result !== 'failure');
      expect(r.delivered_at).toBeNull();
    }
  });

  test('an iOS task counts accepted devices as deliveries at once, with their delivery time', async () => {
    const fixture = await sendFixture(t, { platform: 'ios', devices: 200 });
    const taskId = await createTask(t, fixture);
    await started(testDispatcher(t));
    const task = await finished(taskId);
    expect(task.status).toBe('completed');
    expect(task.counts.noFeedback).toBe(0);
    expect(task.counts.deliveries + task.counts.failures).toBe(200);
    expect(task.counts.deliveries).toBeGreaterThan(150);
    await expectConsistentSend(t.db, taskId, 'ios');
    const rows = await t.db.selectFrom('device_results').selectAll().where('task_id', '=', taskId).execute();
    for (const r of rows) {
      expect(r.channel).toBe('apns');
      expect(r.delivered_at !== null).toBe(r.send_result === 'success');
    }
  });

  test('rejected devices are failures with the reason the provider gave', async () => {
    const fixture = await sendFixture(t, { devices: 400, config: { seed: 3, acceptRate: 0.5 } });
    const taskId = await createTask(t, fixture);
    await started(testDispatcher(t));
    const task = await finished(taskId);
    expect(task.status).toBe('completed');
    expect(task.counts.failures).toBeGreaterThan(120);
    expect(task.counts.failures).toBeLessThan(280);
    await expectConsistentSend(t.db, taskId);
    const reasons = await t.db
      .selectFrom('device_results')
      .select('failure_reason')
      .distinct()
      .where('task_id', '=', taskId)
      .where('send_result', '=', 'failure')
      .execute();
    expect(reasons.map((r) => r.failure_reason)).toEqual(
      expect.arrayContaining([expect.stringContaining('invalid device token')]),
    );
  });

  test('a task whose audience has no device registered for the app fails as an empty match', async () => {
    const fixture = await sendFixture(t, { devices: 0, unmatched: 25 });
    const taskId = await createTask(t, fixture);
    await started(testDispatcher(t));
    const task = await finished(taskId);
    expect(task.status).toBe('failed');
    expect(task.failureReason).toBe(
      'None of the 25 audience devices has a push token registered for this app (empty match).',
    );
    expect(task.counts).toMatchObject({ plannedSends: 25, unmatched: 25, totalSent: 0, pending: 0 });
    await expectConsistentSend(t.db, taskId);
  });

  test('a task whose every device is rejected fails, naming the most frequent reason', async () => {
    const fixture = await sendFixture(t, { devices: 50, config: { seed: 3, acceptRate: 0 } });
    const taskId = await createTask(t, fixture);
    await started(testDispatcher(t));
    const task = await finished(taskId);
    expect(task.status).toBe('failed');
    expect(task.failureReason).toMatch(/^The provider rejected all 50 devices \(most often: .+\)\.$/);
    await expectConsistentSend(t.db, taskId);
  });

  test('the task API shows statistics that add up while a task is sent', async () => {
    const fixture = await sendFixture(t, { devices: 3000, unmatched: 300 });
    const taskId = await createTask(t, fixture);
    // A rate limit on the test clock (each wait also lets the event loop turn once) makes the send
    // take many steps, each one observable.
    const sleep = async (ms: number) => {
      t.clock.now = new Date(t.clock.now.getTime() + ms);
      await new Promise((resolve) => setTimeout(resolve, 1));
    };
    await started(testDispatcher(t, { settings: { batchSize: 100, rateLimitPerSecond: 500 }, sleep }));
    const seen = new Set<number>();
    for (;;) {
      const res = await t.request(t.adminToken, {
        method: 'GET',
        url: `/api/v1/workspaces/${t.workspaceId}/tasks/${taskId}`,
      });
      const { status, statistics: s } = res.json();
      expect(s.plannedSends).toBe(s.unmatched + s.totalSent + s.pending);
      expect(s.totalSent).toBe(s.deliveries + s.failures + s.noFeedback);
      if (status === 'sending') seen.add(s.totalSent);
      if (status === 'completed') break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(seen.size).toBeGreaterThan(3);
    await expectConsistentSend(t.db, taskId);
  });
});

describe('provider errors', () => {
  test('bad credentials fail the task with a readable reason and every device gets a failure result', async () => {
    const fixture = await sendFixture(t, { devices: 300 });
    const taskId = await createTask(t, fixture);
    const { provider, calls } = scriptedProvider(
      simulatorOn(t.db),
      () => new ProviderError('2007', 'bad appkey or app_master_secret (Umeng 2007)', false),
    );
    await started(testDispatcher(t, { providers: { simulator: provider }, settings: { batchSize: 100 } }));
    const task = await finished(taskId);
    expect(task.status).toBe('failed');
    expect(task.failureReason).toBe('bad appkey or app_master_secret (Umeng 2007)');
    // Only one call reached the provider; the batches after it were not handed over.
    expect(calls).toHaveLength(1);
    const { batches } = await expectConsistentSend(t.db, taskId);
    expect(batches[0]).toMatchObject({ status: 'failed', error_code: '2007', attempts: 1 });
    expect(batches.slice(1).every((b) => b.status === 'failed' && b.error_code === 'SEND_STOPPED')).toBe(
      true,
    );
    expect(task.counts).toMatchObject({ totalSent: 300, failures: 300 });
    const reasons = await t.db
      .selectFrom('device_results')
      .select(['batch_seq', 'failure_reason'])
      .distinct()
      .where('task_id', '=', taskId)
      .orderBy('batch_seq')
      .execute();
    expect(reasons[0]!.failure_reason).toBe('bad appkey or app_master_secret (Umeng 2007)');
    expect(reasons[1]!.failure_reason).toBe('not sent: bad appkey or app_master_secret (Umeng 2007)');
    const state = await t.db
      .selectFrom('task_dispatch')
      .selectAll()
      .where('task_id', '=', taskId)
      .executeTakeFirst();
    expect(state?.send_error).toBe('bad appkey or app_master_secret (Umeng 2007)');
    const read = await t.request(t.adminToken, {
      method: 'GET',
      url: `/api/v1/workspaces/${t.workspaceId}/tasks/${taskId}`,
    });
    expect(read.json().sendError).toBe('bad appkey or app_master_secret (Umeng 2007)');
  });

  test('retryable errors are retried with exponential backoff, and the last error stays on the batch', async () => {
    const fixture = await sendFixture(t, { devices: 50 });
    const taskId = await createTask(t, fixture);
    const { provider, calls } = scriptedProvider(simulatorOn(t.db), (call) =>
      call <= 2 ? new ProviderError('4001', 'Umeng is busy (Umeng 4001)', true) : 'answer',
    );
    const sleep = clockSleep(t);
    await started(
      testDispatcher(t, { providers: { simulator: provider }, sleep, settings: { retryBaseMs: 500 } }),
    );
    const task = await finished(taskId);
    expect(task.status).toBe('completed');
    expect(sleep.waits).toEqual([500, 1000]);
    expect(calls.map((c) => c.batchId)).toEqual([`${taskId}-1`, `${taskId}-1`, `${taskId}-1`]);
    const { batches } = await expectConsistentSend(t.db, taskId);
    expect(batches[0]).toMatchObject({ status: 'sent', attempts: 3, error_code: '4001' });
  });

  test('a provider still down after the last attempt fails the task with the reason', async () => {
    const fixture = await sendFixture(t, { devices: 50 });
    const taskId = await createTask(t, fixture);
    const { provider, calls } = scriptedProvider(
      simulatorOn(t.db),
      () => new ProviderError('NETWORK', 'could not reach the provider (ECONNREFUSED)', true),
    );
    const sleep = clockSleep(t);
    await started(
      testDispatcher(t, {
        providers: { simulator: provider },
        sleep,
        settings: { maxAttempts: 3, retryBaseMs: 1000 },
      }),
    );
    const task = await finished(taskId);
    expect(task.status).toBe('failed');
    expect(task.failureReason).toBe(
      'could not reach the provider (ECONNREFUSED) (NETWORK) — still failing after 3 attempts',
    );
    expect(calls).toHaveLength(3);
    expect(sleep.waits).toEqual([1000, 2000]);
    await expectConsistentSend(t.db, taskId);
  });

  test('an unexpected error from a provider is not retried', async () => {
    const fixture = await sendFixture(t, { devices: 10 });
    const taskId = await createTask(t, fixture);
    const { provider, calls } = scriptedProvider(simulatorOn(t.db), () => new TypeError('oops'));
    await started(testDispatcher(t, { providers: { simulator: provider }, sleep: clockSleep(t) }));
    const task = await finished(taskId);
    expect(task.status).toBe('failed');
    expect(task.failureReason).toBe('the provider failed unexpectedly: oops (UNEXPECTED)');
    expect(calls).toHaveLength(1);
  });

  test('a provider that goes down mid-send completes the task, the rest recorded as not sent', async () => {
    const fixture = await sendFixture(t, { devices: 400 });
    const taskId = await createTask(t, fixture);
    const { provider } = scriptedProvider(simulatorOn(t.db), (call) =>
      call <= 2 ? 'answer' : new ProviderError('2000', 'the app is disabled (Umeng 2000)', false),
    );
    await started(testDispatcher(t, { providers: { simulator: provider }, settings: { batchSize: 100 } }));
    const task = await finished(taskId);
    expect(task.status).toBe('completed');
    expect(task.counts.noFeedback).toBeGreaterThan(0);
    expect(task.counts.failures).toBeGreaterThanOrEqual(200);
    await expectConsistentSend(t.db, taskId);
  });

  test('an app whose provider this server does not have fails its task', async () => {
    const fixture = await sendFixture(t, { devices: 10, provider: 'umeng' });
    const taskId = await createTask(t, fixture);
    await started(testDispatcher(t));
    const task = await finished(taskId);
    expect(task.status).toBe('failed');
    expect(task.failureReason).toBe('no umeng provider in this server');
  });
});

describe('rate limit', () => {
  test('an app is sent at most its devices-per-second rate, one second of burst included', async () => {
    const fixture = await sendFixture(t, { devices: 5000 });
    const taskId = await createTask(t, fixture);
    const sleep = clockSleep(t);
    const clock = () => t.clock.now;
    const { provider, calls } = scriptedProvider(simulatorOn(t.db), () => 'answer', clock);
    const start = t.clock.now.getTime();
    await started(
      testDispatcher(t, {
        providers: { simulator: provider },
        sleep,
        settings: { batchSize: 250, rateLimitPerSecond: 1000 },
      }),
    );
    expect((await finished(taskId)).status).toBe('completed');
    let handed = 0;
    for (const call of calls) {
      handed += call.devices;
      // By the time of each hand-over, at most one second's burst plus the rate × elapsed time.
      expect(handed).toBeLessThanOrEqual(1000 + ((call.at - start) * 1000) / 1000);
    }
    expect(handed).toBe(5000);
    expect(t.clock.now.getTime() - start).toBeGreaterThanOrEqual(4000);
  });
});

describe('job queue', () => {
  test('the in-process queue runs a job ID once at a time, within its concurrency', async () => {
    const queue = createInProcessQueue<{ n: number }>();
    const running = new Set<number>();
    let most = 0;
    const ran: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    queue.process(async ({ n }) => {
      running.add(n);
      most = Math.max(most, running.size);
      await gate;
      ran.push(n);
      running.delete(n);
    }, 2);
    for (const n of [1, 2, 3]) await queue.add(`job-${n}`, { n });
    // Already running: not added again. Still waiting: removed.
    await queue.add('job-1', { n: 99 });
    expect(await queue.remove('job-3')).toBe(true);
    release();
    await waitFor(
      async () => ran.length,
      (n) => n === 2,
      1000,
    );
    expect(ran.sort()).toEqual([1, 2]);
    expect(most).toBe(2);
    await queue.close();
  });

  test('a wake-up for a scheduled task is a delayed job: it runs at the task time, once per time', async () => {
    const queue = createInProcessQueue<StartJob>();
    const woken: number[] = [];
    queue.process(async () => {
      woken.push(Date.now());
    }, 1);
    const now = new Date();
    const dueAt = new Date(now.getTime() + 300).toISOString();
    const queuedAt = Date.now();
    await scheduleWakeUp(queue, dueAt, now);
    // Two tasks due at the same moment share one wake-up; a delayed job can be taken back.
    await scheduleWakeUp(queue, dueAt, now);
    await scheduleWakeUp(queue, new Date(now.getTime() + 60_000).toISOString(), now);
    expect(await queue.remove(`due-${now.getTime() + 60_000}`)).toBe(true);
    expect(woken).toEqual([]);
    await waitFor(
      async () => woken.length,
      (n) => n === 1,
      2000,
    );
    expect((woken[0] as number) - queuedAt).toBeGreaterThanOrEqual(290);
    // Due now (an immediate task): no delay.
    await scheduleWakeUp(queue, null, new Date());
    await waitFor(
      async () => woken.length,
      (n) => n === 2,
      1000,
    );
    await queue.close();
  });

  test('closing the in-process queue aborts running jobs and waits for them to return', async () => {
    const errors: unknown[] = [];
    const queue = createInProcessQueue<object>((_id, error) => errors.push(error));
    let returned = false;
    queue.process(async (_data, signal) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      returned = true;
    }, 1);
    await queue.add('job', {});
    await queue.close();
    expect(returned).toBe(true);
    expect(errors).toEqual([]);
  });
});

describe('building blocks', () => {
  test('retries wait the base delay, doubling with each attempt, up to a minute', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, 1000))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(20, 1000)).toBe(MAX_RETRY_DELAY_MS);
  });

  test('the rate limiter lets one second of devices through at once, then holds the rate, per app', async () => {
    let now = 0;
    const waits: number[] = [];
    const limiter = createRateLimiter(
      1000,
      () => new Date(now),
      async (ms) => {
        waits.push(ms);
        now += ms;
      },
    );
    await limiter.take('app_a', 1000);
    expect(waits).toEqual([]);
    await limiter.take('app_a', 500);
    expect(waits).toEqual([500]);
    await limiter.take('app_b', 1000);
    expect(waits).toEqual([500]);
    limiter.refund('app_a', 250);
    await limiter.take('app_a', 500);
    expect(waits).toEqual([500, 250]);
    const unlimited = createRateLimiter(
      0,
      () => new Date(now),
      async () => {
        throw new Error('never waits');
      },
    );
    await unlimited.take('app_a', 1_000_000);
  });

  test("an app's own rate limit overrides the deployment default, and 0 lifts it", async () => {
    let now = 0;
    const waits: number[] = [];
    const limiter = createRateLimiter(
      1000,
      () => new Date(now),
      async (ms) => {
        waits.push(ms);
        now += ms;
      },
    );
    await limiter.take('app_slow', 200, undefined, 100);
    expect(waits).toEqual([1000]);
    await limiter.take('app_free', 1_000_000, undefined, 0);
    expect(waits).toEqual([1000]);
  });

  test('a batch ID is the task ID and the batch number', () => {
    expect(batchIdOf('tsk_01jc5x0q8m4f7tq3wz9k2v6e1h', 42)).toBe('tsk_01jc5x0q8m4f7tq3wz9k2v6e1h-42');
  });

  test('receipt URLs start with the public URL: http://localhost:<port> unless PUSHBOARD_PUBLIC_URL says otherwise', () => {
    expect(loadConfig({ port: 8080 }, {}).publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({}, { PUSHBOARD_PUBLIC_URL: 'https://push.example.com/' }).publicUrl).toBe(
      'https://push.example.com',
    );
    expect(() => loadConfig({}, { PUSHBOARD_PUBLIC_URL: 'push.example.com' })).toThrow(
      /PUSHBOARD_PUBLIC_URL/,
    );
  });
});
