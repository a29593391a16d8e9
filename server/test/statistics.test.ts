import { describe, expect, test } from 'vitest';
import {
  assertStatisticsConsistent,
  rate,
  statisticsViolations,
  type TaskCounts,
  taskStatistics,
  ZERO_COUNTS,
} from '../src/domain/statistics.ts';
import { areDetailsExpired, isStatisticsFinal, taskWindows } from '../src/domain/windows.ts';

/** A consistent mid-send Android task: 100 planned = 10 unmatched + 80 sent + 10 pending. */
const sending: TaskCounts = {
  plannedSends: 100,
  unmatched: 10,
  capped: 0,
  totalSent: 80,
  deliveries: 60,
  failures: 5,
  noFeedback: 15,
  impressions: 45,
  opens: 12,
  dismissals: 3,
  pending: 10,
  cancelled: 0,
  late: 0,
};

describe('rates', () => {
  test('a rate is count ÷ denominator as a fraction', () => {
    expect(rate(1, 4)).toBe(0.25);
    expect(rate(0, 4)).toBe(0);
    expect(rate(4, 4)).toBe(1);
  });

  test('a rate over a zero denominator is null, never NaN or Infinity', () => {
    expect(rate(0, 0)).toBeNull();
    expect(rate(5, 0)).toBeNull();
  });

  test('the statistics carry impression, open and dismissal rates over deliveries', () => {
    const stats = taskStatistics(sending);
    expect(stats).toMatchObject(sending);
    expect(stats.impressionRate).toBe(45 / 60);
    expect(stats.openRate).toBe(12 / 60);
    expect(stats.dismissalRate).toBe(3 / 60);
  });

  test('a task with no deliveries has null rates', () => {
    const stats = taskStatistics(ZERO_COUNTS);
    expect(stats.impressionRate).toBeNull();
    expect(stats.openRate).toBeNull();
    expect(stats.dismissalRate).toBeNull();
    const failedOnly = taskStatistics({ ...ZERO_COUNTS, plannedSends: 3, totalSent: 3, failures: 3 });
    expect([failedOnly.impressionRate, failedOnly.openRate, failedOnly.dismissalRate]).toEqual([
      null,
      null,
      null,
    ]);
    expect(JSON.stringify(failedOnly)).not.toContain('NaN');
  });
});

describe('invariants', () => {
  test('consistent statistics have no violations', () => {
    expect(statisticsViolations(ZERO_COUNTS)).toEqual([]);
    expect(statisticsViolations(sending, { platform: 'android', status: 'sending' })).toEqual([]);
    expect(() => assertStatisticsConsistent(sending)).not.toThrow();
  });

  test('plannedSends must equal unmatched + capped + totalSent + pending + cancelled', () => {
    const problems = statisticsViolations({ ...sending, pending: 9 });
    expect(problems).toEqual([
      'plannedSends (100) must equal unmatched + capped + totalSent + pending + cancelled (10 + 0 + 80 + 9 + 0)',
    ]);
    // Capped and cancelled devices are part of the plan: moving pending devices there keeps it whole.
    const stopped = { ...sending, pending: 0, capped: 4, cancelled: 6 };
    expect(statisticsViolations(stopped, { status: 'stopped' })).toEqual([]);
  });

  test('only a stopped (or stopping) task has cancelled devices', () => {
    const completed = { ...sending, pending: 0, cancelled: 10 };
    expect(statisticsViolations(completed, { status: 'completed' })).toEqual([
      'cancelled must be 0 unless the task was stopped (it is completed), got 10',
    ]);
    expect(statisticsViolations({ ...sending, pending: 4, cancelled: 6 }, { status: 'sending' })).toEqual([]);
  });

  test('totalSent must equal deliveries + failures + noFeedback', () => {
    const problems = statisticsViolations({ ...sending, deliveries: 61 });
    expect(problems).toEqual(['totalSent (80) must equal deliveries + failures + noFeedback (61 + 5 + 15)']);
  });

  test('receipt counts cannot exceed the devices sent to', () => {
    const problems = statisticsViolations({ ...sending, opens: 81 });
    expect(problems).toEqual(['opens (81) cannot exceed totalSent (80)']);
  });

  test('counts must be non-negative integers', () => {
    expect(statisticsViolations({ ...ZERO_COUNTS, late: -1 })).toEqual([
      'late must be a non-negative integer, got -1',
    ]);
    expect(statisticsViolations({ ...ZERO_COUNTS, late: 0.5 })).toEqual([
      'late must be a non-negative integer, got 0.5',
    ]);
  });

  test('iOS tasks have no "no feedback" and no dismissals', () => {
    const ios: TaskCounts = { ...sending, deliveries: 75, noFeedback: 0, dismissals: 0 };
    expect(statisticsViolations(ios, { platform: 'ios' })).toEqual([]);
    const problems = statisticsViolations(sending, { platform: 'ios' });
    expect(problems).toEqual(['noFeedback must be 0 on iOS, got 15', 'dismissals must be 0 on iOS, got 3']);
  });

  test('pending is non-zero only while sending', () => {
    expect(statisticsViolations(sending, { status: 'sending' })).toEqual([]);
    expect(statisticsViolations(sending, { status: 'completed' })).toEqual([
      'pending must be 0 unless the task is sending (it is completed), got 10',
    ]);
  });

  test('the assertion lists every broken invariant in one INTERNAL error', () => {
    const broken = { ...sending, pending: 0, deliveries: 0 };
    expect(() => assertStatisticsConsistent(broken)).toThrow(
      expect.objectContaining({
        code: 'INTERNAL',
        details: { problems: expect.arrayContaining([expect.stringContaining('plannedSends')]) },
      }),
    );
    expect(statisticsViolations(broken)).toHaveLength(2);
  });
});

describe('windows', () => {
  const settings = { statisticsWindowHours: 72, retentionHours: 48 };

  test('a task that has not started has no windows', () => {
    expect(taskWindows(null, settings)).toEqual({ statisticsFinalAt: null, detailsExpireAt: null });
    expect(isStatisticsFinal(null, new Date(), settings)).toBe(false);
    expect(areDetailsExpired(null, new Date(), settings)).toBe(false);
  });

  test('the windows run from startedAt for the configured hours', () => {
    expect(taskWindows('2026-03-01T10:00:00.000Z', settings)).toEqual({
      statisticsFinalAt: '2026-03-04T10:00:00.000Z',
      detailsExpireAt: '2026-03-03T10:00:00.000Z',
    });
  });

  test('the windows close at their end instant, not a millisecond earlier', () => {
    const startedAt = '2026-03-01T10:00:00.000Z';
    expect(isStatisticsFinal(startedAt, new Date('2026-03-04T09:59:59.999Z'), settings)).toBe(false);
    expect(isStatisticsFinal(startedAt, new Date('2026-03-04T10:00:00.000Z'), settings)).toBe(true);
    expect(areDetailsExpired(startedAt, new Date('2026-03-03T09:59:59.999Z'), settings)).toBe(false);
    expect(areDetailsExpired(startedAt, new Date('2026-03-03T10:00:00.000Z'), settings)).toBe(true);
  });
});
