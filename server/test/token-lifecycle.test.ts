/**
 * The push-token lifecycle (docs/devices.md#push-token-lifecycle) and the hand-over journal of providers that answer each device
 * on its own (FCM, APNs; dispatch/README.md "Write-ahead"), through the real dispatcher and store on
 * both backends. The provider here is a stand-in that answers per device the way FCM and APNs do;
 * fcm.test.ts, apns.test.ts and provider-crash.test.ts run the real adapters against local fakes.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { SendAbortedError } from '../src/providers/per-device.ts';
import type { BatchDevice, DeviceSendOutcome, Provider } from '../src/providers/provider.ts';
import { ProviderError } from '../src/providers/provider.ts';
import {
  clockSleep,
  createTask,
  expectConsistentSend,
  readTask,
  sendFixture,
  testDispatcher,
  waitFor,
} from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

/** What the stand-in answers for one device on one call: accept, refuse the token, or never answer. */
type Answer = 'accept' | { invalid: string; reason: string } | 'hang';

/**
 * A provider answering each device on its own, reporting each answer through `onAnswered` as it comes.
 * `answer` decides per device and call; `stopAfter` makes a call throw once that many devices of it
 * were answered (a request-wide error in the middle of a batch). Records every device handed over.
 */
function perDeviceProvider(options: {
  answer?: (device: BatchDevice, call: number) => Answer | Promise<Answer>;
  stopAfter?: (call: number) => { answered: number; error: ProviderError } | undefined;
}) {
  const handedOver: string[] = [];
  const callSizes: number[] = [];
  let calls = 0;
  const provider: Provider = {
    answersEachDevice: true,
    async sendBatch(request) {
      const call = ++calls;
      callSizes.push(request.devices.length);
      const outcomes: DeviceSendOutcome[] = [];
      const stop = options.stopAfter?.(call);
      for (const device of request.devices) {
        if (stop && outcomes.length >= stop.answered) throw stop.error;
        const answer = await (options.answer?.(device, call) ?? 'accept');
        if (answer === 'hang') return new Promise<never>(() => {});
        handedOver.push(device.deviceId);
        const outcome: DeviceSendOutcome =
          answer === 'accept'
            ? { deviceId: device.deviceId, sendResult: 'no_feedback', providerRef: `msg-${device.deviceId}` }
            : {
                deviceId: device.deviceId,
                sendResult: 'failure',
                failureReason: answer.reason,
                invalidToken: answer.invalid,
              };
        outcomes.push(outcome);
        request.onAnswered?.(outcome);
        // Let the journal's timer run, as real answers come over time.
        if (outcomes.length % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      return { providerRef: null, outcomes };
    },
    cancel: async () => {},
    parseReceipts: (body) => ({ receipts: [], unreadable: [body] }),
  };
  return { provider, handedOver, callSizes, calls: () => calls };
}

const finished = (taskId: string) =>
  waitFor(
    () => readTask(t.db, taskId),
    (task) => task.status === 'completed' || task.status === 'failed',
  );

/** How many device answers the hand-over journal holds (its rows are groups of answers). */
const journaledAnswers = async () =>
  (await t.db.selectFrom('handover_answers').select('answers').execute()).reduce(
    (n, group) => n + (JSON.parse(group.answers) as unknown[]).length,
    0,
  );

const WS = () => `/api/v1/workspaces/${t.workspaceId}`;

async function sendOnce(appProvider: Provider, fixture: { appId: string; audienceId: string }) {
  const taskId = await createTask(t, fixture);
  const dispatcher = testDispatcher(t, {
    providers: { simulator: appProvider },
    settings: { batchSize: 100 },
  });
  await dispatcher.start();
  const task = await finished(taskId);
  await dispatcher.stop();
  return { taskId, task };
}

describe('invalid push tokens', () => {
  test('are marked with the device result, skipped as unmatched next time, and revived by a new token', async () => {
    const fixture = await sendFixture(t, { devices: 300 });
    const refused = new Set(['dev-0000007', 'dev-0000150', 'dev-0000299']);
    const first = perDeviceProvider({
      answer: (d) =>
        refused.has(d.deviceId)
          ? {
              invalid: 'UNREGISTERED',
              reason: 'the app was uninstalled or the push token expired (FCM UNREGISTERED)',
            }
          : 'accept',
    });
    const sent = await sendOnce(first.provider, fixture);
    expect(sent.task.status).toBe('completed');
    expect(sent.task.counts).toMatchObject({
      plannedSends: 300,
      totalSent: 300,
      failures: 3,
      noFeedback: 297,
    });
    await expectConsistentSend(t.db, sent.taskId);

    const devices = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS()}/apps/${fixture.appId}/devices?tokenStatus=invalid&sort=deviceId`,
    });
    expect(devices.statusCode).toBe(200);
    expect(devices.json().total).toBe(3);
    expect(devices.json().items).toEqual(
      [...refused].sort().map((deviceId) =>
        expect.objectContaining({
          deviceId,
          tokenStatus: 'invalid',
          tokenInvalidReason: 'UNREGISTERED',
          tokenInvalidAt: expect.any(String),
        }),
      ),
    );
    const active = await t.request(t.adminToken, {
      method: 'GET',
      url: `${WS()}/apps/${fixture.appId}/devices?tokenStatus=active&pageSize=1`,
    });
    expect(active.json().total).toBe(297);
    const app = await t.request(t.adminToken, { method: 'GET', url: `${WS()}/apps/${fixture.appId}` });
    expect(app.json()).toMatchObject({ devices: 300, invalidTokens: 3 });

    // The next send counts them as unmatched and never hands them over.
    const second = perDeviceProvider({});
    const again = await sendOnce(second.provider, fixture);
    expect(again.task.counts).toMatchObject({ plannedSends: 300, unmatched: 3, totalSent: 297, failures: 0 });
    expect(second.handedOver.filter((id) => refused.has(id))).toEqual([]);
    expect(second.handedOver).toHaveLength(297);
    await expectConsistentSend(t.db, again.taskId);

    // Registered again with the same token: still invalid. With a new token: active, and sent to.
    const register = (deviceId: string, pushToken: string) =>
      t.request(t.adminToken, {
        method: 'POST',
        url: `${WS()}/apps/${fixture.appId}/devices`,
        body: { deviceId, pushToken },
      });
    const same = await t.db
      .selectFrom('devices')
      .select('push_token')
      .where('app_id', '=', fixture.appId)
      .where('device_id', '=', 'dev-0000007')
      .executeTakeFirstOrThrow();
    expect((await register('dev-0000007', same.push_token)).json()).toMatchObject({ tokenStatus: 'invalid' });
    const revived = await register('dev-0000150', 'a-brand-new-token-0150');
    expect(revived.json()).toMatchObject({
      tokenStatus: 'active',
      tokenInvalidAt: null,
      tokenInvalidReason: null,
    });
    const batch = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/apps/${fixture.appId}/devices/batch`,
      body: { devices: [{ deviceId: 'dev-0000299', pushToken: 'another-new-token-0299' }] },
    });
    expect(batch.statusCode).toBe(200);
    const third = perDeviceProvider({});
    const revivedSend = await sendOnce(third.provider, fixture);
    expect(revivedSend.task.counts).toMatchObject({ unmatched: 1, totalSent: 299 });
    expect(third.handedOver).toContain('dev-0000150');
    expect(third.handedOver).toContain('dev-0000299');
    expect(third.handedOver).not.toContain('dev-0000007');
  });

  test('a token re-registered while its batch was in flight is not marked invalid', async () => {
    const fixture = await sendFixture(t, { devices: 20 });
    const provider = perDeviceProvider({
      answer: async (d) => {
        if (d.deviceId !== 'dev-0000003') return 'accept';
        // The app is reinstalled and registers a new token before the refusal of the old one is recorded.
        const res = await t.request(t.adminToken, {
          method: 'POST',
          url: `${WS()}/apps/${fixture.appId}/devices`,
          body: { deviceId: 'dev-0000003', pushToken: 'fresh-token-after-reinstall' },
        });
        expect(res.statusCode).toBe(200);
        return { invalid: 'BadDeviceToken', reason: 'not a valid APNs device token (BadDeviceToken)' };
      },
    });
    const sent = await sendOnce(provider.provider, fixture);
    expect(sent.task.counts).toMatchObject({ totalSent: 20, failures: 1 });
    const row = await t.db
      .selectFrom('devices')
      .select(['push_token', 'token_status'])
      .where('app_id', '=', fixture.appId)
      .where('device_id', '=', 'dev-0000003')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ push_token: 'fresh-token-after-reinstall', token_status: 'active' });
  });
});

describe('the hand-over journal of per-device providers', () => {
  test('a retried batch hands over only the devices not answered before the error', async () => {
    const fixture = await sendFixture(t, { devices: 250 });
    const provider = perDeviceProvider({
      stopAfter: (call) =>
        call === 1
          ? { answered: 60, error: new ProviderError('QUOTA_EXCEEDED', 'over quota', true) }
          : undefined,
    });
    const taskId = await createTask(t, fixture);
    const dispatcher = testDispatcher(t, {
      providers: { simulator: provider.provider },
      settings: { batchSize: 100 },
      sleep: clockSleep(t),
    });
    await dispatcher.start();
    const task = await finished(taskId);
    await dispatcher.stop();
    expect(task.status).toBe('completed');
    expect(task.counts).toMatchObject({ totalSent: 250, noFeedback: 250, failures: 0 });
    // Every device handed over exactly once: the retry skipped the 60 answered before the error.
    expect(provider.handedOver).toHaveLength(250);
    expect(new Set(provider.handedOver).size).toBe(250);
    await expectConsistentSend(t.db, taskId);
    const journal = await t.db.selectFrom('handover_answers').selectAll().execute();
    expect(journal).toEqual([]);
  });

  test("under a rate limit, a batch holds at most one second's worth of devices", async () => {
    const fixture = await sendFixture(t, { devices: 230, config: { seed: 7, rateLimitPerSecond: 50 } });
    const provider = perDeviceProvider({});
    const taskId = await createTask(t, fixture);
    const dispatcher = testDispatcher(t, {
      providers: { simulator: provider.provider },
      settings: { batchSize: 100 },
      sleep: clockSleep(t),
    });
    await dispatcher.start();
    const task = await finished(taskId);
    await dispatcher.stop();
    expect(task.counts).toMatchObject({ totalSent: 230 });
    expect(provider.callSizes).toEqual([50, 50, 50, 50, 30]);
  });

  test('a send stopped mid-batch keeps the answers given before the error, the rest fail', async () => {
    const fixture = await sendFixture(t, { devices: 100 });
    const provider = perDeviceProvider({
      stopAfter: () => ({
        answered: 40,
        error: new ProviderError('FCM_CREDENTIALS', 'FCM refused the service account', false),
      }),
    });
    const { taskId, task } = await sendOnce(provider.provider, fixture);
    expect(task.status).toBe('completed');
    expect(task.counts).toMatchObject({ totalSent: 100, noFeedback: 40, failures: 60 });
    await expectConsistentSend(t.db, taskId);
    const reasons = await t.db
      .selectFrom('device_results')
      .select('failure_reason')
      .where('task_id', '=', taskId)
      .where('send_result', '=', 'failure')
      .groupBy('failure_reason')
      .execute();
    expect(reasons.map((r) => r.failure_reason)).toEqual([
      expect.stringContaining('FCM refused the service account'),
    ]);
  });

  test('a batch resumed after the process died hands over only the devices without a journaled answer', async () => {
    const fixture = await sendFixture(t, { devices: 300 });
    // The first process answers 70 devices of batch 1 then stops answering (it "dies").
    let answeredInFirst = 0;
    const dying = perDeviceProvider({
      answer: () => (answeredInFirst++ < 70 ? 'accept' : 'hang'),
    });
    const taskId = await createTask(t, fixture);
    const first = testDispatcher(t, {
      providers: { simulator: dying.provider },
      settings: { batchSize: 100 },
    });
    await first.start();
    await waitFor(journaledAnswers, (n) => n === 70);
    void first.stop(); // Never returns: its sends hang like a dead process's.

    const second = perDeviceProvider({});
    const restarted = testDispatcher(t, {
      providers: { simulator: second.provider },
      settings: { batchSize: 100 },
    });
    await restarted.start();
    const task = await finished(taskId);
    await restarted.stop();
    expect(task.status).toBe('completed');
    expect(task.counts).toMatchObject({ plannedSends: 300, totalSent: 300, noFeedback: 300 });
    // The 70 journaled devices were not handed over again; everything else exactly once overall.
    const all = [...dying.handedOver, ...second.handedOver];
    expect(dying.handedOver).toHaveLength(70);
    expect(all).toHaveLength(300);
    expect(new Set(all).size).toBe(300);
    await expectConsistentSend(t.db, taskId);
  });
  test('a batch resumed after a crash marks only the token that was refused, not one registered since', async () => {
    const fixture = await sendFixture(t, { devices: 100 });
    // The first process gets BadDeviceToken for dev-0000003, journals it, then dies mid-batch.
    let answered = 0;
    const dying = perDeviceProvider({
      answer: (d) => {
        if (answered++ >= 40) return 'hang';
        return d.deviceId === 'dev-0000003'
          ? { invalid: 'BadDeviceToken', reason: 'not a valid APNs device token (BadDeviceToken)' }
          : 'accept';
      },
    });
    const taskId = await createTask(t, fixture);
    const first = testDispatcher(t, {
      providers: { simulator: dying.provider },
      settings: { batchSize: 100 },
    });
    await first.start();
    await waitFor(journaledAnswers, (n) => n === 40);
    void first.stop(); // Never returns: its sends hang like a dead process's.
    // While the server is down, the app is reinstalled and registers a new token.
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `${WS()}/apps/${fixture.appId}/devices`,
      body: { deviceId: 'dev-0000003', pushToken: 'fresh-token-after-reinstall' },
    });
    expect(res.statusCode).toBe(200);

    const second = perDeviceProvider({});
    const restarted = testDispatcher(t, {
      providers: { simulator: second.provider },
      settings: { batchSize: 100 },
    });
    await restarted.start();
    const task = await finished(taskId);
    await restarted.stop();
    expect(task.counts).toMatchObject({ plannedSends: 100, totalSent: 100, failures: 1 });
    const row = await t.db
      .selectFrom('devices')
      .select(['push_token', 'token_status'])
      .where('app_id', '=', fixture.appId)
      .where('device_id', '=', 'dev-0000003')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ push_token: 'fresh-token-after-reinstall', token_status: 'active' });
    await expectConsistentSend(t.db, taskId);
  });

  test('stopping the server ends a per-device send at once; the restart hands over only the unanswered devices', async () => {
    const fixture = await sendFixture(t, { devices: 100 });
    // A provider that answers slowly and honours the stop signal, as FCM and APNs do.
    const handedOver: string[] = [];
    let calls = 0;
    const slow: Provider = {
      answersEachDevice: true,
      async sendBatch(request) {
        calls++;
        const outcomes: DeviceSendOutcome[] = [];
        for (const device of request.devices) {
          if (request.signal?.aborted) throw new SendAbortedError();
          await new Promise((resolve) => setTimeout(resolve, calls === 1 ? 20 : 0));
          handedOver.push(device.deviceId);
          const outcome: DeviceSendOutcome = { deviceId: device.deviceId, sendResult: 'no_feedback' };
          outcomes.push(outcome);
          request.onAnswered?.(outcome);
        }
        return { providerRef: null, outcomes };
      },
      cancel: async () => {},
    };
    const taskId = await createTask(t, fixture);
    const first = testDispatcher(t, { providers: { simulator: slow }, settings: { batchSize: 100 } });
    await first.start();
    await waitFor(
      async () => handedOver.length,
      (n) => n >= 10,
    );
    await first.stop();
    // The stop did not wait for the rest of the batch, and nothing is handed over after it.
    const beforeRestart = handedOver.length;
    expect(beforeRestart).toBeLessThan(100);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(handedOver).toHaveLength(beforeRestart);
    expect((await readTask(t.db, taskId)).status).toBe('sending');

    const restarted = testDispatcher(t, { providers: { simulator: slow }, settings: { batchSize: 100 } });
    await restarted.start();
    const task = await finished(taskId);
    await restarted.stop();
    expect(task.counts).toMatchObject({ plannedSends: 100, totalSent: 100, noFeedback: 100 });
    expect(handedOver).toHaveLength(100);
    expect(new Set(handedOver).size).toBe(100);
    await expectConsistentSend(t.db, taskId);
  });
});
