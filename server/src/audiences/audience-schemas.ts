/**
 * The shapes of the audience routes as TypeBox schemas: the routes validate and serialise with them,
 * and the console takes its types from them (`web/src/api/types.ts`, type-only imports).
 */
import { type Static, Type } from 'typebox';
import { Name, PageQuery } from '../http/schemas.ts';
import { MAX_DEVICE_ID_CHARS } from './audience-import.ts';

/** Most device IDs one JSON request may carry; bigger audiences are uploaded as a file. */
export const MAX_INLINE_DEVICE_IDS = 100_000;

/** Most members one page of `…/members` returns. */
export const MAX_MEMBERS_PAGE = 1_000;

/** Where an audience's device IDs came from. */
export const AudienceSource = Type.Union([
  Type.Literal('upload'),
  Type.Literal('api'),
  Type.Literal('task_result'),
]);
/** A ready audience with the tasks that use it. */
export const AudienceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  size: Type.Integer({ description: 'Number of distinct device IDs.' }),
  source: AudienceSource,
  status: Type.Literal('ready', { description: 'Audiences still importing or being deleted are not shown.' }),
  fileName: Type.Union([Type.String(), Type.Null()], { description: 'The uploaded file, for `upload`.' }),
  sourceTaskId: Type.Union([Type.String(), Type.Null()], {
    description:
      'The task it was generated from (`task_result`), or the task it was uploaded with (`upload` ' +
      'through `POST …/tasks/upload`: deleting that task deletes it too, if no other task uses it).',
  }),
  sourceFilter: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], {
    description: 'The device filter the audience was generated with, for `task_result`.',
  }),
  createdAt: Type.String(),
  usedByTasks: Type.Integer({ description: 'Tasks of any status that target this audience.' }),
  activeTasks: Type.Integer({
    description: 'Scheduled or sending tasks that target it; it cannot be deleted while this is not 0.',
  }),
  matched: Type.Optional(
    Type.Integer({
      description:
        'Only in a list asked with `matchAppId`: members with an active push token for that app ' +
        '(see `GET …/audiences/{id}/match`).',
    }),
  ),
});
/** The JSON body of an audience create: its name and device IDs. */
export const AudienceIdsBody = Type.Object(
  {
    name: Name,
    deviceIds: Type.Array(
      Type.String({
        description: `A device ID: trimmed; at most ${MAX_DEVICE_ID_CHARS} characters, no whitespace or control characters.`,
      }),
      { minItems: 1, maxItems: MAX_INLINE_DEVICE_IDS, description: 'Duplicates collapse.' },
    ),
  },
  { additionalProperties: false },
);
/** The JSON body of an audience create, as the route hands it over. */
export type AudienceIdsBody = Static<typeof AudienceIdsBody>;
/** The path parameters of one audience's routes. */
export const AudienceParams = Type.Object({ workspaceId: Type.String(), audienceId: Type.String() });
/** The query of the audience list. */
export const AudienceListQuery = Type.Object({
  ...PageQuery,
  q: Type.Optional(Type.String({ maxLength: 200 })),
  source: Type.Optional(AudienceSource),
  matchAppId: Type.Optional(
    Type.String({
      maxLength: 200,
      description: 'An app of the workspace: each audience then carries `matched` for it.',
    }),
  ),
});
/** The query of an audience's match count. */
export const AudienceMatchQuery = Type.Object({
  appId: Type.String({ maxLength: 200, description: 'An app of the workspace.' }),
});
/** How much of an audience a send to one app would reach now. */
export const AudienceMatchSchema = Type.Object({
  audienceId: Type.String(),
  appId: Type.String(),
  size: Type.Integer({ description: 'Device IDs in the audience (`plannedSends` of a send now).' }),
  matched: Type.Integer({
    description: 'Of those, devices with an active push token for the app; the rest would be `unmatched`.',
  }),
});
/** The query of an audience create: the name and file name of a raw-body upload. */
export const AudienceCreateQuery = Type.Object({
  name: Type.Optional(Name),
  fileName: Type.Optional(Type.String({ maxLength: 255 })),
});
/** The query of an audience's member list. */
export const AudienceMembersQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 1024, pattern: '^[A-Za-z0-9_-]*$' })),
  limit: Type.Integer({ minimum: 1, maximum: MAX_MEMBERS_PAGE, default: 100 }),
});
/** One page of an audience's device IDs. */
export const AudienceMembersPage = Type.Object({
  items: Type.Array(Type.Object({ deviceId: Type.String() })),
  total: Type.Integer({ description: 'The audience size.' }),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Null on the last page.' }),
});
/** The body of an audience rename. */
export const AudienceRenameBody = Type.Object({ name: Name }, { additionalProperties: false });
