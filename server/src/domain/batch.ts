/**
 * The rules of a batch that hold wherever it is sent (README "Write-ahead, hand-over, record" in
 * `dispatch/`): its ID, how long to wait between two provider calls, how many devices it holds, and
 * what a device the provider accepted without saying more counts as. Pure: no I/O, no clock.
 */
import type { Platform } from './task-content.ts';

/** Longest wait between two attempts of a batch, in milliseconds. */
export const MAX_RETRY_DELAY_MS = 60_000;

/** The ID of a task's batch `seq`: stable across retries and restarts, the provider's idempotency key. */
export function batchIdOf(taskId: string, seq: number): string {
  return `${taskId}-${seq}`;
}

/** Milliseconds to wait after failed attempt `attempt` (1-based): `baseMs`, doubling each time, capped. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** (attempt - 1));
}

/** The platform's result for a device the provider accepted without saying more. */
export function acceptedResult(platform: Platform): 'success' | 'no_feedback' {
  return platform === 'ios' ? 'success' : 'no_feedback';
}

/**
 * The audience devices per batch of a task: the deployment's batch size, lowered to what the provider
 * takes in one call and, for a provider that answers each device under a rate limit (devices per
 * second, 0 = none), to one second's worth — it hands a batch over as fast as its connection allows,
 * so only such batches keep every burst within the limit. Never below one device.
 */
export function batchSizeFor(
  batchSize: number,
  provider: { maxBatchDevices?: number; answersEachDevice?: boolean } | undefined,
  rateLimitPerSecond: number,
): number {
  const paced =
    provider?.answersEachDevice === true && rateLimitPerSecond > 0 ? rateLimitPerSecond : batchSize;
  return Math.max(1, Math.min(batchSize, provider?.maxBatchDevices ?? batchSize, paced));
}
