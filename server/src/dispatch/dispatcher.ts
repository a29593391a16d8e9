/**
 * The dispatcher: the scheduler that starts due tasks, the job queue that runs their sends, and the
 * sender that sends them — wired together, for `main.ts` to start and stop. Guarantees: README.md.
 * Embedded, everything runs in this process; scaled (`DispatcherDeps.scaled`), the send, batch and
 * start queues are BullMQ queues shared by every worker process.
 */
import type { DispatchSettings } from '../config.ts';
import { batchIdOf } from '../domain/batch.ts';
import type { ProviderRegistry } from '../providers/provider.ts';
import { createInProcessQueue } from '../queue/in-process-queue.ts';
import type { JobQueue } from '../queue/queue.ts';
import type { Db } from '../storage/database.ts';
import { createDispatchStore, type DispatchStore } from './dispatch-store.ts';
import { type DueSignal, PROCESS_DUE_SIGNAL } from './due-signal.ts';
import { createRateLimiter, type RateLimiter, sleep as realSleep, type Sleep } from './rate-limit.ts';
import { createScheduler, type SendJob } from './scheduler.ts';
import { createSender, type DispatchLogger } from './sender.ts';

/** Scaled mode: how often a worker queues the `sending` tasks again, for the sends a stopped worker left. */
export const SCALED_RESUME_INTERVAL_MS = 5_000;

/** The job that hands over one prepared batch (scaled mode); its job ID is the batch ID. */
export interface BatchJob {
  taskId: string;
  seq: number;
}

/** A job that wakes the scheduler at the time a task falls due (scaled mode); it carries nothing. */
export type StartJob = Record<string, never>;

/** The queues and the rate limit that all worker processes share in the scaled mode. */
export interface ScaledDispatch {
  /** Sends of whole tasks: writing their batches ahead and finishing them. */
  sends: JobQueue<SendJob>;
  /** Hand-overs of single batches. */
  batches: JobQueue<BatchJob>;
  /** Delayed wake-ups of the scheduler at the times tasks fall due (added by `scheduleWakeUp`). */
  starts: JobQueue<StartJob>;
  /** Batch hand-overs one worker runs at the same time. */
  batchConcurrency: number;
  /** The per-app rate limit, kept in Redis so that it holds across all workers together. */
  rateLimiter: RateLimiter;
}

/** The start-queue job ID of a wake-up at `dueAtMs`: tasks due at the same moment share one wake-up. */
function wakeUpId(dueAtMs: number): string {
  return `due-${dueAtMs}`;
}

/** Scaled mode, API side: queues a wake-up of the workers' schedulers at `dueAt` (ISO; null: now). */
export async function scheduleWakeUp(
  starts: JobQueue<StartJob>,
  dueAt: string | null,
  now: Date,
): Promise<void> {
  const at = dueAt === null ? now.getTime() : Date.parse(dueAt);
  await starts.add(wakeUpId(at), {}, { delayMs: Math.max(0, at - now.getTime()) });
}

/** A send that failed on something other than the provider (e.g. storage) is tried again after this. */
export const SEND_RETRY_DELAY_MS = 5_000;

/** What the dispatcher is built from. */
export interface DispatcherDeps {
  db: Db;
  settings: DispatchSettings;
  /** Base URL of this server as providers reach it (`Config.publicUrl`). */
  publicUrl: string;
  providers: ProviderRegistry;
  logger: DispatchLogger;
  /** The job queue of sends (embedded mode); an in-process one by default. */
  queue?: JobQueue<SendJob>;
  /** Scaled mode: the shared queues and rate limit; replaces `queue`. */
  scaled?: ScaledDispatch;
  /** The current time; tests inject one. */
  clock?: () => Date;
  /** How waits (rate limit, retry backoff) are made; tests inject one that moves their clock. */
  sleep?: Sleep;
  /** The dispatch store (the composition root's); one over `db` with `clock` by default. */
  store?: DispatchStore;
  /** The hint that wakes the scheduler when a task may be due; the process's shared one by default. */
  dueSignal?: DueSignal;
}

/** The running dispatcher. */
export interface Dispatcher {
  /** Resumes the sends a stop or crash interrupted, starts overdue tasks, then polls. */
  start(): Promise<void>;
  /** One poll for due tasks now (tests call it with their clock); answers the tasks started. */
  poll(): Promise<string[]>;
  /** Stops starting tasks and lets running sends stop after their current batches (they resume on the next start). */
  stop(): Promise<void>;
}

/**
 * The URL a provider posts an app's receipts to (docs/receipts.md). It carries the receipt secret, which
 * authenticates providers that cannot sign their callbacks (Umeng); it is only ever given to the
 * app's own provider.
 */
export function receiptUrl(publicUrl: string, provider: string, appId: string, secret: string): string {
  return `${publicUrl}/api/v1/receipts/${provider}/${appId}?secret=${encodeURIComponent(secret)}`;
}

/** Creates the dispatcher; nothing runs until `start`. */
export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const clock = deps.clock ?? (() => new Date());
  const sleep = deps.sleep ?? realSleep;
  const { logger, settings } = deps;
  const store = deps.store ?? createDispatchStore(deps.db, clock);
  const { scaled } = deps;
  const queue =
    scaled?.sends ??
    deps.queue ??
    createInProcessQueue<SendJob>((taskId, error) => logger.error({ taskId, err: error }, 'send job failed'));
  const sender = createSender({
    store,
    providers: deps.providers,
    settings,
    rateLimiter: scaled?.rateLimiter ?? createRateLimiter(settings.rateLimitPerSecond, clock, sleep),
    receiptUrl: (app) => receiptUrl(deps.publicUrl, app.provider, app.id, app.receiptSecret),
    clock,
    sleep,
    logger,
    ...(scaled && {
      remoteBatches: {
        queue: (taskId, seq) => scaled.batches.add(batchIdOf(taskId, seq), { taskId, seq }),
      },
    }),
  });
  const scheduler = createScheduler({
    store,
    queue,
    pollIntervalMs: settings.pollIntervalMs,
    ...(scaled && {
      resumeIntervalMs: SCALED_RESUME_INTERVAL_MS,
      wakeUpAt: (at: string) => scheduleWakeUp(scaled.starts, at, clock()),
    }),
    clock,
    logger,
  });
  const retries = new Set<NodeJS.Timeout>();
  let unsubscribe: (() => void) | undefined;
  let stopped = false;

  return {
    async start() {
      queue.process(async ({ taskId }, signal) => {
        try {
          await sender.sendTask(taskId, signal);
        } catch (error) {
          // The task stays `sending` with everything recorded so far; the next try resumes it.
          logger.error(
            { taskId, err: error },
            `sending the task failed; retrying in ${SEND_RETRY_DELAY_MS} ms`,
          );
          if (stopped || signal.aborted) return;
          const retry = setTimeout(() => {
            retries.delete(retry);
            if (!stopped) void queue.add(taskId, { taskId });
          }, SEND_RETRY_DELAY_MS);
          retries.add(retry);
        }
      }, settings.concurrentTasks);
      if (scaled) {
        // A batch job that fails (storage) is dropped: the task's job queues it again after a while.
        scaled.batches.process(
          ({ taskId, seq }, signal) => sender.sendPreparedBatch(taskId, seq, signal),
          scaled.batchConcurrency,
        );
        scaled.starts.process(async () => {
          await scheduler.poll();
        }, 1);
      }
      unsubscribe = (deps.dueSignal ?? PROCESS_DUE_SIGNAL).listen(() => scheduler.wake());
      await scheduler.start();
    },
    poll: () => scheduler.poll(),
    async stop() {
      stopped = true;
      unsubscribe?.();
      for (const retry of retries) clearTimeout(retry);
      await scheduler.stop();
      await Promise.all([queue.close(), scaled?.batches.close(), scaled?.starts.close()]);
    },
  };
}
