/**
 * `POST /tasks/{id}/stop` (docs/delivery-controls.md#stop): records the stop of a sending task and
 * answers at once; the dispatcher cancels what was never handed over and ends the task `stopped`.
 */
import { type Static, Type } from 'typebox';
import { AppError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors } from '../http/schemas.ts';
import { TaskParams, TaskSchema } from './task-schemas.ts';
import type { TaskRecord } from './task-store.ts';

/** The refusal of a stop, naming the task's state and what it allows instead. */
function taskNotStoppable(row: TaskRecord): AppError {
  const instead =
    row.status === 'scheduled'
      ? 'a scheduled task has sent nothing yet: delete it or edit its schedule instead'
      : `a ${row.status} task has nothing left to send`;
  return new AppError(
    'TASK_NOT_STOPPABLE',
    `Task ${row.id} is ${row.status}; only a sending task can be stopped (${instead}).`,
    { status: row.status },
  );
}

/** Registers the stop route; `readTask` answers the task as the other task routes do. */
export function registerStopRoute(
  app: Api,
  deps: RouteDeps,
  readTask: (workspaceId: string, id: string) => Promise<Static<typeof TaskSchema>>,
): void {
  const store = deps.stores.tasks;
  app.post(
    '/tasks/:taskId/stop',
    {
      schema: {
        tags: ['tasks'],
        summary:
          'Stop a sending task: no batch is handed over after this answer; devices never handed over ' +
          'are cancelled and the task ends stopped (stoppedAt is set at once). A repeat answers the same.',
        params: TaskParams,
        response: { 202: TaskSchema, 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      const { workspace } = request;
      const { taskId } = request.params;
      await store.requestStop(workspace.id, taskId, deps.clock().toISOString());
      // Read after the write: a task stopped now or before (sending until the dispatcher ends it,
      // then stopped) answers 202; any other has never been stopped and cannot be.
      const latest = await store.findTask(workspace.id, taskId);
      if (!latest) throw new AppError('TASK_NOT_FOUND', `Task ${taskId} does not exist in this workspace.`);
      if (latest.stopped_at === null) throw taskNotStoppable(latest);
      return reply.status(202).send(await readTask(workspace.id, taskId));
    },
  );
}
