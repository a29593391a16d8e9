/**
 * What a task sends and when (docs/tasks.md#content-and-options): its title, content and click action, checked per
 * platform against the real provider payload (docs/providers.md#umeng), and its send type and schedule.
 * `buildPushPayload` is the one place the provider payload is shaped, so the size measured here is
 * exactly the size the dispatcher sends.
 */
import { type FieldError, validationError } from '../errors.ts';

/** The platform of an app; it decides which click actions exist and the payload shape. */
export type Platform = 'ios' | 'android';

/** Every click action type. */
export const CLICK_ACTION_TYPES = ['open_app', 'open_url', 'open_page', 'custom'] as const;

/** What tapping the notification does. */
export type ClickActionType = (typeof CLICK_ACTION_TYPES)[number];

/** A click action with its target; `params` (string → string) may accompany any type. */
export interface ClickAction {
  type: ClickActionType;
  /** `open_url` only: the http(s) URL to open. */
  url?: string;
  /** `open_page` only: the Android activity to open. */
  page?: string;
  params?: Record<string, string>;
}

/** Every task category (docs/tasks.md#delivery-options). */
export const TASK_CATEGORIES = ['marketing', 'service'] as const;

/**
 * Whether a task is a marketing push (promotions; fatigue-capped and held in quiet hours) or a
 * service push (about the user's own account or orders); Umeng `category` 0 and 1.
 */
export type TaskCategory = (typeof TASK_CATEGORIES)[number];

/** The part of a task that becomes the push payload, with the delivery options every provider receives. */
export interface TaskContent {
  title: string;
  content: string;
  clickAction: ClickAction;
  /**
   * How long the provider keeps trying to reach a device, in seconds (docs/tasks.md#delivery-options): Umeng
   * `policy.expire_time`, FCM `android.ttl`, APNs `apns-expiration`. `DEFAULT_TTL_SECONDS` when absent.
   */
  ttlSeconds?: number;
  /** `marketing` when absent. */
  category?: TaskCategory;
}

/** A task's time to live when none is given, in seconds: 3 days, Umeng's own default (docs/tasks.md#delivery-options). */
export const DEFAULT_TTL_SECONDS = 259_200;

/** Shortest time to live a task may ask for, in seconds: a push must outlive the request that carries it. */
export const MIN_TTL_SECONDS = 60;

/** Shortest pacing a task may ask for, in minutes (docs/delivery-controls.md#pacing). */
export const MIN_SPREAD_MINUTES = 1;

/** Longest pacing a task may ask for, in minutes: one day. */
export const MAX_SPREAD_MINUTES = 1440;

/**
 * Longest time to live each provider takes, in seconds. Umeng refuses an expiry more than 7 days
 * ahead (2040); FCM caps `android.ttl` at 28 days. APNs documents no maximum (it keeps one
 * notification per device "for a limited period"): 28 days is chosen, like FCM. The simulator takes
 * what FCM takes.
 */
export const MAX_TTL_SECONDS: Readonly<Record<'umeng' | 'fcm' | 'apns' | 'simulator', number>> =
  Object.freeze({
    umeng: 7 * 86_400,
    fcm: 28 * 86_400,
    apns: 28 * 86_400,
    simulator: 28 * 86_400,
  });

/** Whether a task is sent as soon as possible or at `scheduledAt`. */
export type SendType = 'immediate' | 'scheduled';

/** Largest provider payload per platform, in UTF-8 bytes of its JSON (Umeng: Android 1840, iOS 2012). */
export const PAYLOAD_LIMIT_BYTES: Readonly<Record<Platform, number>> = Object.freeze({
  android: 1840,
  ios: 2012,
});

/** The payload key carrying the Pushboard task ID, so the app's SDK can report receipts for the task. */
export const TASK_ID_KEY = 'pb_task';

/** Most parameters a click action may carry. */
export const MAX_PARAMS = 50;

/** Longest parameter name, in characters. */
export const MAX_PARAM_KEY_LENGTH = 64;

// Keys Pushboard adds to payloads start with this prefix (today only `pb_task`), so a parameter
// can never shadow one of them, now or in a later version.
const RESERVED_PREFIX = 'pb_';
// FCM refuses these `data` keys (any case) with INVALID_ARGUMENT, which would stop the whole send.
const FCM_RESERVED_KEYS = new Set(['from', 'message_type']);
const FCM_RESERVED_PREFIXES = ['google', 'gcm'];
// Umeng reserves `d` and `p` on iOS; `aps` is Apple's own dictionary.
const IOS_RESERVED_KEYS = new Set(['aps', 'd', 'p']);
const PARAM_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
// A fully qualified Java class name, optionally relative to the app package (`.PromoActivity`).
const ACTIVITY_NAME = /^\.?[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/;

/** The Umeng Android payload (docs/providers.md#umeng): a notification whose `extra` carries the params and the task ID. */
export interface AndroidPayload {
  display_type: 'notification';
  body: {
    ticker: string;
    title: string;
    text: string;
    after_open: 'go_app' | 'go_url' | 'go_activity' | 'go_custom';
    url?: string;
    activity?: string;
    custom?: Record<string, string>;
  };
  extra: Record<string, string>;
}

/** The Umeng iOS payload (docs/providers.md#umeng): the `aps` alert plus custom top-level keys, the task ID among them. */
export interface IosPayload {
  aps: { alert: { title: string; body: string } };
  [key: string]: unknown;
}

/** A provider payload of either platform. */
export type PushPayload = AndroidPayload | IosPayload;

const AFTER_OPEN: Record<ClickActionType, AndroidPayload['body']['after_open']> = {
  open_app: 'go_app',
  open_url: 'go_url',
  open_page: 'go_activity',
  custom: 'go_custom',
};

/**
 * The provider payload of a task for an app on `platform`. On Android the params go to `extra`
 * whatever the action, so the app reads them from one place; `go_custom` also needs them in
 * `custom`. iOS has no URL or page action (validation refuses them), so only params are carried.
 */
export function buildPushPayload(platform: 'android', content: TaskContent, taskId: string): AndroidPayload;
export function buildPushPayload(platform: 'ios', content: TaskContent, taskId: string): IosPayload;
export function buildPushPayload(platform: Platform, content: TaskContent, taskId: string): PushPayload;
export function buildPushPayload(platform: Platform, content: TaskContent, taskId: string): PushPayload {
  const { title, clickAction } = content;
  const params = clickAction.params ?? {};
  if (platform === 'ios') {
    // Params first, so that no parameter could ever overwrite `aps` or the task ID.
    return { ...params, aps: { alert: { title, body: content.content } }, [TASK_ID_KEY]: taskId };
  }
  const body: AndroidPayload['body'] = {
    ticker: title,
    title,
    text: content.content,
    after_open: AFTER_OPEN[clickAction.type],
  };
  if (clickAction.type === 'open_url') body.url = clickAction.url ?? '';
  if (clickAction.type === 'open_page') body.activity = clickAction.page ?? '';
  if (clickAction.type === 'custom') body.custom = params;
  return { display_type: 'notification', body, extra: { ...params, [TASK_ID_KEY]: taskId } };
}

/** Size of a payload as the provider counts it: UTF-8 bytes of its JSON. */
export function payloadBytes(payload: PushPayload): number {
  return new TextEncoder().encode(JSON.stringify(payload)).length;
}

function isFcmReserved(key: string): boolean {
  const lower = key.toLowerCase();
  return FCM_RESERVED_KEYS.has(lower) || FCM_RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

function clickActionErrors(
  action: ClickAction,
  platform: Platform | undefined,
  provider: string | undefined,
): FieldError[] {
  const errors: FieldError[] = [];
  const androidOnly = action.type === 'open_url' || action.type === 'open_page';
  if (androidOnly && platform === 'ios') {
    errors.push({
      field: 'clickAction.type',
      code: 'PLATFORM_UNSUPPORTED',
      params: { platform: 'ios' },
      message: `${action.type} is Android-only; on an iOS app use open_app or custom`,
    });
  }

  if (action.type === 'open_url') {
    if (action.url === undefined || action.url.trim() === '') {
      errors.push({
        field: 'clickAction.url',
        code: 'REQUIRED',
        message: 'is required when clickAction.type is open_url',
      });
    } else if (!isHttpUrl(action.url)) {
      errors.push({
        field: 'clickAction.url',
        code: 'URL_INVALID',
        message: 'must be an absolute http:// or https:// URL',
      });
    }
  } else if (action.url !== undefined) {
    errors.push({
      field: 'clickAction.url',
      code: 'NOT_USED_HERE',
      message: 'is only used by the open_url click action; remove it or change clickAction.type',
    });
  }

  if (action.type === 'open_page') {
    if (action.page === undefined || action.page.trim() === '') {
      errors.push({
        field: 'clickAction.page',
        code: 'REQUIRED',
        message: 'is required when clickAction.type is open_page (the Android activity to open)',
      });
    } else if (!ACTIVITY_NAME.test(action.page)) {
      errors.push({
        field: 'clickAction.page',
        code: 'FORMAT_INVALID',
        params: { format: 'com.example.app.PromoActivity' },
        message: 'must be an Android activity class name such as com.example.app.PromoActivity',
      });
    }
  } else if (action.page !== undefined) {
    errors.push({
      field: 'clickAction.page',
      code: 'NOT_USED_HERE',
      message: 'is only used by the open_page click action; remove it or change clickAction.type',
    });
  }

  const keys = Object.keys(action.params ?? {});
  if (action.type === 'custom' && keys.length === 0) {
    errors.push({
      field: 'clickAction.params',
      code: 'TOO_FEW',
      params: { limit: 1 },
      message: 'needs at least one parameter when clickAction.type is custom',
    });
  }
  if (keys.length > MAX_PARAMS) {
    errors.push({
      field: 'clickAction.params',
      code: 'TOO_MANY',
      params: { limit: MAX_PARAMS },
      message: `may hold at most ${MAX_PARAMS} parameters`,
    });
  }
  for (const key of keys) {
    const field = `clickAction.params.${key}`;
    if (key.length > MAX_PARAM_KEY_LENGTH || !PARAM_KEY.test(key)) {
      errors.push({
        field,
        code: 'FORMAT_INVALID',
        params: { format: `[A-Za-z_][A-Za-z0-9_.-]{0,${MAX_PARAM_KEY_LENGTH - 1}}` },
        message: `parameter names use letters, digits, _ . and -, start with a letter or _, and are at most ${MAX_PARAM_KEY_LENGTH} characters`,
      });
    } else if (key.startsWith(RESERVED_PREFIX)) {
      errors.push({
        field,
        code: 'RESERVED_NAME',
        message: `names starting with ${RESERVED_PREFIX} are reserved for Pushboard`,
      });
    } else if (platform === 'ios' && IOS_RESERVED_KEYS.has(key)) {
      errors.push({
        field,
        code: 'RESERVED_NAME',
        message: `${key} is a reserved key on iOS (reserved: aps, d, p)`,
      });
    } else if (provider === 'fcm' && isFcmReserved(key)) {
      errors.push({
        field,
        code: 'RESERVED_NAME',
        message: `${key} is reserved by Firebase Cloud Messaging (from, message_type and names starting with google or gcm); rename the parameter`,
      });
    }
  }
  return errors;
}

/**
 * Every problem with a task's content, as field errors (empty when valid). `platform` is the app's,
 * or undefined when the app is unknown: platform rules and the payload size are then skipped, since
 * the unknown app is reported on its own. `taskId` is the real ID, because it is part of the payload.
 * `provider` is the app's provider, for the parameter names one provider refuses (FCM's reserved keys).
 */
export function contentErrors(
  content: TaskContent,
  platform: Platform | undefined,
  taskId: string,
  provider?: string,
): FieldError[] {
  const errors: FieldError[] = [];
  if (content.title.trim() === '')
    errors.push({ field: 'title', code: 'BLANK', message: 'must not be blank' });
  if (content.content.trim() === '')
    errors.push({ field: 'content', code: 'BLANK', message: 'must not be blank' });
  errors.push(...clickActionErrors(content.clickAction, platform, provider));
  if (platform !== undefined) {
    const bytes = payloadBytes(buildPushPayload(platform, content, taskId));
    const limit = PAYLOAD_LIMIT_BYTES[platform];
    if (bytes > limit) {
      const over = bytes - limit;
      errors.push({
        field: 'content',
        code: 'PAYLOAD_TOO_LARGE',
        params: { bytes, limit, over },
        message: `is ${over} ${over === 1 ? 'byte' : 'bytes'} too long: the ${platform} push payload would be ${bytes} bytes and the limit is ${limit}; shorten the title, content or parameters`,
      });
    }
  }
  return errors;
}

/**
 * Every problem with a task's time to live for an app of `provider` (empty when valid); the maximum
 * is only known once the app is, so an unknown provider checks the minimum alone.
 */
export function ttlErrors(ttlSeconds: number, provider: string | undefined): FieldError[] {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < MIN_TTL_SECONDS) {
    return [
      {
        field: 'ttlSeconds',
        code: 'OUT_OF_RANGE',
        params: { min: MIN_TTL_SECONDS },
        message: `must be a whole number of seconds, at least ${MIN_TTL_SECONDS}`,
      },
    ];
  }
  const max =
    provider !== undefined && provider in MAX_TTL_SECONDS
      ? MAX_TTL_SECONDS[provider as keyof typeof MAX_TTL_SECONDS]
      : undefined;
  if (max !== undefined && ttlSeconds > max) {
    return [
      {
        field: 'ttlSeconds',
        code: 'OUT_OF_RANGE',
        params: { min: MIN_TTL_SECONDS, max },
        message: `is ${ttlSeconds} seconds, more than the ${max} (${max / 86_400} days) the app's provider ${provider} accepts`,
      },
    ];
  }
  return [];
}

/** Every problem with a task's send type and schedule relative to `now` (empty when valid). */
export function scheduleErrors(sendType: SendType, scheduledAt: string | null, now: Date): FieldError[] {
  if (sendType === 'immediate') {
    return scheduledAt === null
      ? []
      : [
          {
            field: 'scheduledAt',
            code: 'NOT_USED_HERE',
            message: 'must be left out when sendType is immediate',
          },
        ];
  }
  if (scheduledAt === null) {
    return [{ field: 'scheduledAt', code: 'REQUIRED', message: 'is required when sendType is scheduled' }];
  }
  const at = new Date(scheduledAt);
  if (Number.isNaN(at.getTime())) {
    return [
      {
        field: 'scheduledAt',
        code: 'FORMAT_INVALID',
        params: { format: '2026-05-01T09:00:00Z' },
        message: 'must be an ISO 8601 date-time such as 2026-05-01T09:00:00Z',
      },
    ];
  }
  if (at <= now) {
    return [
      {
        field: 'scheduledAt',
        code: 'TIME_NOT_FUTURE',
        message: `must be in the future (it is ${at.toISOString()}, now is ${now.toISOString()})`,
      },
    ];
  }
  return [];
}

/** Throws `VALIDATION_FAILED` listing every problem with a task's content on `platform`. */
export function assertValidContent(content: TaskContent, platform: Platform, taskId: string): void {
  const errors = contentErrors(content, platform, taskId);
  if (errors.length > 0) throw validationError(errors);
}
