/**
 * When tasks start: a poll of due tasks every `pollIntervalMs` (≤ 1 s), and at once when a task is
 * created or rescheduled in this process. Starting a task is one conditional write
 * (`scheduled → sending`, see `DispatchStore.startTask`), so a start and a delete can never both win;
 * only a task that was started is queued, so nothing is ever queued for a task that can still be
 * deleted. Sending tasks are re-queued at start-up: that is how a send survives a restart. A
 * marketing task due inside its app's quiet hours is deferred to their end instead (`deferral.ts`).
 */
import type { JobQueue } from '../queue/queue.ts';
import { deferIfQuiet } from './deferral.ts';
import type { DispatchStore } from './dispatch-store.ts';
import type { DispatchLogger } from './sender.ts';

/** The job that sends one task; its job ID is the task ID. */
export interface SendJob {
  taskId: string;
}

/** Due tasks started per poll; more wait for the next poll (a moment later). */
const STARTS_PER_POLL = 100;

/** What a scheduler is built from. */
export interface SchedulerDeps {
  store: DispatchStore;
  queue: JobQueue<SendJob>;
  pollIntervalMs: number;
  /**
   * Scaled mode: how often a poll also queues every `sending` task again (a no-op for those whose job
   * is queued or running). It gives a send whose worker stopped to a worker that runs on.
   */
  resumeIntervalMs?: number;
  clock: () => Date;
  logger: DispatchLogger;
  /** Scaled mode: queues a wake-up of the schedulers at `at` (ISO), when a deferred task falls due. */
  wakeUpAt?: (at: string) => Promise<void>;
}

/** Starts due tasks and hands them to the queue. */
export interface Scheduler {
  /** Queues every task left `sending` (by a stop or a crash), then polls now and every interval. */
  start(): Promise<void>;
  /** One poll: starts the tasks due at the clock's time and queues them; answers their IDs. */
  poll(): Promise<string[]>;
  /** Polls as soon as possible (a task may have become due). */
  wake(): void;
  /** Stops polling and waits for a poll in progress. */
  stop(): Promise<void>;
}

/** Creates a scheduler. */
export function createScheduler(deps: SchedulerDeps): Scheduler {
  const { store, queue, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = true;
  let resumedAt = deps.clock().getTime();

  async function poll(): Promise<string[]> {
    const at = deps.clock();
    const now = at.toISOString();
    if (deps.resumeIntervalMs !== undefined && at.getTime() - resumedAt >= deps.resumeIntervalMs) {
      resumedAt = at.getTime();
      for (const taskId of await store.sendingTasks()) await queue.add(taskId, { taskId });
    }
    const started: string[] = [];
    for (const taskId of await store.dueTasks(now, STARTS_PER_POLL)) {
      const deferredUntil = await deferIfQuiet(store, taskId, at);
      if (deferredUntil !== null) {
        logger.info({ taskId, deferredUntil }, 'task due in quiet hours: deferred to their end');
        await deps.wakeUpAt?.(deferredUntil);
        continue;
      }
      // False when a delete or another scheduler got there first: then there is nothing to do.
      if (!(await store.startTask(taskId, now))) continue;
      started.push(taskId);
      logger.info({ taskId }, 'task started');
      await queue.add(taskId, { taskId });
    }
    return started;
  }

  /** Runs one poll now unless one is running (which then runs again once done). */
  function tick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = poll()
      .then(
        () => undefined,
        (error: unknown) => logger.error({ err: error }, 'polling for due tasks failed'),
      )
      .finally(() => {
        running = undefined;
        if (stopped) return;
        if (again) {
          again = false;
          tick();
        } else {
          timer = setTimeout(tick, deps.pollIntervalMs);
        }
      });
  }

  return {
    async start() {
      for (const taskId of await store.sendingTasks()) {
        logger.info({ taskId }, 'resuming the send of a task');
        await queue.add(taskId, { taskId });
      }
      stopped = false;
      // Tasks that fell due while the server was down start now.
      tick();
    },
    poll,
    wake: tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
