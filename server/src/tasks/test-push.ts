/**
 * Test push (docs/delivery-controls.md#test-push): content sent now to a few chosen devices of an app,
 * answered device by device, and counted nowhere. Nothing is written — no task, batch, device result
 * or frequency count — and the payload carries a test push ID (`test-…`) instead of a task ID, so
 * that whatever receipts the devices or the provider report for it are refused as `UNKNOWN_TASK`
 * and can never count for a task, then or later.
 */
import { readProviderConfig } from '../apps/provider-config.ts';
import type { DeviceStore } from '../devices/device-store.ts';
import { receiptUrl } from '../dispatch/dispatcher.ts';
import { acceptedResult } from '../domain/batch.ts';
import type { TaskContent } from '../domain/task-content.ts';
import { newId } from '../ids.ts';
import {
  type BatchDevice,
  type DeviceSendOutcome,
  type ProviderApp,
  ProviderError,
  type ProviderRegistry,
} from '../providers/provider.ts';
import type { AppRow, DeviceRow } from '../storage/database.ts';

/** Most devices one test push may name. */
export const MAX_TEST_PUSH_DEVICES = 20;

/** Test pushes a workspace may send per minute (per API process), all at once if it likes. */
export const TEST_PUSHES_PER_MINUTE = 10;

/**
 * How long a test push waits for the provider, in milliseconds: a per-device provider retrying a
 * quota answer could otherwise hold the request open for minutes. Devices not answered by then fail.
 */
export const TEST_PUSH_TIMEOUT_MS = 30_000;

/** How every test push ID starts: never the start of a task ID (`tsk_`). */
export const TEST_PUSH_ID_PREFIX = 'test-';

/** What a test push came to for one device. */
export interface TestPushResult {
  deviceId: string;
  /** `success`/`no_feedback`: accepted (Android providers may confirm delivery later); `failure`: not sent or refused. */
  sendResult: DeviceSendOutcome['sendResult'];
  /** Why, for a failure; null otherwise. */
  failureReason: string | null;
}

/** What sending a test push needs. */
export interface TestPushDeps {
  devices: DeviceStore;
  providers: ProviderRegistry;
  /** Base URL of this server as providers reach it (`Config.publicUrl`), for the receipt URL they are given. */
  publicUrl: string;
}

/**
 * A new test push ID: the provider's batch ID and the payload's `pb_task`. It is exactly as long as a
 * task ID, so a payload measured with it has the size the task's will have: content that fits a
 * test push fits the task, and the other way round.
 */
export function newTestPushId(): string {
  return `${TEST_PUSH_ID_PREFIX}${newId('tsk').slice(TEST_PUSH_ID_PREFIX.length)}`;
}

function failed(deviceId: string, failureReason: string): TestPushResult {
  return { deviceId, sendResult: 'failure', failureReason };
}

/** Why `row` cannot be sent to, in words a marketer understands; null when it can. */
function unsendable(app: AppRow, deviceId: string, row: DeviceRow | undefined): string | null {
  if (!row) return `device ${deviceId} is not registered for app ${app.name} (${app.id})`;
  if (row.token_status !== 'active') {
    const why = row.token_invalid_reason ? ` (${row.token_invalid_reason})` : '';
    const since = row.token_invalid_at ? ` since ${row.token_invalid_at}` : '';
    return `the device has no active push token: the provider called it invalid${why}${since}; the app registers a new one when it next starts`;
  }
  return null;
}

/** A failure of the whole provider call, as a sentence for every device it left unanswered. */
function providerFailure(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return `the provider did not answer within ${TEST_PUSH_TIMEOUT_MS / 1000} s`;
  if (error instanceof ProviderError) {
    const message = error.message.includes(error.code) ? error.message : `${error.message} (${error.code})`;
    return `the provider refused the send: ${message}`;
  }
  return `the provider failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Hands `devices` to the app's provider in one call and answers each device's result. A provider
 * error (or no answer in time) fails every device it did not answer, with the error as the reason:
 * the caller gets 200 with the reason rather than a 5xx, as a real send records it.
 */
async function handOver(
  deps: TestPushDeps,
  app: AppRow,
  pushId: string,
  content: TaskContent,
  devices: BatchDevice[],
): Promise<TestPushResult[]> {
  const provider = deps.providers[app.provider as ProviderApp['provider']];
  if (!provider) {
    return devices.map((d) => failed(d.deviceId, `this server cannot send through ${app.provider}`));
  }
  const answered = new Map<string, DeviceSendOutcome>();
  const signal = AbortSignal.timeout(TEST_PUSH_TIMEOUT_MS);
  let error: string | null = null;
  try {
    const answer = await provider.sendBatch({
      app: {
        id: app.id,
        platform: app.platform,
        provider: app.provider,
        config: readProviderConfig(app),
      } as ProviderApp,
      taskId: pushId,
      batchId: pushId,
      content,
      devices,
      sendAt: null,
      receiptUrl: receiptUrl(deps.publicUrl, app.provider, app.id, app.receipt_secret),
      // A per-device provider reports each answer as it comes: those still count if it then fails.
      onAnswered: (outcome) => answered.set(outcome.deviceId, outcome),
      signal,
    });
    for (const outcome of answer.outcomes) answered.set(outcome.deviceId, outcome);
  } catch (thrown) {
    error = providerFailure(thrown, signal);
  }
  return devices.map(({ deviceId }) => {
    const outcome = answered.get(deviceId);
    if (outcome?.sendResult === 'failure') {
      return failed(deviceId, outcome.failureReason ?? 'the provider refused the device');
    }
    if (outcome) return { deviceId, sendResult: outcome.sendResult, failureReason: null };
    if (error !== null) return failed(deviceId, error);
    // A device the answer leaves out was accepted (provider.ts, `SendBatchResult.outcomes`).
    return { deviceId, sendResult: acceptedResult(app.platform), failureReason: null };
  });
}

/**
 * Sends `content` to `deviceIds` of `app` now, as test push `pushId`: one result per distinct device,
 * in the order asked. Devices not registered for the app, or without an active push token, fail
 * without reaching the provider; the others go to it in one call.
 */
export async function sendTestPush(
  deps: TestPushDeps,
  app: AppRow,
  pushId: string,
  content: TaskContent,
  deviceIds: readonly string[],
): Promise<TestPushResult[]> {
  const asked = [...new Set(deviceIds)];
  const rows = new Map((await deps.devices.findDevices(app.id, asked)).map((r) => [r.device_id, r]));
  const results = new Map<string, TestPushResult>();
  const targets: BatchDevice[] = [];
  for (const deviceId of asked) {
    const row = rows.get(deviceId);
    const reason = unsendable(app, deviceId, row);
    if (reason !== null) results.set(deviceId, failed(deviceId, reason));
    else if (row) targets.push({ deviceId, pushToken: row.push_token, channel: row.channel });
  }
  if (targets.length > 0) {
    for (const result of await handOver(deps, app, pushId, content, targets)) {
      results.set(result.deviceId, result);
    }
  }
  return asked.map((deviceId) => results.get(deviceId) as TestPushResult);
}
