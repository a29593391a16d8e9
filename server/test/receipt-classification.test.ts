/**
 * Receipt classification (docs/receipts.md), without storage: the checks a receipt must pass before it may
 * touch a device result, the deliveries shown/opened/dismissed receipts imply, which receipts of a
 * write count, and what a receipt that changed nothing is.
 */
import { describe, expect, it } from 'vitest';
import {
  byDeviceResult,
  type CheckedReceipt,
  checkReceipt,
  classifyUnchanged,
  type IncomingReceipt,
  impliedDeliveries,
  pairKey,
  RECEIPT_CLOCK_SKEW_MS,
  splitByChange,
  type TaskFacts,
  taskOfPair,
} from '../src/receipts/receipt-classification.ts';

const HOUR = 3_600_000;
const windows = { statisticsWindowHours: 72, retentionHours: 96 };
const startedAt = '2026-03-01T00:00:00.000Z';
const started = Date.parse(startedAt);
const task: TaskFacts = { appId: 'app_a', startedAt, detailsPurgedAt: null };
const android = { id: 'app_a', platform: 'android' as const };
const ios = { id: 'app_a', platform: 'ios' as const };

function incoming(overrides: Partial<IncomingReceipt> = {}): IncomingReceipt {
  return {
    index: 7,
    taskId: 'tsk_1',
    deviceId: 'dev-1',
    kind: 'open',
    at: new Date(started + HOUR),
    ...overrides,
  };
}

function checked(overrides: Partial<CheckedReceipt> = {}): CheckedReceipt {
  return {
    index: 0,
    taskId: 'tsk_1',
    deviceId: 'dev-1',
    kind: 'open',
    at: new Date(started + HOUR).toISOString(),
    late: false,
    detailsExpired: false,
    ...overrides,
  };
}

describe('checkReceipt', () => {
  const now = new Date(started + 2 * HOUR);

  it('passes a receipt inside the window, with its time and index kept', () => {
    expect(checkReceipt(incoming({ channel: 'huawei' }), task, android, now, windows)).toEqual({
      index: 7,
      taskId: 'tsk_1',
      deviceId: 'dev-1',
      kind: 'open',
      at: new Date(started + HOUR).toISOString(),
      channel: 'huawei',
      late: false,
      detailsExpired: false,
    });
  });

  it('rejects a receipt of an unknown task, another app’s task, or one that names no task', () => {
    expect(checkReceipt(incoming(), undefined, android, now, windows)).toBe('UNKNOWN_TASK');
    expect(checkReceipt(incoming(), { ...task, appId: 'app_b' }, android, now, windows)).toBe('UNKNOWN_TASK');
    expect(checkReceipt(incoming({ taskId: null }), task, android, now, windows)).toBe('UNKNOWN_TASK');
  });

  it('rejects a receipt of a task that has not started, then one that names no device', () => {
    expect(checkReceipt(incoming(), { ...task, startedAt: null }, android, now, windows)).toBe(
      'TASK_NOT_SENT',
    );
    expect(checkReceipt(incoming({ deviceId: null }), task, android, now, windows)).toBe(
      'DEVICE_NOT_IN_SEND',
    );
  });

  it('rejects iOS dismissals only', () => {
    expect(checkReceipt(incoming({ kind: 'dismissal' }), task, ios, now, windows)).toBe('KIND_NOT_SUPPORTED');
    expect(checkReceipt(incoming({ kind: 'dismissal' }), task, android, now, windows)).toMatchObject({
      kind: 'dismissal',
    });
  });

  it('takes a little clock skew as the arrival and refuses more', () => {
    const skewed = checkReceipt(
      incoming({ at: new Date(now.getTime() + RECEIPT_CLOCK_SKEW_MS) }),
      task,
      android,
      now,
      windows,
    );
    expect(skewed).toMatchObject({ at: now.toISOString(), late: false });
    const ahead = incoming({ at: new Date(now.getTime() + RECEIPT_CLOCK_SKEW_MS + 1) });
    expect(checkReceipt(ahead, task, android, now, windows)).toBe('RECEIPT_TIME_IN_FUTURE');
  });

  it('keeps no time before the task started', () => {
    const early = checkReceipt(incoming({ at: new Date(started - HOUR) }), task, android, now, windows);
    expect(early).toMatchObject({ at: startedAt });
  });

  it('rejects every receipt of a task whose device results were purged', () => {
    const purged = { ...task, detailsPurgedAt: new Date(started + 97 * HOUR).toISOString() };
    expect(checkReceipt(incoming(), purged, android, now, windows)).toBe('DEVICE_DETAILS_EXPIRED');
  });

  it('is late when the arrival or the reported time is at or after the end of the statistics window', () => {
    const end = started + 72 * HOUR;
    const byArrival = checkReceipt(incoming(), task, android, new Date(end), windows);
    expect(byArrival).toMatchObject({ late: true, detailsExpired: false });
    const byTime = checkReceipt(incoming({ at: new Date(end) }), task, android, new Date(end + 1), windows);
    expect(byTime).toMatchObject({ late: true });
    const justInside = checkReceipt(incoming(), task, android, new Date(end - 1), windows);
    expect(justInside).toMatchObject({ late: false });
  });

  it('marks the details expired from the end of retention on', () => {
    const past = checkReceipt(incoming(), task, android, new Date(started + 96 * HOUR), windows);
    expect(past).toMatchObject({ late: true, detailsExpired: true });
  });
});

describe('impliedDeliveries', () => {
  it('makes one delivery, without a channel, of each impression, open and dismissal, and none of a delivery', () => {
    const at = new Date(started + HOUR).toISOString();
    const receipts = [
      checked({ deviceId: 'dev-1', kind: 'delivered', channel: 'huawei' }),
      checked({ deviceId: 'dev-2', kind: 'impression' }),
      checked({ deviceId: 'dev-3', kind: 'open', channel: 'xiaomi' }),
      checked({ deviceId: 'dev-4', kind: 'dismissal' }),
    ];
    expect(impliedDeliveries(receipts)).toEqual([
      { taskId: 'tsk_1', deviceId: 'dev-2', kind: 'delivered', at },
      { taskId: 'tsk_1', deviceId: 'dev-3', kind: 'delivered', at },
      { taskId: 'tsk_1', deviceId: 'dev-4', kind: 'delivered', at },
    ]);
  });
});

describe('splitByChange', () => {
  it('counts the first receipt of each changed pair; its copies and unchanged pairs are left over', () => {
    const first = checked({ index: 0, deviceId: 'dev-1' });
    const copy = checked({ index: 1, deviceId: 'dev-1' });
    const other = checked({ index: 2, deviceId: 'dev-2' });
    const changed = new Set([pairKey('tsk_1', 'dev-1')]);
    expect(splitByChange([first, copy, other], changed)).toEqual({
      counted: [first],
      unchanged: [copy, other],
    });
    // The store's answer is left as it was.
    expect(changed.size).toBe(1);
  });
});

describe('classifyUnchanged', () => {
  it('rejects a receipt for a device the provider rejected, in or after the window', () => {
    expect(classifyUnchanged(checked(), 'failure')).toBe('DEVICE_SEND_FAILED');
    expect(classifyUnchanged(checked({ late: true }), 'failure')).toBe('DEVICE_SEND_FAILED');
  });

  it('is a duplicate when the device has a result that already took the receipt', () => {
    expect(classifyUnchanged(checked(), 'success')).toBe('duplicate');
    expect(classifyUnchanged(checked({ kind: 'delivered' }), 'no_feedback')).toBe('duplicate');
    expect(classifyUnchanged(checked({ late: true }), 'success')).toBe('duplicate');
  });

  it('for a device without a result: expired details, then late, are rejected; otherwise it is to be held', () => {
    expect(classifyUnchanged(checked({ late: true, detailsExpired: true }), undefined)).toBe(
      'DEVICE_DETAILS_EXPIRED',
    );
    expect(classifyUnchanged(checked({ late: true }), undefined)).toBe('DEVICE_NOT_IN_SEND');
    expect(classifyUnchanged(checked(), undefined)).toBe('hold');
  });
});

describe('keys and order', () => {
  it('a pair key gives its task back, and receipts sort by task, then device', () => {
    expect(taskOfPair(pairKey('tsk_1', 'dev-9'))).toBe('tsk_1');
    const receipts = [
      checked({ taskId: 'tsk_2', deviceId: 'a' }),
      checked({ taskId: 'tsk_1', deviceId: 'b' }),
      checked({ taskId: 'tsk_1', deviceId: 'a' }),
    ];
    expect(receipts.sort(byDeviceResult).map((r) => `${r.taskId}/${r.deviceId}`)).toEqual([
      'tsk_1/a',
      'tsk_1/b',
      'tsk_2/a',
    ]);
  });
});
