/**
 * The BullMQ job queue against the real Redis: the `JobQueue` semantics of the in-process queue (one
 * job per ID at a time, delays, removal, failures dropped and reported, close aborts), jobs shared by
 * several queue instances with each run exactly once, and a job whose worker process was killed with
 * SIGKILL taken over by another worker once its lock expired.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createBullmqQueue, deletePrefix } from '../src/queue/bullmq-queue.ts';
import type { JobQueue } from '../src/queue/queue.ts';
import { openRedis } from '../src/queue/redis.ts';
import { ensureRedis, REDIS_TEST_URL } from './services.ts';

const STALL_WORKER = path.resolve(import.meta.dirname, 'fixtures/bullmq-stall-worker.ts');
const SERVER_DIR = path.resolve(import.meta.dirname, '..');

interface Data {
  n: number;
}

interface Failure {
  jobId: string;
  error: unknown;
}

const opened: JobQueue<Data>[] = [];
const prefixes: string[] = [];
const children: ChildProcess[] = [];
/** Errors the queues report outside of any job: there should be none. */
let queueErrors: Error[] = [];

beforeAll(async () => {
  await ensureRedis();
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(opened.splice(0).map((queue) => queue.close()));
  for (const prefix of prefixes.splice(0)) await deletePrefix(REDIS_TEST_URL, prefix);
  const errors = queueErrors;
  queueErrors = [];
  expect(errors).toEqual([]);
});

/** A key space of its own for one test. */
function newPrefix(): string {
  const prefix = `pushboard-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  return prefix;
}

function openQueue(
  prefix: string,
  options: {
    onError?: (jobId: string, error: unknown) => void;
    lockDurationMs?: number;
    stalledIntervalMs?: number;
  } = {},
): JobQueue<Data> {
  const queue = createBullmqQueue<Data>({
    name: 'send',
    redisUrl: REDIS_TEST_URL,
    prefix,
    onQueueError: (error) => queueErrors.push(error),
    ...options,
  });
  opened.push(queue);
  return queue;
}

/** Resolves once `condition` holds, checking every 20 ms; fails after `timeoutMs` saying `what`. */
async function waitFor(
  condition: () => boolean,
  timeoutMs = 10_000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    await pause(20);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise to resolve from outside, for handlers that must stay running until the test says so. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** A queue that records the `n` of every job it runs. */
function recordingQueue(prefix: string, concurrency = 1) {
  const runs: number[] = [];
  const queue = openQueue(prefix);
  queue.process(async (data) => {
    runs.push(data.n);
  }, concurrency);
  return { queue, runs };
}

describe('one queue', () => {
  test('runs the jobs with their data', async () => {
    const { queue, runs } = recordingQueue(newPrefix());
    await queue.add('job-1', { n: 1 });
    await queue.add('job-2', { n: 2 });
    await queue.add('job-3', { n: 3 });
    await waitFor(() => runs.length === 3, 10_000, 'three runs');
    expect(runs.sort()).toEqual([1, 2, 3]);
  });

  test('runs at most `concurrency` jobs at a time, and that many when there are enough', async () => {
    const queue = openQueue(newPrefix());
    let running = 0;
    let most = 0;
    let done = 0;
    queue.process(async () => {
      running++;
      most = Math.max(most, running);
      await pause(100);
      running--;
      done++;
    }, 3);
    for (let n = 0; n < 9; n++) await queue.add(`job-${n}`, { n });
    await waitFor(() => done === 9, 10_000, 'nine runs');
    expect(most).toBe(3);
  });

  test('adding an ID that is waiting, delayed or running changes nothing', async () => {
    const prefix = newPrefix();
    const queue = openQueue(prefix);
    const runs: string[] = [];
    const release = gate();
    // Waiting: nothing processes yet.
    await queue.add('waiting', { n: 1 });
    await queue.add('waiting', { n: 2 });
    // Delayed, then added again without a delay: it stays delayed.
    await queue.add('delayed', { n: 3 }, { delayMs: 1500 });
    await queue.add('delayed', { n: 4 });
    queue.process(async (data) => {
      runs.push(`start ${data.n}`);
      if (data.n === 5) await release.opened;
    }, 1);
    await waitFor(() => runs.includes('start 1'), 10_000, 'the waiting job');
    // Running: added again while its handler runs.
    await queue.add('running', { n: 5 });
    await waitFor(() => runs.includes('start 5'), 10_000, 'the running job');
    await queue.add('running', { n: 6 });
    release.open();
    await waitFor(() => runs.includes('start 3'), 10_000, 'the delayed job');
    // Jobs run in the order they became ready: a second copy of any would have run by now.
    await queue.add('last', { n: 7 });
    await waitFor(() => runs.includes('start 7'), 10_000, 'the last job');
    expect(runs).toEqual(['start 1', 'start 5', 'start 3', 'start 7']);
  });

  test('an ID can be added again once its job is done, after success and after failure', async () => {
    const failures: Failure[] = [];
    const queue = openQueue(newPrefix(), {
      onError: (jobId, error) => {
        failures.push({ jobId, error });
        // The failure is reported once the job is gone: adding it again from here works.
        if (failures.length === 1) void queue.add(jobId, { n: 30 });
      },
    });
    const runs: number[] = [];
    queue.process(async (data) => {
      runs.push(data.n);
      if (data.n === 20) throw new Error('provider down');
    }, 1);
    await queue.add('again', { n: 1 });
    // With one job at a time, the marker starts only once `again` is completed and removed.
    await queue.add('marker-1', { n: 10 });
    await waitFor(() => runs.includes(10), 10_000, 'the first marker');
    await queue.add('again', { n: 2 });
    await waitFor(() => runs.includes(2), 10_000, 'the second run');
    await queue.add('failing', { n: 20 });
    await waitFor(() => runs.includes(30), 10_000, 'the run added by onError');
    expect(runs).toEqual([1, 10, 2, 20, 30]);
    expect(failures.map((failure) => failure.jobId)).toEqual(['failing']);
  });

  test('a delayed job runs after its delay, not before', async () => {
    const queue = openQueue(newPrefix());
    const ranAt: number[] = [];
    queue.process(async () => {
      ranAt.push(Date.now());
    }, 1);
    const addedAt = Date.now();
    await queue.add('later', { n: 1 }, { delayMs: 1500 });
    await pause(300);
    expect(ranAt).toEqual([]);
    await waitFor(() => ranAt.length === 1, 15_000, 'the delayed job');
    expect(ranAt[0]! - addedAt).toBeGreaterThanOrEqual(1400);
  });

  test('remove takes out a waiting or delayed job, answers false for a running or unknown one', async () => {
    const queue = openQueue(newPrefix());
    const runs: number[] = [];
    const release = gate();
    await queue.add('waiting', { n: 1 });
    await queue.add('delayed', { n: 2 }, { delayMs: 500 });
    expect(await queue.remove('waiting')).toBe(true);
    expect(await queue.remove('delayed')).toBe(true);
    expect(await queue.remove('waiting')).toBe(false);
    expect(await queue.remove('unknown')).toBe(false);
    queue.process(async (data) => {
      runs.push(data.n);
      if (data.n === 3) await release.opened;
    }, 1);
    await queue.add('running', { n: 3 });
    await waitFor(() => runs.includes(3), 10_000, 'the running job');
    expect(await queue.remove('running')).toBe(false);
    release.open();
    // Past the removed job's delay; the marker runs after anything that was still queued.
    await pause(800);
    await queue.add('marker', { n: 4 });
    await waitFor(() => runs.includes(4), 10_000, 'the marker');
    expect(runs).toEqual([3, 4]);
    expect(await queue.remove('marker')).toBe(false);
  });

  test('a handler that throws is reported through onError and does not run again', async () => {
    const failures: Failure[] = [];
    const queue = openQueue(newPrefix(), { onError: (jobId, error) => failures.push({ jobId, error }) });
    const thrown = new Error('boom');
    const runs: number[] = [];
    queue.process(async (data) => {
      runs.push(data.n);
      if (data.n === 1) throw thrown;
      // Not an Error: reported as thrown all the same.
      if (data.n === 2) throw 'plain string';
    }, 1);
    await queue.add('throws-error', { n: 1 });
    await queue.add('throws-string', { n: 2 });
    await queue.add('marker', { n: 3 });
    await waitFor(() => runs.includes(3), 10_000, 'the marker');
    await pause(300);
    expect(runs).toEqual([1, 2, 3]);
    expect(failures).toEqual([
      { jobId: 'throws-error', error: thrown },
      { jobId: 'throws-string', error: 'plain string' },
    ]);
    expect(failures[0]!.error).toBe(thrown);
  });

  test('an ID with ":" is refused with a clear error; integers and BullMQ key names are fine', async () => {
    const { queue, runs } = recordingQueue(newPrefix());
    await expect(queue.add('tsk:1', { n: 1 })).rejects.toThrow(/job ID "tsk:1" contains ":"/);
    expect(await queue.remove('tsk:1')).toBe(false);
    // BullMQ alone refuses integer IDs and keeps its own keys where these jobs would be.
    const ids = ['42', 'wait', 'meta', 'id', 'events', 'marker', 'active'];
    for (const [n, id] of ids.entries()) await queue.add(id, { n });
    await waitFor(() => runs.length === ids.length, 10_000, 'every job');
    expect(runs).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test('close aborts the running handlers, waits for them and leaves no connection open', async () => {
    const prefix = newPrefix();
    const queue = openQueue(prefix);
    const signals: AbortSignal[] = [];
    let returned = 0;
    queue.process(async (_data, signal) => {
      signals.push(signal);
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      await pause(50);
      returned++;
    }, 2);
    await queue.add('one', { n: 1 });
    await queue.add('two', { n: 2 });
    await waitFor(() => signals.length === 2, 10_000, 'both handlers');
    const started = Date.now();
    await queue.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    expect(returned).toBe(2);
    // Adding after close is ignored, as in the in-process queue.
    await queue.add('three', { n: 3 });
    const redis = openRedis(REDIS_TEST_URL);
    try {
      const ours = async () =>
        String(await redis.client('LIST'))
          .split('\n')
          .filter((line) => line.includes(prefix));
      const deadline = Date.now() + 3000;
      while ((await ours()).length > 0 && Date.now() < deadline) await pause(50);
      expect(await ours()).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  test('close does not hang when Redis does not answer', async () => {
    const errors: Error[] = [];
    const queue = createBullmqQueue<Data>({
      name: 'send',
      // Nothing listens there: every command waits for a connection that never comes.
      redisUrl: 'redis://127.0.0.1:1',
      prefix: newPrefix(),
      onQueueError: (error) => errors.push(error),
    });
    queue.process(async () => {}, 1);
    void queue.add('never', { n: 1 }).catch(() => {});
    await pause(500);
    const started = Date.now();
    await queue.close();
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(errors.map((error) => error.message)).toContain(
      'Redis did not answer while the job queue closed; its connection was cut',
    );
  });

  test('close returns promptly right after process and without process', async () => {
    const idle = openQueue(newPrefix());
    const started = openQueue(newPrefix());
    started.process(async () => {}, 1);
    const begin = Date.now();
    await Promise.all([idle.close(), started.close()]);
    expect(Date.now() - begin).toBeLessThan(5000);
  });
});

describe('several queue instances', () => {
  test('instances with the same name and prefix share the jobs and run each exactly once', async () => {
    const prefix = newPrefix();
    const producer = openQueue(prefix);
    const ranBy = new Map<number, string[]>();
    for (const instance of ['a', 'b']) {
      openQueue(prefix).process(async (data) => {
        ranBy.set(data.n, [...(ranBy.get(data.n) ?? []), instance]);
        await pause(10);
      }, 4);
    }
    for (let n = 0; n < 200; n++) await producer.add(`job-${n}`, { n });
    await waitFor(() => ranBy.size === 200, 30_000, '200 jobs');
    await pause(500);
    expect([...ranBy.values()].filter((instances) => instances.length !== 1)).toEqual([]);
    const byA = [...ranBy.values()].filter(([instance]) => instance === 'a').length;
    expect(byA).toBeGreaterThan(0);
    expect(byA).toBeLessThan(200);
  });

  test('instances with different prefixes do not share', async () => {
    const first = recordingQueue(newPrefix());
    const second = recordingQueue(newPrefix());
    await first.queue.add('same-id', { n: 1 });
    await second.queue.add('same-id', { n: 2 });
    await waitFor(() => first.runs.length === 1 && second.runs.length === 1, 10_000, 'both runs');
    expect([first.runs, second.runs]).toEqual([[1], [2]]);
  });

  test('the job of a worker killed with SIGKILL is run by another worker once its lock expires, every time', async () => {
    const prefix = newPrefix();
    await openQueue(prefix).add('orphan', { n: 42 });
    let output = '';
    /** Starts a worker process that takes the job and hangs; resolves once it has the job. */
    const hangingWorker = async () => {
      const taken = output.split('{"n":42}').length;
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', STALL_WORKER, REDIS_TEST_URL, prefix, 'send', '1000', '500'],
        { cwd: SERVER_DIR, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      child.stdout?.on('data', (chunk) => {
        output += chunk;
      });
      child.stderr?.on('data', (chunk) => {
        output += chunk;
      });
      await waitFor(
        () => output.split('{"n":42}').length > taken,
        30_000,
        'a worker process to take the job',
      );
      return child;
    };

    // The job stalls twice (BullMQ's default would fail it the second time).
    const first = await hangingWorker();
    first.kill('SIGKILL');
    const second = await hangingWorker();

    const failures: Failure[] = [];
    const runs: number[] = [];
    openQueue(prefix, {
      lockDurationMs: 1000,
      stalledIntervalMs: 500,
      onError: (jobId, error) => failures.push({ jobId, error }),
    }).process(async (data) => {
      runs.push(data.n);
    }, 1);
    // While its worker lives it renews the lock: the job is not taken from it.
    await pause(2500);
    expect(runs).toEqual([]);

    second.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => runs.length + failures.length > 0, 20_000, 'the job to run again');
    // Not before the lock expired.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(400);
    await pause(1500);
    expect(failures).toEqual([]);
    expect(runs).toEqual([42]);
  });
});
