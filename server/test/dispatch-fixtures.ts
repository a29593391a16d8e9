/**
 * Fixtures of the dispatch suites: apps, fleets and audiences written straight into the database
 * (a 100,000-device fleet takes a fraction of a second), a dispatcher on a test instance, and the
 * checks every send must pass — the statistics invariants and their agreement with the device results.
 */
import { sql } from 'kysely';
import { expect } from 'vitest';
import { newAppRow } from '../src/apps/app-store.ts';
import type { DispatchSettings } from '../src/config.ts';
import { createDispatcher, type Dispatcher } from '../src/dispatch/dispatcher.ts';
import type { Sleep } from '../src/dispatch/rate-limit.ts';
import type { SendJob } from '../src/dispatch/scheduler.ts';
import type { DispatchLogger } from '../src/dispatch/sender.ts';
import { statisticsViolations, type TaskCounts } from '../src/domain/statistics.ts';
import { newId } from '../src/ids.ts';
import type { Provider, ProviderRegistry } from '../src/providers/provider.ts';
import { createSimulatorLedger, createSimulatorProvider } from '../src/providers/simulator.ts';
import type { SimulatorConfig } from '../src/providers/simulator-config.ts';
import type { JobQueue } from '../src/queue/queue.ts';
import type { Db } from '../src/storage/database.ts';
import { taskCountsOf } from '../src/storage/task-counts.ts';
import { numberedId, type TestInstance } from './helpers.ts';

/** A logger that keeps what it is told, for tests that look at it. */
export function memoryLogger(): DispatchLogger & {
  lines: { level: string; message: string; details: object }[];
} {
  const lines: { level: string; message: string; details: object }[] = [];
  const at = (level: string) => (details: object, message: string) => {
    lines.push({ level, message, details });
  };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * An app with registered devices `dev-0000000`… (Android: one in ten on each OEM channel — Huawei,
 * Xiaomi, OPPO, vivo, Honor — the rest on the simulator's own), and an audience of them plus
 * unmatched IDs.
 */
export interface SendFixture {
  appId: string;
  audienceId: string;
}

/**
 * Creates an app (or, with `appId`, fills one made through the API), its fleet and an audience,
 * straight in the database. `fleet` gives every device one `channel` and tokens of `tokenPrefix` +
 * `tokenDigits` digits (digits only are hex, as APNs tokens must be): device `dev-0000123` has token
 * `tokenOf(123)`.
 */
export async function sendFixture(
  t: Pick<TestInstance, 'db' | 'clock' | 'workspaceId'>,
  options: {
    platform?: 'ios' | 'android';
    devices: number;
    unmatched?: number;
    config?: SimulatorConfig;
    provider?: 'simulator' | 'umeng';
    appId?: string;
    fleet?: { channel: string; tokenPrefix: string; tokenDigits: number };
  },
): Promise<SendFixture> {
  const platform = options.platform ?? 'android';
  const now = t.clock.now.toISOString();
  let appId = options.appId;
  if (appId === undefined) {
    const app = newAppRow({
      workspaceId: t.workspaceId,
      name: `${platform} app ${newId('app').slice(-6)}`,
      platform,
      provider: options.provider ?? 'simulator',
      providerConfig: options.config ?? { seed: 7 },
      now: t.clock.now,
    });
    await t.db.insertInto('apps').values(app).execute();
    appId = app.id;
  }
  const audienceId = newId('aud');
  const fleet = options.fleet ?? { channel: '', tokenPrefix: 'tok', tokenDigits: 41 };
  // A recursive series, written for both backends.
  await sql`
    with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ${options.devices})
    insert into devices (app_id, device_id, push_token, channel, created_at, updated_at)
    select ${appId}, ${numberedId(t.db, 'dev-', sql`i`, 7)},
      ${numberedId(t.db, fleet.tokenPrefix, sql`i`, fleet.tokenDigits)},
      case when ${fleet.channel} <> '' then ${fleet.channel}
           when ${platform} = 'ios' then 'apns'
           when i % 10 = 0 then 'huawei' when i % 10 = 1 then 'xiaomi' when i % 10 = 2 then 'oppo'
           when i % 10 = 3 then 'vivo' when i % 10 = 4 then 'honor' else 'simulator' end,
      ${now}, ${now}
    from n where ${options.devices} > 0`.execute(t.db);
  const unmatched = options.unmatched ?? 0;
  await t.db
    .insertInto('audiences')
    .values({
      id: audienceId,
      workspace_id: t.workspaceId,
      name: `audience ${audienceId}`,
      source: 'api',
      status: 'ready',
      size: options.devices + unmatched,
      file_name: null,
      source_task_id: null,
      source_filter: null,
      created_at: now,
    })
    .execute();
  await sql`
    with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ${options.devices})
    insert into audience_members (audience_id, device_id)
    select ${audienceId}, ${numberedId(t.db, 'dev-', sql`i`, 7)} from n where ${options.devices} > 0`.execute(
    t.db,
  );
  // Unmatched IDs sort between the registered ones ("dev-0000123x"), so batches mix both kinds.
  await sql`
    with recursive n(i) as (select 0 union all select i + 1 from n where i + 1 < ${unmatched})
    insert into audience_members (audience_id, device_id)
    select ${audienceId}, ${numberedId(t.db, 'dev-', sql`i * 7`, 7, 'x')} from n where ${unmatched} > 0`.execute(
    t.db,
  );
  return { appId, audienceId };
}

/** Creates a task through the API, with `fields` added to (or replacing) the usual ones; answers its ID. */
export async function createTask(
  t: TestInstance,
  fixture: SendFixture,
  schedule: { scheduledAt?: Date } = {},
  fields: Record<string, unknown> = {},
): Promise<string> {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `/api/v1/workspaces/${t.workspaceId}/tasks`,
    body: {
      name: 'Spring sale',
      appId: fixture.appId,
      title: 'Spring sale',
      content: '20% off everything today',
      clickAction: { type: 'open_app' },
      audienceId: fixture.audienceId,
      sendType: schedule.scheduledAt ? 'scheduled' : 'immediate',
      ...(schedule.scheduledAt && { scheduledAt: schedule.scheduledAt.toISOString() }),
      ...fields,
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
}

/** A dispatcher on a test instance, its clock the instance's, the simulator as provider by default. */
export function testDispatcher(
  t: TestInstance,
  options: {
    settings?: Partial<DispatchSettings>;
    providers?: ProviderRegistry;
    sleep?: Sleep;
    logger?: DispatchLogger;
    queue?: JobQueue<SendJob>;
    clock?: () => Date;
  } = {},
): Dispatcher {
  return createDispatcher({
    db: t.db,
    settings: { ...t.config.dispatch, ...options.settings },
    publicUrl: t.config.publicUrl,
    providers: options.providers ?? { simulator: simulatorOn(t.db) },
    logger: options.logger ?? memoryLogger(),
    clock: options.clock ?? (() => t.clock.now),
    ...(options.sleep && { sleep: options.sleep }),
    ...(options.queue && { queue: options.queue }),
  });
}

/** The simulator provider over a database. */
export function simulatorOn(db: Db) {
  return createSimulatorProvider({ ledger: createSimulatorLedger(db) });
}

/** Polls `read` until `done` holds (at most `timeoutMs`); answers the last value read. */
export async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not reached within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A task's status, failure reason and counters, read from the store. */
export async function readTask(db: Db, taskId: string) {
  const row = await db.selectFrom('tasks').selectAll().where('id', '=', taskId).executeTakeFirstOrThrow();
  const counts: TaskCounts = taskCountsOf(row);
  return { status: row.status, failureReason: row.failure_reason, startedAt: row.started_at, counts };
}

/**
 * Checks a finished send: the invariants, one result per handed-over device that agrees with the
 * counters, every batch recorded with the devices of its range, and the simulator's hand-overs (when
 * it was the provider) matching the batches once each.
 */
export async function expectConsistentSend(db: Db, taskId: string, platform: 'ios' | 'android' = 'android') {
  const task = await readTask(db, taskId);
  expect(statisticsViolations(task.counts, { platform, status: task.status })).toEqual([]);
  expect(task.counts.pending).toBe(0);
  const results = await db
    .selectFrom('device_results')
    .select(['send_result', (eb) => eb.fn.countAll<number>().as('n')])
    .where('task_id', '=', taskId)
    .groupBy('send_result')
    .execute();
  const byResult = Object.fromEntries(results.map((r) => [r.send_result, Number(r.n)]));
  expect(byResult.success ?? 0).toBe(task.counts.deliveries);
  expect(byResult.failure ?? 0).toBe(task.counts.failures);
  expect(byResult.no_feedback ?? 0).toBe(task.counts.noFeedback);
  expect(byResult.pending ?? 0).toBe(0);

  const batches = await db
    .selectFrom('batches')
    .selectAll()
    .where('task_id', '=', taskId)
    .orderBy('seq')
    .execute();
  expect(batches.filter((b) => b.status === 'prepared')).toEqual([]);
  // A batch cancelled by a stop was never handed over: its devices are `cancelled`, in no batch (0).
  const handedOver = batches.filter((b) => b.status !== 'cancelled');
  expect(handedOver.reduce((sum, b) => sum + b.device_count, 0)).toBe(task.counts.totalSent);
  // Ranges follow each other without overlap: no device can be in two batches.
  for (let i = 1; i < batches.length; i++) {
    expect(batches[i]!.first_device_id > batches[i - 1]!.last_device_id).toBe(true);
  }
  const perBatch = await db
    .selectFrom('device_results')
    .select(['batch_seq', (eb) => eb.fn.countAll<number>().as('n')])
    .where('task_id', '=', taskId)
    .where('batch_seq', '<>', 0)
    .groupBy('batch_seq')
    .execute();
  expect(Object.fromEntries(perBatch.map((b) => [b.batch_seq, Number(b.n)]))).toEqual(
    Object.fromEntries(handedOver.filter((b) => b.device_count > 0).map((b) => [b.seq, b.device_count])),
  );
  return { task, batches };
}

/**
 * What a scripted provider does on one call: answer like `inner`; throw; hand the batch over and never
 * answer (`hang`: the process dies before recording it); never answer nor hand over (`hang-unsent`);
 * or wait for a promise, then answer.
 */
export type ScriptStep = 'answer' | 'hang' | 'hang-unsent' | Error | Promise<unknown>;

/**
 * A provider that follows `script` call by call (numbered from 1) and otherwise behaves like
 * `inner`; it records every call's batch ID, device count and the clock at the call.
 */
export function scriptedProvider(inner: Provider, script: (call: number) => ScriptStep, clock?: () => Date) {
  const calls: { batchId: string; devices: number; at: number; resend: boolean }[] = [];
  const provider: Provider = {
    ...(inner.maxBatchDevices !== undefined && { maxBatchDevices: inner.maxBatchDevices }),
    async sendBatch(request) {
      calls.push({
        batchId: request.batchId,
        devices: request.devices.length,
        at: (clock?.() ?? new Date()).getTime(),
        resend: request.resend === true,
      });
      const step = script(calls.length);
      if (step instanceof Error) throw step;
      if (step === 'hang' || step === 'hang-unsent') {
        if (step === 'hang') await inner.sendBatch(request);
        return new Promise<never>(() => {});
      }
      if (step instanceof Promise) await step;
      return inner.sendBatch(request);
    },
    cancel: (app, ref) => inner.cancel(app, ref),
    ...(inner.parseReceipts && { parseReceipts: inner.parseReceipts }),
  };
  return { provider, calls };
}

/** A `Sleep` that moves the test clock instead of waiting, and records every wait. */
export function clockSleep(t: TestInstance): Sleep & { waits: number[] } {
  const waits: number[] = [];
  const sleep = async (ms: number) => {
    waits.push(ms);
    t.clock.now = new Date(t.clock.now.getTime() + ms);
  };
  return Object.assign(sleep, { waits });
}
