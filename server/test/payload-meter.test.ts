/**
 * The task form's payload meter (web/src/features/tasks/payload.ts) and the server's check agree byte
 * for byte (issue #18: the meter said 2,713 while the server said 2,712). Each case is content as a
 * marketer types it (emoji, CJK, untrimmed text, custom parameters, a click action), grown until it is
 * just past the platform's limit; the real server, over HTTP, refuses it naming the payload's size in
 * the field problem's params, and that size is what the meter computes from the same input. One byte
 * less is accepted, so the limit itself agrees too.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ClickAction } from '../../web/src/api/types.ts';
import { taskPayloadBytes } from '../../web/src/features/tasks/payload.ts';
import { PAYLOAD_LIMIT_BYTES } from '../src/domain/task-content.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

let t: TestInstance;
const appIds: Record<'android' | 'ios', string> = { android: '', ios: '' };

beforeAll(async () => {
  t = await createTestInstance();
  for (const platform of ['android', 'ios'] as const) {
    const res = await t.request(t.adminToken, {
      method: 'POST',
      url: `/api/v1/workspaces/${t.workspaceId}/apps`,
      body: { name: `Meter ${platform}`, platform, provider: 'simulator' },
    });
    expect(res.statusCode).toBe(201);
    appIds[platform] = res.json().id;
  }
});
afterAll(async () => {
  await t.close();
});

interface Case {
  name: string;
  title: string;
  /** The content before it is grown; `unit` is appended until the payload passes the limit. */
  content: string;
  unit: string;
  clickAction: ClickAction;
  platforms: ('android' | 'ios')[];
}

const CASES: Case[] = [
  {
    name: 'emoji (surrogate pairs) and a ZWJ sequence',
    title: '🎉 Sale 👩‍👩‍👧',
    content: '',
    unit: '🔥',
    clickAction: { type: 'open_app' },
    platforms: ['android', 'ios'],
  },
  {
    name: 'CJK text with untrimmed spaces and newlines',
    title: '  双十一大促  ',
    content: '  限时\n',
    unit: '推',
    clickAction: { type: 'open_app' },
    platforms: ['android', 'ios'],
  },
  {
    name: 'quotes, backslashes and control characters JSON escapes',
    title: 'He said "hi" \\o/',
    content: 'tab\there\u0001',
    unit: '"\\',
    clickAction: { type: 'open_app' },
    platforms: ['android', 'ios'],
  },
  {
    name: 'custom parameters with CJK values',
    title: 'Coupon',
    content: 'x',
    unit: 'é',
    clickAction: { type: 'custom', params: { coupon: '满100减20', 'deep.link': 'app://shop/🛒' } },
    platforms: ['android', 'ios'],
  },
  {
    name: 'an open_url action with a padded URL and parameters',
    title: 'Open',
    content: 'y',
    unit: 'ü',
    clickAction: { type: 'open_url', url: '  https://example.com/活动?q=1  ', params: { src: 'push' } },
    platforms: ['android'],
  },
  {
    name: 'an open_page action',
    title: 'Page',
    content: '',
    unit: 'a',
    clickAction: { type: 'open_page', page: ' com.example.app.PromoActivity ' },
    platforms: ['android'],
  },
];

/** The server's answer to a test push of this content: the payload size it names, or 'accepted'. */
async function serverBytes(platform: 'android' | 'ios', c: Case, content: string): Promise<number | 'fits'> {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `/api/v1/workspaces/${t.workspaceId}/test-pushes`,
    body: {
      appId: appIds[platform],
      title: c.title,
      content,
      clickAction: c.clickAction,
      deviceIds: ['d-1'],
    },
  });
  if (res.statusCode === 200) return 'fits';
  expect(res.statusCode, res.body).toBe(400);
  const problems = res.json().error.details as { field: string; code: string; params?: { bytes: number } }[];
  const payload = problems.find((p) => p.code === 'PAYLOAD_TOO_LARGE');
  expect(payload, res.body).toBeDefined();
  return payload!.params!.bytes;
}

describe('the payload meter counts what the server counts', () => {
  for (const c of CASES) {
    for (const platform of c.platforms) {
      test(`${c.name} (${platform})`, async () => {
        const limit = PAYLOAD_LIMIT_BYTES[platform];
        const meter = (content: string) => taskPayloadBytes(platform, c.title, content, c.clickAction);
        let content = c.content;
        while (meter(content) <= limit) content += c.unit;
        const before = content.slice(0, -c.unit.length);

        expect(await serverBytes(platform, c, content)).toBe(meter(content));
        // The last content the meter shows within the limit is accepted by the server.
        expect(meter(before)).toBeLessThanOrEqual(limit);
        expect(await serverBytes(platform, c, before)).toBe('fits');
      });
    }
  }
});
