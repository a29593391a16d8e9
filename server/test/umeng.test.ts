/**
 * The `umeng` provider against a local fake of the U-Push API (fake-umeng.ts) that checks signatures,
 * timestamps and bodies as Umeng does.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { UmengConfig } from '../src/apps/provider-config.ts';
import { buildPushPayload, type ClickAction, type Platform } from '../src/domain/task-content.ts';
import {
  type BatchDevice,
  type ProviderApp,
  ProviderError,
  type ReceiptPostingProvider,
  type SendBatchRequest,
} from '../src/providers/provider.ts';
import { createUmengProvider, type UmengProviderOptions } from '../src/providers/umeng.ts';
import { type FakeUmeng, startFakeUmeng } from './fake-umeng.ts';

const APP_KEY = '5f8e2a1b9c3d4e5f6a7b8c9d';
const SECRET = 'umeng-master-secret-for-tests';
const TASK_ID = 'tsk_01jc5x0q8m4f7tq3wz9k2v6e1h';
const BATCH_ID = 'tsk_01jc5x0q8m4f7tq3wz9k2v6e1h-b0001';
const RECEIPT_URL = 'https://push.example.com/api/v1/receipts/umeng/app_01jc5x0q8m4f7tq3wz9k2v6e1h';

let fake: FakeUmeng;
// One clock for the provider and the fake, so that timestamps agree unless a test says otherwise.
let clock: { now: Date };

beforeEach(async () => {
  clock = { now: new Date() };
  fake = await startFakeUmeng({
    apps: [{ appKey: APP_KEY, appMasterSecret: SECRET }],
    now: () => clock.now.getTime(),
  });
});

afterEach(async () => {
  await fake.close();
});

function provider(options: UmengProviderOptions = {}): ReceiptPostingProvider {
  // The fake listens on loopback: the deployment's allowlist names it (SPEC §4.1).
  return createUmengProvider({
    clock: () => clock.now,
    timeoutMs: 5_000,
    urlAllowlist: ['http://127.0.0.1:'],
    ...options,
  });
}

function umengApp(platform: Platform = 'android', config: Partial<UmengConfig> = {}): ProviderApp {
  return {
    id: 'app_01jc5x0q8m4f7tq3wz9k2v6e1h',
    platform,
    provider: 'umeng',
    config: { appKey: APP_KEY, appMasterSecret: SECRET, baseUrl: fake.baseUrl, ...config },
  };
}

/** Realistic tokens: 44 characters on Android, 64 hex digits on iOS. */
function token(i: number, platform: Platform = 'android'): string {
  return platform === 'ios'
    ? i.toString(16).padStart(64, '0')
    : `Aq${String(i).padStart(6, '0')}`.padEnd(44, 'x');
}

function devices(count: number, platform: Platform = 'android'): BatchDevice[] {
  return Array.from({ length: count }, (_, i) => ({
    deviceId: `device-${i}`,
    pushToken: token(i, platform),
    channel: 'umeng',
  }));
}

function request(overrides: Partial<SendBatchRequest> = {}): SendBatchRequest {
  return {
    app: umengApp(),
    taskId: TASK_ID,
    batchId: BATCH_ID,
    content: { title: 'Spring sale', content: 'Everything 20% off today', clickAction: { type: 'open_app' } },
    devices: devices(3),
    sendAt: null,
    receiptUrl: RECEIPT_URL,
    ...overrides,
  };
}

/** The body of the only send the fake received. */
function sentBody(): Record<string, unknown> {
  const sends = fake.requestsTo('/api/send');
  expect(sends).toHaveLength(1);
  return sends[0]!.body!;
}

async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe('signing', () => {
  test('every call is signed as md5("POST" + url + body + app master secret) over the exact body sent', async () => {
    await provider().sendBatch(request({ devices: devices(501) }));
    expect(fake.requests.map((r) => r.path)).toEqual(['/upload', '/api/send']);
    for (const recorded of fake.requests) {
      const expected = createHash('md5')
        .update(`POST${fake.baseUrl}${recorded.path}${recorded.raw}${SECRET}`, 'utf8')
        .digest('hex');
      expect(recorded.sign).toBe(expected);
      expect(recorded.body?.appkey).toBe(APP_KEY);
      expect(recorded.body?.timestamp).toBe(String(clock.now.getTime()));
      expect(recorded.answer?.status).toBe(200);
    }
  });

  test('a trailing slash in the base URL does not change what is signed', async () => {
    const app = umengApp('android', { baseUrl: `${fake.baseUrl}/` });
    await provider().sendBatch(request({ app }));
    expect(fake.requests[0]!.answer?.status).toBe(200);
  });

  test('a wrong app master secret is refused by Umeng as a bad signature, not retried', async () => {
    const app = umengApp('android', { appMasterSecret: 'not-the-secret' });
    const error = await providerError(provider().sendBatch(request({ app })));
    expect(error).toMatchObject({ code: '2027', retryable: false });
    expect(error.message).toContain("check the app's master secret");
  });

  test('an unknown appKey is 2007 "bad appKey or app master secret", not retried', async () => {
    const app = umengApp('android', { appKey: 'unknown-app-key' });
    const error = await providerError(provider().sendBatch(request({ app })));
    expect(error).toMatchObject({ code: '2007', retryable: false });
    expect(error.message).toContain("bad appKey or app master secret — check the app's Umeng credentials");
  });

  test('a server clock more than 10 minutes behind Umeng gets 2028, not retried', async () => {
    const behind = new Date(clock.now.getTime() - 11 * 60 * 1000);
    const error = await providerError(provider({ clock: () => behind }).sendBatch(request()));
    expect(error).toMatchObject({ code: '2028', retryable: false });
    expect(error.message).toContain("check this server's clock");
  });
});

describe('batches', () => {
  test('500 tokens go out as one listcast with comma-separated device_tokens', async () => {
    const batch = devices(500);
    const result = await provider().sendBatch(request({ devices: batch }));
    expect(fake.requestsTo('/upload')).toHaveLength(0);
    const body = sentBody();
    expect(body.type).toBe('listcast');
    expect(body.device_tokens).toBe(batch.map((d) => d.pushToken).join(','));
    expect(body.policy).toBeUndefined(); // out_biz_no and start_time are for task-type sends only
    expect(result.providerRef).toBe(fake.sends[0]!.ref);
    expect(result.providerRef).toMatch(/^uu/);
  });

  test('501 tokens are uploaded as a file and sent as a filecast keyed by the batch ID', async () => {
    const batch = devices(501);
    const result = await provider().sendBatch(request({ devices: batch }));
    const [upload] = fake.requestsTo('/upload');
    expect(upload!.body!.content).toBe(batch.map((d) => d.pushToken).join('\n'));
    const fileId = (upload!.answer!.body as { data: { file_id: string } }).data.file_id;
    const body = sentBody();
    expect(body).toMatchObject({ type: 'filecast', file_id: fileId, policy: { out_biz_no: BATCH_ID } });
    expect(body.device_tokens).toBeUndefined();
    expect(result.providerRef).toBe(fake.sends[0]!.ref);
    expect(fake.sends[0]!.tokens).toHaveLength(501);
  });

  test('every device Umeng accepts is no_feedback on Android and success on iOS', async () => {
    const android = await provider().sendBatch(request({ devices: devices(3) }));
    expect(android.outcomes).toEqual([
      { deviceId: 'device-0', sendResult: 'no_feedback' },
      { deviceId: 'device-1', sendResult: 'no_feedback' },
      { deviceId: 'device-2', sendResult: 'no_feedback' },
    ]);
    const ios = await provider().sendBatch(request({ app: umengApp('ios'), devices: devices(501, 'ios') }));
    expect(ios.outcomes).toHaveLength(501);
    expect(ios.outcomes.every((o) => o.sendResult === 'success')).toBe(true);
  });

  test('the same filecast batch sent again reaches no device a second time', async () => {
    const first = await provider().sendBatch(request({ devices: devices(600) }));
    const again = await provider().sendBatch(request({ devices: devices(600) }));
    expect(again.providerRef).toBe(first.providerRef);
    expect(
      fake.requestsTo('/api/send').map((r) => (r.body!.policy as { out_biz_no: string }).out_biz_no),
    ).toEqual([BATCH_ID, BATCH_ID]);
    expect(fake.sends).toHaveLength(1);
  });

  test('a filecast whose answer was lost is retryable, and its repeat is deduplicated by out_biz_no', async () => {
    fake.script('/api/send', { hang: true, afterHandling: true });
    const error = await providerError(
      provider({ timeoutMs: 50 }).sendBatch(request({ devices: devices(501) })),
    );
    expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true });
    const retry = await provider().sendBatch(request({ devices: devices(501) }));
    expect(retry.providerRef).toBe(fake.sends[0]!.ref);
    expect(fake.sends).toHaveLength(1);
  });

  test('a listcast whose answer was lost is not retried, because Umeng cannot deduplicate a listcast', async () => {
    fake.script('/api/send', { hang: true, afterHandling: true });
    const error = await providerError(provider({ timeoutMs: 50 }).sendBatch(request()));
    expect(error).toMatchObject({ code: 'TIMEOUT', retryable: false });
    expect(error.message).toContain('no device may receive the push twice');
    expect(fake.sends).toHaveLength(1); // it did go out: a repeat would have sent it twice
  });

  test('a listcast-sized batch resent after a restart is refused, not sent again', async () => {
    const error = await providerError(provider().sendBatch({ ...request(), resend: true }));
    expect(error).toMatchObject({ code: 'RESEND_UNSAFE', retryable: false });
    expect(fake.requestsTo('/api/send')).toHaveLength(0);
  });

  test('a filecast-sized batch resent after a restart is repeated under its out_biz_no', async () => {
    await provider().sendBatch(request({ devices: devices(600) }));
    await provider().sendBatch({ ...request({ devices: devices(600) }), resend: true });
    expect(fake.sends).toHaveLength(1);
  });

  test('a scheduled batch is a filecast with start_time in Beijing time, even for a few devices', async () => {
    clock.now = new Date('2026-05-01T00:00:00Z');
    const sendAt = new Date('2026-05-01T19:30:00Z');
    const result = await provider().sendBatch(request({ devices: devices(2), sendAt }));
    expect(sentBody()).toMatchObject({
      type: 'filecast',
      policy: { out_biz_no: BATCH_ID, start_time: '2026-05-02 03:30:00' },
    });
    expect(fake.tasks.get(result.providerRef!)?.status).toBe(7);
  });

  test('a sendAt already past is sent now', async () => {
    const sendAt = new Date(clock.now.getTime() - 1_000);
    await provider().sendBatch(request({ sendAt }));
    expect(sentBody()).toMatchObject({ type: 'listcast' });
    expect(sentBody().policy).toBeUndefined();
  });

  test('production_mode follows the app config as "true"/"false", Umeng\'s default being production', async () => {
    const modes: (boolean | undefined)[] = [false, true, undefined];
    for (const productionMode of modes) {
      await provider().sendBatch(request({ app: umengApp('android', { productionMode }) }));
    }
    expect(fake.requestsTo('/api/send').map((r) => r.body!.production_mode)).toEqual([
      'false',
      'true',
      'true',
    ]);
  });

  test('every send asks for arrival and click receipts at the receipt URL and names the task', async () => {
    await provider().sendBatch(request({ devices: devices(501) }));
    const body = sentBody();
    expect(body).toMatchObject({ receipt_url: RECEIPT_URL, receipt_type: 3 });
    expect(body.description).toBe(`Pushboard pb_task=${TASK_ID} batch=${BATCH_ID}`);
  });

  test('a receipt URL over 256 bytes is refused before anything is sent', async () => {
    const receiptUrl = `https://push.example.com/${'r'.repeat(240)}`;
    const error = await providerError(provider().sendBatch(request({ receiptUrl })));
    expect(error).toMatchObject({ code: 'RECEIPT_URL_TOO_LONG', retryable: false });
    expect(error.message).toContain('at most 256');
    expect(fake.requests).toHaveLength(0);
  });

  test('a payload over the platform limit is refused before anything is sent', async () => {
    const content = { title: 'Sale', content: 'x'.repeat(2000), clickAction: { type: 'open_app' } as const };
    const error = await providerError(provider().sendBatch(request({ content })));
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', retryable: false });
    expect(fake.requests).toHaveLength(0);
  });

  test('an empty batch sends nothing', async () => {
    expect(await provider().sendBatch(request({ devices: [] }))).toEqual({ providerRef: null, outcomes: [] });
    expect(fake.requests).toHaveLength(0);
  });

  test('a token that would break the token list fails alone; devices sharing a token each get its outcome', async () => {
    const batch: BatchDevice[] = [
      { deviceId: 'a', pushToken: token(1), channel: 'umeng' },
      { deviceId: 'b', pushToken: `${token(2)},${token(3)}`, channel: 'umeng' },
      { deviceId: 'c', pushToken: token(1), channel: 'huawei' },
    ];
    const result = await provider().sendBatch(request({ devices: batch }));
    expect(sentBody().device_tokens).toBe(token(1));
    expect(result.outcomes).toEqual([
      {
        deviceId: 'b',
        sendResult: 'failure',
        failureReason: expect.stringContaining('invalid device token'),
      },
      { deviceId: 'a', sendResult: 'no_feedback' },
      { deviceId: 'c', sendResult: 'no_feedback' },
    ]);
  });
});

describe('payloads', () => {
  const actions: [Platform, ClickAction, Record<string, unknown>][] = [
    ['android', { type: 'open_app' }, { body: { after_open: 'go_app' } }],
    [
      'android',
      { type: 'open_url', url: 'https://shop.example.com/sale' },
      { body: { after_open: 'go_url', url: 'https://shop.example.com/sale' } },
    ],
    [
      'android',
      { type: 'open_page', page: 'com.example.shop.PromoActivity' },
      { body: { after_open: 'go_activity', activity: 'com.example.shop.PromoActivity' } },
    ],
    [
      'android',
      { type: 'custom', params: { screen: 'cart' } },
      { body: { after_open: 'go_custom', custom: { screen: 'cart' } }, extra: { screen: 'cart' } },
    ],
    ['ios', { type: 'open_app' }, { aps: { alert: { title: 'Spring sale' } } }],
    ['ios', { type: 'custom', params: { screen: 'cart' } }, { screen: 'cart' }],
  ];

  test.each(actions)(
    'on %s, click action %o is sent as Umeng expects, with pb_task',
    async (platform, clickAction, shape) => {
      const content = { title: 'Spring sale', content: 'Everything 20% off today', clickAction };
      // Both send types carry the same payload.
      for (const count of [2, 501]) {
        await provider().sendBatch(
          request({ app: umengApp(platform), content, devices: devices(count, platform) }),
        );
      }
      const payloads = fake.requestsTo('/api/send').map((r) => r.body!.payload);
      expect(payloads).toHaveLength(2);
      for (const payload of payloads) {
        expect(payload).toEqual(buildPushPayload(platform, content, TASK_ID));
        expect(payload).toMatchObject(shape);
        const taskKey = platform === 'ios' ? payload : (payload as { extra: unknown }).extra;
        expect(taskKey).toMatchObject({ pb_task: TASK_ID });
      }
    },
  );
});

describe('per-token failures', () => {
  test('tokens Umeng refuses fail with a readable reason and the others are sent', async () => {
    fake.refuseTokens({ [token(0)]: '4020', [token(2)]: '4014' });
    const result = await provider().sendBatch(request({ devices: devices(3) }));
    expect(result.providerRef).toBe(fake.sends[0]!.ref);
    expect(fake.sends[0]!.tokens).toEqual([token(1)]);
    expect(result.outcomes).toEqual([
      {
        deviceId: 'device-0',
        sendResult: 'failure',
        failureReason: 'invalid device token',
        invalidToken: '4020',
      },
      { deviceId: 'device-1', sendResult: 'no_feedback' },
      {
        deviceId: 'device-2',
        sendResult: 'failure',
        failureReason: 'device token belongs to another Umeng app',
        invalidToken: '4014',
      },
    ]);
  });

  test('when Umeng refuses every token, every device fails and nothing is referenced', async () => {
    fake.refuseTokens({ [token(0)]: '4020', [token(1)]: '4020' });
    const result = await provider().sendBatch(request({ devices: devices(2) }));
    expect(result.providerRef).toBeNull();
    expect(result.outcomes.map((o) => [o.sendResult, o.failureReason, o.invalidToken])).toEqual([
      ['failure', 'invalid device token', '4020'],
      ['failure', 'invalid device token', '4020'],
    ]);
  });

  test('a one-token send refused with 4020 marks that token invalid even when Umeng lists none', async () => {
    fake.script('/api/send', { code: '4020', message: 'invalid device_token' });
    const result = await provider().sendBatch(request({ devices: devices(1) }));
    expect(result.outcomes).toEqual([
      expect.objectContaining({ deviceId: 'device-0', sendResult: 'failure', invalidToken: '4020' }),
    ]);
  });

  test('refused tokens listed as plain text take the reason of the answer code', async () => {
    fake.refuseTokens({ [token(1)]: '4020' }, 'csv');
    const result = await provider().sendBatch(request({ devices: devices(3) }));
    expect(result.outcomes[1]).toEqual({
      deviceId: 'device-1',
      sendResult: 'failure',
      failureReason: 'device token rejected by Umeng',
    });
    expect(result.outcomes.filter((o) => o.sendResult === 'no_feedback')).toHaveLength(2);
  });

  test('an "all tokens failed" answer that names none fails every device', async () => {
    fake.refuseTokens({ [token(0)]: '4020' }, 'none');
    const result = await provider().sendBatch(request({ devices: devices(1) }));
    expect(result.outcomes).toEqual([
      { deviceId: 'device-0', sendResult: 'failure', failureReason: 'device token rejected by Umeng' },
    ]);
  });

  test('a "some tokens failed" answer that names none counts the batch as sent', async () => {
    fake.refuseTokens({ [token(0)]: '4020' }, 'none');
    const result = await provider().sendBatch(request({ devices: devices(2) }));
    expect(result.providerRef).toBe(fake.sends[0]!.ref);
    expect(result.outcomes.map((o) => o.sendResult)).toEqual(['no_feedback', 'no_feedback']);
  });
});

describe('errors', () => {
  test.each([
    ['2026', true, 'too many sends per minute'],
    ['4001', true, 'Umeng is busy'],
    ['4000', true, 'Umeng system error'],
    ['2020', true, 'upgrading'],
    ['2007', false, "bad appKey or app master secret — check the app's Umeng credentials"],
    ['2022', false, 'payload is too long'],
    ['2000', false, 'the app is disabled on Umeng'],
    ['1003', false, 'Umeng refused a field of the request'],
    ['5001', false, 'APNs refused the push'],
  ])('Umeng %s is a batch error, retryable: %s', async (code, retryable, words) => {
    for (const count of [3, 501]) {
      fake.script('/api/send', { code, message: 'from Umeng' });
      const error = await providerError(provider().sendBatch(request({ devices: devices(count) })));
      expect(error).toMatchObject({ code, retryable });
      expect(error.message).toContain(words);
      expect(error.message).toContain(`Umeng ${code}: from Umeng`);
    }
    expect(fake.sends).toHaveLength(0);
  });

  test("an unknown code keeps Umeng's own message and is not retried", async () => {
    fake.script('/api/send', { code: '3999', message: 'something new' });
    const error = await providerError(provider().sendBatch(request()));
    expect(error).toMatchObject({
      code: '3999',
      retryable: false,
      message: 'Umeng error 3999: something new',
    });
  });

  test("Umeng's message never carries a request text back: not split by control characters, not cut off after padding", async () => {
    for (const message of [
      `bad ${SECRET.slice(0, 12)}\u0001${SECRET.slice(12)} and ${APP_KEY.slice(0, 9)}\n\t\u0007${APP_KEY.slice(9)}`,
      // Each app key becomes one "…", so a secret past the end of a cut of the raw text moves into view.
      `${APP_KEY.repeat(133)}${SECRET}`,
    ]) {
      fake.script('/api/send', { code: '3999', message });
      const error = await providerError(provider().sendBatch(request()));
      expect(error.code).toBe('3999');
      expect(error.message).toMatch(/^Umeng error 3999: /);
      for (const text of [SECRET, APP_KEY]) {
        for (const part of [text.slice(0, 6), text.slice(-6)]) expect(error.message).not.toContain(part);
      }
      expect(error.message).not.toMatch(/\p{Cc}/u);
      expect(error.message.length).toBeLessThanOrEqual(250);
    }
  });

  test('a refused upload fails the batch with its mapped error', async () => {
    fake.script('/upload', { code: '2026' });
    const error = await providerError(provider().sendBatch(request({ devices: devices(501) })));
    expect(error).toMatchObject({ code: '2026', retryable: true });
    expect(fake.requestsTo('/api/send')).toHaveLength(0);
  });

  test('a timeout before Umeng acted is retryable for a filecast', async () => {
    fake.script('/api/send', { hang: true });
    const error = await providerError(
      provider({ timeoutMs: 50 }).sendBatch(request({ devices: devices(501) })),
    );
    expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(error.message).toContain('within 50 ms');
  });

  test('HTTP 500 without a U-Push answer is retryable for a filecast but not for a listcast', async () => {
    fake.script('/api/send', { httpStatus: 500, body: 'Internal Server Error' }, 2);
    const filecast = await providerError(provider().sendBatch(request({ devices: devices(501) })));
    expect(filecast).toMatchObject({ code: 'HTTP_500', retryable: true });
    const listcast = await providerError(provider().sendBatch(request()));
    expect(listcast).toMatchObject({ code: 'HTTP_500', retryable: false });
  });

  test('HTTP 500 carrying a Umeng FAIL answer is an explicit refusal, retryable even for a listcast', async () => {
    fake.script('/api/send', { code: '4001', httpStatus: 500 });
    const error = await providerError(provider().sendBatch(request()));
    expect(error).toMatchObject({ code: '4001', retryable: true });
  });

  test('a redirect is not followed: the credentials and the receipt URL go nowhere else, the batch fails saying why', async () => {
    const elsewhere: string[] = [];
    const other = http.createServer((req, res) => {
      elsewhere.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ret":"SUCCESS","data":{"msg_id":"stolen"}}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const { port } = other.address() as AddressInfo;
    try {
      for (const status of [307, 308, 302] as const) {
        for (const count of [3, 501]) {
          const path = count > 500 ? '/upload' : '/api/send';
          fake.script(path, { redirect: status, location: `http://127.0.0.1:${port}${path}` });
          const error = await providerError(provider().sendBatch(request({ devices: devices(count) })));
          expect(error).toMatchObject({ code: `HTTP_${status}`, retryable: false });
          expect(error.message).toContain(`redirect (HTTP ${status})`);
          expect(error.message).toContain('not followed');
        }
      }
      expect(elsewhere).toEqual([]);
      expect(fake.sends).toHaveLength(0);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  test('HTTP 404 means a wrong base URL and is not retried', async () => {
    const app = umengApp('android', { baseUrl: `${fake.baseUrl}/wrong` });
    const error = await providerError(provider().sendBatch(request({ app })));
    expect(error).toMatchObject({ code: 'HTTP_404', retryable: false });
    expect(error.message).toContain('base URL');
  });

  test('a refused connection is a retryable network error even for a listcast: nothing left', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const app = umengApp('android', { baseUrl: `http://127.0.0.1:${port}` });
    const error = await providerError(provider().sendBatch(request({ app })));
    expect(error).toMatchObject({ code: 'NETWORK', retryable: true });
  });

  test('a connection lost mid-call is retryable for a filecast but not for a listcast', async () => {
    const lost: typeof fetch = async (input, init) => {
      if (String(input).includes('/api/send')) {
        const cause = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
        throw new TypeError('fetch failed', { cause });
      }
      return fetch(input, init);
    };
    const filecast = await providerError(
      provider({ fetch: lost }).sendBatch(request({ devices: devices(501) })),
    );
    expect(filecast).toMatchObject({ code: 'NETWORK', retryable: true });
    expect(filecast.message).toContain('other side closed');
    const listcast = await providerError(provider({ fetch: lost }).sendBatch(request()));
    expect(listcast).toMatchObject({ code: 'NETWORK', retryable: false });
  });

  test('an app of another provider is refused', async () => {
    const app: ProviderApp = { id: 'app_x', platform: 'android', provider: 'simulator', config: {} };
    const error = await providerError(provider().sendBatch(request({ app })));
    expect(error).toMatchObject({ code: 'WRONG_PROVIDER', retryable: false });
  });
});

describe('cancel', () => {
  async function scheduled(): Promise<string> {
    clock.now = new Date('2026-05-01T00:00:00Z');
    const sendAt = new Date('2026-05-01T08:00:00Z');
    const result = await provider().sendBatch(request({ sendAt }));
    return result.providerRef!;
  }

  test('cancel stops a scheduled filecast by its task_id', async () => {
    const taskId = await scheduled();
    await provider().cancel(umengApp(), taskId);
    const [cancel] = fake.requestsTo('/api/cancel');
    expect(Object.keys(cancel!.body!).sort()).toEqual(['appkey', 'task_id', 'timestamp']);
    expect(cancel!.body!.task_id).toBe(taskId);
    expect(fake.tasks.get(taskId)?.status).toBe(4);
  });

  test('cancelling an already cancelled task succeeds', async () => {
    const taskId = await scheduled();
    await provider().cancel(umengApp(), taskId);
    await provider().cancel(umengApp(), taskId);
    expect(fake.requestsTo('/api/status')).toHaveLength(1);
  });

  test('a task already sent cannot be cancelled: 2014 with its state, not retried', async () => {
    const result = await provider().sendBatch(request({ devices: devices(501) }));
    const error = await providerError(provider().cancel(umengApp(), result.providerRef!));
    expect(error).toMatchObject({ code: '2014', retryable: false });
    expect(error.message).toContain('it is already sent');
  });

  test('cancel maps Umeng errors like any call', async () => {
    const taskId = await scheduled();
    fake.script('/api/cancel', { code: '4001' });
    const busy = await providerError(provider().cancel(umengApp(), taskId));
    expect(busy).toMatchObject({ code: '4001', retryable: true });
    const badKey = umengApp('android', { appKey: 'unknown-app-key' });
    const error = await providerError(provider().cancel(badKey, taskId));
    expect(error).toMatchObject({ code: '2007', retryable: false });
  });
});

describe('receipts', () => {
  const umeng = () => provider();
  const SECONDS = 1_777_593_600; // 2026-05-01T00:00:00Z

  test('a single Umeng-style object becomes one receipt', () => {
    const parsed = umeng().parseReceipts({
      msg_id: 'uu00000001',
      device_token: token(1),
      action: 'click',
      time: SECONDS,
      extra: { pb_task: TASK_ID, screen: 'cart' },
    });
    expect(parsed).toEqual({
      receipts: [
        {
          taskId: TASK_ID,
          deviceId: null,
          pushToken: token(1),
          kind: 'open',
          at: new Date('2026-05-01T00:00:00Z'),
          providerRef: 'uu00000001',
        },
      ],
      unreadable: [],
    });
  });

  test('numeric codes and words of several spellings give the receipt kind', () => {
    const kinds = [
      1,
      '2',
      'ARRIVED',
      'delivery',
      'Clicked',
      'open',
      'show',
      'dismiss',
      'ignored',
      'msg_dismiss',
    ];
    const parsed = umeng().parseReceipts(
      kinds.map((action) => ({ task_id: 'us01', device_token: token(1), action, time: SECONDS })),
    );
    expect(parsed.receipts.map((r) => r.kind)).toEqual([
      'delivered',
      'open',
      'delivered',
      'delivered',
      'open',
      'open',
      'impression',
      'dismissal',
      'dismissal',
    ]);
    expect(parsed.unreadable).toEqual([
      { task_id: 'us01', device_token: token(1), action: 'msg_dismiss', time: SECONDS },
    ]);
  });

  test("times in seconds, milliseconds, ISO 8601 and Umeng's Beijing format all read the same", () => {
    const at = new Date('2026-05-01T00:00:00Z');
    const times = [SECONDS, String(SECONDS), at.getTime(), at.toISOString(), '2026-05-01 08:00:00'];
    const parsed = umeng().parseReceipts(
      times.map((time) => ({ msg_id: 'uu01', device_token: token(1), type: 'arrive', time })),
    );
    expect(parsed.receipts.map((r) => r.at)).toEqual(times.map(() => at));
  });

  test('a receipt without a time is dated now', () => {
    const parsed = umeng().parseReceipts({ msg_id: 'uu01', device_token: token(1), action: 1 });
    expect(parsed.receipts[0]?.at).toEqual(clock.now);
  });

  test('lists wrapped in receipts, data or data.list are read, and a device_tokens list gives one receipt each', () => {
    const item = { msg_id: 'uu01', device_token: token(1), action: 'arrive', time: SECONDS };
    const p = umeng();
    expect(p.parseReceipts({ receipts: [item, item] }).receipts).toHaveLength(2);
    expect(p.parseReceipts({ data: [item] }).receipts).toHaveLength(1);
    expect(p.parseReceipts({ code: 0, data: { list: [item, item, item] } }).receipts).toHaveLength(3);
    expect(p.parseReceipts(JSON.stringify([item]))).toMatchObject({ receipts: [{ kind: 'delivered' }] });
    expect(p.parseReceipts(Buffer.from(JSON.stringify(item))).receipts).toHaveLength(1);
    const many = p.parseReceipts({ msg_id: 'uu01', device_tokens: `${token(1)},${token(2)}`, action: 2 });
    expect(many.receipts.map((r) => r.pushToken)).toEqual([token(1), token(2)]);
  });

  test('the task ID is found in extra, extra as text, the iOS payload, or our description', () => {
    const base = { device_token: token(1), action: 'click', time: SECONDS };
    const parsed = umeng().parseReceipts([
      { ...base, extra: { pb_task: 'tsk_a' } },
      { ...base, extra: JSON.stringify({ pb_task: 'tsk_b' }) },
      { ...base, payload: { aps: { alert: { title: 't', body: 'b' } }, pb_task: 'tsk_c' } },
      { ...base, payload: { body: {}, extra: { pb_task: 'tsk_d' } } },
      { ...base, pb_task: 'tsk_e' },
      { ...base, description: `Pushboard pb_task=tsk_f batch=${BATCH_ID}`, task_id: 'us01' },
      { ...base, task_id: 'us02' },
    ]);
    expect(parsed.receipts.map((r) => r.taskId)).toEqual([
      'tsk_a',
      'tsk_b',
      'tsk_c',
      'tsk_d',
      'tsk_e',
      'tsk_f',
      null,
    ]);
    expect(parsed.receipts.map((r) => r.providerRef)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      'us01',
      'us02',
    ]);
  });

  test('garbage is counted as unreadable, kept as it came, and never throws', () => {
    const garbage = [
      null,
      42,
      'nonsense',
      [1, 2],
      {},
      { action: 'click', time: SECONDS, msg_id: 'uu01' }, // no device
      { device_token: token(1), action: 'explode', msg_id: 'uu01' }, // unknown kind
      { device_token: token(1), action: 'click' }, // no task nor provider reference
      { device_token: token(1), action: 'click', msg_id: 'uu01', time: 'yesterday' },
      { device_token: token(1), action: 'click', msg_id: 'uu01', time: 42 },
      { device_token: token(1), action: 3, msg_id: 'uu01' }, // 3 means "both" in a request: not guessed
    ];
    const good = { msg_id: 'uu01', device_token: token(1), action: 'click', time: SECONDS };
    const parsed = umeng().parseReceipts([...garbage, good]);
    expect(parsed.unreadable).toEqual(garbage);
    expect(parsed.receipts).toHaveLength(1);
    for (const body of [undefined, null, '', 'not json', Buffer.from('{oops'), 7, { receipts: 'x' }]) {
      const result = umeng().parseReceipts(body);
      expect(result.receipts).toEqual([]);
      expect(result.unreadable).toHaveLength(1);
    }
    expect(umeng().parseReceipts([])).toEqual({ receipts: [], unreadable: [] });
  });

  test('a channel named by the receipt is kept', () => {
    const parsed = umeng().parseReceipts({
      msg_id: 'uu01',
      device_token: token(1),
      action: 1,
      channel: 'huawei',
    });
    expect(parsed.receipts[0]?.channel).toBe('huawei');
  });
});

describe('the fake U-Push server', () => {
  /** Posts `body` to the fake, signed as Umeng expects, and answers the parsed reply. */
  async function post(path: string, fields: Record<string, unknown>, raw?: string): Promise<unknown> {
    const body =
      raw ?? JSON.stringify({ appkey: APP_KEY, timestamp: String(clock.now.getTime()), ...fields });
    const url = `${fake.baseUrl}${path}`;
    const sign = createHash('md5').update(`POST${url}${body}${SECRET}`, 'utf8').digest('hex');
    const response = await fetch(`${url}?sign=${sign}`, { method: 'POST', body });
    return response.json();
  }

  const payload = buildPushPayload(
    'android',
    { title: 'Sale', content: 'Now', clickAction: { type: 'open_app' } },
    TASK_ID,
  );
  const refusal = (code: string) => ({ ret: 'FAIL', data: expect.objectContaining({ error_code: code }) });

  test('it refuses what Umeng refuses', async () => {
    const tokens = (n: number) => Array.from({ length: n }, (_, i) => token(i)).join(',');
    expect(await post('/api/send', {}, '{not json')).toEqual(refusal('2008'));
    expect(await post('/api/send', { type: 'listcast', payload, device_tokens: tokens(501) })).toEqual(
      refusal('1000'),
    );
    expect(await post('/api/send', { type: 'filecast', payload, file_id: 'PF-made-up' })).toEqual(
      refusal('1000'),
    );
    const late = { start_time: '2099-01-01 00:00:00' };
    expect(
      await post('/api/send', { type: 'listcast', payload, device_tokens: tokens(1), policy: late }),
    ).toEqual(refusal('2002'));
    const long = { ...payload, body: { ...payload.body, text: 'x'.repeat(1900) } };
    expect(await post('/api/send', { type: 'listcast', payload: long, device_tokens: tokens(1) })).toEqual(
      refusal('2022'),
    );
    const timestamp = String(clock.now.getTime() - 11 * 60 * 1000);
    expect(
      await post('/api/send', { timestamp, type: 'listcast', payload, device_tokens: tokens(1) }),
    ).toEqual(refusal('2028'));
    expect(fake.sends).toHaveLength(0);
  });
});
