/**
 * The shapes of the Pushboard API v1 (docs/api.md, `/api/v1/openapi.json`) that the console reads or
 * sends. They are the server's own TypeBox schemas (`server/src/<feature>/*-schemas.ts`), imported as
 * types only so nothing of the server is bundled; where a schema is looser than the JSON it describes
 * (a provider config taken as any object, a saved filter or a role documented as strings) the type
 * narrows that field. What has no server schema (keyset pages, live statistics, list queries as the
 * console builds them) is written by hand in the server's words.
 */
import type { Static, TUnsafe } from 'typebox';
import type {
  AppCreateBody,
  AppSchema,
  AppUpdateBody,
  PlatformSchema,
  ProviderSchema,
} from '../../../server/src/apps/app-schemas.ts';
import type { ProviderConfigSchema } from '../../../server/src/apps/provider-config.ts';
import type {
  AudienceMatchSchema,
  AudienceSchema,
  AudienceSource as AudienceSourceSchema,
} from '../../../server/src/audiences/audience-schemas.ts';
import type { CampaignSchema, SubCampaignSchema } from '../../../server/src/campaigns/campaign-schemas.ts';
import type {
  DeviceListQuery as DeviceListQuerySchema,
  DeviceSchema,
  ImportResultSchema,
} from '../../../server/src/devices/device-schemas.ts';
import type {
  CsvLineError as ServerCsvLineError,
  FieldError as ServerFieldError,
} from '../../../server/src/errors.ts';
import type { ErrorEnvelope, PageOf, RoleSchema } from '../../../server/src/http/schemas.ts';
import type { ApnsConfigSchema } from '../../../server/src/providers/apns-config.ts';
import type { FcmConfigSchema } from '../../../server/src/providers/fcm-config.ts';
import type { SimulatorConfigSchema } from '../../../server/src/providers/simulator-config.ts';
import type { UmengConfigSchema } from '../../../server/src/providers/umeng-config.ts';
import type {
  Breakdown,
  ChannelItem,
  DeviceItem,
  FilterQuery,
  TimelineBucketItem,
} from '../../../server/src/results/device-result-schemas.ts';
import type {
  ClickActionSchema,
  StatisticsSchema,
  SubCampaignRefSchema,
  ListQuery as TaskListQuerySchema,
  TaskSchema,
  UploadBody,
} from '../../../server/src/tasks/task-schemas.ts';
import type {
  TestPushAnswer as TestPushAnswerSchema,
  TestPushBody,
  TestPushResultSchema,
} from '../../../server/src/tasks/test-push-schemas.ts';
import type {
  LoginResultSchema,
  MemberSchema,
  MeSchema,
  TokenSchema,
  UserSchema,
  WorkspaceSchema,
} from '../../../server/src/tenancy/tenancy-schemas.ts';

/** A member's or API token's power in a workspace. */
export type Role = Static<typeof RoleSchema>;
/** The platform of an app. */
export type Platform = Static<typeof PlatformSchema>;
/** The push service an app sends through; `fcm` serves Android apps only, `apns` iOS apps only. */
export type ProviderName = Static<typeof ProviderSchema>;
/** Whether a device's push token still works: `invalid` once the provider said it does not (docs/devices.md#push-token-lifecycle). */
export type TokenStatus = Device['tokenStatus'];
/** Where a task is in its lifecycle. */
export type TaskStatus = Task['status'];
/** How a task is sent: at once, or at its `scheduledAt`. */
export type SendType = Task['sendType'];
/** What a tap on the notification does. */
export type ClickActionType = ClickAction['type'];
/** Where an audience's device IDs came from. */
export type AudienceSource = Static<typeof AudienceSourceSchema>;
/** How much of an audience a send to one app would match now. */
export type AudienceMatch = Static<typeof AudienceMatchSchema>;

/** Every task status, in lifecycle order. */
export const TASK_STATUSES: readonly TaskStatus[] = [
  'scheduled',
  'sending',
  'completed',
  'failed',
  'stopped',
];
export const CLICK_ACTION_TYPES: readonly ClickActionType[] = ['open_app', 'open_url', 'open_page', 'custom'];

/** A paged list (`page` is 1-based). */
export type Page<T> = Static<ReturnType<typeof PageOf<TUnsafe<T>>>>;

/** A keyset-paged list: pass `nextCursor` back as `cursor` for the next items. */
export interface CursorPage<T> {
  items: T[];
  total: number;
  nextCursor: string | null;
}

/** The error envelope every failing call answers with. */
export type ErrorBody = Static<typeof ErrorEnvelope>;

/** One wrong field of a `VALIDATION_FAILED` answer. */
export type FieldError = ServerFieldError;

/** One bad line of a `CSV_INVALID` answer. */
export type CsvLineError = ServerCsvLineError;

/** The answer to a login; `passwordChangeRequired` means the password was generated at the first start: change it before anything else. */
export type LoginResult = Static<typeof LoginResultSchema>;

/** The caller: a user or a workspace API token. The server documents `role` as a string; it is a workspace role. */
export type Me = Omit<Static<typeof MeSchema>, 'role'> & { role?: Role };

/** A workspace with the caller's role in it. */
export type Workspace = Static<typeof WorkspaceSchema>;

/** A member of a workspace. */
export type Member = Static<typeof MemberSchema>;

/** A user of the instance. */
export type User = Static<typeof UserSchema>;

/** An API token; `token` is masked except in the answer that created it. */
export type ApiToken = Static<typeof TokenSchema>;

/** Credentials and options of a Umeng U-Push app; `appMasterSecret` is masked on reads. */
export type UmengConfig = Static<typeof UmengConfigSchema>;

/** Credentials and options of an Android app on Firebase Cloud Messaging (docs/providers.md#fcm). */
export type FcmConfig = Static<typeof FcmConfigSchema>;

/** The fields of a Google service-account JSON key file that FCM needs; `private_key` is masked on reads. */
export type ServiceAccountKey = FcmConfig['serviceAccount'];

/** Credentials and options of an iOS app on the Apple Push Notification service (docs/providers.md#apns). */
export type ApnsConfig = Static<typeof ApnsConfigSchema>;

/** APNs environments: where the provider token and the device tokens belong. */
export type ApnsEnvironment = ApnsConfig['environment'];

/** Behaviour of the built-in simulator provider. */
export type SimulatorConfig = Static<typeof SimulatorConfigSchema>;

/** The provider config of an app, whichever its provider. */
export type ProviderConfig = Static<typeof ProviderConfigSchema>;

/** An app; its secrets are in full only in the answers to create and rotate. */
export type App = Static<typeof AppSchema>;

/**
 * The body of an app create. The server's schema takes any object as `providerConfig` (each
 * provider's config is checked by code, which names each wrong field); it must be the provider's.
 */
export type AppCreate = Omit<Static<typeof AppCreateBody>, 'providerConfig'> & {
  providerConfig?: ProviderConfig;
};

/**
 * The body of an app change: a new name and/or a whole new provider config (a secret left out, or
 * sent back masked, keeps the stored one unless the credentials' identity or endpoint changed).
 */
export type AppUpdate = Omit<Static<typeof AppUpdateBody>, 'providerConfig'> & {
  providerConfig?: ProviderConfig;
};

/** An app's frequency cap for marketing tasks (docs/delivery-controls.md#fatigue-control). */
export type FrequencyCap = NonNullable<App['frequencyCap']>;

/** An app's daily window in which marketing tasks wait (docs/delivery-controls.md#quiet-hours). */
export type QuietHours = NonNullable<App['quietHours']>;

/** A device registered for an app, with the state of its push token. */
export type Device = Static<typeof DeviceSchema>;

/**
 * The query of an app's device list; every field maps to the query parameter of the same name. The
 * console always sends `page` and `pageSize`; the rest falls back to the server's defaults.
 */
export type DeviceListQuery = Pick<Static<typeof DeviceListQuerySchema>, 'page' | 'pageSize'> &
  Partial<Static<typeof DeviceListQuerySchema>>;

/** What a device CSV import did. */
export type DeviceImportResult = Static<typeof ImportResultSchema>;

/**
 * A ready audience with the tasks that use it. Its `sourceFilter` is the device filter a task result
 * was saved with (the server documents it as a map of strings; it stores the filter it validated).
 */
export type Audience = Omit<Static<typeof AudienceSchema>, 'sourceFilter'> & {
  sourceFilter: DeviceFilter | null;
};

/** A sub-campaign as a task shows it. */
export type SubCampaignRef = Static<typeof SubCampaignRefSchema>;

/** A campaign with its sub-campaigns. */
export type Campaign = Static<typeof CampaignSchema>;

/** A sub-campaign with the campaign it belongs to, if any. */
export type SubCampaign = Static<typeof SubCampaignSchema>;

/** What a tap on the notification does. */
export type ClickAction = Static<typeof ClickActionSchema>;

/** Per-task counts (docs/statistics.md#counters); rates are fractions, null over zero deliveries. */
export type TaskStatistics = Static<typeof StatisticsSchema>;

/** A task as the task routes answer it. */
export type Task = Static<typeof TaskSchema>;

/** The body of a task create (`audienceId` is left out for an upload) or, partially, of a patch. */
export type TaskInput = Static<typeof UploadBody> & { audienceId?: string };

/** Marketing pushes (promotions) or service pushes (about the user's own account or orders). */
export type TaskCategory = Task['category'];

/**
 * Longest time to live each provider takes, in seconds (the server's `MAX_TTL_SECONDS`): Umeng 7
 * days, FCM 28 days, APNs 28 days (Pushboard's choice: Apple documents none), the simulator as FCM.
 */
export const MAX_TTL_SECONDS: Readonly<Record<ProviderName, number>> = {
  umeng: 7 * 86_400,
  fcm: 28 * 86_400,
  apns: 28 * 86_400,
  simulator: 28 * 86_400,
};

/** A task's time to live when none is given, in seconds (3 days). */
export const DEFAULT_TTL_SECONDS = 259_200;

/** What the task list sorts by. */
export type TaskSortKey = Static<typeof TaskListQuerySchema>['sort'];

/** The query of the task list; every field maps to the query parameter of the same name. */
export interface TaskListQuery {
  page: number;
  pageSize: number;
  status?: TaskStatus[];
  sendType?: SendType;
  appId?: string;
  subCampaignId?: string;
  q?: string;
  createdFrom?: string;
  createdTo?: string;
  sort?: TaskSortKey;
  order?: 'asc' | 'desc';
}

/** A device's send result in a task; `pending` devices have not been handed to the provider yet. */
export type SendResult = DeviceResult['sendResult'];
/** A receipt kind a device list can be filtered on. */
export type ReceiptKind = NonNullable<DeviceFilter['receipt']>;

/** Which device results of a task to list, export or save as an audience (docs/api.md#shapes). */
export type DeviceFilter = Static<typeof FilterQuery>;

/** One device's result in one task. */
export type DeviceResult = Static<typeof DeviceItem>;

/** The counts of one channel in a task's breakdown, in the words of the task statistics. */
export type ChannelBreakdown = Static<typeof ChannelItem>;

/** The receipts whose time falls in one bucket of a task's timeline (from `at`, `bucketMinutes` long). */
export type TimelineBucket = Static<typeof TimelineBucketItem>;

/** A task's device results per channel and its receipts over time (`GET …/tasks/{id}/breakdown`). */
export type TaskBreakdown = Static<typeof Breakdown>;

/** How many of a task's devices failed for one reason, in the provider's words. */
export type FailureReasonCount = TaskBreakdown['failureReasons'][number];

/** The content a test push sends for a form not saved yet (`POST …/test-pushes`, docs/delivery-controls.md#test-push). */
export type TestPushInput = Static<typeof TestPushBody>;

/** What a test push did to one device: accepted (`success`, `no_feedback`) or `failure` with its reason. */
export type TestPushResult = Static<typeof TestPushResultSchema>;

/** The answer to a test push: one result per distinct device, in the order asked. */
export type TestPushAnswer = Static<typeof TestPushAnswerSchema>;

/** The data of a `statistics` event of `GET …/tasks/{id}/events`: the changing part of a task read. */
export interface TaskLiveStatistics {
  status: TaskStatus;
  stoppedAt: string | null;
  statistics: TaskStatistics;
  statisticsFinalAt: string | null;
  detailsExpireAt: string | null;
}

/** One event of a server-sent event stream: its name (`message` when unnamed) and its data. */
export interface ServerEvent {
  event: string;
  data: string;
}
