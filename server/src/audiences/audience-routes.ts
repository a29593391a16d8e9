/**
 * Audiences: named, frozen sets of device IDs, created from an inline JSON list, an uploaded CSV or
 * TXT file (multipart or a raw `text/csv` body, streamed) or a task result. Only `ready` audiences
 * are listed, read and usable; one that a scheduled or sending task targets cannot be deleted.
 */
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, validationError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors, PageOf } from '../http/schemas.ts';
import { limited, untruncated, uploadTooLarge } from '../http/uploads.ts';
import {
  type ImportedAudience,
  importAudienceFile,
  importAudienceIds,
  MAX_DEVICE_ID_CHARS,
} from './audience-import.ts';
import {
  AudienceCreateQuery,
  AudienceIdsBody,
  AudienceListQuery,
  AudienceMatchQuery,
  AudienceMatchSchema,
  AudienceMembersPage,
  AudienceMembersQuery,
  AudienceParams,
  AudienceRenameBody,
  AudienceSchema,
  MAX_INLINE_DEVICE_IDS,
} from './audience-schemas.ts';
import type { AudienceWithUsage } from './audience-store.ts';

/** Media types whose bodies `app.ts` hands over as a raw stream. */
const RAW_MEDIA_TYPES = ['text/csv', 'text/plain', 'application/octet-stream'];

const fileDescription =
  'A CSV or TXT file: one device ID per line, or a header row with a `deviceId` column (other ' +
  'columns ignored). UTF-8 (a BOM is fine), LF or CRLF; blank lines skipped, duplicates collapse. ' +
  'A bad line rejects the whole file with `CSV_INVALID` listing the line numbers.';
const tags = ['audiences'];

function audienceView(row: AudienceWithUsage) {
  return {
    id: row.id,
    name: row.name,
    size: row.size,
    source: row.source,
    status: 'ready' as const,
    fileName: row.file_name,
    sourceTaskId: row.source_task_id,
    sourceFilter: parseFilter(row.source_filter),
    createdAt: row.created_at,
    usedByTasks: row.used_by_tasks,
    activeTasks: row.active_tasks,
  };
}

function parseFilter(text: string | null): Record<string, string> | null {
  if (text === null) return null;
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) return null;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, String(v)]));
}

/** The member-page cursor: the last device ID of the page, base64url so that it is opaque and URL-safe. */
function encodeCursor(deviceId: string): string {
  return Buffer.from(deviceId, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

/** Registers the audience routes (under a workspace). */
export function registerAudienceRoutes(app: Api, deps: RouteDeps): void {
  const store = deps.stores.audiences;
  const { uploadLimitBytes } = deps.config;

  async function getAudience(workspaceId: string, id: string): Promise<AudienceWithUsage> {
    const row = await store.find(workspaceId, id);
    if (!row) throw new AppError('AUDIENCE_NOT_FOUND', `Audience ${id} does not exist in this workspace.`);
    return row;
  }

  /** Refuses an app that is not the workspace's, as every app route does. */
  async function assertApp(workspaceId: string, appId: string): Promise<void> {
    if (!(await deps.stores.apps.findApp(workspaceId, appId))) {
      throw new AppError('APP_NOT_FOUND', `App ${appId} does not exist in this workspace.`);
    }
  }

  /** Imports the file part of a multipart upload; the `name` field (or `?name=`) must precede it. */
  async function importMultipart(
    request: FastifyRequest,
    workspaceId: string,
    queryName: string | undefined,
  ): Promise<ImportedAudience> {
    let name = queryName;
    let created: ImportedAudience | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === 'field') {
          if (part.fieldname === 'name' && typeof part.value === 'string') name = part.value;
          continue;
        }
        if (name === undefined) {
          throw validationError([
            {
              field: 'name',
              code: 'REQUIRED',
              message: 'is required, as a form field sent before the file (or as ?name=)',
            },
          ]);
        }
        created = await importAudienceFile(deps.db, {
          workspaceId,
          name,
          fileName: part.filename || null,
          source: 'upload',
          lines: untruncated(part.file, deps.config),
          now: deps.clock(),
        });
      }
    } catch (error) {
      // The file was imported but the rest of the request failed (a second file, a broken body):
      // the upload as a whole is refused, so its audience goes too.
      if (created) await store.purge(created.id);
      throw error;
    }
    if (!created) {
      throw validationError([
        { field: 'file', code: 'REQUIRED', message: 'is required: attach one CSV or TXT file' },
      ]);
    }
    return created;
  }

  app.get(
    '/audiences',
    {
      schema: {
        tags,
        summary: 'Ready audiences, newest first; `q` searches names, `source` filters by origin.',
        querystring: AudienceListQuery,
        response: { 200: PageOf(AudienceSchema), ...authErrors },
      },
    },
    async (request) => {
      const { page, pageSize, q, source, matchAppId } = request.query;
      if (matchAppId !== undefined) await assertApp(request.workspace.id, matchAppId);
      const { rows, total } = await store.list(
        request.workspace.id,
        { q, source },
        (page - 1) * pageSize,
        pageSize,
      );
      const items = rows.map(audienceView);
      if (matchAppId === undefined) return { items, total, page, pageSize };
      // One count per audience of the page, one after another: each is a join of two index ranges.
      const matched = [];
      for (const item of items)
        matched.push({ ...item, matched: await store.countMatched(item.id, matchAppId) });
      return { items: matched, total, page, pageSize };
    },
  );

  app.post(
    '/audiences',
    {
      // Room for the largest inline list; file uploads are streamed and limited by `uploadLimitBytes`.
      bodyLimit: Math.max(
        deps.config.bodyLimitBytes,
        MAX_INLINE_DEVICE_IDS * (MAX_DEVICE_ID_CHARS + 3) + 65_536,
      ),
      schema: {
        tags,
        summary:
          'Create an audience from a JSON list of device IDs (source `api`), or from a CSV/TXT file ' +
          '(source `upload`): multipart with a `name` field then one file, or a raw `text/csv` / ' +
          '`text/plain` body with `?name=`.',
        querystring: AudienceCreateQuery,
        body: {
          content: {
            'application/json': { schema: AudienceIdsBody },
            'multipart/form-data': {
              // Documentation only: the parts are read as a stream by the handler, so there is no
              // parsed body to validate, and `properties` without `type` lets that pass.
              schema: Type.Unsafe<unknown>({
                description: `Field \`name\`, then one file. ${fileDescription}`,
                properties: {
                  name: { type: 'string', description: 'The audience name (before the file).' },
                  file: { type: 'string', format: 'binary' },
                },
              }),
            },
            'text/csv': { schema: Type.Unknown({ description: `Needs \`?name=\`. ${fileDescription}` }) },
            'text/plain': { schema: Type.Unknown({ description: `Needs \`?name=\`. ${fileDescription}` }) },
          },
        },
        response: {
          201: AudienceSchema,
          413: Type.Ref('ErrorEnvelope'),
          415: Type.Ref('ErrorEnvelope'),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const workspaceId = request.workspace.id;
      const { name, fileName } = request.query;
      let created: ImportedAudience;
      if (request.isMultipart()) {
        created = await importMultipart(request, workspaceId, name);
      } else if (request.body instanceof Readable && RAW_MEDIA_TYPES.includes(request.mediaType ?? '')) {
        if (name === undefined) {
          throw validationError([
            { field: 'name', code: 'REQUIRED', message: 'is required: pass ?name= with a file body' },
          ]);
        }
        const declared = Number(request.headers['content-length']);
        if (declared > uploadLimitBytes) throw uploadTooLarge(uploadLimitBytes);
        created = await importAudienceFile(deps.db, {
          workspaceId,
          name,
          fileName: fileName ?? null,
          source: 'upload',
          lines: limited(request.body, deps.config),
          now: deps.clock(),
        });
      } else if (request.mediaType === 'application/json') {
        // Validated against `AudienceIdsBody` by the route schema (JSON bodies only).
        const body = request.body as AudienceIdsBody;
        created = await importAudienceIds(deps.db, {
          workspaceId,
          name: body.name,
          deviceIds: body.deviceIds,
          now: deps.clock(),
        });
      } else {
        throw new AppError(
          'UNSUPPORTED_MEDIA_TYPE',
          'Send application/json {name, deviceIds}, multipart/form-data with a file, or a text/csv body.',
        );
      }
      return reply.status(201).send(audienceView(await getAudience(workspaceId, created.id)));
    },
  );

  app.get(
    '/audiences/:audienceId',
    {
      schema: {
        tags,
        summary: 'One audience.',
        params: AudienceParams,
        response: { 200: AudienceSchema, ...authErrors },
      },
    },
    async (request) => audienceView(await getAudience(request.workspace.id, request.params.audienceId)),
  );

  app.get(
    '/audiences/:audienceId/members',
    {
      schema: {
        tags,
        summary: 'The device IDs of an audience in ID order, a page at a time (pass back `nextCursor`).',
        params: AudienceParams,
        querystring: AudienceMembersQuery,
        response: {
          200: AudienceMembersPage,
          ...authErrors,
        },
      },
    },
    async (request) => {
      const audience = await getAudience(request.workspace.id, request.params.audienceId);
      const { cursor, limit } = request.query;
      // One row more than asked tells whether another page follows without a second query.
      const deviceIds = await store.listMembers(
        audience.id,
        cursor ? decodeCursor(cursor) : undefined,
        limit + 1,
      );
      const page = deviceIds.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map((deviceId) => ({ deviceId })),
        total: audience.size,
        nextCursor: deviceIds.length > limit && last !== undefined ? encodeCursor(last) : null,
      };
    },
  );

  app.get(
    '/audiences/:audienceId/match',
    {
      schema: {
        tags,
        summary:
          'How many of the audience would be matched by a send to `appId` now: its devices with an active ' +
          'push token for that app (the rest would count as `unmatched`). Counted in SQL.',
        params: AudienceParams,
        querystring: AudienceMatchQuery,
        response: { 200: AudienceMatchSchema, ...authErrors },
      },
    },
    async (request) => {
      const audience = await getAudience(request.workspace.id, request.params.audienceId);
      const { appId } = request.query;
      await assertApp(request.workspace.id, appId);
      return {
        audienceId: audience.id,
        appId,
        size: audience.size,
        matched: await store.countMatched(audience.id, appId),
      };
    },
  );

  app.patch(
    '/audiences/:audienceId',
    {
      schema: {
        tags,
        summary: 'Rename an audience (its members are frozen).',
        params: AudienceParams,
        body: AudienceRenameBody,
        response: { 200: AudienceSchema, ...authErrors },
      },
    },
    async (request) => {
      const { workspace } = request;
      await getAudience(workspace.id, request.params.audienceId);
      await store.rename(workspace.id, request.params.audienceId, request.body.name.trim());
      return audienceView(await getAudience(workspace.id, request.params.audienceId));
    },
  );

  app.delete(
    '/audiences/:audienceId',
    {
      schema: {
        tags,
        summary: 'Delete an audience and its members; refused while a scheduled or sending task uses it.',
        params: AudienceParams,
        response: { 204: Type.Null(), 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      const { workspace } = request;
      const row = await getAudience(workspace.id, request.params.audienceId);
      const { marked, activeTaskIds } = await store.markDeleting(workspace.id, row.id);
      if (activeTaskIds.length > 0) {
        throw new AppError(
          'AUDIENCE_IN_USE',
          `${activeTaskIds.length} scheduled or sending task(s) use this audience; delete them or wait until they are sent.`,
          { taskIds: activeTaskIds },
        );
      }
      if (!marked)
        throw new AppError('AUDIENCE_NOT_FOUND', `Audience ${row.id} does not exist in this workspace.`);
      // The audience is already invisible; its members go in chunks (see `AudienceStore.purge`).
      // Should the process stop half-way, `purgeAbandonedAudiences` finishes the job at start-up.
      await store.purge(row.id);
      return reply.status(204).send(null);
    },
  );
}
