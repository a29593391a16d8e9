/**
 * A 100,000-device task sent for real (the simulator provider, the real clock): the statistics
 * invariants hold in every reading taken while it is sent — through the HTTP API and from the store —
 * and the API keeps answering throughout.
 */
import { afterEach, beforeEach, expect, test } from 'vitest';
import { statisticsViolations } from '../src/domain/statistics.ts';
import {
  createTask,
  expectConsistentSend,
  readTask,
  sendFixture,
  testDispatcher,
} from './dispatch-fixtures.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
beforeEach(async () => {
  t = await createTestInstance();
});
afterEach(async () => {
  await t.close();
});

test('a 100,000-device task completes, its statistics consistent in every reading while it runs', async () => {
  const fixture = await sendFixture(t, { devices: 100_000, unmatched: 5_000 });
  const taskId = await createTask(t, fixture);
  // A rate limit stretches the send over about two seconds of real time, so there is a lot to observe.
  const dispatcher = testDispatcher(t, { clock: () => new Date(), settings: { rateLimitPerSecond: 60_000 } });
  await dispatcher.start();
  try {
    const midway = { api: 0, store: 0 };
    for (;;) {
      const res = await t.request(t.adminToken, {
        method: 'GET',
        url: `/api/v1/workspaces/${t.workspaceId}/tasks/${taskId}`,
      });
      expect(res.statusCode).toBe(200);
      const { status, statistics } = res.json();
      const { impressionRate, openRate, dismissalRate, ...counts } = statistics;
      expect(statisticsViolations(counts, { platform: 'android', status })).toEqual([]);
      const stored = await readTask(t.db, taskId);
      expect(statisticsViolations(stored.counts, { platform: 'android', status: stored.status })).toEqual([]);
      if (status === 'sending' && statistics.totalSent > 0 && statistics.pending > 0) midway.api++;
      if (stored.status === 'sending' && stored.counts.totalSent > 0 && stored.counts.pending > 0)
        midway.store++;
      if (status === 'completed' || status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(midway.api).toBeGreaterThan(5);
    expect(midway.store).toBeGreaterThan(5);
  } finally {
    await dispatcher.stop();
  }
  const { task } = await expectConsistentSend(t.db, taskId);
  expect(task.status).toBe('completed');
  expect(task.counts).toMatchObject({
    plannedSends: 105_000,
    unmatched: 5_000,
    totalSent: 100_000,
    pending: 0,
  });
  expect(task.counts.failures).toBeGreaterThan(0);
  expect(task.counts.noFeedback).toBeGreaterThan(90_000);
});
