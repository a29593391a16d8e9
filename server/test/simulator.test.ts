/**
 * The simulator provider: answers like a real push service, as a pure function of seed, task and
 * device; plans a realistic receipt funnel that `timeScale` compresses; and never takes the same
 * batch twice.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Platform } from '../src/domain/task-content.ts';
import { type BatchDevice, ProviderError, type SendBatchRequest } from '../src/providers/provider.ts';
import {
  createSimulatorLedger,
  createSimulatorProvider,
  parseSimulatorReceipts,
  SIMULATOR_CHANNEL,
  type SimulatedDevice,
  simulateDevice,
} from '../src/providers/simulator.ts';
import type { SimulatorConfig } from '../src/providers/simulator-config.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const VENDORS = ['huawei', 'xiaomi', 'oppo', 'vivo', 'honor'];
const HOUR_MS = 3_600_000;

function fleet(count: number, platform: Platform = 'android'): BatchDevice[] {
  return Array.from({ length: count }, (_, i) => ({
    deviceId: `dev-${i}`,
    pushToken: `tok-${i}`,
    channel: platform === 'ios' ? 'apns' : i % 2 === 0 ? VENDORS[i % VENDORS.length]! : SIMULATOR_CHANNEL,
  }));
}

function simulateAll(config: SimulatorConfig, platform: Platform, devices: BatchDevice[], taskId = 'tsk_1') {
  return devices.map((d) => simulateDevice(config, platform, taskId, d));
}

const share = (fates: SimulatedDevice[], keep: (f: SimulatedDevice) => boolean) =>
  fates.filter(keep).length / fates.length;
const has = (f: SimulatedDevice, kind: string) => f.receipts.some((r) => r.kind === kind);

describe('the simulated funnel', () => {
  test('the same seed, task and device always give the same answer; another seed another one', () => {
    const devices = fleet(2000);
    const config = { seed: 42, acceptRate: 0.8 };
    expect(simulateAll(config, 'android', devices)).toEqual(simulateAll(config, 'android', devices));
    const reseeded = simulateAll({ ...config, seed: 43 }, 'android', devices);
    expect(reseeded).not.toEqual(simulateAll(config, 'android', devices));
    const otherTask = simulateAll(config, 'android', devices, 'tsk_2');
    expect(otherTask).not.toEqual(simulateAll(config, 'android', devices));
  });

  test('rates apply in funnel order: accepted, delivered, shown, then opened or dismissed', () => {
    const config = {
      seed: 1,
      acceptRate: 0.9,
      deliveryRate: 0.8,
      impressionRate: 0.5,
      openRate: 0.2,
      dismissalRate: 0.5,
    };
    const fates = simulateAll(config, 'android', fleet(20_000));
    const accepted = fates.filter((f) => f.sendResult !== 'failure');
    const delivered = accepted.filter((f) => has(f, 'delivered'));
    const shown = delivered.filter((f) => has(f, 'impression'));
    const opened = shown.filter((f) => has(f, 'open'));
    const dismissed = shown.filter((f) => has(f, 'dismissal'));
    expect(accepted.length / fates.length).toBeCloseTo(0.9, 1);
    expect(delivered.length / accepted.length).toBeCloseTo(0.8, 1);
    expect(shown.length / delivered.length).toBeCloseTo(0.5, 1);
    expect(opened.length / shown.length).toBeCloseTo(0.2, 1);
    expect(dismissed.length / (shown.length - opened.length)).toBeCloseTo(0.5, 1);
    // Nothing later in the funnel without the step before it; never both opened and dismissed.
    for (const f of fates) {
      if (has(f, 'impression')) expect(has(f, 'delivered')).toBe(true);
      if (has(f, 'open') || has(f, 'dismissal')) expect(has(f, 'impression')).toBe(true);
      expect(has(f, 'open') && has(f, 'dismissal')).toBe(false);
      const times = f.receipts.map((r) => r.afterMs);
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
  });

  test('Android accepts as no feedback (the delivery receipt comes later); iOS accepts as delivered', () => {
    const android = simulateAll({ seed: 5 }, 'android', fleet(500));
    const ios = simulateAll({ seed: 5 }, 'ios', fleet(500, 'ios'));
    expect(new Set(android.map((f) => f.sendResult))).toEqual(new Set(['no_feedback', 'failure']));
    expect(new Set(ios.map((f) => f.sendResult))).toEqual(new Set(['success', 'failure']));
    // iOS: no delivery receipt (acceptance is delivery), no dismissals, always APNs.
    for (const f of ios) {
      expect(has(f, 'delivered') || has(f, 'dismissal')).toBe(false);
      expect(f.channel).toBe('apns');
    }
    expect(share(ios, (f) => has(f, 'impression'))).toBeGreaterThan(0.5);
  });

  test('rejections carry the reasons a push service gives, and accepted devices none', () => {
    const fates = simulateAll({ seed: 9, acceptRate: 0 }, 'android', fleet(3000));
    const reasons = new Set(fates.map((f) => f.failureReason));
    expect(reasons).toEqual(
      new Set([
        'device token expired or unregistered: the app was uninstalled or its token refreshed',
        'invalid device token',
        'vendor channel daily quota reached for this device',
        'device token belongs to another app',
      ]),
    );
    // Only Xiaomi, OPPO and vivo cap pushes per day.
    for (const f of fates) {
      if (f.failureReason?.startsWith('vendor channel'))
        expect(['xiaomi', 'oppo', 'vivo']).toContain(f.channel);
    }
    const ios = simulateAll({ seed: 9, acceptRate: 0 }, 'ios', fleet(1000, 'ios'));
    expect([...new Set(ios.map((f) => f.failureReason?.split(':')[0]))].sort()).toEqual([
      'BadDeviceToken',
      'DeviceTokenNotForTopic',
      'Unregistered',
    ]);
    const accepted = simulateAll({ seed: 9, acceptRate: 1 }, 'android', fleet(100));
    expect(accepted.every((f) => f.failureReason === null && f.sendResult === 'no_feedback')).toBe(true);
  });

  test('Android devices keep their registered channel, except a few vendor ones reached through the own channel', () => {
    const devices = fleet(10_000);
    const fates = simulateAll({ seed: 2 }, 'android', devices);
    const moved = fates.filter((f, i) => f.channel !== devices[i]!.channel);
    expect(moved.every((f) => f.channel === SIMULATOR_CHANNEL)).toBe(true);
    const vendorDevices = devices.filter((d) => VENDORS.includes(d.channel)).length;
    expect(moved.length / vendorDevices).toBeCloseTo(0.05, 1);
    expect(
      fates
        .filter((_f, i) => devices[i]!.channel === SIMULATOR_CHANNEL)
        .every((f) => f.channel === SIMULATOR_CHANNEL),
    ).toBe(true);
  });

  test('delays look real — most deliveries within seconds, a tail over hours — and timeScale divides them', () => {
    const devices = fleet(5000);
    const real = simulateAll(
      { seed: 4, deliveryRate: 1, impressionRate: 1, openRate: 1 },
      'android',
      devices,
    );
    const fast = simulateAll(
      { seed: 4, deliveryRate: 1, impressionRate: 1, openRate: 1, timeScale: 60 },
      'android',
      devices,
    );
    const deliveries = real.flatMap((f) =>
      f.receipts.filter((r) => r.kind === 'delivered').map((r) => r.afterMs),
    );
    const within = (ms: number) => deliveries.filter((d) => d <= ms).length / deliveries.length;
    expect(within(5000)).toBeGreaterThan(0.7);
    expect(within(HOUR_MS)).toBeLessThan(1);
    expect(Math.max(...deliveries)).toBeLessThanOrEqual(24 * HOUR_MS);
    real.forEach((f, i) => {
      expect(fast[i]!.receipts.map((r) => r.kind)).toEqual(f.receipts.map((r) => r.kind));
      fast[i]!.receipts.forEach((r, j) => {
        expect(r.afterMs).toBeCloseTo(f.receipts[j]!.afterMs / 60, 6);
      });
    });
  });

  test('raising one rate only adds outcomes at that step', () => {
    const devices = fleet(3000);
    const low = simulateAll({ seed: 8, openRate: 0.1 }, 'android', devices);
    const high = simulateAll({ seed: 8, openRate: 0.3 }, 'android', devices);
    low.forEach((f, i) => {
      expect(high[i]!.sendResult).toBe(f.sendResult);
      expect(has(high[i]!, 'impression')).toBe(has(f, 'impression'));
      if (has(f, 'open')) expect(has(high[i]!, 'open')).toBe(true);
    });
    expect(share(high, (f) => has(f, 'open'))).toBeGreaterThan(share(low, (f) => has(f, 'open')));
  });

  test('receipts come from the provider (delivered, open) or the SDK (impression, dismissal)', () => {
    const fates = simulateAll({ seed: 3, impressionRate: 1, dismissalRate: 1 }, 'android', fleet(1000));
    for (const r of fates.flatMap((f) => f.receipts)) {
      expect(r.source).toBe(r.kind === 'delivered' || r.kind === 'open' ? 'provider' : 'sdk');
    }
  });
});

describe('the simulator provider', () => {
  let t: TestInstance;
  beforeEach(async () => {
    t = await createTestInstance();
  });
  afterEach(async () => {
    await t.close();
  });

  function request(
    platform: Platform,
    devices: BatchDevice[],
    config: SimulatorConfig = { seed: 11 },
  ): SendBatchRequest {
    return {
      app: { id: 'app_1', platform, provider: 'simulator', config },
      taskId: 'tsk_1',
      batchId: 'tsk_1-1',
      content: { title: 'Hello', content: 'World', clickAction: { type: 'open_app' } },
      devices,
      sendAt: null,
      receiptUrl: 'http://localhost:3000/api/v1/receipts/simulator/app_1',
    };
  }

  test('a batch lists only the devices that were not simply accepted, with the simulated answer', async () => {
    const simulator = createSimulatorProvider({ ledger: createSimulatorLedger(t.db) });
    const devices = fleet(1000);
    const result = await simulator.sendBatch(request('android', devices));
    expect(result.providerRef).toBe('sim-tsk_1-1');
    const listed = new Map(result.outcomes.map((o) => [o.deviceId, o]));
    for (const device of devices) {
      const fate = simulateDevice({ seed: 11 }, 'android', 'tsk_1', device);
      const outcome = listed.get(device.deviceId);
      if (fate.sendResult === 'no_feedback' && fate.channel === device.channel)
        expect(outcome).toBeUndefined();
      else expect(outcome).toMatchObject({ sendResult: fate.sendResult, channel: fate.channel });
    }
    expect(result.outcomes.filter((o) => o.sendResult === 'failure').every((o) => o.failureReason)).toBe(
      true,
    );
  });

  test('the same batch ID sent again is recognised: one hand-over, the same answer', async () => {
    const ledger = createSimulatorLedger(t.db);
    const simulator = createSimulatorProvider({ ledger });
    const first = await simulator.sendBatch(request('ios', fleet(300, 'ios')));
    const again = await simulator.sendBatch(request('ios', fleet(300, 'ios')));
    expect(again).toEqual(first);
    const rows = await t.db.selectFrom('simulator_batches').selectAll().execute();
    expect(rows).toEqual([expect.objectContaining({ batch_id: 'tsk_1-1', device_count: 300, sends: 2 })]);
    expect(
      await ledger.handOver(
        { batchId: 'tsk_1-2', taskId: 'tsk_1', appId: 'app_1', deviceCount: 1 },
        new Date(),
      ),
    ).toBe(true);
    expect(
      await ledger.handOver(
        { batchId: 'tsk_1-2', taskId: 'tsk_1', appId: 'app_1', deviceCount: 1 },
        new Date(),
      ),
    ).toBe(false);
  });

  test('a payload over the limit is refused as a whole, not retried', async () => {
    const simulator = createSimulatorProvider({ ledger: createSimulatorLedger(t.db) });
    const big = request('android', fleet(3));
    big.content = { ...big.content, content: 'x'.repeat(3000) };
    const error = await simulator.sendBatch(big).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', retryable: false });
    expect(await t.db.selectFrom('simulator_batches').selectAll().execute()).toEqual([]);
  });

  test('callbacks are parsed into receipts by position; bad items are refused with a code, never thrown', () => {
    const parsed = parseSimulatorReceipts({
      receipts: [
        {
          taskId: 'tsk_1',
          deviceId: 'dev-1',
          kind: 'delivered',
          at: '2026-01-01T00:00:00.000Z',
          channel: 'huawei',
        },
        { taskId: 'tsk_1', deviceId: 'dev-2', kind: 'open', at: '2026-01-01T00:01:00.000Z' },
        { taskId: 'tsk_1', kind: 'open', at: '2026-01-01T00:01:00.000Z' },
        { taskId: 'tsk_1', deviceId: 'dev-3', kind: 'clicked', at: '2026-01-01T00:01:00.000Z' },
        'nonsense',
        { taskId: 'tsk_1', deviceId: 'dev-4', kind: 'impression', at: '2026-01-01T00:01:00.000Z' },
      ],
    });
    // The channel a simulator item carries is not read (production never applied it).
    expect(parsed.receipts).toEqual([
      {
        index: 0,
        taskId: 'tsk_1',
        deviceId: 'dev-1',
        pushToken: null,
        kind: 'delivered',
        at: new Date('2026-01-01T00:00:00.000Z'),
      },
      {
        index: 1,
        taskId: 'tsk_1',
        deviceId: 'dev-2',
        pushToken: null,
        kind: 'open',
        at: new Date('2026-01-01T00:01:00.000Z'),
      },
    ]);
    // Impressions and dismissals come from the SDK, not from the push service the simulator plays.
    expect(parsed.refused).toEqual([
      { index: 2, code: 'INVALID_RECEIPT' },
      { index: 3, code: 'KIND_NOT_SUPPORTED' },
      { index: 4, code: 'INVALID_RECEIPT' },
      { index: 5, code: 'KIND_NOT_SUPPORTED' },
    ]);
    expect(parsed.unreadable).toEqual([]);
    // A body that is no receipt list is refused as a whole (400), as the receipt route always did.
    expect(() => parseSimulatorReceipts(null)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });
});
