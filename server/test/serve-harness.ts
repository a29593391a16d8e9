/**
 * Driving real `pushboard serve` processes over HTTP, for the tests that kill them: spawn one and
 * wait until it is ready, call the API, send the demo audience through the demo Android app, and
 * check a finished send in the store (every matched device one result, every batch handed over once).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { statisticsViolations } from '../src/domain/statistics.ts';
import type { Db } from '../src/storage/database.ts';
import { openStoreOf, storeEnvFor } from './backends.ts';
import { expectConsistentSend, readTask } from './dispatch-fixtures.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/pushboard.js');

/** The workspace made on first start. */
export const WS = '/api/v1/workspaces/default';

/** A running `pushboard serve` child process and what it printed so far. */
export interface ServeProcess {
  child: ChildProcess;
  output(): string;
}

/** Every process spawned, for `killAll`. */
const children: ChildProcess[] = [];

/**
 * Starts `pushboard serve <args>` with `env` added to this process's environment, and resolves once
 * its output matches `ready` (rejects if it exits first).
 */
export function spawnServe(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
      reject(new Error(`pushboard serve ${args.join(' ')} exited with ${code}: ${out}`)),
    );
  });
}

/** What an API process prints once it listens. */
export const LISTENING = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/;

/** The base URL a process printed when it started listening. */
export function baseUrlOf(server: ServeProcess): string {
  const url = LISTENING.exec(server.output())?.[1];
  if (!url) throw new Error(`not listening: ${server.output()}`);
  return url;
}

/** Kills whatever `spawnServe` started and is still running (for `afterEach`). */
export function killAll(): void {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
}

/** Calls the API; throws with the answer on anything but 2xx. */
export async function call<T>(
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

/** A task as the API shows it, as far as these tests read it. */
export interface TaskView {
  status: string;
  statistics: Record<string, number | null>;
}

/** The invariants of an Android task as the API shows it (the rates aside). */
export function violations(task: TaskView): string[] {
  const { impressionRate, openRate, dismissalRate, ...counts } = task.statistics;
  return statisticsViolations(counts as never, { platform: 'android', status: task.status as never });
}

/** The demo set-up a first start made, and an immediate task to all of it through the Android app. */
export interface DemoSend {
  token: string;
  androidAppId: string;
  audienceId: string;
  taskId: string;
}

/** Logs in as `admin` and creates an immediate task from the Android demo app to the demo audience. */
export async function sendToDemoAudience(base: string, password: string, name: string): Promise<DemoSend> {
  const { token } = await call<{ token: string }>(base, null, 'POST', '/api/v1/auth/login', {
    username: 'admin',
    password,
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
    name,
    appId: android.id,
    title: 'Flash sale',
    content: 'Ends in one hour',
    clickAction: { type: 'open_app' },
    audienceId: audience.id,
    sendType: 'immediate',
  });
  return { token, androidAppId: android.id, audienceId: audience.id, taskId };
}

/** Polls the task until `done` holds, checking the statistics invariants at every reading. */
export async function watchTask(
  base: string,
  token: string,
  taskId: string,
  done: (task: TaskView) => boolean,
  intervalMs = 20,
): Promise<TaskView> {
  for (;;) {
    const task = await call<TaskView>(base, token, 'GET', `${WS}/tasks/${taskId}`);
    expect(violations(task)).toEqual([]);
    if (done(task)) return task;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Checks a finished send of the demo audience in the store: consistent counters and results, every
 * matched device (`devices` of them) exactly one result, and every batch accepted by the simulator
 * once — a batch sent again after a crash is recognised as a repeat, never handed over twice.
 */
export async function expectSentOnce(db: Db, send: DemoSend, devices: number): Promise<void> {
  const { batches } = await expectConsistentSend(db, send.taskId);
  const matched = await db
    .selectFrom('audience_members as m')
    .innerJoin('devices as d', (join) =>
      join.on('d.app_id', '=', send.androidAppId).onRef('d.device_id', '=', 'm.device_id'),
    )
    .leftJoin('device_results as r', (join) =>
      join.on('r.task_id', '=', send.taskId).onRef('r.device_id', '=', 'm.device_id'),
    )
    .select([
      (eb) => eb.fn.countAll<number>().as('devices'),
      (eb) => eb.fn.count<number>('r.device_id').as('results'),
    ])
    .where('m.audience_id', '=', send.audienceId)
    .executeTakeFirstOrThrow();
  expect(Number(matched.devices)).toBe(devices);
  // The primary key forbids a second result; this says none is missing.
  expect(Number(matched.results)).toBe(devices);
  const accepted = await db
    .selectFrom('simulator_batches')
    .selectAll()
    .where('task_id', '=', send.taskId)
    .execute();
  expect(accepted).toHaveLength(batches.length);
  const bySeq = new Map(batches.map((b) => [`${send.taskId}-${b.seq}`, b.device_count]));
  for (const row of accepted) expect(row.device_count).toBe(bySeq.get(row.batch_id));
  expect(accepted.reduce((sum, b) => sum + b.device_count, 0)).toBe(devices);
}

/**
 * Checks that a demo send (40,000 matched devices of 60,000) stopped midway in `dir`'s store — still
 * `sending`, devices pending, its counters consistent — completes once `restart()` serves that store
 * again, with every matched device sent exactly once. The restarted server is stopped afterwards.
 */
export async function expectCompletesOnRestart(
  dir: string,
  send: DemoSend,
  password: string,
  restart: () => Promise<ServeProcess>,
): Promise<void> {
  const stopped = await openStoreOf(await storeEnvFor(dir));
  const midway = await readTask(stopped, send.taskId);
  await stopped.destroy();
  expect(midway.status).toBe('sending');
  expect(midway.counts.pending).toBeGreaterThan(0);
  expect(statisticsViolations(midway.counts, { platform: 'android', status: 'sending' })).toEqual([]);

  const second = await restart();
  const { token } = await call<{ token: string }>(baseUrlOf(second), null, 'POST', '/api/v1/auth/login', {
    username: 'admin',
    password,
  });
  const task = await watchTask(
    baseUrlOf(second),
    token,
    send.taskId,
    (t) => t.status === 'completed' || t.status === 'failed',
    50,
  );
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
    await expectSentOnce(db, send, 40_000);
  } finally {
    await db.destroy();
  }
}
