/**
 * A task's device-level details (docs/statistics.md#device-results, docs/api.md): the filtered device list (keyset pages with an exact
 * total), its CSV export (streamed), Generate Audience (a filter saved as a new audience), and the
 * server-sent events of the task's live statistics, and the breakdown per channel and over time.
 * Event streams are limited (docs/operations.md#receipts-streams-and-exports, `EventStreamLimits`): per token and per process — in the scaled
 * mode each API process counts its own, so a token may hold the per-token limit on every process —
 * and each stream re-checks its caller's token while it is open and ends after its maximum age.
 * Device details exist from the start of the send until the retention window closes; after that
 * every detail route answers `410 DEVICE_DETAILS_EXPIRED` while the aggregate statistics (task read,
 * events) and the breakdown (kept by the retention job) stay available.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Static, Type } from 'typebox';
import { batchIdOf } from '../domain/batch.ts';
import { taskStatistics } from '../domain/statistics.ts';
import { areDetailsExpired, isStatisticsFinal, taskWindows } from '../domain/windows.ts';
import { AppError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors } from '../http/schemas.ts';
import { newId } from '../ids.ts';
import { taskCountsOf } from '../storage/task-counts.ts';
import { TaskParams } from '../tasks/task-schemas.ts';
import type { TaskRecord } from '../tasks/task-store.ts';
import { authenticate, resolveWorkspace } from '../tenancy/access.ts';
import { MAX_TIMELINE_BUCKETS } from './breakdown-store.ts';
import { csvLine } from './csv.ts';
import { counterTotal, decodeCursor, encodeCursor, filterKey, filterOf } from './device-pages.ts';
import {
  Breakdown,
  type DeviceItem,
  DevicePage,
  FilterQuery,
  GenerateBody,
  GeneratedAudience,
  ListQuery,
} from './device-result-schemas.ts';
import type { DeviceDetailRow, DeviceFilter } from './device-result-store.ts';
import { countBreakdown } from './task-breakdown.ts';

/** Devices read per keyset page while streaming a CSV export: bounded memory, few round trips. */
const CSV_PAGE_ROWS = 5_000;

/** How often the event stream looks at the task row for changed statistics, in milliseconds. */
export const EVENTS_INTERVAL_MS = 1_000;

/** Longest silence on an event stream before a comment keeps proxies from closing it, in milliseconds. */
export const KEEP_ALIVE_MS = 15_000;

/** How many live-statistics streams may be open, and for how long (docs/operations.md#receipts-streams-and-exports); counted per process. */
export interface EventStreamLimits {
  /** Streams one bearer token (a session or an API token) may hold open at once. */
  perToken: number;
  /** Streams the process serves at once, whoever holds them. */
  perProcess: number;
  /** How often an open stream checks its caller's token and workspace access again, in milliseconds. */
  recheckMs: number;
  /** How long one stream stays open, in milliseconds; then it ends and the client reconnects. */
  maxAgeMs: number;
}

/** The limits of docs/operations.md#receipts-streams-and-exports; tests shorten the intervals through `AppDeps.eventStreams`. */
export const EVENT_STREAM_LIMITS: EventStreamLimits = {
  perToken: 20,
  perProcess: 1000,
  recheckMs: 60_000,
  maxAgeMs: 3_600_000,
};

/** `Retry-After` of a refused stream, in seconds: open streams end or are closed all the time. */
const STREAM_RETRY_AFTER_SECONDS = 30;

const tags = ['tasks'];

const expiredResponse = { 410: Type.Ref('ErrorEnvelope') };

/** CSV columns, in order; iOS exports leave out `dismissalAt`. */
const CSV_COLUMNS = [
  'deviceId',
  'batchId',
  'platform',
  'channel',
  'sendResult',
  'failureReason',
  'deliveredAt',
  'impressionAt',
  'openAt',
  'dismissalAt',
] as const;

type DeviceItemView = Static<typeof DeviceItem>;

/** The SSE frame of one event. */
function sseEvent(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}

/** Registers the device-details and live-statistics routes of tasks (under a workspace). */
export function registerDeviceResultRoutes(
  app: Api,
  deps: RouteDeps,
  limits: EventStreamLimits = EVENT_STREAM_LIMITS,
): void {
  const { tasks, tenancy, deviceResults: results, audiences, breakdowns } = deps.stores;
  /** Open event streams, ended when the server closes so that it never waits on a client. */
  const openStreams = new Set<AbortController>();
  /** Open event streams per bearer token ID. */
  const streamsOfToken = new Map<string, number>();

  /** Takes a stream slot for `tokenId`, or throws 429; answers the function that gives it back (once). */
  function takeStreamSlot(tokenId: string): () => void {
    const held = streamsOfToken.get(tokenId) ?? 0;
    const refuse = (scope: 'token' | 'process', limit: number, what: string) =>
      new AppError(
        'TOO_MANY_EVENT_STREAMS',
        `${what} already has ${limit} live statistics streams open, the most allowed: close one (e.g. a ` +
          `browser tab following a task) or retry after ${STREAM_RETRY_AFTER_SECONDS} s.`,
        { scope, limit },
        { 'retry-after': String(STREAM_RETRY_AFTER_SECONDS) },
      );
    if (openStreams.size >= limits.perProcess) throw refuse('process', limits.perProcess, 'This server');
    if (held >= limits.perToken) throw refuse('token', limits.perToken, 'This token');
    streamsOfToken.set(tokenId, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (streamsOfToken.get(tokenId) ?? 1) - 1;
      if (left > 0) streamsOfToken.set(tokenId, left);
      else streamsOfToken.delete(tokenId);
    };
  }

  app.addHook('preClose', async () => {
    for (const stream of openStreams) stream.abort();
  });

  async function findTask(workspaceId: string, taskId: string): Promise<TaskRecord> {
    const task = await tasks.findTask(workspaceId, taskId);
    if (!task) throw new AppError('TASK_NOT_FOUND', `Task ${taskId} does not exist in this workspace.`);
    return task;
  }

  /** Throws `DEVICE_DETAILS_EXPIRED` once retention has passed or the retention job has deleted them. */
  function assertDetailsHeld(task: TaskRecord): void {
    const expired = areDetailsExpired(task.started_at, deps.clock(), deps.config);
    if (!expired && task.details_purged_at === null) return;
    const { detailsExpireAt } = taskWindows(task.started_at, deps.config);
    const when = expired
      ? `expired at ${detailsExpireAt} (they are kept ${deps.config.retentionHours} hours after the send started)`
      : `were deleted at ${task.details_purged_at}`;
    throw new AppError(
      'DEVICE_DETAILS_EXPIRED',
      `The device details of task ${task.id} ${when}. The task's aggregate statistics stay available.`,
      { detailsExpireAt, detailsPurgedAt: task.details_purged_at },
    );
  }

  /** A task whose device details may be read: found, and not expired (a scheduled one simply has none). */
  async function detailTask(workspaceId: string, taskId: string): Promise<TaskRecord> {
    const task = await findTask(workspaceId, taskId);
    assertDetailsHeld(task);
    return task;
  }

  function itemView(task: TaskRecord, row: DeviceDetailRow): DeviceItemView {
    return {
      deviceId: row.device_id,
      // 0: never handed over (`capped`, `cancelled`), in no batch.
      batchId: row.batch_seq === null || row.batch_seq === 0 ? null : batchIdOf(task.id, row.batch_seq),
      platform: task.platform,
      channel: row.channel,
      sendResult: row.send_result,
      failureReason: row.failure_reason,
      deliveredAt: row.delivered_at,
      impressionAt: row.impression_at,
      openAt: row.open_at,
      // iOS has no dismissal receipts (docs/statistics.md#counters): never shown, whatever a row holds.
      dismissalAt: task.platform === 'ios' ? null : row.dismissal_at,
    };
  }

  /** The CSV export as text chunks, one keyset page at a time: never the whole result in memory. */
  async function* csvChunks(task: TaskRecord, filter: DeviceFilter): AsyncGenerator<string> {
    const columns = task.platform === 'ios' ? CSV_COLUMNS.filter((c) => c !== 'dismissalAt') : CSV_COLUMNS;
    yield csvLine(columns);
    if (task.status === 'scheduled') return;
    let after: string | undefined;
    for (;;) {
      const rows = await results.page(task, filter, after, CSV_PAGE_ROWS);
      let text = '';
      for (const row of rows) {
        const item: Record<(typeof CSV_COLUMNS)[number], string | null> = itemView(task, row);
        text += csvLine(columns.map((c) => item[c]));
      }
      if (text !== '') yield text;
      if (rows.length < CSV_PAGE_ROWS) return;
      after = rows[rows.length - 1]?.device_id;
    }
  }

  /** The live-statistics payload: the task read's status, statistics and windows (same code path). */
  function statisticsPayload(task: TaskRecord) {
    return {
      status: task.status,
      // A stop is acknowledged before the task ends stopped: every watcher sees "stopping" at once.
      stoppedAt: task.stopped_at,
      statistics: taskStatistics(taskCountsOf(task)),
      ...taskWindows(task.started_at, deps.config),
    };
  }

  /** Why an event stream is over, or undefined while its statistics can still change. */
  function endReason(task: TaskRecord): string | undefined {
    if (task.status === 'failed') return 'failed';
    const ended = task.status === 'completed' || task.status === 'stopped';
    if (ended && isStatisticsFinal(task.started_at, deps.clock(), deps.config)) {
      return 'final';
    }
    return undefined;
  }

  /**
   * The events of one stream: the statistics at once, then whenever they change (polled every
   * `EVENTS_INTERVAL_MS`), a keep-alive comment after `KEEP_ALIVE_MS` of silence, and `end` once
   * nothing can change any more. Returns as soon as `signal` aborts (client gone, server closing),
   * when `stillAllowed` (asked every `limits.recheckMs`) says no, and after `limits.maxAgeMs`; those
   * last two end the stream without an `end` event, so the client reconnects (and is checked again).
   */
  async function* statisticsEvents(
    workspaceId: string,
    first: TaskRecord,
    signal: AbortSignal,
    stillAllowed: () => Promise<boolean>,
  ): AsyncGenerator<string> {
    let task: TaskRecord | undefined = first;
    let lastData = '';
    let lastWrite = performance.now();
    // Real time, not the injected clock: these bound how long one connection is held.
    const openedAt = performance.now();
    let checkedAt = openedAt;
    while (!signal.aborted) {
      if (!task) {
        // Only a scheduled task can be deleted: it will never send.
        yield sseEvent('end', JSON.stringify({ reason: 'deleted' }));
        return;
      }
      const data = JSON.stringify(statisticsPayload(task));
      if (data !== lastData) {
        yield sseEvent('statistics', data);
        lastData = data;
        lastWrite = performance.now();
      } else if (performance.now() - lastWrite >= KEEP_ALIVE_MS) {
        yield ': keep-alive\n\n';
        lastWrite = performance.now();
      }
      const reason = endReason(task);
      if (reason !== undefined) {
        yield sseEvent('end', JSON.stringify({ reason }));
        return;
      }
      const now = performance.now();
      const wait = Math.min(
        EVENTS_INTERVAL_MS,
        openedAt + limits.maxAgeMs - now,
        checkedAt + limits.recheckMs - now,
      );
      try {
        await sleep(Math.max(0, wait), undefined, { signal });
      } catch {
        return;
      }
      const woke = performance.now();
      if (woke - openedAt >= limits.maxAgeMs) return;
      if (woke - checkedAt >= limits.recheckMs) {
        if (!(await stillAllowed())) return;
        checkedAt = woke;
      }
      task = await tasks.findTask(workspaceId, first.id);
    }
  }

  app.get(
    '/tasks/:taskId/devices',
    {
      schema: {
        tags,
        summary: "A task's devices with their send result, batch and receipts; filtered, keyset-paged.",
        description:
          'Filters combine with AND: `sendResult=success&without=open` lists the devices delivered but ' +
          'not opened. Devices are in device ID order; pass `nextCursor` back as `cursor` (with the same ' +
          'filter) for the next page. `total` is exact: counted on the first page (or taken from the ' +
          "task's counters when the filter is one of them) and kept by the cursor. A scheduled task " +
          'lists nothing; after the retention window this answers 410 DEVICE_DETAILS_EXPIRED.',
        params: TaskParams,
        querystring: ListQuery,
        response: { 200: DevicePage, ...expiredResponse, ...authErrors },
      },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const filter = filterOf(request.query);
      const task = await detailTask(request.workspace.id, request.params.taskId);
      const position = cursor === undefined ? undefined : decodeCursor(cursor, filter);
      if (task.status === 'scheduled') return { items: [], total: 0, nextCursor: null };
      // One row more than asked tells whether another page follows, without a second query.
      const [rows, total] = await Promise.all([
        results.page(task, filter, position?.after, limit + 1),
        position?.total ?? counterTotal(task, filter) ?? results.count(task, filter),
      ]);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map((row) => itemView(task, row)),
        total,
        nextCursor:
          rows.length > limit && last !== undefined
            ? encodeCursor({ after: last.device_id, total, filter: filterKey(filter) })
            : null,
      };
    },
  );

  app.get(
    '/tasks/:taskId/devices.csv',
    {
      schema: {
        tags,
        summary: "Export a task's filtered devices as CSV (streamed).",
        description:
          'The same filter as `…/devices`, every matching device, in device ID order. Columns: deviceId, ' +
          'batchId, platform, channel, sendResult, failureReason, deliveredAt, impressionAt, openAt, ' +
          'dismissalAt (not for iOS tasks). Times are ISO 8601 in UTC, with their offset `Z` ' +
          '(2026-12-07T15:48:34.000Z). Values are RFC 4180 quoted; any cell (device ID, channel, ' +
          'failure reason…) starting with = + - @, a tab or a carriage return is prefixed with a single ' +
          'quote and quoted, so spreadsheets never run it.',
        produces: ['text/csv'],
        params: TaskParams,
        querystring: FilterQuery,
        response: {
          200: Type.String({ description: 'text/csv; charset=utf-8, as an attachment.' }),
          ...expiredResponse,
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const task = await detailTask(request.workspace.id, request.params.taskId);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${task.id}-devices.csv"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(csvChunks(task, filterOf(request.query))));
    },
  );

  app.post(
    '/tasks/:taskId/audiences',
    {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: "Generate Audience: save a task's devices matching a filter as a new audience.",
        description:
          'Any filter of `…/devices` works (failure, no_feedback, pending, "delivered but not opened"…). ' +
          'The audience has source `task_result` and records the task and the filter. It becomes visible ' +
          'only once complete. When nothing matches (or the task has not started) no audience is created: ' +
          '409 GENERATED_AUDIENCE_EMPTY. The count of `…/devices` with the same filter says beforehand how ' +
          'many devices it will save; while the statistics window is open the audience is a snapshot of ' +
          'that moment. After the retention window this answers 410 DEVICE_DETAILS_EXPIRED.',
        params: TaskParams,
        body: GenerateBody,
        response: {
          201: GeneratedAudience,
          409: Type.Ref('ErrorEnvelope'),
          ...expiredResponse,
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const { workspace, body } = request;
      const filter = filterOf(body.filter ?? {});
      const task = await detailTask(workspace.id, request.params.taskId);
      const id = newId('aud');
      const name = body.name.trim();
      const createdAt = deps.clock().toISOString();
      // `importing` keeps the audience invisible and unusable until every member is in.
      await audiences.beginImport({
        id,
        workspace_id: workspace.id,
        name,
        source: 'task_result',
        file_name: null,
        source_task_id: task.id,
        source_filter: JSON.stringify(filter),
        created_at: createdAt,
      });
      let size: number;
      try {
        // The audience is new and the copy inserts each matching device once: its count is the size.
        let copied = 0;
        if (task.status !== 'scheduled') {
          copied = await results.copyToAudience(task, filter, id);
          // The retention job may have started deleting the results while they were copied.
          const latest = await findTask(workspace.id, task.id);
          assertDetailsHeld(latest);
        }
        // An empty audience targets nobody: refused (the catch below removes the half-made one).
        if (copied === 0) {
          throw new AppError(
            'GENERATED_AUDIENCE_EMPTY',
            `No device of task ${task.id} matches this filter, so no audience was created: choose another filter.`,
            { filter },
          );
        }
        size = await audiences.finishImport(id, copied);
      } catch (error) {
        await audiences.purge(id).catch(() => {
          // Left `importing`: invisible, and removed at the next start (`purgeAbandonedAudiences`).
        });
        throw error;
      }
      return reply.status(201).send({
        id,
        name,
        size,
        source: 'task_result' as const,
        sourceTaskId: task.id,
        sourceFilter: { ...filter },
        createdAt,
      });
    },
  );

  app.get(
    '/tasks/:taskId/breakdown',
    {
      schema: {
        tags,
        summary: "A task's device results per channel, and its receipts over time since the send started.",
        description:
          '`channels`: the counts of the task statistics (docs/statistics.md#counters) for each channel the devices were ' +
          'reached through, so that a weak OEM channel stands out. `timeline`: per bucket of time from ' +
          '`startedAt`, the devices whose delivery, impression, open or dismissal receipt time falls in ' +
          'it. `failureReasons`: why devices failed, most frequent first. Buckets are 1 minute while the task is young and grow (5, 15, 30 minutes) up to 1 hour, ' +
          `so that the whole statistics window takes at most ${MAX_TIMELINE_BUCKETS} buckets: 72 hourly ` +
          'buckets once a 72-hour window has closed. Each part is one aggregate query over the device ' +
          'results; a scheduled task answers empty parts. When the retention job deletes the device ' +
          'results it keeps the breakdown counted from them, which this then answers for good, like the ' +
          'statistics (410 DEVICE_DETAILS_EXPIRED only for a task whose results were deleted before ' +
          'breakdowns were kept).',
        params: TaskParams,
        response: { 200: Breakdown, ...expiredResponse, ...authErrors },
      },
    },
    async (request) => {
      const task = await findTask(request.workspace.id, request.params.taskId);
      // Kept by the retention job before it deleted the results: final, and served for good.
      const kept = await breakdowns.kept(task.id);
      if (kept !== undefined) return kept;
      // Deleted before breakdowns were kept (or by an older version): nothing to count it from.
      if (task.details_purged_at !== null) assertDetailsHeld(task);
      if (task.status === 'scheduled')
        return countBreakdown(breakdowns, { ...task, started_at: null }, deps.clock(), deps.config);
      return countBreakdown(breakdowns, task, deps.clock(), deps.config);
    },
  );

  app.get(
    '/tasks/:taskId/events',
    {
      schema: {
        tags,
        summary: "Server-sent events of a task's live statistics.",
        description:
          'A `text/event-stream`. At once an `event: statistics` whose data is `{status, statistics, ' +
          'statisticsFinalAt, detailsExpireAt}` (as in the task read), then another whenever any of it ' +
          `changes (checked every ${EVENTS_INTERVAL_MS} ms), a \`: keep-alive\` comment after ` +
          `${KEEP_ALIVE_MS / 1000} s of silence, and finally \`event: end\` with data \`{reason}\`: ` +
          '`final` once the task is completed and its statistics window has closed, `failed`, or ' +
          '`deleted`. A scheduled task keeps the stream open: it will start. At most ' +
          `${EVENT_STREAM_LIMITS.perToken} streams per token and ${EVENT_STREAM_LIMITS.perProcess} per server ` +
          'process are open at once (`429 TOO_MANY_EVENT_STREAMS` with `Retry-After` beyond); the token is ' +
          `checked again every ${EVENT_STREAM_LIMITS.recheckMs / 1000} s (a revoked one ends its streams) and ` +
          `a stream ends after ${EVENT_STREAM_LIMITS.maxAgeMs / 60_000} minutes: both end without an \`end\` ` +
          'event, so reconnect.',
        produces: ['text/event-stream'],
        params: TaskParams,
        response: {
          200: Type.String({ description: 'text/event-stream' }),
          429: Type.Ref('ErrorEnvelope'),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const workspaceId = request.workspace.id;
      const first = await findTask(workspaceId, request.params.taskId);
      const release = takeStreamSlot(request.principal.tokenId);
      const stop = new AbortController();
      openStreams.add(stop);
      // The response closes when the client goes away (and after the last event): stop polling at once
      // rather than at the next event the client would never read.
      reply.raw.on('close', () => stop.abort());
      // The same checks as the request's own (a revoked, expired or demoted token, a removed member).
      const stillAllowed = async () => {
        try {
          const principal = await authenticate(tenancy, request, deps.clock());
          await resolveWorkspace(tenancy, principal, workspaceId);
          return true;
        } catch (error) {
          if (error instanceof AppError) return false;
          throw error;
        }
      };
      const events = Readable.from(statisticsEvents(workspaceId, first, stop.signal, stillAllowed));
      events.on('close', () => {
        openStreams.delete(stop);
        release();
      });
      return reply
        .type('text/event-stream; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('x-accel-buffering', 'no')
        .send(events);
    },
  );
}
