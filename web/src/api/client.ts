/**
 * The typed Pushboard API client: one function per endpoint the console calls, grouped by
 * capability, in the API's own words. Workspace-scoped calls take the workspace ID first.
 */
import { download, type ProgressHandler, request, streamEvents, upload } from './http.ts';
import type {
  ApiToken,
  App,
  AppCreate,
  AppUpdate,
  Audience,
  AudienceMatch,
  Campaign,
  CursorPage,
  Device,
  DeviceFilter,
  DeviceImportResult,
  DeviceListQuery,
  DeviceResult,
  LoginResult,
  Me,
  Member,
  Page,
  Role,
  ServerEvent,
  SubCampaign,
  Task,
  TaskBreakdown,
  TaskInput,
  TaskListQuery,
  TestPushAnswer,
  TestPushInput,
  User,
  Workspace,
} from './types.ts';

const ws = (workspaceId: string) => `/workspaces/${encodeURIComponent(workspaceId)}`;
const id = encodeURIComponent;

/** Largest page the API serves for its paged lists. */
export const MAX_PAGE_SIZE = 200;

export const api = {
  auth: {
    login: (username: string, password: string) =>
      request<LoginResult>('POST', '/auth/login', { body: { username, password } }),
    logout: () => request<void>('POST', '/auth/logout'),
    me: () => request<Me>('GET', '/auth/me'),
    /** Changes the caller's password (ending their other sessions); `token` when not yet signed in. */
    changePassword: (currentPassword: string, newPassword: string, token?: string) =>
      request<void>('POST', '/auth/password', { body: { currentPassword, newPassword }, token }),
    /** Ends all of the caller's sessions, this one included. */
    endSessions: () => request<void>('DELETE', '/auth/sessions'),
  },

  workspaces: {
    list: () => request<{ items: Workspace[] }>('GET', '/workspaces'),
    create: (name: string) => request<Workspace>('POST', '/workspaces', { body: { name } }),
    members: (w: string) => request<{ items: Member[] }>('GET', `${ws(w)}/members`),
    addMember: (w: string, username: string, role: Role) =>
      request<Member>('POST', `${ws(w)}/members`, { body: { username, role } }),
    setMemberRole: (w: string, username: string, role: Role) =>
      request<Member>('PATCH', `${ws(w)}/members/${id(username)}`, { body: { role } }),
    removeMember: (w: string, username: string) =>
      request<void>('DELETE', `${ws(w)}/members/${id(username)}`),
    tokens: (w: string) => request<{ items: ApiToken[] }>('GET', `${ws(w)}/tokens`),
    createToken: (w: string, name: string, role: Role) =>
      request<ApiToken>('POST', `${ws(w)}/tokens`, { body: { name, role } }),
    revokeToken: (w: string, tokenId: string) => request<void>('DELETE', `${ws(w)}/tokens/${id(tokenId)}`),
  },

  users: {
    list: () => request<{ items: User[] }>('GET', '/users'),
    create: (username: string, password: string) =>
      request<User>('POST', '/users', { body: { username, password } }),
    update: (username: string, changes: { password?: string; disabled?: boolean }) =>
      request<User>('PATCH', `/users/${id(username)}`, { body: changes }),
  },

  apps: {
    list: (w: string, page = 1, pageSize = MAX_PAGE_SIZE) =>
      request<Page<App>>('GET', `${ws(w)}/apps`, { query: { page, pageSize } }),
    get: (w: string, appId: string) => request<App>('GET', `${ws(w)}/apps/${id(appId)}`),
    create: (w: string, body: AppCreate) => request<App>('POST', `${ws(w)}/apps`, { body }),
    /** Renames an app and/or replaces its provider config (see `AppUpdate` for kept secrets). */
    update: (w: string, appId: string, body: AppUpdate) =>
      request<App>('PATCH', `${ws(w)}/apps/${id(appId)}`, { body }),
    remove: (w: string, appId: string) => request<void>('DELETE', `${ws(w)}/apps/${id(appId)}`),
    rotateSecrets: (w: string, appId: string) =>
      request<App>('POST', `${ws(w)}/apps/${id(appId)}/secrets/rotate`),
    devices: (w: string, appId: string, query: DeviceListQuery) =>
      request<Page<Device>>('GET', `${ws(w)}/apps/${id(appId)}/devices`, { query: { ...query } }),
    importDevices: (w: string, appId: string, file: File, onProgress: ProgressHandler) => {
      const form = new FormData();
      form.append('file', file, file.name);
      return upload<DeviceImportResult>(`${ws(w)}/apps/${id(appId)}/devices/import`, form, onProgress);
    },
  },

  audiences: {
    list: (w: string, page: number, pageSize: number, q?: string) =>
      request<Page<Audience>>('GET', `${ws(w)}/audiences`, { query: { page, pageSize, q } }),
    /** The audiences with how many of each a send to `appId` would match now. */
    listMatching: (w: string, appId: string, pageSize: number) =>
      request<Page<Audience>>('GET', `${ws(w)}/audiences`, {
        query: { page: 1, pageSize, matchAppId: appId },
      }),
    /** How many of an audience a send to `appId` would match now. */
    match: (w: string, audienceId: string, appId: string) =>
      request<AudienceMatch>('GET', `${ws(w)}/audiences/${id(audienceId)}/match`, { query: { appId } }),
    get: (w: string, audienceId: string) => request<Audience>('GET', `${ws(w)}/audiences/${id(audienceId)}`),
    createFromIds: (w: string, name: string, deviceIds: string[]) =>
      request<Audience>('POST', `${ws(w)}/audiences`, { body: { name, deviceIds } }),
    upload: (w: string, name: string, file: File, onProgress: ProgressHandler) => {
      const form = new FormData();
      form.append('name', name); // the name must come before the file
      form.append('file', file, file.name);
      return upload<Audience>(`${ws(w)}/audiences`, form, onProgress);
    },
    members: (w: string, audienceId: string, cursor: string | null, limit: number) =>
      request<CursorPage<{ deviceId: string }>>('GET', `${ws(w)}/audiences/${id(audienceId)}/members`, {
        query: { cursor, limit },
      }),
    remove: (w: string, audienceId: string) =>
      request<void>('DELETE', `${ws(w)}/audiences/${id(audienceId)}`),
  },

  campaigns: {
    list: (w: string) => request<Page<Campaign>>('GET', `${ws(w)}/campaigns`, { query: { pageSize: 200 } }),
    create: (w: string, name: string, description: string) =>
      request<Campaign>('POST', `${ws(w)}/campaigns`, { body: { name, description } }),
    update: (w: string, campaignId: string, body: { name?: string; description?: string }) =>
      request<Campaign>('PATCH', `${ws(w)}/campaigns/${id(campaignId)}`, { body }),
    remove: (w: string, campaignId: string) =>
      request<void>('DELETE', `${ws(w)}/campaigns/${id(campaignId)}`),
    subCampaigns: (w: string) =>
      request<Page<SubCampaign>>('GET', `${ws(w)}/sub-campaigns`, { query: { pageSize: 200 } }),
    createSubCampaign: (w: string, name: string, campaignId: string | null) =>
      request<SubCampaign>('POST', `${ws(w)}/sub-campaigns`, { body: { name, campaignId } }),
    updateSubCampaign: (w: string, subId: string, body: { name?: string; campaignId?: string | null }) =>
      request<SubCampaign>('PATCH', `${ws(w)}/sub-campaigns/${id(subId)}`, { body }),
    removeSubCampaign: (w: string, subId: string) =>
      request<void>('DELETE', `${ws(w)}/sub-campaigns/${id(subId)}`),
  },

  tasks: {
    list: (w: string, query: TaskListQuery) =>
      request<Page<Task>>('GET', `${ws(w)}/tasks`, { query: { ...query } }),
    get: (w: string, taskId: string) => request<Task>('GET', `${ws(w)}/tasks/${id(taskId)}`),
    create: (w: string, body: TaskInput) => request<Task>('POST', `${ws(w)}/tasks`, { body }),
    /** Creates a task whose audience is an uploaded ID file: the `task` JSON part goes first. */
    createWithFile: (
      w: string,
      body: Omit<TaskInput, 'audienceId'>,
      file: File,
      onProgress: ProgressHandler,
    ) => {
      const form = new FormData();
      form.append('task', JSON.stringify(body));
      form.append('file', file, file.name);
      return upload<Task>(`${ws(w)}/tasks/upload`, form, onProgress);
    },
    update: (w: string, taskId: string, body: Partial<TaskInput>) =>
      request<Task>('PATCH', `${ws(w)}/tasks/${id(taskId)}`, { body }),
    remove: (w: string, taskId: string) => request<void>('DELETE', `${ws(w)}/tasks/${id(taskId)}`),
    devices: (w: string, taskId: string, filter: DeviceFilter, cursor: string | null, limit: number) =>
      request<CursorPage<DeviceResult>>('GET', `${ws(w)}/tasks/${id(taskId)}/devices`, {
        query: { ...filter, cursor, limit },
      }),
    exportDevices: (w: string, taskId: string, filter: DeviceFilter) =>
      download(`${ws(w)}/tasks/${id(taskId)}/devices.csv`, { ...filter }, `${taskId}-devices.csv`),
    generateAudience: (w: string, taskId: string, name: string, filter: DeviceFilter) =>
      request<Audience>('POST', `${ws(w)}/tasks/${id(taskId)}/audiences`, { body: { name, filter } }),
    breakdown: (w: string, taskId: string) =>
      request<TaskBreakdown>('GET', `${ws(w)}/tasks/${id(taskId)}/breakdown`),
    /** Stops a sending task: no batch is handed over after it, the rest of its audience is cancelled. */
    stop: (w: string, taskId: string) => request<Task>('POST', `${ws(w)}/tasks/${id(taskId)}/stop`),
    /** Sends a scheduled task's content now to these devices; it counts in nothing. */
    test: (w: string, taskId: string, deviceIds: string[]) =>
      request<TestPushAnswer>('POST', `${ws(w)}/tasks/${id(taskId)}/test`, { body: { deviceIds } }),
    /** Follows the task's live statistics (`statistics` events, then `end`) until the stream ends. */
    events: (w: string, taskId: string, onEvent: (event: ServerEvent) => void, signal: AbortSignal) =>
      streamEvents(`${ws(w)}/tasks/${id(taskId)}/events`, onEvent, signal),
  },

  testPushes: {
    /** Sends content not saved yet (the task form's) to these devices now; it counts in nothing. */
    send: (w: string, body: TestPushInput) =>
      request<TestPushAnswer>('POST', `${ws(w)}/test-pushes`, { body }),
  },
};
