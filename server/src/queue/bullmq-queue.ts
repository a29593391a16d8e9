/**
 * The scaled mode's job queue: BullMQ on Redis behind `JobQueue`, so the API and any number of worker
 * processes share one queue. It keeps the in-process queue's semantics: an ID is queued at most once
 * at a time, a job whose handler throws is reported and dropped (no BullMQ retries: its owner re-adds
 * what it wants retried), and nothing stays in Redis once a job is done, because the database is the
 * durable record. What BullMQ adds is crash recovery: the job of a worker that died is handed to
 * another worker once its lock expires.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobErrorListener } from './in-process-queue.ts';
import type { JobQueue } from './queue.ts';
import { openRedis, prefixPattern, redisKey } from './redis.ts';

/** How a BullMQ-backed queue finds its Redis keys and how it reports what goes wrong. */
export interface BullmqQueueOptions {
  /** The queue's name: processes with the same name and prefix share its jobs. No `:`. */
  name: string;
  /** The Redis holding the queue, e.g. `redis://127.0.0.1:6379`. */
  redisUrl: string;
  /** The first part of every Redis key of the queue: one per deployment or test run. */
  prefix: string;
  /**
   * How long a job's lock lasts without renewal, in ms (default 30 000): how long the job of a worker
   * that died waits before another worker takes it. Every worker of the queue should use the same.
   */
  lockDurationMs?: number;
  /**
   * How often this worker looks for jobs whose lock expired, in ms (default 30 000). A dead worker's
   * job runs again within about `lockDurationMs` plus two of these.
   */
  stalledIntervalMs?: number;
  /** Told when a job fails (its handler threw, or BullMQ gave up on it); the job is dropped. */
  onError?: JobErrorListener;
  /**
   * Told of errors that belong to no job: a lost Redis connection, a lock that could not be renewed.
   * BullMQ recovers from these by itself; the default writes them to stderr.
   */
  onQueueError?: (error: Error) => void;
}

const DEFAULT_LOCK_DURATION_MS = 30_000;
const DEFAULT_STALLED_INTERVAL_MS = 30_000;
/**
 * BullMQ fails a job after this many stalls (default 1). A stall here means its worker died or lost
 * Redis, never that the job itself is bad (a handler that throws fails at once), so it is retried.
 */
const MAX_STALLED_COUNT = 1000;
/**
 * How long `close` lets BullMQ wind down once the handlers have returned. BullMQ's own close waits for
 * Redis without end (its commands queue up until a reconnect), so past this the connection is cut.
 */
const CLOSE_GRACE_MS = 5000;
/** How long QUIT may wait for Redis before the connection is cut. */
const QUIT_GRACE_MS = 2000;

/**
 * What the worker throws for a handler's error: BullMQ gives some error names and messages a meaning
 * of their own (delays, rate limits), so the handler's error travels inside and is unwrapped for
 * `onError`.
 */
class HandlerFailure extends Error {
  constructor(readonly thrown: unknown) {
    super(thrown instanceof Error ? thrown.message : String(thrown));
    this.name = 'HandlerFailure';
  }
}

/**
 * What goes before a job's ID in BullMQ. BullMQ keeps a job at `<prefix>:<queue>:<id>`, next to its
 * own keys (`…:wait`, `…:delayed`, `…:marker`…), so a bare ID such as `delayed` would land on one of
 * them, and it refuses IDs that are integers. Its own key names never hold `_`.
 */
const BULLMQ_ID_PREFIX = 'job_';

/** What BullMQ knows a job by. */
function bullmqId(jobId: string): string {
  return BULLMQ_ID_PREFIX + jobId;
}

/** The job's ID from BullMQ's. */
function jobIdOf(bullmqJobId: string): string {
  return bullmqJobId.startsWith(BULLMQ_ID_PREFIX) ? bullmqJobId.slice(BULLMQ_ID_PREFIX.length) : bullmqJobId;
}

/** A `JobQueue` kept in Redis by BullMQ, shared by every process using the same name and prefix. */
export function createBullmqQueue<T>(options: BullmqQueueOptions): JobQueue<T> {
  const { name, prefix } = options;
  const onError = options.onError ?? (() => {});
  const onQueueError =
    options.onQueueError ?? ((error: Error) => console.error(`job queue ${prefix}:${name}:`, error));
  // One connection for the queue and the worker; the worker opens its own blocking one from it.
  const connection = openRedis(options.redisUrl, redisKey(prefix, name, 'pushboard'));
  // Queue and worker report the connection's errors while they are open; without a listener of its
  // own ioredis would also print them, and the ones after close would go nowhere else.
  connection.on('error', () => {});
  const queue = new Queue<T, void, string, T, void, string>(name, { connection, prefix });
  queue.on('error', onQueueError);
  const controller = new AbortController();
  /** The handlers running now, settled or not, for `close` to wait for. */
  const running = new Set<Promise<unknown>>();
  let worker: Worker<T, void, string> | undefined;
  let closing: Promise<void> | undefined;

  async function quietly(what: string, step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (error) {
      onQueueError(new Error(`closing the job queue: ${what} failed`, { cause: error }));
    }
  }

  return {
    async add(jobId, data, addOptions) {
      // BullMQ takes `:` as a separator of its keys.
      if (jobId.includes(':')) {
        throw new Error(`job ID ${JSON.stringify(jobId)} contains ":"; BullMQ refuses it`);
      }
      if (closing) return;
      await queue.add(name, data, {
        jobId: bullmqId(jobId),
        delay: Math.max(0, addOptions?.delayMs ?? 0),
        attempts: 1,
        // Gone once done, so the same ID can be added again (and Redis holds no history).
        removeOnComplete: true,
        removeOnFail: true,
      });
    },
    async remove(jobId) {
      if (jobId.includes(':') || closing) return false;
      // BullMQ's remove answers 1 for an ID it does not know and removes an active job whose worker
      // died before the stalled check re-queued it, so only a job seen waiting is removed. Should it
      // start meanwhile, its lock makes BullMQ refuse (0).
      const state = await queue.getJobState(bullmqId(jobId));
      if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
      return (await queue.remove(bullmqId(jobId))) === 1;
    },
    process(handler, concurrency) {
      if (worker) throw new Error('process() was already called on this queue');
      if (closing) return;
      worker = new Worker<T, void, string>(
        name,
        async (job) => {
          const run = (async () => handler(job.data, controller.signal))();
          const settled = run.catch(() => {});
          running.add(settled);
          try {
            await run;
          } catch (error) {
            throw new HandlerFailure(error);
          } finally {
            running.delete(settled);
          }
        },
        {
          connection,
          prefix,
          concurrency: Math.max(1, concurrency),
          lockDuration: options.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS,
          stalledInterval: options.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS,
          maxStalledCount: MAX_STALLED_COUNT,
        },
      );
      // 'failed' comes once the job is gone from Redis, so the listener may add it again.
      worker.on('failed', (job, error) => {
        const thrown = error instanceof HandlerFailure ? error.thrown : error;
        if (job?.id !== undefined) {
          onError(jobIdOf(job.id), thrown);
        } else {
          onQueueError(new Error('a job failed and was gone before it could be reported', { cause: thrown }));
        }
      });
      worker.on('error', onQueueError);
    },
    close() {
      closing ??= (async () => {
        // Closing the worker first stops it taking jobs; it then waits for the running ones and closes
        // its blocking connection. The shared connection is ours to close.
        const workerClosed = worker ? quietly('closing the worker', () => worker!.close()) : undefined;
        controller.abort();
        // However long the handlers take to see the abort, as in the in-process queue; a job the worker
        // was fetching as it closed still starts (with the signal aborted), so look again.
        const handlersReturned = async () => {
          while (running.size > 0) await Promise.all(running);
        };
        await handlersReturned();
        const cleanUp = (async () => {
          await workerClosed;
          await quietly('closing the queue', () => queue.close());
          await quitOrCut(connection);
        })();
        if (!(await settlesWithin(cleanUp, CLOSE_GRACE_MS))) {
          onQueueError(new Error('Redis did not answer while the job queue closed; its connection was cut'));
          connection.disconnect();
        }
        await handlersReturned();
      })();
      return closing;
    },
  };
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ends a connection politely, or cuts it when Redis does not answer in time. */
async function quitOrCut(connection: Redis): Promise<void> {
  // A connection that already ended refuses QUIT; it is cut below either way.
  await settlesWithin(
    connection.quit().catch(() => {}),
    QUIT_GRACE_MS,
  );
  connection.disconnect();
}

/**
 * Deletes every Redis key of `prefix` (queues and rate-limit buckets alike): how a test run, or a
 * deployment being torn down, leaves nothing behind. Answers how many keys were deleted.
 */
export async function deletePrefix(redisUrl: string, prefix: string): Promise<number> {
  if (prefix === '') throw new Error('deletePrefix needs a prefix: an empty one would match everything');
  const redis = openRedis(redisUrl);
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    await quitOrCut(redis);
  }
}
