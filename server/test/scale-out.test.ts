/**
 * The scaled deployment, as operators run it: one API process and two worker processes on the
 * machine's PostgreSQL and Redis. A 200,000-device task is sent while one worker is killed with
 * `kill -9`: the other takes over its jobs once their locks expire, and every device still gets
 * exactly one result, no batch is handed to the provider twice, and the statistics add up.
 * Runs in the scaled test run (`PUSHBOARD_TEST_SCALED=1`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { statisticsViolations } from '../src/domain/statistics.ts';
import type { Db } from '../src/storage/database.ts';
import { freshStoreEnv, openStoreOf, SCALED, type StoreEnv } from './backends.ts';
import { expectConsistentSend } from './dispatch-fixtures.ts';
import { tempDir } from './helpers.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/pushboard.js');
const PASSWORD = 'scale-out-test-password';
const WS = '/api/v1/workspaces/default';

/** A `pushboard serve` child process and everything it printed. */
interface Process {
  child: ChildProcess;
  output: () => string;
}

const children: ChildProcess[] = [];
let store: StoreEnv | undefined;
let db: Db | undefined;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await db?.destroy();
  await store?.dispose();
});

/** Starts `pushboard serve --role <role>` and resolves once it says it is ready. */
function serve(role: 'api' | 'worker', env: Record<string, string>, ready: RegExp): Promise<Process> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--role', role, '--port', '0', '--host', '127.0.0.1'],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  const output = () => out;
  child.stderr?.on('data', (chunk) => {
    out += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      if (ready.test(out)) resolve({ child, output });
    });
    child.once('exit', (code) =>
      reject(new Error(`pushboard serve --role ${role} exited with ${code}: ${out}`)),
    );
  });
}

async function call<T>(
  base: string,
  token: string | null,
  method: string,
  url: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

interface TaskView {
  status: string;
  statistics: Record<string, number | null>;
}

/** The statistics invariants of SPEC §2.3 on a task as the API shows it. */
function violations(task: TaskView): string[] {
  const { impressionRate, openRate, dismissalRate, ...counts } = task.statistics;
  return statisticsViolations(counts as never, { platform: 'android', status: task.status as never });
}

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
    const api = await serve('api', env, /Server listening at http:\/\/127\.0\.0\.1:\d+/);
    const base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(api.output())?.[1] as string;
    const workerEnv = { ...env, PUSHBOARD_PUBLIC_URL: base };
    const workers = await Promise.all([
      serve('worker', workerEnv, /worker started/),
      serve('worker', workerEnv, /worker started/),
    ]);

    const { token } = await call<{ token: string }>(base, null, 'POST', '/api/v1/auth/login', {
      username: 'admin',
      password: PASSWORD,
    });
    const apps = await call<{ items: { id: string; platform: string }[] }>(base, token, 'GET', `${WS}/apps`);
    const android = apps.items.find((a) => a.platform === 'android') as { id: string };
    const audiences = await call<{ items: { id: string; name: string }[] }>(
      base,
      token,
      'GET',
      `${WS}/audiences`,
    );
    const audience = audiences.items.find((a) => a.name === 'All simulator devices') as { id: string };
    const { id: taskId } = await call<{ id: string }>(base, token, 'POST', `${WS}/tasks`, {
      name: 'Scale-out test',
      appId: android.id,
      title: 'Flash sale',
      content: 'Ends in one hour',
      clickAction: { type: 'open_app' },
      audienceId: audience.id,
      sendType: 'immediate',
    });

    // Kill one worker once a fifth of the task is sent.
    let task: TaskView;
    for (;;) {
      task = await call<TaskView>(base, token, 'GET', `${WS}/tasks/${taskId}`);
      expect(violations(task)).toEqual([]);
      if (Number(task.statistics.totalSent) >= 40_000) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const victim = workers[0] as Process;
    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');
    task = await call<TaskView>(base, token, 'GET', `${WS}/tasks/${taskId}`);
    expect(task.status).toBe('sending');
    expect(Number(task.statistics.totalSent)).toBeLessThan(200_000);

    for (;;) {
      task = await call<TaskView>(base, token, 'GET', `${WS}/tasks/${taskId}`);
      expect(violations(task)).toEqual([]);
      if (task.status === 'completed' || task.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(task.status).toBe('completed');
    expect(task.statistics).toMatchObject({
      plannedSends: 300_000,
      unmatched: 100_000,
      totalSent: 200_000,
      pending: 0,
    });

    // The survivor finished the task. Stopping it stops the simulator's receipts too, so that the
    // counters and the device results are read at rest.
    const survivor = workers[1] as Process;
    expect(survivor.child.exitCode).toBe(null);
    expect(survivor.output()).toMatch(/task completed/);
    survivor.child.kill('SIGTERM');
    await once(survivor.child, 'exit');

    db = await openStoreOf(store.env);
    const { batches } = await expectConsistentSend(db, taskId);
    // Every matched device has exactly one result (the primary key forbids a second).
    const results = await db
      .selectFrom('device_results')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('task_id', '=', taskId)
      .executeTakeFirstOrThrow();
    expect(Number(results.n)).toBe(200_000);
    // The simulator accepted every batch once, each covering its own devices: a batch whose worker
    // died after handing it over was sent again under its ID and recognised as a repeat.
    const accepted = await db
      .selectFrom('simulator_batches')
      .selectAll()
      .where('task_id', '=', taskId)
      .execute();
    expect(accepted).toHaveLength(batches.length);
    const bySeq = new Map(batches.map((b) => [`${taskId}-${b.seq}`, b.device_count]));
    for (const row of accepted) expect(row.device_count).toBe(bySeq.get(row.batch_id));
    expect(accepted.reduce((sum, b) => sum + b.device_count, 0)).toBe(200_000);
  }, 240_000);
});
