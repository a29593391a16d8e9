/**
 * The test push routes (docs/delivery-controls.md#test-push): a scheduled task's content, or content
 * not saved yet, sent now to up to 20 devices of its app and answered per device; counted nowhere.
 * A workspace may send `TEST_PUSHES_PER_MINUTE` of them a minute, so the endpoint cannot be turned
 * into a way round tasks, their audiences and their statistics.
 */
import { Type } from 'typebox';
import { contentErrors, DEFAULT_TTL_SECONDS, type TaskContent, ttlErrors } from '../domain/task-content.ts';
import { canTest } from '../domain/task-state.ts';
import { AppError, type FieldError, validationError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors } from '../http/schemas.ts';
import type { ProviderRegistry } from '../providers/provider.ts';
import { createRegistrationLimiter } from '../sdk/registration-limit.ts';
import { trimClickAction } from './task-routes.ts';
import { TaskParams } from './task-schemas.ts';
import { newTestPushId, sendTestPush, TEST_PUSHES_PER_MINUTE, type TestPushDeps } from './test-push.ts';
import { TaskTestBody, TestPushAnswer, TestPushBody } from './test-push-schemas.ts';

const tags = ['tasks'];

const NOTHING_COUNTS =
  'Nothing is written to the task, its statistics or device results, and no frequency cap is used; the ' +
  'payload carries a test push ID instead of a task ID, so receipts reported for it are refused as ' +
  'UNKNOWN_TASK. A device not registered for the app, or without an active push token, fails without ' +
  "reaching the provider; the others go to the app's provider in one call. A provider error (or no " +
  'answer within 30 s) fails each device it did not answer, with the error as failureReason. ' +
  `At most ${TEST_PUSHES_PER_MINUTE} test pushes a minute per workspace and API process ` +
  '(`429 TOO_MANY_TEST_PUSHES` with `Retry-After` beyond).';

/** Registers `POST /tasks/{taskId}/test` and `POST /test-pushes` (under a workspace). */
export function registerTestPushRoutes(app: Api, deps: RouteDeps & { providers: ProviderRegistry }): void {
  const { tasks, apps } = deps.stores;
  // The registration limiter's token bucket, per workspace: a minute's worth, refilled evenly.
  const limiter = createRegistrationLimiter(TEST_PUSHES_PER_MINUTE / 60, deps.clock, 60);
  const sender: TestPushDeps = {
    devices: deps.stores.devices,
    providers: deps.providers,
    publicUrl: deps.config.publicUrl,
  };

  /** Takes one of the workspace's test pushes, or throws 429 with the wait. */
  function takeTestPush(workspaceId: string): void {
    const wait = limiter.take(workspaceId);
    if (wait > 0) {
      throw new AppError(
        'TOO_MANY_TEST_PUSHES',
        `This workspace may send ${TEST_PUSHES_PER_MINUTE} test pushes a minute; try again in ${wait} s.`,
        { retryAfterSeconds: wait },
        { 'retry-after': String(wait) },
      );
    }
  }

  app.post(
    '/tasks/:taskId/test',
    {
      schema: {
        tags,
        summary: "Send a scheduled task's content now to up to 20 devices of its app; answered per device.",
        description: `Only while the task is scheduled (else \`409 TASK_NOT_TESTABLE\`). ${NOTHING_COUNTS}`,
        params: TaskParams,
        body: TaskTestBody,
        response: {
          200: TestPushAnswer,
          409: Type.Ref('ErrorEnvelope'),
          429: Type.Ref('ErrorEnvelope'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { workspace } = request;
      const { taskId } = request.params;
      const task = await tasks.findTask(workspace.id, taskId);
      if (!task) throw new AppError('TASK_NOT_FOUND', `Task ${taskId} does not exist in this workspace.`);
      if (!canTest(task.status)) {
        throw new AppError(
          'TASK_NOT_TESTABLE',
          `Task ${taskId} is ${task.status}; only a scheduled task (not sent yet) can be test-pushed.`,
          { status: task.status },
        );
      }
      // A task's app cannot be deleted while the task exists, so it is there.
      const appRow = await apps.findApp(workspace.id, task.app_id);
      if (!appRow)
        throw new AppError('APP_NOT_FOUND', `App ${task.app_id} of task ${taskId} does not exist.`);
      takeTestPush(workspace.id);
      const content: TaskContent = {
        title: task.title,
        content: task.content,
        clickAction: JSON.parse(task.click_action),
        ttlSeconds: Number(task.ttl_seconds),
        category: task.category,
      };
      return {
        results: await sendTestPush(sender, appRow, newTestPushId(), content, request.body.deviceIds),
      };
    },
  );

  app.post(
    '/test-pushes',
    {
      schema: {
        tags,
        summary: 'Send content not saved yet (the create form) now to up to 20 devices of an app.',
        description:
          "The content is checked exactly as a task's (payload size, click action, parameters, TTL). " +
          NOTHING_COUNTS,
        body: TestPushBody,
        response: { 200: TestPushAnswer, 429: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request) => {
      const { body, workspace } = request;
      const appRow = await apps.findApp(workspace.id, body.appId);
      // Trimmed and defaulted as a task created from the same form would be.
      const content: Required<TaskContent> = {
        title: body.title.trim(),
        content: body.content.trim(),
        clickAction: trimClickAction(body.clickAction ?? { type: 'open_app' }),
        ttlSeconds: body.ttlSeconds ?? DEFAULT_TTL_SECONDS,
        category: body.category ?? 'marketing',
      };
      const pushId = newTestPushId();
      const errors: FieldError[] = [];
      if (!appRow)
        errors.push({
          field: 'appId',
          code: 'NOT_IN_WORKSPACE',
          message: `App ${body.appId} does not exist in this workspace`,
        });
      errors.push(...contentErrors(content, appRow?.platform, pushId, appRow?.provider));
      errors.push(...ttlErrors(content.ttlSeconds, appRow?.provider));
      if (errors.length > 0 || !appRow) throw validationError(errors);
      takeTestPush(workspace.id);
      return { results: await sendTestPush(sender, appRow, pushId, content, body.deviceIds) };
    },
  );
}
