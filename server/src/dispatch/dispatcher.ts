/**
 * The dispatcher: the scheduler that starts due tasks, the job queue that runs their sends, and the
 * sender that sends them — wired together, for `main.ts` to start and stop. Guarantees: README.md.
 */
import type { DispatchSettings } from '../config.ts';
import type { ProviderRegistry } from '../providers/provider.ts';
import { createInProcessQueue } from '../queue/in-process-queue.ts';
import type { JobQueue } from '../queue/queue.ts';
import type { Db } from '../storage/database.ts';
import { createDispatchStore } from './dispatch-store.ts';
import { onTaskMayBeDue } from './due-signal.ts';
import { createRateLimiter, sleep as realSleep, type Sleep } from './rate-limit.ts';
import { createScheduler, type SendJob } from './scheduler.ts';
import { createSender, type DispatchLogger } from './sender.ts';

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
  /** The job queue; an in-process one by default. */
  queue?: JobQueue<SendJob>;
  /** The current time; tests inject one. */
  clock?: () => Date;
  /** How waits (rate limit, retry backoff) are made; tests inject one that moves their clock. */
  sleep?: Sleep;
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
 * The URL a provider posts an app's receipts to (SPEC §5). It carries the receipt secret, which
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
  const store = createDispatchStore(deps.db);
  const queue =
    deps.queue ??
    createInProcessQueue<SendJob>((taskId, error) => logger.error({ taskId, err: error }, 'send job failed'));
  const sendTask = createSender({
    store,
    providers: deps.providers,
    settings,
    rateLimiter: createRateLimiter(settings.rateLimitPerSecond, clock, sleep),
    receiptUrl: (app) => receiptUrl(deps.publicUrl, app.provider, app.id, app.receiptSecret),
    clock,
    sleep,
    logger,
  });
  const scheduler = createScheduler({ store, queue, pollIntervalMs: settings.pollIntervalMs, clock, logger });
  const retries = new Set<NodeJS.Timeout>();
  let unsubscribe: (() => void) | undefined;
  let stopped = false;

  return {
    async start() {
      queue.process(async ({ taskId }, signal) => {
        try {
          await sendTask(taskId, signal);
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
      unsubscribe = onTaskMayBeDue(() => scheduler.wake());
      await scheduler.start();
    },
    poll: () => scheduler.poll(),
    async stop() {
      stopped = true;
      unsubscribe?.();
      for (const retry of retries) clearTimeout(retry);
      await scheduler.stop();
      await queue.close();
    },
  };
}
