/**
 * Row builders for the store contract suites: complete rows with plain defaults, so that a test
 * names only what it is about.
 */

import { newAppSecrets } from '../src/apps/app-store.ts';
import type { AppRow, Db, TaskRow } from '../src/storage/database.ts';
import { UNSENT_TASK_COUNTERS } from '../src/tasks/task-store.ts';

/** A time `hours` after the start of 2026, as the stores keep times. */
export const at = (hours: number) => new Date(Date.UTC(2026, 0, 1) + hours * 3_600_000).toISOString();

/** An Android simulator app of `workspaceId`, created at `at(0)`. */
export function appRow(id: string, workspaceId: string, changes: Partial<AppRow> = {}): AppRow {
  return {
    id,
    workspace_id: workspaceId,
    name: id,
    platform: 'android',
    provider: 'simulator',
    provider_config: '{}',
    ...newAppSecrets(),
    frequency_cap: null,
    quiet_hours: null,
    created_at: at(0),
    updated_at: at(0),
    ...changes,
  };
}

/** A scheduled, immediate task of workspace `ws_1`, app `app_1` and audience `aud_1`, with zero statistics. */
export function taskRow(id: string, changes: Partial<TaskRow> = {}): TaskRow {
  return {
    id,
    workspace_id: 'ws_1',
    app_id: 'app_1',
    name: id,
    title: 'Title',
    content: 'Content',
    click_action: '{"type":"open_app"}',
    audience_id: 'aud_1',
    send_type: 'immediate',
    scheduled_at: null,
    ttl_seconds: 259_200,
    category: 'marketing',
    spread_minutes: null,
    deferred_until: null,
    stopped_at: null,
    status: 'scheduled',
    failure_reason: null,
    created_at: at(0),
    updated_at: at(0),
    started_at: null,
    completed_at: null,
    ...UNSENT_TASK_COUNTERS,
    ...changes,
  };
}

/**
 * Stores a ready, empty audience `id` of `workspaceId`, created at `at(0)`: a task can only be
 * written on a ready audience (task-store.ts).
 */
export async function insertReadyAudience(db: Db, id: string, workspaceId = 'ws_1'): Promise<void> {
  await db
    .insertInto('audiences')
    .values({
      id,
      workspace_id: workspaceId,
      name: id,
      source: 'api',
      status: 'ready',
      size: 0,
      file_name: null,
      source_task_id: null,
      source_filter: null,
      created_at: at(0),
    })
    .execute();
}
