import { describe, expect, test } from 'vitest';
import {
  buildPushPayload,
  type ClickAction,
  contentErrors,
  PAYLOAD_LIMIT_BYTES,
  type Platform,
  payloadBytes,
  scheduleErrors,
  type TaskContent,
} from '../src/domain/task-content.ts';

const TASK_ID = 'tsk_01jc5x0q8m4f7tq3wz9k2v6e1h';

function content(clickAction: ClickAction, overrides: Partial<TaskContent> = {}): TaskContent {
  return { title: 'Spring sale', content: 'Everything 20% off today', clickAction, ...overrides };
}

function fields(errors: { field: string }[]): string[] {
  return errors.map((e) => e.field);
}

/** Size of the payload whose body text is empty: what every byte of the content is added to. */
function baseBytes(platform: Platform, clickAction: ClickAction): number {
  return payloadBytes(buildPushPayload(platform, content(clickAction, { content: '' }), TASK_ID));
}

describe('click actions per platform', () => {
  const actions: Record<string, ClickAction> = {
    open_app: { type: 'open_app' },
    open_url: { type: 'open_url', url: 'https://example.com/sale?x=1' },
    open_page: { type: 'open_page', page: 'com.example.shop.PromoActivity' },
    custom: { type: 'custom', params: { screen: 'cart' } },
  };

  test.each([
    ['open_app', 'android', true],
    ['open_url', 'android', true],
    ['open_page', 'android', true],
    ['custom', 'android', true],
    ['open_app', 'ios', true],
    ['open_url', 'ios', false],
    ['open_page', 'ios', false],
    ['custom', 'ios', true],
  ] as const)('%s on %s is valid: %s', (type, platform, valid) => {
    const errors = contentErrors(content(actions[type] as ClickAction), platform, TASK_ID);
    if (valid) {
      expect(errors).toEqual([]);
    } else {
      expect(errors).toEqual([
        {
          field: 'clickAction.type',
          code: 'PLATFORM_UNSUPPORTED',
          params: { platform: 'ios' },
          message: `${type} is Android-only; on an iOS app use open_app or custom`,
        },
      ]);
    }
  });

  test('open_url needs an absolute http or https URL', () => {
    expect(fields(contentErrors(content({ type: 'open_url' }), 'android', TASK_ID))).toEqual([
      'clickAction.url',
    ]);
    for (const url of ['', '  ', 'example.com', 'ftp://example.com/x', 'javascript:alert(1)', 'https://']) {
      const errors = contentErrors(content({ type: 'open_url', url }), 'android', TASK_ID);
      expect(fields(errors), url).toEqual(['clickAction.url']);
    }
    expect(
      contentErrors(content({ type: 'open_url', url: 'http://a.example/x' }), 'android', TASK_ID),
    ).toEqual([]);
  });

  test('open_page needs an activity class name', () => {
    expect(contentErrors(content({ type: 'open_page' }), 'android', TASK_ID)).toEqual([
      {
        field: 'clickAction.page',
        code: 'REQUIRED',
        message: 'is required when clickAction.type is open_page (the Android activity to open)',
      },
    ]);
    expect(
      fields(contentErrors(content({ type: 'open_page', page: 'not a class' }), 'android', TASK_ID)),
    ).toEqual(['clickAction.page']);
    expect(contentErrors(content({ type: 'open_page', page: '.PromoActivity' }), 'android', TASK_ID)).toEqual(
      [],
    );
  });

  test('url and page are refused on actions that do not use them', () => {
    const errors = contentErrors(
      content({ type: 'open_app', url: 'https://example.com', page: 'com.example.A' }),
      'android',
      TASK_ID,
    );
    expect(fields(errors)).toEqual(['clickAction.url', 'clickAction.page']);
  });

  test("FCM's reserved data keys are refused on an FCM app only, in any case", () => {
    const params = { from: 'x', Message_Type: 'x', 'google.c': 'x', gcm_x: 'x', coupon: 'x', fromage: 'x' };
    const action = { type: 'open_app', params } as ClickAction;
    expect(fields(contentErrors(content(action), 'android', TASK_ID, 'fcm'))).toEqual([
      'clickAction.params.from',
      'clickAction.params.Message_Type',
      'clickAction.params.google.c',
      'clickAction.params.gcm_x',
    ]);
    expect(contentErrors(content(action), 'android', TASK_ID, 'fcm')[0]?.message).toMatch(
      /reserved by Firebase Cloud Messaging/,
    );
    expect(contentErrors(content(action), 'android', TASK_ID, 'umeng')).toEqual([]);
    expect(contentErrors(content(action), 'android', TASK_ID)).toEqual([]);
  });

  test('custom needs at least one parameter', () => {
    for (const action of [{ type: 'custom' }, { type: 'custom', params: {} }] as ClickAction[]) {
      expect(contentErrors(content(action), 'ios', TASK_ID)).toEqual([
        {
          field: 'clickAction.params',
          code: 'TOO_FEW',
          params: { limit: 1 },
          message: 'needs at least one parameter when clickAction.type is custom',
        },
      ]);
    }
  });

  test('params may accompany any action', () => {
    const params = { coupon: 'SPRING20' };
    expect(contentErrors(content({ type: 'open_app', params }), 'ios', TASK_ID)).toEqual([]);
    expect(
      contentErrors(content({ type: 'open_url', url: 'https://example.com', params }), 'android', TASK_ID),
    ).toEqual([]);
  });

  test('an unknown platform skips platform rules but still checks the rest', () => {
    const errors = contentErrors(content({ type: 'open_url' }, { title: ' ' }), undefined, TASK_ID);
    expect(fields(errors)).toEqual(['title', 'clickAction.url']);
  });
});

describe('params', () => {
  test('parameter names are checked one by one, each error naming its key', () => {
    const params = {
      ok_key: 'v',
      'with space': 'v',
      '9starts_with_digit': 'v',
      ['k'.repeat(65)]: 'v',
      pb_task: 'v',
      pb_anything: 'v',
    };
    const errors = contentErrors(content({ type: 'custom', params }), 'android', TASK_ID);
    expect(fields(errors)).toEqual([
      'clickAction.params.with space',
      'clickAction.params.9starts_with_digit',
      `clickAction.params.${'k'.repeat(65)}`,
      'clickAction.params.pb_task',
      'clickAction.params.pb_anything',
    ]);
    expect(errors[3]?.message).toBe('names starting with pb_ are reserved for Pushboard');
  });

  test('aps, d and p are reserved on iOS only', () => {
    const params = { aps: 'x', d: 'x', p: 'x', D: 'x' };
    expect(fields(contentErrors(content({ type: 'custom', params }), 'ios', TASK_ID))).toEqual([
      'clickAction.params.aps',
      'clickAction.params.d',
      'clickAction.params.p',
    ]);
    expect(contentErrors(content({ type: 'custom', params }), 'android', TASK_ID)).toEqual([]);
  });

  test('at most 50 parameters', () => {
    const params = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, '1']));
    expect(fields(contentErrors(content({ type: 'custom', params }), 'android', TASK_ID))).toEqual([
      'clickAction.params',
    ]);
  });
});

describe('title and content', () => {
  test('blank title and content are refused', () => {
    const errors = contentErrors(
      content({ type: 'open_app' }, { title: ' \t', content: '\n' }),
      'ios',
      TASK_ID,
    );
    expect(errors).toEqual([
      { field: 'title', code: 'BLANK', message: 'must not be blank' },
      { field: 'content', code: 'BLANK', message: 'must not be blank' },
    ]);
  });
});

describe('payload', () => {
  test('the Android payload follows the Umeng shape and carries the task ID in extra', () => {
    expect(
      buildPushPayload(
        'android',
        content({ type: 'open_url', url: 'https://e.x/', params: { a: '1' } }),
        TASK_ID,
      ),
    ).toEqual({
      display_type: 'notification',
      body: {
        ticker: 'Spring sale',
        title: 'Spring sale',
        text: 'Everything 20% off today',
        after_open: 'go_url',
        url: 'https://e.x/',
      },
      extra: { a: '1', pb_task: TASK_ID },
    });
    expect(buildPushPayload('android', content({ type: 'open_app' }), TASK_ID).body.after_open).toBe(
      'go_app',
    );
    const page = buildPushPayload('android', content({ type: 'open_page', page: 'com.e.A' }), TASK_ID);
    expect(page.body).toMatchObject({ after_open: 'go_activity', activity: 'com.e.A' });
    const custom = buildPushPayload('android', content({ type: 'custom', params: { s: 'cart' } }), TASK_ID);
    expect(custom.body).toMatchObject({ after_open: 'go_custom', custom: { s: 'cart' } });
    expect(custom.extra).toEqual({ s: 'cart', pb_task: TASK_ID });
  });

  test('the iOS payload has the aps alert and the params and task ID as custom keys', () => {
    expect(buildPushPayload('ios', content({ type: 'custom', params: { s: 'cart' } }), TASK_ID)).toEqual({
      aps: { alert: { title: 'Spring sale', body: 'Everything 20% off today' } },
      s: 'cart',
      pb_task: TASK_ID,
    });
  });

  test('payload size is counted in UTF-8 bytes of the JSON', () => {
    const ascii = buildPushPayload('ios', content({ type: 'open_app' }, { content: 'ab' }), TASK_ID);
    const chinese = buildPushPayload('ios', content({ type: 'open_app' }, { content: '推送' }), TASK_ID);
    expect(payloadBytes(chinese) - payloadBytes(ascii)).toBe(4); // 2 × 3 bytes instead of 2 × 1
  });

  test.each(['android', 'ios'] as const)('the %s payload limit is inclusive, to the byte', (platform) => {
    const action: ClickAction = { type: 'open_app', params: { coupon: 'SPRING20' } };
    const room = PAYLOAD_LIMIT_BYTES[platform] - baseBytes(platform, action);
    const fits = content(action, { content: 'a'.repeat(room) });
    expect(payloadBytes(buildPushPayload(platform, fits, TASK_ID))).toBe(PAYLOAD_LIMIT_BYTES[platform]);
    expect(contentErrors(fits, platform, TASK_ID)).toEqual([]);

    const over = content(action, { content: 'a'.repeat(room + 1) });
    expect(contentErrors(over, platform, TASK_ID)).toEqual([
      {
        field: 'content',
        code: 'PAYLOAD_TOO_LARGE',
        params: { bytes: PAYLOAD_LIMIT_BYTES[platform] + 1, limit: PAYLOAD_LIMIT_BYTES[platform], over: 1 },
        message: `is 1 byte too long: the ${platform} push payload would be ${PAYLOAD_LIMIT_BYTES[platform] + 1} bytes and the limit is ${PAYLOAD_LIMIT_BYTES[platform]}; shorten the title, content or parameters`,
      },
    ]);
  });

  test.each(['android', 'ios'] as const)(
    'Chinese text is counted as 3 bytes a character on %s',
    (platform) => {
      const action: ClickAction = { type: 'open_app' };
      const room = PAYLOAD_LIMIT_BYTES[platform] - baseBytes(platform, action);
      // Pad with ASCII so that whole Chinese characters end exactly on the limit.
      const chars = Math.floor(room / 3);
      const fits = content(action, { content: `${'a'.repeat(room - chars * 3)}${'推'.repeat(chars)}` });
      expect(payloadBytes(buildPushPayload(platform, fits, TASK_ID))).toBe(PAYLOAD_LIMIT_BYTES[platform]);
      expect(contentErrors(fits, platform, TASK_ID)).toEqual([]);

      const over = content(action, { content: `${fits.content}送` });
      const errors = contentErrors(over, platform, TASK_ID);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.message).toMatch(/^is 3 bytes too long/);
      // Far fewer characters than bytes: a character count would have let this through.
      expect(over.content.length).toBeLessThan(PAYLOAD_LIMIT_BYTES[platform]);
    },
  );

  test('the Android limit is lower than the iOS one for the same content', () => {
    const long = content({ type: 'open_app' }, { content: 'x'.repeat(1900) });
    expect(fields(contentErrors(long, 'android', TASK_ID))).toEqual(['content']);
    expect(contentErrors(long, 'ios', TASK_ID)).toEqual([]);
  });
});

describe('schedule', () => {
  const now = new Date('2026-05-01T08:00:00.000Z');

  test('an immediate task has no scheduledAt', () => {
    expect(scheduleErrors('immediate', null, now)).toEqual([]);
    expect(scheduleErrors('immediate', '2026-05-02T08:00:00.000Z', now)).toEqual([
      { field: 'scheduledAt', code: 'NOT_USED_HERE', message: 'must be left out when sendType is immediate' },
    ]);
  });

  test('a scheduled task needs a scheduledAt strictly in the future', () => {
    expect(scheduleErrors('scheduled', null, now)).toEqual([
      { field: 'scheduledAt', code: 'REQUIRED', message: 'is required when sendType is scheduled' },
    ]);
    expect(scheduleErrors('scheduled', '2026-05-01T08:00:00.001Z', now)).toEqual([]);
    expect(fields(scheduleErrors('scheduled', '2026-05-01T08:00:00.000Z', now))).toEqual(['scheduledAt']);
    expect(scheduleErrors('scheduled', '2026-04-30T08:00:00.000Z', now)[0]?.code).toBe('TIME_NOT_FUTURE');
    expect(scheduleErrors('scheduled', '2026-04-30T08:00:00.000Z', now)[0]?.message).toContain(
      'must be in the future',
    );
  });
});
