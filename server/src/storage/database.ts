/**
 * Row types of every table, as Kysely sees them. Column names are snake_case in SQL and the words
 * of the glossary (CONTEXT.md). Times are ISO 8601 UTC strings (`2026-11-27T03:40:00.000Z`), which
 * sort correctly as text in every backend; booleans are 0/1 integers; JSON is stored as text.
 */
import type { Generated, Kysely, Selectable } from 'kysely';
import type { CounterColumns } from './task-counts.ts';

/** The Kysely handle every store is built on. */
export type Db = Kysely<Database>;

/** All tables. */
export interface Database {
  workspaces: WorkspaceRow;
  users: UserRow;
  memberships: MembershipRow;
  access_tokens: AccessTokenRow;
  login_throttles: LoginThrottleRow;
  apps: AppRow;
  devices: DevicesTable;
  handover_answers: HandoverAnswerRow;
  device_imports: DeviceImportRow;
  device_import_rows: DeviceImportLineRow;
  audiences: AudienceRow;
  audience_members: AudienceMemberRow;
  campaigns: CampaignRow;
  sub_campaigns: SubCampaignRow;
  tasks: TasksTable;
  task_sub_campaigns: TaskSubCampaignRow;
  task_dispatch: TaskDispatchRow;
  batches: BatchRow;
  device_results: DeviceResultRow;
  frequency_sends: FrequencySendRow;
  kept_breakdowns: KeptBreakdownRow;
  simulator_batches: SimulatorBatchRow;
  held_receipts: HeldReceiptRow;
  unreadable_receipts: UnreadableReceiptRow;
  unreadable_receipt_counts: UnreadableReceiptCountRow;
  late_receipts: LateReceiptRow;
  simulator_receipts: SimulatorReceiptRow;
}

/** Workspace role, from most to least powerful. */
export type Role = 'owner' | 'operator' | 'viewer';

/** A workspace: the tenant boundary every other object belongs to. */
export interface WorkspaceRow {
  id: string;
  name: string;
  created_at: string;
}

/** A person who logs in; belongs to workspaces through memberships. */
export interface UserRow {
  id: string;
  username: string;
  /** `scrypt$N=…,r=…,p=…$<salt b64>$<hash b64>` (older hashes: `scrypt$<salt>$<hash>`, N=2^14). */
  password_hash: string;
  /** 1 for the instance admin (may create users). */
  is_admin: number;
  created_at: string;
  /** When the instance admin disabled the user (no login, no session, no API token of theirs works); null if enabled. */
  disabled_at: string | null;
  /** 1 while the user must change a generated password before anything else (defaults to 0). */
  password_change_required: number;
}

/** A user's role in one workspace. */
export interface MembershipRow {
  workspace_id: string;
  user_id: string;
  role: Role;
  created_at: string;
}

/** A bearer token: a login session of a user (`session`) or a workspace API token (`api`). */
export interface AccessTokenRow {
  id: string;
  kind: 'session' | 'api';
  /** SHA-256 hex of the token; the token itself is never stored. */
  token_hash: string;
  /** Last characters of the token, shown in masked listings. */
  token_hint: string;
  name: string;
  /** The session's user, or the user who created the API token. */
  user_id: string | null;
  /** API tokens only: the one workspace the token can reach. */
  workspace_id: string | null;
  /** API tokens only. */
  role: Role | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

/**
 * Failed logins counted per throttle key — one (username, client IP) pair or one client IP — to slow
 * down password guessing; an attempt is counted here before its password is checked.
 */
export interface LoginThrottleRow {
  /** `JSON.stringify(["ip", ip])` or `JSON.stringify(["user", ip, username])`. */
  key: string;
  /** Failed (or still running) attempts since the last success, or since a day without failures. */
  failures: number;
  /** Time of the latest counted attempt, in milliseconds since the epoch. */
  last_failure_ms: number;
}

/** One mobile app on one platform, with its provider and the secrets receipts are checked with. */
export interface AppRow {
  id: string;
  workspace_id: string;
  name: string;
  platform: 'ios' | 'android';
  provider: 'simulator' | 'umeng' | 'fcm' | 'apns';
  /** JSON of the provider config, credentials included (they are masked on every read). */
  provider_config: string;
  receipt_secret: string;
  sdk_key: string;
  sdk_secret: string;
  /** JSON `{perDay?, perWeek?}` (docs/delivery-controls.md#fatigue-control), or null: no cap. */
  frequency_cap: string | null;
  /** JSON `{start, end, timeZone}` (docs/delivery-controls.md#quiet-hours), or null: none. */
  quiet_hours: string | null;
  created_at: string;
  updated_at: string;
}

/** A device registered for an app: the customer's device ID and the provider's push token. */
export interface DevicesTable {
  app_id: string;
  device_id: string;
  push_token: string;
  /** Delivery channel the device is reached through (`umeng`, `huawei`, `xiaomi`, `apns`…). */
  channel: string;
  /** `invalid` once a provider said the push token is no longer valid (docs/devices.md#push-token-lifecycle); sends then skip it. */
  token_status: Generated<'active' | 'invalid'>;
  /** When the token was marked invalid; null while it is active. */
  token_invalid_at: string | null;
  /** The provider's word for why (`UNREGISTERED`, `BadDeviceToken`, `4020`…); null while active. */
  token_invalid_reason: string | null;
  /** IANA time zone the device reported through the SDK (docs/devices.md#device-profile); null until it did. */
  time_zone: string | null;
  /** BCP 47 locale the device reported; null until it did. */
  locale: string | null;
  /** Version of the app the device last registered from; null until it did. */
  app_version: string | null;
  created_at: string;
  updated_at: string;
}

/** A device as read. */
export type DeviceRow = Selectable<DevicesTable>;

/**
 * What registering a device writes: its row without the token's status, which the store keeps, and
 * with what it says about itself optional (left out, the stored values stay).
 */
export type DeviceRegistration = Omit<
  DeviceRow,
  'token_status' | 'token_invalid_at' | 'token_invalid_reason' | 'time_zone' | 'locale' | 'app_version'
> &
  Partial<Pick<DeviceRow, 'time_zone' | 'locale' | 'app_version'>>;

/**
 * A group of device answers from a provider that answers each device on its own (FCM, APNs),
 * journaled while their batch is in flight: a retried or resumed batch hands over only the devices
 * without one, and recording the batch uses these answers and deletes them (dispatch/README.md).
 */
export interface HandoverAnswerRow {
  task_id: string;
  batch_seq: number;
  /** Orders the groups of a batch (time-ordered, unique): the first answer of a device wins. */
  group_id: string;
  /** The group's answers, a JSON array of `JournalEntry` tuples (dispatch/journal-store.ts). */
  answers: string;
}

/** One streamed device CSV import; its lines are staged until the whole file has been checked. */
export interface DeviceImportRow {
  id: string;
  app_id: string;
  status: 'staging' | 'applied';
  created_at: string;
}

/** One staged line of a device import, kept until the whole file has been checked. */
export interface DeviceImportLineRow {
  import_id: string;
  line: number;
  device_id: string;
  push_token: string;
  channel: string;
}

/** A named, frozen set of device IDs. */
export interface AudienceRow {
  id: string;
  workspace_id: string;
  name: string;
  source: 'upload' | 'api' | 'task_result';
  /**
   * `importing` while a streamed upload is being written, `deleting` while its members are removed
   * in chunks; only `ready` audiences are visible and usable.
   */
  status: 'importing' | 'ready' | 'deleting';
  size: number;
  file_name: string | null;
  /** For `task_result` audiences: the task and the device filter they were generated from. */
  source_task_id: string | null;
  source_filter: string | null;
  created_at: string;
}

/** One device ID of an audience. */
export interface AudienceMemberRow {
  audience_id: string;
  device_id: string;
}

/** A marketing campaign; its sub-campaigns are what tasks link to. */
export interface CampaignRow {
  id: string;
  workspace_id: string;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
}

/** A sub-campaign, inside a campaign or independent. */
export interface SubCampaignRow {
  id: string;
  workspace_id: string;
  /** Null for an independent sub-campaign. */
  campaign_id: string | null;
  name: string;
  created_at: string;
  updated_at: string;
}

/**
 * A push task with its content, schedule, state and statistics counters (docs/tasks.md); the counter
 * columns are listed once, in `task-counts.ts`.
 */
export interface TasksTable extends CounterColumns {
  id: string;
  workspace_id: string;
  app_id: string;
  name: string;
  title: string;
  content: string;
  /** JSON `{type, url?, page?, params?}`. */
  click_action: string;
  audience_id: string;
  send_type: 'immediate' | 'scheduled';
  scheduled_at: string | null;
  /** How long providers keep trying to deliver the push, in seconds (docs/tasks.md#delivery-options; default 259200 = 3 days). */
  ttl_seconds: Generated<number>;
  /** `marketing` or `service` (docs/tasks.md#delivery-options; default marketing): Umeng's `category`, and later the fatigue cap. */
  category: Generated<'marketing' | 'service'>;
  /** Minutes to spread the hand-over over (docs/delivery-controls.md#pacing), or null: as fast as allowed. */
  spread_minutes: Generated<number | null>;
  /** Where quiet hours hold a due marketing task until (docs/delivery-controls.md#quiet-hours). */
  deferred_until: Generated<string | null>;
  /** When a marketer's stop was acknowledged (docs/delivery-controls.md#stop); the task ends `stopped`. */
  stopped_at: Generated<string | null>;
  status: 'scheduled' | 'sending' | 'completed' | 'failed' | 'stopped';
  failure_reason: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  completed_at: string | null;
  /** When the retention job deleted the task's device results (docs/statistics.md#windows); null while they are held. */
  details_purged_at: string | null;
}

/** A task row as read. */
export type TaskRow = Selectable<TasksTable>;

/** A link between a task and a sub-campaign it serves. */
export interface TaskSubCampaignRow {
  task_id: string;
  sub_campaign_id: string;
}

/** Where a started task's send stands; one row per task that has left `scheduled`. */
export interface TaskDispatchRow {
  task_id: string;
  /** Last audience device ID taken into a batch (or counted unmatched); null before the first. */
  cursor: string | null;
  /** Batches written so far: the next batch's `seq` is this plus one. */
  batches: number;
  /** The provider error that stopped the send; the rest of the audience is recorded as failed with it. */
  send_error: string | null;
  updated_at: string;
}

/** One provider request of a task (CONTEXT.md "Batch"), written ahead before the provider sees it. */
export interface BatchRow {
  task_id: string;
  /** 1, 2, 3… within the task; the batch ID shown to users is derived from task ID and seq. */
  seq: number;
  /**
   * `prepared` (written ahead, maybe handed over), then `sent` or `failed` with its device results, or
   * `cancelled` when the task was stopped before the batch was handed over.
   */
  status: 'prepared' | 'sent' | 'failed' | 'cancelled';
  /** Inclusive range of audience device IDs the batch was taken from. */
  first_device_id: string;
  last_device_id: string;
  /** Matched devices in the range: the devices handed to the provider. */
  device_count: number;
  /** The provider's reference of the send (Umeng `task_id`/`msg_id`), for cancel and status. */
  provider_ref: string | null;
  /** The last provider error of the batch (kept after a successful retry too). */
  error_code: string | null;
  error_message: string | null;
  /** Calls made to the provider for this batch, retries and re-sends after a restart included. */
  attempts: number;
  created_at: string;
  sent_at: string | null;
}

/** One device's result in one task (docs/statistics.md#device-results): written once when its batch is recorded. */
export interface DeviceResultRow {
  task_id: string;
  device_id: string;
  /** The batch the device was handed over in; 0 for a device in no batch (`capped`, `cancelled`). */
  batch_seq: number;
  /** Channel the provider reached (or tried to reach) the device through. */
  channel: string;
  /** `capped` (frequency cap) and `cancelled` (stopped before hand-over): never handed over. */
  send_result: 'success' | 'failure' | 'no_feedback' | 'pending' | 'capped' | 'cancelled';
  failure_reason: string | null;
  delivered_at: string | null;
  impression_at: string | null;
  open_at: string | null;
  dismissal_at: string | null;
}

/**
 * A device handed a marketing task of an app (docs/delivery-controls.md#fatigue-control): what its
 * frequency cap counts; written when the batch is written ahead, purged after 7 days.
 */
export interface FrequencySendRow {
  app_id: string;
  device_id: string;
  /** When the batch holding the device was written ahead (ISO 8601). */
  sent_at: string;
  task_id: string;
  batch_seq: number;
}

/**
 * A task's breakdown kept when the retention job deleted its device results (docs/statistics.md#windows),
 * so that the per-channel counts and the timeline outlive them like the statistics.
 */
export interface KeptBreakdownRow {
  task_id: string;
  /** The breakdown answer (`results/device-result-schemas.ts` `Breakdown`) as JSON text. */
  breakdown: string;
  /** When it was counted: the as-of time of the purge that deleted the results (ISO 8601). */
  kept_at: string;
}

/** A batch the simulator provider accepted: its memory of hand-overs, so a repeat is recognised. */
export interface SimulatorBatchRow {
  batch_id: string;
  task_id: string;
  app_id: string;
  device_count: number;
  /** Times the batch was sent; only the first was a hand-over. */
  sends: number;
  accepted_at: string;
}

/** The kinds of receipt (CONTEXT.md): the provider reports deliveries and opens, the SDK impressions, opens and dismissals. */
export type ReceiptKind = 'delivered' | 'impression' | 'open' | 'dismissal';

/** A receipt for a device of a batch not recorded yet; applied when the batch is recorded. */
export interface HeldReceiptRow {
  task_id: string;
  batch_seq: number;
  device_id: string;
  kind: ReceiptKind;
  at: string;
  /** The channel the provider reported the device reached through (Umeng `channel`), if any. */
  channel?: string | null;
}

/** A provider callback item that could not be read, kept as received (JSON text). */
export interface UnreadableReceiptRow {
  id: string;
  app_id: string;
  received_at: string;
  payload: string;
  /** Bytes of `payload` (UTF-8): what the per-app cap counts. */
  payload_bytes: number;
}

/** Per app: what its kept unreadable receipts hold, and how many more were counted but not kept. */
export interface UnreadableReceiptCountRow {
  app_id: string;
  /** Rows of the app in `unreadable_receipts`. */
  stored_rows: number;
  /** Sum of their `payload_bytes`. */
  stored_bytes: number;
  /** Unreadable receipts counted but not kept because the app was at its cap. */
  dropped: number;
}

/** A late receipt counted in its task's `late` counter: one per (task, device, kind), so replays count once. */
export interface LateReceiptRow {
  task_id: string;
  device_id: string;
  kind: ReceiptKind;
}

/** A receipt the simulator will post when it is due (its outbox). */
export interface SimulatorReceiptRow {
  task_id: string;
  device_id: string;
  kind: ReceiptKind;
  app_id: string;
  channel: string;
  due_at: string;
  /** Until when a reporter that took the receipt to post it holds it; null: nobody does. */
  claimed_until: string | null;
}
