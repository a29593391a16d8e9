/**
 * Row types of every table, as Kysely sees them. Column names are snake_case in SQL and the words
 * of the glossary (CONTEXT.md). Times are ISO 8601 UTC strings (`2026-11-27T03:40:00.000Z`), which
 * sort correctly as text in every backend; booleans are 0/1 integers; JSON is stored as text.
 */
import type { Kysely } from 'kysely';

/** The Kysely handle every store is built on. */
export type Db = Kysely<Database>;

/** All tables. */
export interface Database {
  workspaces: WorkspaceRow;
  users: UserRow;
  memberships: MembershipRow;
  access_tokens: AccessTokenRow;
  login_failures: LoginFailureRow;
  apps: AppRow;
  devices: DeviceRow;
  device_imports: DeviceImportRow;
  device_import_rows: DeviceImportLineRow;
  audiences: AudienceRow;
  audience_members: AudienceMemberRow;
  campaigns: CampaignRow;
  sub_campaigns: SubCampaignRow;
  tasks: TaskRow;
  task_sub_campaigns: TaskSubCampaignRow;
}

/** Workspace role, from most to least powerful. */
export type Role = 'owner' | 'operator' | 'viewer';

export interface WorkspaceRow {
  id: string;
  name: string;
  created_at: string;
}

export interface UserRow {
  id: string;
  username: string;
  /** `scrypt$<salt b64>$<hash b64>`. */
  password_hash: string;
  /** 1 for the instance admin (may create users). */
  is_admin: number;
  created_at: string;
}

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

/** Consecutive failed logins per username, used to slow down password guessing. */
export interface LoginFailureRow {
  username: string;
  failures: number;
  last_failure_at: string;
}

export interface AppRow {
  id: string;
  workspace_id: string;
  name: string;
  platform: 'ios' | 'android';
  provider: 'simulator' | 'umeng';
  /** JSON of the provider config, credentials included (they are masked on every read). */
  provider_config: string;
  receipt_secret: string;
  sdk_key: string;
  sdk_secret: string;
  created_at: string;
  updated_at: string;
}

export interface DeviceRow {
  app_id: string;
  device_id: string;
  push_token: string;
  /** Delivery channel the device is reached through (`umeng`, `huawei`, `xiaomi`, `apns`…). */
  channel: string;
  created_at: string;
  updated_at: string;
}

/** One streamed device CSV import; its lines are staged until the whole file has been checked. */
export interface DeviceImportRow {
  id: string;
  app_id: string;
  status: 'staging' | 'applied' | 'rejected';
  created_at: string;
}

export interface DeviceImportLineRow {
  import_id: string;
  line: number;
  device_id: string;
  push_token: string;
  channel: string;
}

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

export interface AudienceMemberRow {
  audience_id: string;
  device_id: string;
}

export interface CampaignRow {
  id: string;
  workspace_id: string;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface SubCampaignRow {
  id: string;
  workspace_id: string;
  /** Null for an independent sub-campaign. */
  campaign_id: string | null;
  name: string;
  created_at: string;
  updated_at: string;
}

export interface TaskRow {
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
  status: 'scheduled' | 'sending' | 'completed' | 'failed';
  failure_reason: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  completed_at: string | null;
  planned_sends: number;
  unmatched: number;
  total_sent: number;
  deliveries: number;
  failures: number;
  no_feedback: number;
  impressions: number;
  opens: number;
  dismissals: number;
  pending: number;
  late: number;
}

export interface TaskSubCampaignRow {
  task_id: string;
  sub_campaign_id: string;
}
