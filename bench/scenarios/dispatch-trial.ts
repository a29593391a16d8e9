/**
 * One trial of the `dispatch` scenario in a process of its own (run by `dispatch.ts`), so that the
 * probe's pre-generated rows never sit in the send's heap nor the other way round:
 *
 *   node --import tsx bench/scenarios/dispatch-trial.ts probe|send|capped <db file | postgres URL> <devices> <batch size> <pragmas JSON>
 *
 * Both first do the same work untimed on the warm-up audience (the first `WARMUP_DEVICES`), as a
 * server that has been running would have: the figures are steady-state ones, not the JIT
 * compiler's. `capped` is `send` with a frequency cap in force and half the devices at it
 * (`dispatch_capped`). Prints one JSON line: `{"rate": …, "cpuSeconds": …}`.
 *
 * Scaled (a PostgreSQL URL; `DATABASE_URL`, `REDIS_URL` and `PUSHBOARD_REDIS_PREFIX` in the
 * environment): the send runs in this process as one worker process of the scaled mode runs it —
 * the dispatcher over PostgreSQL with BullMQ queues for task sends, batch hand-overs (4 at a time,
 * as `main.ts` has a worker run them) and starts, and the Redis rate limiter. The probe writes the
 * same rows with node-postgres twice, by `COPY … FROM STDIN` and by multi-row `INSERT … VALUES`
 * (one statement per batch, prepared), and answers the faster.
 */

import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { type Config, loadConfig } from '../../server/src/config.ts';
import {
  createDispatcher,
  type Dispatcher,
  type ScaledDispatch,
} from '../../server/src/dispatch/dispatcher.ts';
import { sleep } from '../../server/src/dispatch/rate-limit.ts';
import { createRedisRateLimiter } from '../../server/src/dispatch/redis-rate-limit.ts';
import { newId } from '../../server/src/ids.ts';
import type { Provider } from '../../server/src/providers/provider.ts';
import { createBullmqQueue } from '../../server/src/queue/bullmq-queue.ts';
import { openRedis } from '../../server/src/queue/redis.ts';
import type { Db } from '../../server/src/storage/database.ts';
import { openPostgres } from '../../server/src/storage/postgres.ts';
import { openSqlite } from '../../server/src/storage/sqlite.ts';
import { UNSENT_TASK_COUNTERS } from '../../server/src/tasks/task-store.ts';
import { isPostgresLocation, rawPostgres } from '../store.ts';

/** IDs of the seeded rows, shared with `dispatch.ts`; as long as real ones (`ids.ts`), since they are in every key. */
export const WORKSPACE = 'ws_benchdispatch00000000000000';
export const APP = 'app_benchdispatch0000000000000';
export const AUDIENCE = 'aud_benchdispatch0000000000000';
export const WARMUP_AUDIENCE = 'aud_benchwarmup000000000000000';
/** Size of the warm-up audience (the fleet's first devices). */
export const WARMUP_DEVICES = 20_000;

/** A rate and the CPU time (user + system) it took, in seconds. */
export interface Measured {
  rate: number;
  /** CPU of this process only: on PostgreSQL most of the work is in the server's processes. */
  cpuSeconds: number;
  /** Scaled probe: the rate of each way of writing the rows (`rate` is the faster). */
  forms?: Record<string, number>;
}

/** Batch hand-overs one worker runs at the same time: `WORKER_BATCH_CONCURRENCY` of `main.ts`. */
const WORKER_BATCH_CONCURRENCY = 4;

/** Accepts every device at once: the cost measured is Pushboard's alone. */
const noOpProvider: Provider = {
  async sendBatch() {
    return { providerRef: null, outcomes: [] };
  },
  async cancel() {},
  parseReceipts: () => ({ receipts: [], unreadable: [] }),
};

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** The raw insert rate of the rows the dispatcher writes, in rows per second. */
function probe(file: string, pragmas: string[], batchSize: number): Measured {
  const database = new SQLite(file);
  try {
    for (const pragma of pragmas) database.pragma(pragma);
    // The same rows as the send writes: audience order, the device's channel, Android's accepted result.
    const rows = database
      .prepare(
        `select m.device_id, d.channel from audience_members m join devices d on d.app_id = ? and d.device_id = m.device_id
         where m.audience_id = ? order by m.device_id`,
      )
      .raw(true)
      .all(APP, AUDIENCE) as [string, string][];
    const insert = database.prepare(
      `insert into device_results (task_id, device_id, batch_seq, channel, send_result, failure_reason, delivered_at)
       values (?, ?, ?, ?, 'no_feedback', null, null)`,
    );
    const write = database.transaction((taskId: string, from: number, to: number, seq: number) => {
      for (let i = from; i < to; i++) insert.run(taskId, rows[i]![0], seq, rows[i]![1]);
    });
    const writeAll = (taskId: string, count: number) => {
      for (let from = 0, seq = 1; from < count; from += batchSize, seq++) {
        write(taskId, from, Math.min(count, from + batchSize), seq);
      }
    };
    writeAll('tsk_probe_warmup00000000000000', Math.min(WARMUP_DEVICES, rows.length));
    const cpu = process.cpuUsage();
    const started = performance.now();
    writeAll('tsk_probe000000000000000000000', rows.length);
    return { rate: rows.length / ((performance.now() - started) / 1000), cpuSeconds: cpuSeconds(cpu) };
  } finally {
    database.close();
  }
}

/** Writes one buffer through `COPY … FROM STDIN` and resolves once PostgreSQL has taken it. */
function copyIn(client: pg.Client, text: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = client.query(copyFrom(text));
    stream.on('error', reject);
    stream.on('finish', () => resolve());
    stream.end(data);
  });
}

/**
 * The PostgreSQL probe: the same rows as the send writes (audience order, the device's channel,
 * Android's accepted result), pre-generated per batch, written one batch per statement (and so per
 * transaction, as the send records one batch per transaction) by COPY, then by a prepared multi-row
 * INSERT, each into a task of its own. Answers the faster, with both rates.
 */
async function probePostgres(url: string, batchSize: number): Promise<Measured> {
  const client = await rawPostgres(url);
  try {
    const { rows } = await client.query<{ device_id: string; channel: string }>({
      text: `select m.device_id, d.channel from audience_members m join devices d on d.app_id = $1 and d.device_id = m.device_id
             where m.audience_id = $2 order by m.device_id`,
      values: [APP, AUDIENCE],
    });
    const columns = 'task_id, device_id, batch_seq, channel, send_result, failure_reason, delivered_at';
    const copyText = `copy device_results (${columns}) from stdin`;
    /** Each batch as COPY's text format: one tab-separated line per row, `\N` for null. */
    const copyBatches = (taskId: string, count: number) => {
      const batches: Buffer[] = [];
      for (let from = 0, seq = 1; from < count; from += batchSize, seq++) {
        let text = '';
        for (let i = from; i < Math.min(count, from + batchSize); i++) {
          text += `${taskId}\t${rows[i]!.device_id}\t${seq}\t${rows[i]!.channel}\tno_feedback\t\\N\t\\N\n`;
        }
        batches.push(Buffer.from(text));
      }
      return batches;
    };
    /** Each batch as one prepared multi-row INSERT (a statement per batch size). */
    const insertBatches = (taskId: string, count: number) => {
      const batches: pg.QueryConfig[] = [];
      for (let from = 0, seq = 1; from < count; from += batchSize, seq++) {
        const size = Math.min(count, from + batchSize) - from;
        const values: unknown[] = [];
        const tuples: string[] = [];
        for (let k = 0; k < size; k++) {
          const p = values.length;
          tuples.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, 'no_feedback', null, null)`);
          values.push(taskId, rows[from + k]!.device_id, seq, rows[from + k]!.channel);
        }
        batches.push({
          name: `bench_results_${size}`,
          text: `insert into device_results (${columns}) values ${tuples.join(', ')}`,
          values,
        });
      }
      return batches;
    };
    const forms = {
      copy: async (count: number) => {
        const batches = copyBatches(newId('tsk'), count);
        const cpu = process.cpuUsage();
        const started = performance.now();
        for (const batch of batches) await copyIn(client, copyText, batch);
        return { ms: performance.now() - started, cpu: cpuSeconds(cpu) };
      },
      insert: async (count: number) => {
        const batches = insertBatches(newId('tsk'), count);
        const cpu = process.cpuUsage();
        const started = performance.now();
        for (const batch of batches) await client.query(batch);
        return { ms: performance.now() - started, cpu: cpuSeconds(cpu) };
      },
    };
    const warmup = Math.min(WARMUP_DEVICES, rows.length);
    await forms.copy(warmup);
    await forms.insert(warmup);
    const rates: Record<string, number> = {};
    let best: Measured = { rate: 0, cpuSeconds: 0 };
    for (const [name, write] of Object.entries(forms)) {
      const { ms, cpu } = await write(rows.length);
      const rate = rows.length / (ms / 1000);
      rates[name] = Math.round(rate);
      if (rate > best.rate) best = { rate, cpuSeconds: cpu };
    }
    return { ...best, forms: rates };
  } finally {
    await client.end();
  }
}

async function insertTask(db: Db, id: string, audienceId: string): Promise<void> {
  const now = new Date().toISOString();
  await db
    .insertInto('tasks')
    .values({
      id,
      workspace_id: WORKSPACE,
      app_id: APP,
      name: 'Bench send',
      title: 'Bench',
      content: 'A benchmark push',
      click_action: JSON.stringify({ type: 'open_app' }),
      audience_id: audienceId,
      send_type: 'immediate',
      scheduled_at: null,
      status: 'scheduled',
      failure_reason: null,
      created_at: now,
      updated_at: now,
      started_at: null,
      completed_at: null,
      ...UNSENT_TASK_COUNTERS,
    })
    .execute();
}

/** Sends tasks and times them from the scheduler's start to the sender's completion. */
function timedDispatcher(db: Db, batchSize: number, scaled?: ScaledDispatch) {
  const started = new Map<string, { at: number; cpu: NodeJS.CpuUsage }>();
  const waiting = new Map<string, (result: Measured & { seconds: number }) => void>();
  const failures: string[] = [];
  const info = (details: object, message: string) => {
    const { taskId } = details as { taskId?: string };
    if (taskId === undefined) return;
    if (message === 'task started') started.set(taskId, { at: performance.now(), cpu: process.cpuUsage() });
    if (message === 'task completed' || message === 'task failed') {
      const start = started.get(taskId)!;
      const seconds = (performance.now() - start.at) / 1000;
      waiting.get(taskId)?.({ rate: 0, seconds, cpuSeconds: cpuSeconds(start.cpu) });
    }
  };
  const dispatcher: Dispatcher = createDispatcher({
    db,
    settings: { ...loadConfig({}, process.env).dispatch, batchSize },
    publicUrl: 'http://localhost:3000',
    providers: { simulator: noOpProvider },
    logger: {
      info,
      warn: info,
      error: (details, message) => failures.push(`${message}: ${JSON.stringify(details)}`),
    },
    ...(scaled && { scaled }),
  });
  return {
    dispatcher,
    failures,
    /** Creates an immediate task and resolves once it has been sent. */
    async send(taskId: string, audienceId: string) {
      const done = new Promise<Measured & { seconds: number }>((resolve) => waiting.set(taskId, resolve));
      await insertTask(db, taskId, audienceId);
      await dispatcher.poll();
      return done;
    },
  };
}

/** A task of the app handed to every other audience device an hour before the `capped` send. */
const EARLIER_TASK = 'tsk_bench_earlier0000000000000';

/**
 * `capped` trials (`dispatch_capped`): the app gets a frequency cap of one marketing task a day and
 * every other device of the audience (by device ID order) has been handed one an hour ago, so half
 * the devices of every batch are at their cap. Untimed, before the warm-up.
 */
async function capHalf(db: Db): Promise<void> {
  await db
    .updateTable('apps')
    .set({ frequency_cap: JSON.stringify({ perDay: 1 }) })
    .where('id', '=', APP)
    .execute();
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  await sql`
    insert into frequency_sends (app_id, device_id, sent_at, task_id, batch_seq)
    select ${APP}, device_id, ${hourAgo}, ${EARLIER_TASK}, 1 from (
      select device_id, row_number() over (order by device_id) as n
      from audience_members where audience_id = ${AUDIENCE}
    ) as members where n % 2 = 0`.execute(db);
}

/**
 * Sends the warm-up task, then the measured one, and checks that every device was sent — or, when
 * `capped`, that half of them were capped and the other half sent. The warm-up's own hand-overs are
 * forgotten before the measured send, so that it finds exactly the earlier task's.
 */
async function warmThenSend(
  db: Db,
  timed: ReturnType<typeof timedDispatcher>,
  devices: number,
  taskIds: { warmup: string; measured: string },
  capped: boolean,
): Promise<Measured> {
  if (capped) await capHalf(db);
  await timed.dispatcher.start();
  await timed.send(taskIds.warmup, WARMUP_AUDIENCE);
  if (capped) await db.deleteFrom('frequency_sends').where('task_id', '=', taskIds.warmup).execute();
  const taskId = taskIds.measured;
  const { seconds, cpuSeconds: cpu } = await timed.send(taskId, AUDIENCE);
  if (timed.failures.length > 0) throw new Error(timed.failures.join('\n'));
  const task = await db.selectFrom('tasks').selectAll().where('id', '=', taskId).executeTakeFirstOrThrow();
  const expectCapped = capped ? Math.floor(devices / 2) : 0;
  if (
    task.status !== 'completed' ||
    Number(task.total_sent) !== devices - expectCapped ||
    Number(task.capped) !== expectCapped
  ) {
    throw new Error(
      `the bench send ended ${task.status} with ${task.total_sent} sent and ${task.capped} capped of ${devices} devices ` +
        `(${expectCapped} capped expected)`,
    );
  }
  return { rate: devices / seconds, cpuSeconds: cpu };
}

/** The send rate of the whole audience, after a warm-up send; devices per second. */
async function send(file: string, devices: number, batchSize: number, capped: boolean): Promise<Measured> {
  const db = openSqlite(file);
  const timed = timedDispatcher(db, batchSize);
  try {
    return await warmThenSend(
      db,
      timed,
      devices,
      {
        warmup: 'tsk_bench_warmup00000000000000',
        measured: 'tsk_bench000000000000000000000',
      },
      capped,
    );
  } finally {
    await timed.dispatcher.stop();
    await db.destroy();
  }
}

/**
 * `send` as a worker process of the scaled mode sends (`main.ts`): PostgreSQL, the BullMQ queues of
 * the trial's key prefix, the Redis rate limiter. Task IDs are real ones, so that the results land in
 * today's day partition as the product's do.
 */
async function sendScaled(
  config: Config,
  devices: number,
  batchSize: number,
  capped: boolean,
): Promise<Measured> {
  const { databaseUrl, redisUrl, redisPrefix: prefix } = config;
  if (!databaseUrl || !redisUrl) throw new Error('a scaled trial needs DATABASE_URL and REDIS_URL');
  const db = await openPostgres(databaseUrl);
  const failures: string[] = [];
  const queue = <T>(name: string) =>
    createBullmqQueue<T>({
      name,
      redisUrl,
      prefix,
      lockDurationMs: config.jobLockMs,
      stalledIntervalMs: Math.max(500, Math.floor(config.jobLockMs / 2)),
      onError: (jobId, error) => failures.push(`job ${name}/${jobId} failed: ${String(error)}`),
      onQueueError: (error) => failures.push(`queue ${name}: ${String(error)}`),
    });
  const rateRedis = openRedis(redisUrl, `${prefix}:rate`);
  const timed = timedDispatcher(db, batchSize, {
    sends: queue('sends'),
    batches: queue('batches'),
    starts: queue('starts'),
    batchConcurrency: WORKER_BATCH_CONCURRENCY,
    rateLimiter: createRedisRateLimiter(
      rateRedis,
      prefix,
      config.dispatch.rateLimitPerSecond,
      () => new Date(),
      sleep,
    ),
  });
  try {
    const measured = await warmThenSend(
      db,
      timed,
      devices,
      { warmup: newId('tsk'), measured: newId('tsk') },
      capped,
    );
    if (failures.length > 0) throw new Error(failures.join('\n'));
    return measured;
  } finally {
    await timed.dispatcher.stop();
    rateRedis.disconnect();
    await db.destroy();
  }
}

// Run only as a script: `dispatch.ts` imports this module for its names and types.
const [mode, location, devices, batchSize, pragmas] = process.argv.slice(2);
if (path.resolve(process.argv[1] ?? '') === import.meta.filename && location !== undefined) {
  let measured: Measured;
  if (isPostgresLocation(location)) {
    measured =
      mode === 'probe'
        ? await probePostgres(location, Number(batchSize))
        : await sendScaled(
            loadConfig({}, process.env),
            Number(devices),
            Number(batchSize),
            mode === 'capped',
          );
  } else {
    measured =
      mode === 'probe'
        ? probe(location, JSON.parse(pragmas ?? '[]') as string[], Number(batchSize))
        : await send(location, Number(devices), Number(batchSize), mode === 'capped');
  }
  process.stdout.write(`${JSON.stringify(measured)}\n`);
}
