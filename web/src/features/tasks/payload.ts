/**
 * The size a task's push payload will have, measured the way the server measures it (UTF-8 bytes
 * of the provider payload's JSON, server/src/domain/task-content.ts), so the form can warn while
 * the marketer types. The server's check stays the one that decides.
 */
import type { ClickAction, Platform } from '../../api/types.ts';

/** Largest provider payload per platform, in UTF-8 bytes (Umeng: Android 1840, iOS 2012). */
export const PAYLOAD_LIMIT_BYTES: Record<Platform, number> = { android: 1840, ios: 2012 };

// A task ID has this many characters (`tsk_` + 26); the real one is part of the payload.
const TASK_ID_PLACEHOLDER = 'tsk_'.padEnd(30, '0');

const AFTER_OPEN = { open_app: 'go_app', open_url: 'go_url', open_page: 'go_activity', custom: 'go_custom' };

/** UTF-8 bytes of the payload a task with this content would send on `platform`. */
export function payloadBytes(
  platform: Platform,
  title: string,
  content: string,
  action: ClickAction,
): number {
  const params = action.params ?? {};
  let payload: unknown;
  if (platform === 'ios') {
    payload = { ...params, aps: { alert: { title, body: content } }, pb_task: TASK_ID_PLACEHOLDER };
  } else {
    const body: Record<string, unknown> = {
      ticker: title,
      title,
      text: content,
      after_open: AFTER_OPEN[action.type],
    };
    if (action.type === 'open_url') body.url = action.url ?? '';
    if (action.type === 'open_page') body.activity = action.page ?? '';
    if (action.type === 'custom') body.custom = params;
    payload = { display_type: 'notification', body, extra: { ...params, pb_task: TASK_ID_PLACEHOLDER } };
  }
  return new TextEncoder().encode(JSON.stringify(payload)).length;
}
