/**
 * Finding the Pushboard task ID in a received push. Every send carries it as `pb_task`: at the top
 * of FCM's `data` map and Umeng's `extra` map (which apps usually get flat), and at the top of an
 * APNs `userInfo`. Apps hand over whatever their push library gives them, so the usual wrappers are
 * looked into as well.
 */

/** The key every Pushboard push carries its task ID under. */
export const TASK_ID_KEY = 'pb_task';

// Where push libraries put the custom map: FCM `data`, Umeng `extra`, Expo/RN wrappers `payload`,
// `notification.data`, `body`, and `custom` (some vendor channels).
const NESTED_KEYS = ['data', 'extra', 'payload', 'custom', 'body', 'notification', 'userInfo'];

/**
 * The Pushboard task ID of a push payload (`pb_task`, flat or nested under `data`, `extra`,
 * `userInfo`…; a JSON string is parsed first), or null when the push did not come from Pushboard.
 */
export function taskIdFromPayload(payload: unknown): string | null {
  return find(payload, 0);
}

function find(value: unknown, depth: number): string | null {
  if (depth > 4) return null;
  if (typeof value === 'string') {
    // Some bridges hand the map over as JSON text (Umeng's `extra` on some channels, RN bridges).
    const text = value.trim();
    if (!text.startsWith('{')) return null;
    try {
      return find(JSON.parse(text), depth + 1);
    } catch {
      return null;
    }
  }
  if (typeof value !== 'object' || value === null) return null;
  const map = value as Record<string, unknown>;
  const direct = map[TASK_ID_KEY];
  if (typeof direct === 'string' && direct.length > 0) return direct;
  if (typeof direct === 'number' && Number.isFinite(direct)) return String(direct);
  for (const key of NESTED_KEYS) {
    if (key in map) {
      const found = find(map[key], depth + 1);
      if (found !== null) return found;
    }
  }
  return null;
}
