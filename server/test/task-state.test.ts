import { describe, expect, test } from 'vitest';
import {
  applyTaskEvent,
  canDelete,
  canEdit,
  canStop,
  canTransition,
  DELETABLE_STATUSES,
  EDITABLE_STATUSES,
  isTaskStatus,
  TASK_STATUSES,
  type TaskStatus,
  transition,
} from '../src/domain/task-state.ts';
import { AppError } from '../src/errors.ts';

// The whole of docs/tasks.md#states-and-rules, written out independently of the implementation's table.
const ALLOWED = new Set(['scheduled→sending', 'sending→completed', 'sending→failed', 'sending→stopped']);

const pairs = TASK_STATUSES.flatMap((from) => TASK_STATUSES.map((to) => [from, to] as const));

describe('task state machine', () => {
  test.each(pairs)('%s → %s is allowed exactly when docs/tasks.md#states-and-rules lists it', (from, to) => {
    const allowed = ALLOWED.has(`${from}→${to}`);
    expect(canTransition(from, to)).toBe(allowed);
    if (allowed) {
      expect(transition(from, to)).toBe(to);
    } else {
      expect(() => transition(from, to)).toThrow(AppError);
    }
  });

  test('a refused transition throws TASK_TRANSITION_REFUSED naming both states', () => {
    try {
      transition('completed', 'sending');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      const appError = error as AppError;
      expect(appError.code).toBe('TASK_TRANSITION_REFUSED');
      expect(appError.status).toBe(409);
      expect(appError.message).toContain('completed');
      expect(appError.message).toContain('sending');
      expect(appError.details).toEqual({ from: 'completed', to: 'sending' });
    }
  });

  test('no status transitions to itself', () => {
    for (const status of TASK_STATUSES) expect(canTransition(status, status)).toBe(false);
  });

  test('events move a task along its lifecycle', () => {
    expect(applyTaskEvent('scheduled', 'start')).toBe('sending');
    expect(applyTaskEvent('sending', 'complete')).toBe('completed');
    expect(applyTaskEvent('sending', 'fail')).toBe('failed');
    expect(applyTaskEvent('sending', 'stop')).toBe('stopped');
  });

  test('only a sending task can be stopped', () => {
    for (const status of TASK_STATUSES) expect(canStop(status)).toBe(status === 'sending');
  });

  test.each([
    ['scheduled', 'complete'],
    ['scheduled', 'fail'],
    ['sending', 'start'],
    ['completed', 'start'],
    ['completed', 'complete'],
    ['completed', 'fail'],
    ['failed', 'start'],
    ['failed', 'complete'],
    ['failed', 'fail'],
    ['scheduled', 'stop'],
    ['completed', 'stop'],
    ['stopped', 'start'],
    ['stopped', 'stop'],
  ] as const)('event %s → %s is refused', (from, event) => {
    expect(() => applyTaskEvent(from, event)).toThrow(
      expect.objectContaining({ code: 'TASK_TRANSITION_REFUSED' }),
    );
  });

  test.each(TASK_STATUSES)('a %s task is editable and deletable only while scheduled', (status) => {
    expect(canEdit(status)).toBe(status === 'scheduled');
    expect(canDelete(status)).toBe(status === 'scheduled');
  });

  test('the SQL status lists agree with canEdit and canDelete', () => {
    expect(EDITABLE_STATUSES).toEqual(['scheduled']);
    expect(DELETABLE_STATUSES).toEqual(['scheduled']);
  });

  test('isTaskStatus recognises exactly the four statuses', () => {
    const statuses: TaskStatus[] = ['scheduled', 'sending', 'completed', 'failed'];
    for (const status of statuses) expect(isTaskStatus(status)).toBe(true);
    for (const other of ['', 'Scheduled', 'cancelled', 'draft']) expect(isTaskStatus(other)).toBe(false);
  });
});
