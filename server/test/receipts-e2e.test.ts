/**
 * End to end, through HTTP only: the real `pushboard serve` process, an app, devices and an audience
 * created over the API, a task sent through the built-in simulator, whose receipts come back over
 * HTTP to the public receipt endpoints. The statistics and the device table fill in until they equal
 * exactly what the simulator's (deterministic) funnel planned, and Generate Audience from "delivered
 * but not opened" holds exactly those devices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statisticsViolations } from '../src/domain/statistics.ts';
import { simulateDevice } from '../src/providers/simulator.ts';
import { ADMIN_PASSWORD, type ConsoleServer, startServer } from './console-harness.ts';

const DEVICES = 600;
const UNMATCHED = 25;
// Compressed so that the simulated day of late opens passes in about a second.
const CONFIG = {
  seed: 42,
  acceptRate: 0.9,
  deliveryRate: 0.85,
  impressionRate: 0.8,
  openRate: 0.3,
  dismissalRate: 0.4,
  timeScale: 100_000,
};

let server: ConsoleServer;
let baseUrl: string;
let token: string;

async function api(method: string, url: string, body?: unknown) {
  const response = await fetch(`${baseUrl}/api/v1${url}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined, text };
}

beforeAll(async () => {
  // The real `pushboard serve` on loopback, as the console's browser tests run it.
  server = await startServer();
  baseUrl = server.baseUrl;
  const login = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  token = ((await login.json()) as { token: string }).token;
});

afterAll(async () => {
  await server?.stop();
});

const CHANNELS = ['huawei', 'xiaomi', 'oppo', 'vivo', 'simulator', 'simulator'];
const deviceId = (i: number) => `oaid-${String(i).padStart(5, '0')}`;

describe('a task sent through the simulator, watched over HTTP', () => {
  it('fills in statistics and device results exactly as the simulator planned; Generate Audience from "not opened"', async () => {
    const app = await api('POST', '/workspaces/default/apps', {
      name: 'E2E Android',
      platform: 'android',
      provider: 'simulator',
      providerConfig: CONFIG,
    });
    expect(app.status, app.text).toBe(201);
    const appId = app.json.id as string;
    const devices = Array.from({ length: DEVICES }, (_, i) => ({
      deviceId: deviceId(i),
      pushToken: `tok-${i}`.padEnd(44, 'x'),
      channel: CHANNELS[i % CHANNELS.length]!,
    }));
    const batch = await api('POST', `/workspaces/default/apps/${appId}/devices/batch`, { devices });
    expect(batch.status, batch.text).toBe(200);
    const ids = [
      ...devices.map((d) => d.deviceId),
      ...Array.from({ length: UNMATCHED }, (_, i) => `gone-${i}`),
    ];
    const audience = await api('POST', '/workspaces/default/audiences', {
      name: 'E2E audience',
      deviceIds: ids,
    });
    expect(audience.status, audience.text).toBe(201);
    const task = await api('POST', '/workspaces/default/tasks', {
      name: 'E2E task',
      appId,
      title: 'Hello',
      content: 'End to end',
      clickAction: { type: 'open_app' },
      audienceId: audience.json.id,
      sendType: 'immediate',
      subCampaignIds: [],
    });
    expect(task.status, task.text).toBe(201);
    const taskId = task.json.id as string;

    // What the simulator will do with every device: the expected final statistics and buckets.
    const planned = devices.map((d) => ({ id: d.deviceId, ...simulateDevice(CONFIG, 'android', taskId, d) }));
    const has = (p: (typeof planned)[number], kind: string) => p.receipts.some((r) => r.kind === kind);
    const failures = planned.filter((p) => p.sendResult === 'failure').length;
    const delivered = planned.filter((p) => has(p, 'delivered'));
    const expected = {
      plannedSends: DEVICES + UNMATCHED,
      unmatched: UNMATCHED,
      capped: 0,
      totalSent: DEVICES,
      deliveries: delivered.length,
      failures,
      noFeedback: DEVICES - failures - delivered.length,
      impressions: planned.filter((p) => has(p, 'impression')).length,
      opens: planned.filter((p) => has(p, 'open')).length,
      dismissals: planned.filter((p) => has(p, 'dismissal')).length,
      pending: 0,
      cancelled: 0,
      late: 0,
    };
    expect(expected.opens).toBeGreaterThan(20);
    expect(expected.dismissals).toBeGreaterThan(20);

    // Watch the statistics fill in: every reading is consistent, and they end at the plan.
    const seen: number[] = [];
    let last: Record<string, number> = {};
    const deadline = Date.now() + 30_000;
    for (;;) {
      const read = await api('GET', `/workspaces/default/tasks/${taskId}`);
      const { status, statistics } = read.json;
      const { impressionRate: _i, openRate: _o, dismissalRate: _d, ...counts } = statistics;
      expect(statisticsViolations(counts, { platform: 'android', status })).toEqual([]);
      last = statistics;
      seen.push(statistics.opens);
      if (status === 'completed' && JSON.stringify(counts) === JSON.stringify(expected)) break;
      if (Date.now() > deadline)
        throw new Error(`statistics did not reach the plan: ${JSON.stringify(last)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Opens only ever grow as receipts arrive.
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(last.openRate).toBeCloseTo(expected.opens / expected.deliveries, 10);

    // The device table: every bucket's total and members agree with the plan.
    async function listAll(query: string): Promise<{ total: number; ids: string[] }> {
      const ids: string[] = [];
      let cursor: string | null = null;
      let total = -1;
      do {
        const page = await api(
          'GET',
          `/workspaces/default/tasks/${taskId}/devices?${query}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(page.status, page.text).toBe(200);
        total = page.json.total;
        ids.push(...page.json.items.map((item: { deviceId: string }) => item.deviceId));
        cursor = page.json.nextCursor;
      } while (cursor);
      return { total, ids };
    }
    const notOpened = delivered.filter((p) => !has(p, 'open')).map((p) => p.id);
    const listed = await listAll('sendResult=success&without=open');
    expect(listed).toEqual({ total: notOpened.length, ids: notOpened });
    const opened = await listAll('receipt=open');
    expect(opened.ids).toEqual(planned.filter((p) => has(p, 'open')).map((p) => p.id));
    const noFeedback = await listAll('sendResult=no_feedback');
    expect(noFeedback.total).toBe(expected.noFeedback);

    const generated = await api('POST', `/workspaces/default/tasks/${taskId}/audiences`, {
      name: 'Delivered, not opened',
      filter: { sendResult: 'success', without: 'open' },
    });
    expect(generated.status, generated.text).toBe(201);
    expect(generated.json).toMatchObject({ size: notOpened.length, source: 'task_result' });
    const members: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await api(
        'GET',
        `/workspaces/default/audiences/${generated.json.id}/members?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(page.status, page.text).toBe(200);
      members.push(
        ...page.json.items.map((m: string | { deviceId: string }) =>
          typeof m === 'string' ? m : m.deviceId,
        ),
      );
      cursor = page.json.nextCursor ?? null;
    } while (cursor);
    expect(members.sort()).toEqual(notOpened);
  });
});
