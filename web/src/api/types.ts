/**
 * The shapes of the Pushboard API v1 (docs/api.md, `/api/v1/openapi.json`) that the console reads or
 * sends. The task and device-result shapes are the server's own TypeBox schemas, imported as types
 * only (nothing of the server is bundled); the rest is written by hand in the server's words.
 */
import type { Static } from 'typebox';
import type { CampaignSchema, SubCampaignSchema } from '../../../server/src/campaigns/campaign-schemas.ts';
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

/** A member's or API token's power in a workspace. */
export type Role = 'owner' | 'operator' | 'viewer';
export type Platform = 'ios' | 'android';
/** The push service an app sends through; `fcm` serves Android apps only, `apns` iOS apps only. */
export type ProviderName = 'simulator' | 'umeng' | 'fcm' | 'apns';
/** Whether a device's push token still works: `invalid` once the provider said it does not (docs/devices.md#push-token-lifecycle). */
export type TokenStatus = 'active' | 'invalid';
/** Where a task is in its lifecycle. */
export type TaskStatus = Task['status'];
/** How a task is sent: at once, or at its `scheduledAt`. */
export type SendType = Task['sendType'];
/** What a tap on the notification does. */
export type ClickActionType = ClickAction['type'];
export type AudienceSource = 'upload' | 'api' | 'task_result';

/** Every task status, in lifecycle order. */
export const TASK_STATUSES: readonly TaskStatus[] = ['scheduled', 'sending', 'completed', 'failed'];
export const CLICK_ACTION_TYPES: readonly ClickActionType[] = ['open_app', 'open_url', 'open_page', 'custom'];

/** A paged list (`page` is 1-based). */
export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

/** A keyset-paged list: pass `nextCursor` back as `cursor` for the next items. */
export interface CursorPage<T> {
  items: T[];
  total: number;
  nextCursor: string | null;
}

/** The error envelope every failing call answers with. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** One wrong field of a `VALIDATION_FAILED` answer. */
export interface FieldError {
  field: string;
  message: string;
}

export interface LoginResult {
  token: string;
  expiresAt: string;
  /** The password was generated at the first start: change it before anything else. */
  passwordChangeRequired: boolean;
}

export interface Me {
  kind: 'user' | 'api';
  username?: string;
  isAdmin: boolean;
  passwordChangeRequired: boolean;
  workspaceId?: string;
  role?: Role;
}

export interface Workspace {
  id: string;
  name: string;
  role: Role;
}

export interface Member {
  userId: string;
  username: string;
  role: Role;
  createdAt: string;
}

export interface User {
  id: string;
  username: string;
  isAdmin: boolean;
  disabled: boolean;
  createdAt: string;
}

/** An API token; `token` is masked except in the answer that created it. */
export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  token: string;
  createdAt: string;
  /** Username of the creator; the token works only while that user is an owner. */
  createdBy: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Credentials and options of a Umeng U-Push app; `appMasterSecret` is masked on reads. */
export interface UmengConfig {
  appKey: string;
  appMasterSecret: string;
  baseUrl?: string;
  /** false limits only broadcast and groupcast to test devices; Pushboard's sends reach every device. */
  productionMode?: boolean;
  /** Devices per second handed to the provider; absent = the deployment's default, 0 = no limit. */
  rateLimitPerSecond?: number;
  /** Android: the activity vendor channels open (`channel_properties.channel_activity`, `mi_activity`). */
  channelActivity?: string;
  /** Android: vendor-channel options passed as they are (`xiaomi_channel_id`, `vivo_category`…). */
  channelProperties?: Record<string, string>;
}

/** The fields of a Google service-account JSON key file that FCM needs; `private_key` is masked on reads. */
export interface ServiceAccountKey {
  type?: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  token_uri?: string;
}

/** Credentials and options of an Android app on Firebase Cloud Messaging (docs/providers.md#fcm). */
export interface FcmConfig {
  serviceAccount: ServiceAccountKey;
  baseUrl?: string;
  /** Android notification channel the notifications are posted in. */
  androidChannelId?: string;
  /** Requests in flight at once; 100 when absent. */
  concurrency?: number;
  rateLimitPerSecond?: number;
}

/** APNs environments: where the provider token and the device tokens belong. */
export type ApnsEnvironment = 'production' | 'sandbox';

/** Credentials and options of an iOS app on the Apple Push Notification service (docs/providers.md#apns). */
export interface ApnsConfig {
  teamId: string;
  keyId: string;
  /** PEM text of the `.p8` signing key; masked on reads. */
  privateKey: string;
  bundleId: string;
  environment: ApnsEnvironment;
  baseUrl?: string;
  /** Streams in flight at once on the app's HTTP/2 connection; 100 when absent. */
  concurrency?: number;
  rateLimitPerSecond?: number;
}

export interface SimulatorConfig {
  seed?: number;
  acceptRate?: number;
  deliveryRate?: number;
  impressionRate?: number;
  openRate?: number;
  dismissalRate?: number;
  timeScale?: number;
  rateLimitPerSecond?: number;
}

/** The provider config of an app, whichever its provider. */
export type ProviderConfig = UmengConfig | SimulatorConfig | FcmConfig | ApnsConfig;

/** An app; its secrets are in full only in the answers to create and rotate. */
export interface App {
  id: string;
  name: string;
  platform: Platform;
  provider: ProviderName;
  providerConfig: ProviderConfig;
  /** Signs provider receipt callbacks; masked except in the create and rotate answers. */
  receiptSecret: string;
  /** Identifies the app in SDK requests; in full on every read, as it ships in every app binary. */
  sdkKey: string;
  /** Signs SDK requests (HMAC); masked except in the create and rotate answers. */
  sdkSecret: string;
  /** Registered devices. */
  devices: number;
  /** Registered devices whose push token the provider called invalid (sends skip them). */
  invalidTokens: number;
  createdAt: string;
  updatedAt: string;
}

export interface AppCreate {
  name: string;
  platform: Platform;
  provider: ProviderName;
  providerConfig?: ProviderConfig;
}

/**
 * The body of an app change: a new name and/or a whole new provider config (a secret left out, or
 * sent back masked, keeps the stored one unless the credentials' identity or endpoint changed).
 */
export interface AppUpdate {
  name?: string;
  providerConfig?: ProviderConfig;
}

/** A device registered for an app, with the state of its push token. */
export interface Device {
  deviceId: string;
  pushToken: string;
  channel: string;
  tokenStatus: TokenStatus;
  /** When the provider called the token invalid; null while it is active. */
  tokenInvalidAt: string | null;
  /** The provider's word for why (`UNREGISTERED`, `BadDeviceToken`, Umeng `4020`…). */
  tokenInvalidReason: string | null;
  /** IANA time zone the device reported (`Asia/Shanghai`), or null when it never did. */
  timeZone: string | null;
  /** BCP 47 language tag the device reported (`zh-CN`), or null. */
  locale: string | null;
  /** The app version the device reported running (`5.2.0 (1234)`), or null. */
  appVersion: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The query of an app's device list; every field maps to the query parameter of the same name. */
export interface DeviceListQuery {
  page: number;
  pageSize: number;
  /** Device IDs starting with this. */
  q?: string;
  tokenStatus?: TokenStatus;
}

export interface DeviceImportResult {
  lines: number;
  inserted: number;
  updated: number;
}

export interface Audience {
  id: string;
  name: string;
  size: number;
  source: AudienceSource;
  status: 'ready';
  fileName: string | null;
  sourceTaskId: string | null;
  sourceFilter: DeviceFilter | null;
  createdAt: string;
  usedByTasks: number;
  activeTasks: number;
}

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

/** The data of a `statistics` event of `GET …/tasks/{id}/events`: the changing part of a task read. */
export interface TaskLiveStatistics {
  status: TaskStatus;
  statistics: TaskStatistics;
  statisticsFinalAt: string | null;
  detailsExpireAt: string | null;
}

/** One event of a server-sent event stream: its name (`message` when unnamed) and its data. */
export interface ServerEvent {
  event: string;
  data: string;
}
