import { describe, expect, test } from 'vitest';
import {
  acceptedResult,
  batchIdOf,
  batchSizeFor,
  MAX_RETRY_DELAY_MS,
  retryDelayMs,
} from '../src/domain/batch.ts';

describe('batch rules', () => {
  test('a batch ID is the task ID and the batch number', () => {
    expect(batchIdOf('tsk_01jc5x0q8m4f7tq3wz9k2v6e1h', 1)).toBe('tsk_01jc5x0q8m4f7tq3wz9k2v6e1h-1');
  });

  test('the retry delay doubles from the base and stops at a minute', () => {
    expect([1, 2, 3].map((attempt) => retryDelayMs(attempt, 250))).toEqual([250, 500, 1000]);
    expect(retryDelayMs(7, 1000)).toBe(MAX_RETRY_DELAY_MS);
    expect(retryDelayMs(6, 1000)).toBe(32_000);
  });

  test('a device accepted without more counts as delivered on iOS, as no feedback elsewhere', () => {
    expect(acceptedResult('ios')).toBe('success');
    expect(acceptedResult('android')).toBe('no_feedback');
  });

  test('a batch holds the batch size, at most what the provider takes in one call', () => {
    expect(batchSizeFor(2000, undefined, 0)).toBe(2000);
    expect(batchSizeFor(2000, {}, 500)).toBe(2000);
    expect(batchSizeFor(2000, { maxBatchDevices: 500 }, 0)).toBe(500);
    expect(batchSizeFor(100, { maxBatchDevices: 500 }, 0)).toBe(100);
  });

  test('a provider answering each device under a rate limit takes one second of devices per batch', () => {
    expect(batchSizeFor(2000, { answersEachDevice: true }, 300)).toBe(300);
    expect(batchSizeFor(2000, { answersEachDevice: true }, 0)).toBe(2000);
    expect(batchSizeFor(2000, { answersEachDevice: false }, 300)).toBe(2000);
    expect(batchSizeFor(200, { answersEachDevice: true }, 300)).toBe(200);
  });

  test('a batch never holds fewer than one device', () => {
    expect(batchSizeFor(0, undefined, 0)).toBe(1);
    expect(batchSizeFor(2000, { maxBatchDevices: 0 }, 0)).toBe(1);
  });
});
