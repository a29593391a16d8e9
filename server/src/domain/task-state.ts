/**
 * The task state machine of docs/tasks.md#states-and-rules: `scheduled → sending → completed`, or `sending → failed`,
 * or `sending → stopped` (a marketer stopped it, docs/delivery-controls.md#stop), and nothing else. Which states allow editing and deleting is decided here too, so the HTTP layer
 * and the SQL that makes those writes conditional share one rule.
 */
import { AppError } from '../errors.ts';

/** Every task status, in lifecycle order. */
export const TASK_STATUSES = ['scheduled', 'sending', 'completed', 'failed', 'stopped'] as const;

/** Where a task is in its lifecycle. */
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** What moves a task forward: the dispatcher starts it, then it completes, fails or ends stopped. */
export type TaskEvent = 'start' | 'complete' | 'fail' | 'stop';

// The only legal moves; `completed`, `failed` and `stopped` are final.
const NEXT: Record<TaskStatus, readonly TaskStatus[]> = {
  scheduled: ['sending'],
  sending: ['completed', 'failed', 'stopped'],
  completed: [],
  failed: [],
  stopped: [],
};

const EVENT_TARGET: Record<TaskEvent, TaskStatus> = {
  start: 'sending',
  complete: 'completed',
  fail: 'failed',
  stop: 'stopped',
};

/** Whether `status` is one of the task statuses (for untrusted input such as query strings). */
export function isTaskStatus(status: string): status is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(status);
}

/** Whether a task in `from` may move to `to`. */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return NEXT[from].includes(to);
}

/** Returns `to` when the move from `from` is legal; throws `TASK_TRANSITION_REFUSED` otherwise. */
export function transition(from: TaskStatus, to: TaskStatus): TaskStatus {
  if (!canTransition(from, to)) {
    const allowed = NEXT[from];
    const hint =
      allowed.length === 0 ? `${from} is final` : `from ${from} it can only become ${allowed.join(' or ')}`;
    throw new AppError('TASK_TRANSITION_REFUSED', `A task cannot go from ${from} to ${to}: ${hint}.`, {
      from,
      to,
    });
  }
  return to;
}

/** The status a task in `from` reaches through `event`; throws `TASK_TRANSITION_REFUSED` when illegal. */
export function applyTaskEvent(from: TaskStatus, event: TaskEvent): TaskStatus {
  return transition(from, EVENT_TARGET[event]);
}

/** Whether a task in `status` may still be edited: only before anything has been sent. */
export function canEdit(status: TaskStatus): boolean {
  return status === 'scheduled';
}

/**
 * Whether a task in `status` may be deleted: only while scheduled, because a task that has started
 * sending has statistics and device results that must stay accountable.
 */
export function canDelete(status: TaskStatus): boolean {
  return status === 'scheduled';
}

/**
 * Whether a task in `status` may be stopped: only while sending; a scheduled task is deleted instead,
 * and a finished one has nothing left to stop.
 */
export function canStop(status: TaskStatus): boolean {
  return status === 'sending';
}

/**
 * Whether a task in `status` may be test-pushed (docs/delivery-controls.md#test-push): only while
 * scheduled, when trying the content on a few devices can still change what is sent.
 */
export function canTest(status: TaskStatus): boolean {
  return status === 'scheduled';
}

/** The statuses in which a task may be edited, for conditional SQL writes. */
export const EDITABLE_STATUSES: readonly TaskStatus[] = TASK_STATUSES.filter(canEdit);

/** The statuses in which a task may be deleted, for conditional SQL writes. */
export const DELETABLE_STATUSES: readonly TaskStatus[] = TASK_STATUSES.filter(canDelete);

/** The statuses in which a task may be stopped, for conditional SQL writes. */
export const STOPPABLE_STATUSES: readonly TaskStatus[] = TASK_STATUSES.filter(canStop);
