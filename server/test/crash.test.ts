/**
 * Crash safety with a real process: `pushboard serve` is killed with SIGKILL in the middle of a send
 * and started again on the same data folder. The task resumes and completes, no device is handed to
 * the provider twice, and every matched device has exactly one result.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { statisticsViolations } from '../src/domain/statistics.ts';
import { openStoreOf, storeEnvFor } from './backends.ts';
import { expectConsistentSend, readTask } from './dispatch-fixtures.ts';
import { tempDir } from './helpers.ts';

const BIN = path.resolve(import.meta.dirname, '../bin/pushboard.js');
const PASSWORD = 'crash-test-password';
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

// 40,000 Android and 20,000 iOS demo devices; the task goes to the Android app with the demo audience
// (the iOS IDs are unmatched). The rate limit spreads the send over about two seconds.
const ENV = {
  PUSHBOARD_DEMO_FLEET_SIZE: '40000',
  PUSHBOARD_ADMIN_PASSWORD: PASSWORD,
  PUSHBOARD_DISPATCH_RATE_LIMIT: '20000',
  PUSHBOARD_DISPATCH_BATCH_SIZE: '500',
  // Scaled run: the killed process's jobs go to the restarted one once their 2 s locks expire.
  PUSHBOARD_JOB_LOCK_MS: '2000',
  LOG_LEVEL: 'info',
};

/** Starts `pushboard serve` on `dataDir` and resolves once it listens. */
async function serve(dataDir: string): Promise<{ base: string; child: ChildProcess }> {
  const store = await storeEnvFor(dataDir);
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1'], {
    env: { ...process.env, ...store, ...ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stderr?.on('data', (chunk) => {
    out += chunk;
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1]) resolve({ base: match[1], child });
    });
    child.once('exit', (code) => reject(new Error(`pushboard serve exited with ${code}: ${out}`)));
  });
}

async function call<T>(
  base: string,
  token: string | null,
  method: string,
  url: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(base + url, {
    method,
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface TaskView {
  status: string;
  statistics: Record<string, number | null>;
}

/** The invariants of a task as the API shows it (the rates aside). */
function violations(task: TaskView): string[] {
  const { impressionRate, openRate, dismissalRate, ...counts } = task.statistics;
  return statisticsViolations(counts as never, { platform: 'android', status: task.status as never });
}

test('kill -9 mid-send, then restart: the task completes, nothing handed twice, one result per device', async () => {
  const dir = tempDir();
  const first = await serve(dir);
  const { token } = await call<{ token: string }>(first.base, null, 'POST', '/api/v1/auth/login', {
    username: 'admin',
    password: PASSWORD,
  });
  const ws = '/api/v1/workspaces/default';
  const apps = await call<{ items: { id: string; platform: string }[] }>(
    first.base,
    token,
    'GET',
    `${ws}/apps`,
  );
  const android = apps.items.find((a) => a.platform === 'android')!;
  const audiences = await call<{ items: { id: string; name: string }[] }>(
    first.base,
    token,
    'GET',
    `${ws}/audiences`,
  );
  const audience = audiences.items.find((a) => a.name === 'All simulator devices')!;
  const { id: taskId } = await call<{ id: string }>(first.base, token, 'POST', `${ws}/tasks`, {
    name: 'Crash test',
    appId: android.id,
    title: 'Flash sale',
    content: 'Ends in one hour',
    clickAction: { type: 'open_app' },
    audienceId: audience.id,
    sendType: 'immediate',
  });

  // Kill the server as soon as a part of the audience has been sent.
  for (;;) {
    const task = await call<TaskView>(first.base, token, 'GET', `${ws}/tasks/${taskId}`);
    expect(violations(task)).toEqual([]);
    if (task.status !== 'scheduled' && Number(task.statistics.totalSent) >= 2000) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  first.child.kill('SIGKILL');
  await once(first.child, 'exit');

  const killed = await openStoreOf(await storeEnvFor(dir));
  const midway = await readTask(killed, taskId);
  await killed.destroy();
  expect(midway.status).toBe('sending');
  expect(midway.counts.pending).toBeGreaterThan(0);
  expect(statisticsViolations(midway.counts, { platform: 'android', status: 'sending' })).toEqual([]);

  const second = await serve(dir);
  const { token: again } = await call<{ token: string }>(second.base, null, 'POST', '/api/v1/auth/login', {
    username: 'admin',
    password: PASSWORD,
  });
  let task: TaskView;
  for (;;) {
    task = await call<TaskView>(second.base, again, 'GET', `${ws}/tasks/${taskId}`);
    expect(violations(task)).toEqual([]);
    if (task.status === 'completed' || task.status === 'failed') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(task.status).toBe('completed');
  expect(task.statistics).toMatchObject({
    plannedSends: 60_000,
    unmatched: 20_000,
    totalSent: 40_000,
    pending: 0,
  });
  second.child.kill('SIGTERM');
  await once(second.child, 'exit');

  const db = await openStoreOf(await storeEnvFor(dir));
  try {
    const { batches } = await expectConsistentSend(db, taskId);
    // Every matched device of the audience has exactly one result (the primary key forbids two).
    const matched = await db
      .selectFrom('audience_members as m')
      .innerJoin('devices as d', (join) =>
        join.on('d.app_id', '=', android.id).onRef('d.device_id', '=', 'm.device_id'),
      )
      .leftJoin('device_results as r', (join) =>
        join.on('r.task_id', '=', taskId).onRef('r.device_id', '=', 'm.device_id'),
      )
      .select([
        (eb) => eb.fn.countAll<number>().as('devices'),
        (eb) => eb.fn.count<number>('r.device_id').as('results'),
      ])
      .where('m.audience_id', '=', audience.id)
      .executeTakeFirstOrThrow();
    expect(Number(matched.devices)).toBe(40_000);
    expect(Number(matched.results)).toBe(40_000);
    // The simulator took every batch once: one accepted hand-over per batch, covering each device once.
    const accepted = await db
      .selectFrom('simulator_batches')
      .selectAll()
      .where('task_id', '=', taskId)
      .execute();
    expect(accepted).toHaveLength(batches.length);
    const bySeq = new Map(batches.map((b) => [`${taskId}-${b.seq}`, b.device_count]));
    for (const row of accepted) expect(row.device_count).toBe(bySeq.get(row.batch_id));
    expect(accepted.reduce((sum, b) => sum + b.device_count, 0)).toBe(40_000);
  } finally {
    await db.destroy();
  }
});
