/**
 * The size a task's push payload will have, so the form can warn while the marketer types. It is
 * the server's own rule (server/src/domain/task-content.ts: the provider payload's shape, its UTF-8
 * size and the per-platform limit), imported rather than copied so the two cannot drift; that module
 * and the error catalogue it imports are plain TypeScript with no Node API. The server's check stays
 * the one that decides.
 */

import {
  buildPushPayload,
  PAYLOAD_LIMIT_BYTES,
  payloadBytes,
} from '../../../../server/src/domain/task-content.ts';
import type { ClickAction, Platform } from '../../api/types.ts';

export { PAYLOAD_LIMIT_BYTES };

// A task ID has this many characters (`tsk_` + 26, server/src/ids.ts); the real one is part of the
// payload but does not exist before the task is created.
const TASK_ID_PLACEHOLDER = 'tsk_'.padEnd(30, '0');

/**
 * UTF-8 bytes of the payload a task with this content would send on `platform`. The texts are trimmed
 * as the server stores them (tasks/task-routes.ts), so the meter and the server's check count the same.
 */
export function taskPayloadBytes(
  platform: Platform,
  title: string,
  content: string,
  clickAction: ClickAction,
): number {
  const stored: ClickAction = {
    ...clickAction,
    ...(clickAction.url !== undefined && { url: clickAction.url.trim() }),
    ...(clickAction.page !== undefined && { page: clickAction.page.trim() }),
  };
  return payloadBytes(
    buildPushPayload(
      platform,
      { title: title.trim(), content: content.trim(), clickAction: stored },
      TASK_ID_PLACEHOLDER,
    ),
  );
}
