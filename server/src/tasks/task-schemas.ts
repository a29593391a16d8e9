/**
 * The shapes of the task routes (docs/api.md): bodies, queries and answers as TypeBox schemas. The
 * routes validate and serialise with them, and the console takes its types from them
 * (`web/src/api/types.ts`, type-only imports), so the two never drift apart.
 */
import { type TInteger, Type } from 'typebox';
import { COUNTER_NAMES, COUNTERS, type CounterName } from '../domain/statistics.ts';
import {
  CLICK_ACTION_TYPES,
  DEFAULT_TTL_SECONDS,
  MAX_PARAMS,
  MAX_SPREAD_MINUTES,
  MAX_TTL_SECONDS,
  MIN_SPREAD_MINUTES,
  MIN_TTL_SECONDS,
  TASK_CATEGORIES,
} from '../domain/task-content.ts';
import { TASK_STATUSES } from '../domain/task-state.ts';
import { Name, Nullable, PageQuery } from '../http/schemas.ts';
import type { TaskSortKey } from './task-store.ts';

/** How a task is sent: at once, or at its `scheduledAt`. */
export const SEND_TYPES = ['immediate', 'scheduled'] as const;
/** The keys the task list sorts by. */
export const SORT_KEYS = [
  'createdAt',
  'startedAt',
  'scheduledAt',
  'name',
  'plannedSends',
  'deliveries',
] as const satisfies readonly TaskSortKey[];
/** Most sub-campaigns one task serves. */
export const MAX_SUB_CAMPAIGNS = 100;

/** What a tap on the notification does. */
export const ClickActionSchema = Type.Object(
  {
    type: Type.Enum(CLICK_ACTION_TYPES, {
      description: 'open_url and open_page are Android-only; custom needs params.',
    }),
    url: Type.Optional(Type.String({ description: 'open_url only: the http(s) URL to open.' })),
    page: Type.Optional(Type.String({ description: 'open_page only: the Android activity class to open.' })),
    params: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        maxProperties: MAX_PARAMS,
        description:
          'String → string parameters delivered with the notification (Android `extra`, iOS custom keys); ' +
          'names starting with pb_, and on iOS aps, d and p, are reserved.',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Every field of a task as the user writes it, each as required (create and patch relax them). */
const taskFields = {
  name: Name,
  appId: Type.String({ minLength: 1 }),
  title: Type.String({
    minLength: 1,
    description:
      'With the content and params it must fit the provider payload (Android 1840, iOS 2012 bytes).',
  }),
  content: Type.String({ minLength: 1 }),
  clickAction: ClickActionSchema,
  audienceId: Type.String({ minLength: 1, description: 'A ready audience of this workspace.' }),
  sendType: Type.Enum(SEND_TYPES),
  scheduledAt: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'Required for a scheduled task and in the future; left out for an immediate one.',
    }),
  ),
  subCampaignIds: Type.Array(Type.String({ minLength: 1 }), { maxItems: MAX_SUB_CAMPAIGNS }),
  ttlSeconds: Type.Integer({
    minimum: MIN_TTL_SECONDS,
    description:
      `How long the provider keeps trying to reach an offline device, in seconds (default ${DEFAULT_TTL_SECONDS} = 3 days). ` +
      `At most the provider's maximum: Umeng ${MAX_TTL_SECONDS.umeng} (7 days), FCM ${MAX_TTL_SECONDS.fcm} (28 days), ` +
      `APNs ${MAX_TTL_SECONDS.apns} (28 days, Pushboard's choice: Apple documents none), simulator ${MAX_TTL_SECONDS.simulator}.`,
  }),
  category: Type.Enum(TASK_CATEGORIES, {
    description:
      "marketing (default): promotions, subject to the app's frequency cap and quiet hours; service: about " +
      "the user's own account or orders, never capped or held (Umeng category 1, which helps Xiaomi and vivo " +
      'pick the channel).',
  }),
  spreadMinutes: Nullable(Type.Integer({ minimum: MIN_SPREAD_MINUTES, maximum: MAX_SPREAD_MINUTES }), {
    description:
      'Hand the audience over evenly over this many minutes (pacing), within every rate limit; ' +
      'null (default): as fast as the rate limits allow.',
  }),
};

/** The body of `POST /tasks`: a task's fields, with defaults for the optional ones. */
export const CreateBody = Type.Object(
  {
    ...taskFields,
    subCampaignIds: Type.Optional(taskFields.subCampaignIds),
    ttlSeconds: Type.Optional(taskFields.ttlSeconds),
    category: Type.Optional(taskFields.category),
    spreadMinutes: Type.Optional(taskFields.spreadMinutes),
  },
  { additionalProperties: false },
);
/** The `task` part of an upload: the create body, its audience being the uploaded file. */
export const UploadBody = Type.Omit(CreateBody, ['audienceId'], { additionalProperties: false });
/** The body of a task edit. No defaults here: a field left out of a patch must stay as it is. */
export const PatchBody = Type.Partial(Type.Object(taskFields), { additionalProperties: false });

/** One integer property per task counter, described as `COUNTERS` describes it. */
const counterProperties = Object.fromEntries(
  COUNTER_NAMES.map((name) => [name, Type.Integer({ description: COUNTERS[name] })]),
) as Record<CounterName, TInteger>;

/** A task's statistics (docs/statistics.md#counters): every counter of `domain/statistics.ts`, then the rates. */
export const StatisticsSchema = Type.Object({
  ...counterProperties,
  impressionRate: Nullable(
    Type.Number({ description: 'impressions ÷ deliveries; null when deliveries is 0.' }),
  ),
  openRate: Nullable(Type.Number({ description: 'opens ÷ deliveries; null when deliveries is 0.' })),
  dismissalRate: Nullable(
    Type.Number({ description: 'dismissals ÷ deliveries; null when deliveries is 0.' }),
  ),
});

/** A sub-campaign as a task shows it. */
export const SubCampaignRefSchema = Type.Object({ id: Type.String(), name: Type.String() });

/** A task as every task route answers it: its fields, windows and statistics. */
export const TaskSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.Enum(TASK_STATUSES),
  appId: Type.String(),
  appName: Type.String(),
  platform: Type.Enum(['ios', 'android']),
  title: Type.String(),
  content: Type.String(),
  clickAction: ClickActionSchema,
  audienceId: Type.String(),
  audienceName: Nullable(Type.String({ description: 'Null once the audience has been deleted.' })),
  audienceSize: Nullable(
    Type.Integer({
      description:
        'Device IDs in the audience now (null once it has been deleted): what a scheduled task plans to ' +
        'send to. `statistics.plannedSends` stays 0 until the send starts.',
    }),
  ),
  sendType: Type.Enum(SEND_TYPES),
  scheduledAt: Nullable(Type.String()),
  ttlSeconds: Type.Integer({ description: 'How long providers keep trying to reach a device, in seconds.' }),
  category: Type.Enum(TASK_CATEGORIES),
  spreadMinutes: Nullable(
    Type.Integer({ description: 'Minutes the hand-over is spread over; null: not paced.' }),
  ),
  deferredUntil: Nullable(
    Type.String({
      description:
        "Set while the app's quiet hours hold this due marketing task: when it will start. Null otherwise.",
    }),
  ),
  stoppedAt: Nullable(
    Type.String({
      description:
        'When a stop was acknowledged: no batch is handed over after it; the task is sending until the ' +
        'batches already at the provider are recorded, then stopped.',
    }),
  ),
  subCampaignIds: Type.Array(Type.String()),
  subCampaigns: Type.Array(SubCampaignRefSchema),
  failureReason: Nullable(Type.String({ description: 'Why nothing could be sent; null unless failed.' })),
  sendError: Nullable(
    Type.String({
      description:
        'The provider error that stopped the send early (after retries); the devices not handed over ' +
        'count as failures. Null when every batch was handed over.',
    }),
  ),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  startedAt: Nullable(Type.String({ description: 'When sending started.' })),
  completedAt: Nullable(Type.String()),
  statisticsFinalAt: Nullable(
    Type.String({ description: 'startedAt + the statistics window; later receipts count as late.' }),
  ),
  detailsExpireAt: Nullable(
    Type.String({ description: 'startedAt + the retention window; device results are deleted then.' }),
  ),
  statistics: StatisticsSchema,
});

const DateTime = (description: string) => Type.Optional(Type.String({ format: 'date-time', description }));
/** The query of the task list: filters, sort and page. */
export const ListQuery = Type.Object({
  ...PageQuery,
  status: Type.Optional(
    Type.Array(Type.String(), {
      description: 'One or several statuses, repeated (status=a&status=b) or comma-separated (status=a,b).',
    }),
  ),
  sendType: Type.Optional(Type.Enum(SEND_TYPES)),
  appId: Type.Optional(Type.String()),
  subCampaignId: Type.Optional(Type.String()),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Name contains, ignoring case.' })),
  createdFrom: DateTime('Created at or after this time.'),
  createdTo: DateTime('Created at or before this time.'),
  sentFrom: DateTime('Started sending at or after this time.'),
  sentTo: DateTime('Started sending at or before this time.'),
  sort: Type.Enum(SORT_KEYS, { default: 'createdAt' }),
  order: Type.Enum(['asc', 'desc'], { default: 'desc', description: 'Ties are ordered by ID.' }),
});

/** The path parameters of one task's routes. */
export const TaskParams = Type.Object({ workspaceId: Type.String(), taskId: Type.String() });
