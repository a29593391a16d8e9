/**
 * Push tasks (docs/tasks.md, docs/api.md): create, list with filters, read, edit and delete. A task is checked as a
 * whole — the schema first, then every domain rule at once, so one answer lists every field to fix —
 * and can be edited or deleted only while scheduled, a rule the SQL write itself enforces.
 */
import { type Static, Type } from 'typebox';
import { importAudienceFile } from '../audiences/audience-import.ts';
import { taskStatistics } from '../domain/statistics.ts';
import {
  type ClickAction,
  contentErrors,
  DEFAULT_TTL_SECONDS,
  type SendType,
  scheduleErrors,
  type TaskCategory,
  type TaskContent,
  ttlErrors,
} from '../domain/task-content.ts';
import { canEdit, isTaskStatus, TASK_STATUSES, type TaskStatus } from '../domain/task-state.ts';
import { taskWindows } from '../domain/windows.ts';
import { AppError, type FieldError, validationError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors, PageOf } from '../http/schemas.ts';
import { untruncated } from '../http/uploads.ts';
import { assertNoNulCharacter, schemaError } from '../http/validation.ts';
import { newId } from '../ids.ts';
import type { TaskRow } from '../storage/database.ts';
import { taskCountsOf } from '../storage/task-counts.ts';
import { registerStopRoute } from './stop-route.ts';
import { CreateBody, ListQuery, PatchBody, TaskParams, TaskSchema, UploadBody } from './task-schemas.ts';
import { type SubCampaignRef, type TaskRecord, UNSENT_TASK_COUNTERS } from './task-store.ts';

const tags = ['tasks'];

/** A complete task as the user describes it: the create body, or a stored task with a patch applied. */
interface TaskDraft extends TaskContent {
  name: string;
  appId: string;
  audienceId: string;
  sendType: SendType;
  scheduledAt: string | null;
  subCampaignIds: string[];
  ttlSeconds: number;
  category: TaskCategory;
  spreadMinutes: number | null;
}

/** Trims what the user typed; untrimmed text would reach devices and break URL checks. */
export function trimClickAction(action: ClickAction): ClickAction {
  return {
    type: action.type,
    ...(action.url !== undefined && { url: action.url.trim() }),
    ...(action.page !== undefined && { page: action.page.trim() }),
    ...(action.params !== undefined && { params: action.params }),
  };
}

/** The click action as stored and shown: only the fields its type uses, params only when there are some. */
function storedClickAction(action: ClickAction): ClickAction {
  const params = action.params ?? {};
  return {
    type: action.type,
    ...(action.type === 'open_url' && { url: action.url }),
    ...(action.type === 'open_page' && { page: action.page }),
    ...(Object.keys(params).length > 0 && { params }),
  };
}

/** A stored click action; the column only ever holds what `storedClickAction` produced. */
function parseClickAction(json: string): ClickAction {
  return JSON.parse(json) as ClickAction;
}

/** ISO 8601 UTC, as every stored time; an unparseable value is kept so the schedule check reports it. */
function toUtc(value: string): string {
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? value : at.toISOString();
}

function taskNotFound(id: string): AppError {
  return new AppError('TASK_NOT_FOUND', `Task ${id} does not exist in this workspace.`);
}

function taskNotEditable(row: TaskRow): AppError {
  return new AppError(
    'TASK_NOT_EDITABLE',
    `Task ${row.id} is ${row.status}; only a scheduled task (not sent yet) can be edited.`,
    { status: row.status },
  );
}

function taskNotDeletable(row: TaskRow): AppError {
  return new AppError(
    'TASK_NOT_DELETABLE',
    `Task ${row.id} is ${row.status}; only a scheduled task can be deleted.`,
    { status: row.status },
  );
}

/** The statuses of the `status` query parameter (repeated and/or comma-separated). */
function parseStatuses(values: string[] | undefined): TaskStatus[] | undefined {
  if (values === undefined) return undefined;
  const words = values
    .flatMap((v) => v.split(','))
    .map((w) => w.trim())
    .filter((w) => w !== '');
  const unknown = words.filter((w) => !isTaskStatus(w));
  if (unknown.length > 0) {
    throw validationError([
      {
        field: 'status',
        code: 'NOT_ALLOWED_VALUE',
        params: { allowed: TASK_STATUSES.join(', ') },
        message: `${unknown.join(', ')} is not a task status; use ${TASK_STATUSES.join(', ')}`,
      },
    ]);
  }
  return words.filter(isTaskStatus);
}

/** Registers the task routes (under a workspace). */
export function registerTaskRoutes(app: Api, deps: RouteDeps): void {
  const store = deps.stores.tasks;
  const audiences = deps.stores.audiences;

  function taskView(row: TaskRecord, subCampaigns: SubCampaignRef[]) {
    return {
      id: row.id,
      name: row.name,
      status: row.status,
      appId: row.app_id,
      appName: row.app_name,
      platform: row.platform,
      title: row.title,
      content: row.content,
      clickAction: parseClickAction(row.click_action),
      audienceId: row.audience_id,
      audienceName: row.audience_name,
      audienceSize: row.audience_size,
      sendType: row.send_type,
      scheduledAt: row.scheduled_at,
      ttlSeconds: row.ttl_seconds,
      category: row.category,
      spreadMinutes: row.spread_minutes,
      deferredUntil: row.status === 'scheduled' ? row.deferred_until : null,
      stoppedAt: row.stopped_at,
      subCampaignIds: subCampaigns.map((s) => s.id),
      subCampaigns,
      failureReason: row.status === 'failed' ? row.failure_reason : null,
      sendError: row.send_error,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      startedAt: row.started_at,
      completedAt: row.completed_at,
      ...taskWindows(row.started_at, deps.config),
      statistics: taskStatistics(taskCountsOf(row)),
    };
  }

  /**
   * Deletes the audience uploaded with a deleted task (docs/tasks.md): nobody chose it, so
   * nobody would find and delete it. One another task now uses (a duplicate) stays.
   */
  async function deleteOwnUpload(workspaceId: string, taskId: string): Promise<void> {
    const upload = await audiences.findUploadedWith(workspaceId, taskId);
    if (!upload || upload.used_by_tasks > 0) return;
    const { marked } = await audiences.markDeleting(workspaceId, upload.id);
    // Members go in chunks; should the process stop half-way, start-up finishes the purge.
    if (marked) await audiences.purge(upload.id);
  }

  /** A draft from a create body, with the audience given separately (the upload route creates it). */
  function draftOf(body: Static<typeof UploadBody>, audienceId: string): TaskDraft {
    return {
      name: body.name.trim(),
      appId: body.appId,
      title: body.title.trim(),
      content: body.content.trim(),
      clickAction: trimClickAction(body.clickAction),
      audienceId,
      sendType: body.sendType,
      scheduledAt: body.scheduledAt === undefined ? null : toUtc(body.scheduledAt),
      subCampaignIds: body.subCampaignIds ?? [],
      ttlSeconds: body.ttlSeconds ?? DEFAULT_TTL_SECONDS,
      category: body.category ?? 'marketing',
      spreadMinutes: body.spreadMinutes ?? null,
    };
  }

  /** Stores a validated draft as a new scheduled task with zero statistics. */
  async function insertTask(workspaceId: string, id: string, draft: TaskDraft): Promise<void> {
    const now = deps.clock().toISOString();
    await store.insertTask(
      {
        id,
        workspace_id: workspaceId,
        app_id: draft.appId,
        name: draft.name,
        title: draft.title,
        content: draft.content,
        click_action: JSON.stringify(storedClickAction(draft.clickAction)),
        audience_id: draft.audienceId,
        send_type: draft.sendType,
        scheduled_at: draft.scheduledAt,
        ttl_seconds: draft.ttlSeconds,
        category: draft.category,
        spread_minutes: draft.spreadMinutes,
        deferred_until: null,
        stopped_at: null,
        status: 'scheduled',
        failure_reason: null,
        created_at: now,
        updated_at: now,
        started_at: null,
        completed_at: null,
        ...UNSENT_TASK_COUNTERS,
      },
      [...new Set(draft.subCampaignIds)],
    );
    // An immediate task is due now: the dispatcher polls at once instead of at its next tick.
    deps.dueSignal.raise(draft.scheduledAt);
  }

  async function readTask(workspaceId: string, id: string) {
    const row = await store.findTask(workspaceId, id);
    if (!row) throw taskNotFound(id);
    return taskView(row, (await store.subCampaignsOf([id])).get(id) ?? []);
  }

  /**
   * Every problem with a draft, in field order. References are looked up in the workspace only, so
   * another tenant's IDs read as unknown. The schedule is only checked when `checkSchedule`: an
   * untouched schedule was valid when set, and a due task is about to be started by the dispatcher.
   */
  async function draftErrors(
    workspaceId: string,
    taskId: string,
    draft: TaskDraft,
    checkSchedule: boolean,
    checkAudience = true,
  ): Promise<FieldError[]> {
    const [appRow, audience, knownSubCampaigns] = await Promise.all([
      store.findApp(workspaceId, draft.appId),
      checkAudience ? store.findAudience(workspaceId, draft.audienceId) : undefined,
      store.existingSubCampaignIds(workspaceId, draft.subCampaignIds),
    ]);
    const errors: FieldError[] = [];
    if (!appRow) {
      errors.push({
        field: 'appId',
        code: 'NOT_IN_WORKSPACE',
        message: `App ${draft.appId} does not exist in this workspace`,
      });
    }
    errors.push(...contentErrors(draft, appRow?.platform, taskId, appRow?.provider));
    errors.push(...ttlErrors(draft.ttlSeconds, appRow?.provider));
    if (!checkAudience) {
      // The audience is created from the uploaded file once everything else is known to be valid.
    } else if (!audience) {
      errors.push({
        field: 'audienceId',
        code: 'NOT_IN_WORKSPACE',
        message: `Audience ${draft.audienceId} does not exist in this workspace`,
      });
    } else if (audience.status !== 'ready') {
      errors.push({
        field: 'audienceId',
        code: 'AUDIENCE_NOT_READY',
        params: { status: audience.status },
        message: `Audience ${draft.audienceId} is ${audience.status}; only a ready audience can be used`,
      });
    }
    if (checkSchedule) errors.push(...scheduleErrors(draft.sendType, draft.scheduledAt, deps.clock()));
    draft.subCampaignIds.forEach((id, index) => {
      if (!knownSubCampaigns.has(id)) {
        errors.push({
          field: `subCampaignIds.${index}`,
          code: 'NOT_IN_WORKSPACE',
          message: `Sub-campaign ${id} does not exist in this workspace`,
        });
      }
    });
    return errors;
  }

  app.get(
    '/tasks',
    {
      schema: {
        tags,
        summary: 'Tasks with their statistics and sub-campaigns; filtered, sorted and paged.',
        querystring: ListQuery,
        response: { 200: PageOf(TaskSchema), ...authErrors },
      },
    },
    async (request) => {
      const { query } = request;
      const statuses = parseStatuses(query.status);
      const { rows, total } = await store.listTasks(
        request.workspace.id,
        {
          statuses,
          sendType: query.sendType,
          appId: query.appId,
          subCampaignId: query.subCampaignId,
          q: query.q,
          createdFrom: query.createdFrom && toUtc(query.createdFrom),
          createdTo: query.createdTo && toUtc(query.createdTo),
          sentFrom: query.sentFrom && toUtc(query.sentFrom),
          sentTo: query.sentTo && toUtc(query.sentTo),
        },
        { key: query.sort, order: query.order },
        (query.page - 1) * query.pageSize,
        query.pageSize,
      );
      // One query for the sub-campaigns of the whole page.
      const subCampaigns = await store.subCampaignsOf(rows.map((r) => r.id));
      return {
        items: rows.map((r) => taskView(r, subCampaigns.get(r.id) ?? [])),
        total,
        page: query.page,
        pageSize: query.pageSize,
      };
    },
  );

  app.post(
    '/tasks',
    {
      schema: {
        tags,
        summary: 'Create a task; it is scheduled until the dispatcher starts it (at once when immediate).',
        body: CreateBody,
        response: { 201: TaskSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const { body, workspace } = request;
      const id = newId('tsk');
      const draft = draftOf(body, body.audienceId);
      const errors = await draftErrors(workspace.id, id, draft, true);
      if (errors.length > 0) throw validationError(errors);
      await insertTask(workspace.id, id, draft);
      return reply.status(201).send(await readTask(workspace.id, id));
    },
  );

  app.post(
    '/tasks/upload',
    {
      schema: {
        tags,
        summary: 'Create a task whose audience is an uploaded ID file (multipart/form-data).',
        description:
          'Send two parts, in this order: `task`, the JSON of the create body without `audienceId`, and ' +
          '`file`, a CSV or TXT file of device IDs (one per line, or a `deviceId` column). The file ' +
          'becomes an audience of source `upload`; if the task is refused, no audience is left behind.',
        consumes: ['multipart/form-data'],
        response: { 201: TaskSchema, 413: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      const { workspace } = request;
      if (!request.isMultipart()) {
        throw new AppError(
          'UNSUPPORTED_MEDIA_TYPE',
          'Send multipart/form-data with a `task` field and a `file`.',
        );
      }
      const validateTask = request.compileValidationSchema(UploadBody, 'body');
      const id = newId('tsk');
      let draft: TaskDraft | undefined;
      let audienceId: string | undefined;
      try {
        for await (const part of request.parts()) {
          if (part.type === 'field') {
            if (part.fieldname !== 'task') continue;
            const body = parseTaskField(part.value);
            if (!validateTask(body)) throw schemaError(validateTask.errors ?? []);
            draft = draftOf(body as Static<typeof UploadBody>, '');
            const errors = await draftErrors(workspace.id, id, draft, true, false);
            if (errors.length > 0) throw validationError(errors);
            continue;
          }
          if (!draft) {
            throw validationError([
              {
                field: 'task',
                code: 'REQUIRED',
                message: 'is required, as a form field sent before the file',
              },
            ]);
          }
          if (audienceId) throw new AppError('PAYLOAD_TOO_LARGE', 'Send exactly one file.');
          const audience = await importAudienceFile(deps.db, {
            workspaceId: workspace.id,
            name: `${draft.name} (uploaded IDs)`,
            fileName: part.filename || null,
            source: 'upload',
            forTaskId: id,
            lines: untruncated(part.file, deps.config),
            now: deps.clock(),
          });
          audienceId = audience.id;
        }
        if (!draft)
          throw validationError([
            { field: 'task', code: 'REQUIRED', message: 'is required: the JSON of the task' },
          ]);
        if (!audienceId)
          throw validationError([
            {
              field: 'file',
              code: 'REQUIRED',
              message: 'is required: attach one CSV or TXT file of device IDs',
            },
          ]);
        await insertTask(workspace.id, id, { ...draft, audienceId });
      } catch (error) {
        // The task was refused after its audience was imported: the upload goes with it.
        if (audienceId) await audiences.purge(audienceId);
        throw error;
      }
      return reply.status(201).send(await readTask(workspace.id, id));
    },
  );

  app.get(
    '/tasks/:taskId',
    {
      schema: {
        tags,
        summary: 'One task: its fields, statistics and windows.',
        params: TaskParams,
        response: { 200: TaskSchema, ...authErrors },
      },
    },
    async (request) => readTask(request.workspace.id, request.params.taskId),
  );

  app.patch(
    '/tasks/:taskId',
    {
      schema: {
        tags,
        summary: 'Change any fields of a scheduled task; the result is validated as a whole.',
        params: TaskParams,
        body: PatchBody,
        response: { 200: TaskSchema, 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request) => {
      const { body, workspace } = request;
      const { taskId } = request.params;
      const current = await store.findTask(workspace.id, taskId);
      if (!current) throw taskNotFound(taskId);
      if (!canEdit(current.status)) throw taskNotEditable(current);

      const currentSubCampaigns = (await store.subCampaignsOf([taskId])).get(taskId) ?? [];
      const draft: TaskDraft = {
        name: body.name?.trim() ?? current.name,
        appId: body.appId ?? current.app_id,
        title: body.title?.trim() ?? current.title,
        content: body.content?.trim() ?? current.content,
        clickAction: body.clickAction
          ? trimClickAction(body.clickAction)
          : parseClickAction(current.click_action),
        audienceId: body.audienceId ?? current.audience_id,
        sendType: body.sendType ?? current.send_type,
        // Switching to immediate drops the stored time rather than failing on it.
        scheduledAt:
          body.scheduledAt !== undefined
            ? toUtc(body.scheduledAt)
            : body.sendType === 'immediate'
              ? null
              : current.scheduled_at,
        subCampaignIds: body.subCampaignIds ?? currentSubCampaigns.map((s) => s.id),
        ttlSeconds: body.ttlSeconds ?? current.ttl_seconds,
        category: body.category ?? current.category,
        spreadMinutes: body.spreadMinutes !== undefined ? body.spreadMinutes : current.spread_minutes,
      };
      const scheduleTouched = body.sendType !== undefined || body.scheduledAt !== undefined;
      const errors = await draftErrors(workspace.id, taskId, draft, scheduleTouched);
      if (errors.length > 0) throw validationError(errors);

      const changed = await store.updateEditableTask(
        workspace.id,
        taskId,
        {
          name: draft.name,
          app_id: draft.appId,
          title: draft.title,
          content: draft.content,
          click_action: JSON.stringify(storedClickAction(draft.clickAction)),
          audience_id: draft.audienceId,
          send_type: draft.sendType,
          scheduled_at: draft.scheduledAt,
          ttl_seconds: draft.ttlSeconds,
          category: draft.category,
          spread_minutes: draft.spreadMinutes,
          // Quiet hours are judged again when the edited task falls due.
          deferred_until: null,
          updated_at: deps.clock().toISOString(),
        },
        body.subCampaignIds === undefined ? undefined : [...new Set(draft.subCampaignIds)],
      );
      if (!changed) {
        // The dispatcher started (or someone deleted) the task since it was read.
        const latest = await store.findTask(workspace.id, taskId);
        throw latest ? taskNotEditable(latest) : taskNotFound(taskId);
      }
      if (scheduleTouched) deps.dueSignal.raise(draft.scheduledAt);
      return readTask(workspace.id, taskId);
    },
  );

  app.delete(
    '/tasks/:taskId',
    {
      schema: {
        tags,
        summary: 'Delete a scheduled task; a task that has started sending cannot be deleted.',
        params: TaskParams,
        response: { 204: Type.Null(), 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      const { workspace } = request;
      const { taskId } = request.params;
      if (!(await store.deleteDeletableTask(workspace.id, taskId))) {
        // Nothing deleted: the task is unknown, or its status (read after the attempt) forbids it.
        const latest = await store.findTask(workspace.id, taskId);
        throw latest ? taskNotDeletable(latest) : taskNotFound(taskId);
      }
      await deleteOwnUpload(workspace.id, taskId);
      return reply.status(204).send(null);
    },
  );

  registerStopRoute(app, deps, readTask);
}

/** The JSON of the `task` form field, or a `VALIDATION_FAILED` naming that field. */
function parseTaskField(value: unknown): unknown {
  let task: unknown;
  try {
    task = JSON.parse(String(value));
  } catch {
    throw validationError([
      {
        field: 'task',
        code: 'FORMAT_INVALID',
        params: { format: 'JSON' },
        message: 'must be the JSON of the task',
      },
    ]);
  }
  // The form field is parsed here, not by Fastify, so the check every JSON body gets is made here.
  assertNoNulCharacter(task, 'task');
  return task;
}
