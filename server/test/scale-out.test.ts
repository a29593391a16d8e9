/**
 * The scaled deployment, as operators run it: one API process and two worker processes on the
 * machine's PostgreSQL and Redis. A 200,000-device task is sent while one worker is killed with
 * `kill -9`: the other takes over its jobs once their locks expire, and every device still gets
 * exactly one result, no batch is handed to the provider twice, and the statistics add up.
 * Runs in the scaled test run (`PUSHBOARD_TEST_SCALED=1`).
 */
import { once } from 'node:events';
import { afterAll, describe, expect, test } from 'vitest';
import type { Db } from '../src/storage/database.ts';
import { freshStoreEnv, openStoreOf, SCALED, type StoreEnv } from './backends.ts';
import { tempDir } from './helpers.ts';
import {
  baseUrlOf,
  call,
  expectSentOnce,
  killAll,
  LISTENING,
  type ServeProcess,
  sendToDemoAudience,
  spawnServe,
  type TaskView,
  WS,
  watchTask,
} from './serve-harness.ts';

const PASSWORD = 'scale-out-test-password';

let store: StoreEnv | undefined;
let db: Db | undefined;

afterAll(async () => {
  killAll();
  await db?.destroy();
  await store?.dispose();
});

describe.runIf(SCALED)('scaled deployment: one API, two workers', () => {
  test('a worker killed with kill -9 mid-send: every device gets one result, nothing is handed over twice', async () => {
    store = await freshStoreEnv(tempDir('pushboard-scale-'));
    const env = {
      ...store.env,
      PUSHBOARD_ADMIN_PASSWORD: PASSWORD,
      // 200,000 Android devices (the task's) and 100,000 iOS ones, all in the demo audience.
      PUSHBOARD_DEMO_FLEET_SIZE: '200000',
      PUSHBOARD_DISPATCH_BATCH_SIZE: '1000',
      // Spreads the send over about five seconds, shared by both workers, so the kill lands mid-send.
      PUSHBOARD_DISPATCH_RATE_LIMIT: '40000',
      // A dead worker's jobs go to the other one 2 to 3 s after its locks stop being renewed.
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
    const send = await sendToDemoAudience(base, PASSWORD, 'Scale-out test');

    // Kill one worker once a fifth of the task is sent.
    await watchTask(base, send.token, send.taskId, (task) => Number(task.statistics.totalSent) >= 40_000);
    const victim = workers[0] as ServeProcess;
    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');
    const midway = await call<TaskView>(base, send.token, 'GET', `${WS}/tasks/${send.taskId}`);
    expect(midway.status).toBe('sending');
    expect(Number(midway.statistics.totalSent)).toBeLessThan(200_000);

    const task = await watchTask(
      base,
      send.token,
      send.taskId,
      (task) => task.status === 'completed' || task.status === 'failed',
      100,
    );
    expect(task.status).toBe('completed');
    expect(task.statistics).toMatchObject({
      plannedSends: 300_000,
      unmatched: 100_000,
      totalSent: 200_000,
      pending: 0,
    });

    // The survivor finished the task. Stopping it stops the simulator's receipts too, so that the
    // counters and the device results are read at rest.
    const survivor = workers[1] as ServeProcess;
    expect(survivor.child.exitCode).toBe(null);
    expect(survivor.output()).toMatch(/task completed/);
    survivor.child.kill('SIGTERM');
    await once(survivor.child, 'exit');

    db = await openStoreOf(store.env);
    await expectSentOnce(db, send, 200_000);
  }, 240_000);
});
