/**
 * One trial of the `dispatch` scenario in a process of its own (run by `dispatch.ts`), so that the
 * probe's pre-generated rows never sit in the send's heap nor the other way round:
 *
 *   node --import tsx bench/scenarios/dispatch-trial.ts probe|send <db file> <devices> <batch size> <pragmas JSON>
 *
 * Both first do the same work untimed on the warm-up audience (the first `WARMUP_DEVICES`), as a
 * server that has been running would have: the figures are steady-state ones, not the JIT
 * compiler's. Prints one JSON line: `{"rate": …, "cpuSeconds": …}`.
 */

import path from 'node:path';
import SQLite from 'better-sqlite3';
import { loadConfig } from '../../server/src/config.ts';
import { createDispatcher, type Dispatcher } from '../../server/src/dispatch/dispatcher.ts';
import type { Provider } from '../../server/src/providers/provider.ts';
import type { Db } from '../../server/src/storage/database.ts';
import { openSqlite } from '../../server/src/storage/sqlite.ts';
import { UNSENT_TASK_COUNTERS } from '../../server/src/tasks/task-store.ts';

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
  cpuSeconds: number;
}

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
function timedDispatcher(db: Db, batchSize: number) {
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

/** The send rate of the whole audience, after a warm-up send; devices per second. */
async function send(file: string, devices: number, batchSize: number): Promise<Measured> {
  const db = openSqlite(file);
  const timed = timedDispatcher(db, batchSize);
  try {
    await timed.dispatcher.start();
    await timed.send('tsk_bench_warmup00000000000000', WARMUP_AUDIENCE);
    const taskId = 'tsk_bench000000000000000000000';
    const { seconds, cpuSeconds: cpu } = await timed.send(taskId, AUDIENCE);
    if (timed.failures.length > 0) throw new Error(timed.failures.join('\n'));
    const task = await db.selectFrom('tasks').selectAll().where('id', '=', taskId).executeTakeFirstOrThrow();
    if (task.status !== 'completed' || Number(task.total_sent) !== devices) {
      throw new Error(
        `the bench send ended ${task.status} with ${task.total_sent} of ${devices} devices sent`,
      );
    }
    return { rate: devices / seconds, cpuSeconds: cpu };
  } finally {
    await timed.dispatcher.stop();
    await db.destroy();
  }
}

// Run only as a script: `dispatch.ts` imports this module for its names and types.
const [mode, file, devices, batchSize, pragmas] = process.argv.slice(2);
if (path.resolve(process.argv[1] ?? '') === import.meta.filename && file !== undefined) {
  const measured =
    mode === 'probe'
      ? probe(file, JSON.parse(pragmas ?? '[]') as string[], Number(batchSize))
      : await send(file, Number(devices), Number(batchSize));
  process.stdout.write(`${JSON.stringify(measured)}\n`);
}
