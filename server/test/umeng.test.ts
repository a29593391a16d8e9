/**
 * The `umeng` provider against a local fake of the U-Push API (fake-umeng.ts) that checks signatures,
 * timestamps and bodies as Umeng does.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildPushPayload, type ClickAction, type Platform } from '../src/domain/task-content.ts';
import {
  type BatchDevice,
  type ProviderApp,
  ProviderError,
  type ReceiptPostingProvider,
  type SendBatchRequest,
} from '../src/providers/provider.ts';
import { createUmengProvider, type UmengProviderOptions } from '../src/providers/umeng.ts';
import type { UmengConfig } from '../src/providers/umeng-config.ts';
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
  // The fake listens on loopback: the deployment's allowlist names it (docs/providers.md#endpoints-and-credentials).
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
    // out_biz_no and start_time are for task-type sends only: a listcast carries the expiry alone.
    expect(Object.keys(body.policy as object)).toEqual(['expire_time']);
    expect(result.providerRef).toBe(fake.sends[0]!.ref);
    expect(result.providerRef).toMatch(/^ul/);
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
    expect((sentBody().policy as Record<string, unknown>).start_time).toBeUndefined();
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
    ['4001', true, 'Umeng is busy'],
    ['4000', true, 'Umeng system error'],
    ['2020', true, 'upgrading'],
    ['2007', false, "bad appKey or app master secret — check the app's Umeng credentials"],
    ['2022', false, 'payload is too long'],
    ['2000', false, 'the app is disabled on Umeng'],
    ['1003', false, 'Umeng refused a field of the request'],
    ['5001', false, 'APNs refused the push'],
    ['2004', false, "is not in the app's server IP whitelist — add the public IP"],
    ['2021', false, 'the appKey does not exist'],
    ['2046', false, 'more than 7 days after the send was created'],
    ['5002', false, 'a key Umeng reserves (d or p)'],
    ['4021', false, 'it is not repeated'],
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

describe('send fields', () => {
  /** A clock in a known place: 2026-05-01T00:00:00Z is 08:00 in Beijing. */
  const MAY_FIRST = new Date('2026-05-01T00:00:00Z');

  test('every send carries thirdparty_id = the batch ID, for receipts to find their batch by', async () => {
    await provider().sendBatch(request());
    await provider().sendBatch(request({ devices: devices(501) }));
    const bodies = fake.requestsTo('/api/send').map((r) => r.body!);
    expect(bodies.map((b) => [b.type, b.thirdparty_id])).toEqual([
      ['listcast', BATCH_ID],
      ['filecast', BATCH_ID],
    ]);
  });

  test('category is 0 for a marketing task (the default) and 1 for a service task', async () => {
    const base = request().content;
    await provider().sendBatch(request());
    await provider().sendBatch(request({ content: { ...base, category: 'marketing' } }));
    await provider().sendBatch(request({ content: { ...base, category: 'service' } }));
    await provider().sendBatch(request({ app: umengApp('ios'), devices: devices(2, 'ios') }));
    expect(fake.requestsTo('/api/send').map((r) => r.body!.category)).toEqual([0, 0, 1, 0]);
  });

  test("expire_time is the task's TTL from now in Beijing time, 3 days by default", async () => {
    clock.now = MAY_FIRST;
    const base = request().content;
    await provider().sendBatch(request());
    await provider().sendBatch(request({ content: { ...base, ttlSeconds: 3600 } }));
    await provider().sendBatch(
      request({ content: { ...base, ttlSeconds: 7 * 86_400 }, devices: devices(501) }),
    );
    expect(
      fake.requestsTo('/api/send').map((r) => (r.body!.policy as Record<string, unknown>).expire_time),
    ).toEqual(['2026-05-04 08:00:00', '2026-05-01 09:00:00', '2026-05-08 08:00:00']);
  });

  test('a scheduled send expires its TTL after its start, never before it, and never beyond 7 days', async () => {
    clock.now = MAY_FIRST;
    const base = request().content;
    const sendAt = new Date(MAY_FIRST.getTime() + 2 * 3600_000);
    await provider().sendBatch(request({ sendAt, content: { ...base, ttlSeconds: 3600 } }));
    await provider().sendBatch(request({ sendAt, content: { ...base, ttlSeconds: 7 * 86_400 } }));
    const policies = fake.requestsTo('/api/send').map((r) => r.body!.policy as Record<string, unknown>);
    expect(policies.map((p) => [p.start_time, p.expire_time])).toEqual([
      ['2026-05-01 10:00:00', '2026-05-01 11:00:00'],
      ['2026-05-01 10:00:00', '2026-05-08 08:00:00'],
    ]);
    const tooLate = new Date(MAY_FIRST.getTime() + 8 * 86_400_000);
    const error = await providerError(provider().sendBatch(request({ sendAt: tooLate })));
    expect(error).toMatchObject({ code: 'START_AFTER_EXPIRY', retryable: false });
    expect(fake.requestsTo('/api/send')).toHaveLength(2);
  });

  test('Android sends carry the vendor-channel activity as channel_activity and mipush + mi_activity, with the other channel properties', async () => {
    const app = umengApp('android', {
      channelActivity: 'com.example.shop.MfrMessageActivity',
      channelProperties: {
        xiaomi_channel_id: 'high_system',
        huawei_channel_importance: 'NORMAL',
        vivo_category: 'MARKETING',
      },
    });
    await provider().sendBatch(request({ app }));
    expect(sentBody()).toMatchObject({
      mipush: 'true',
      mi_activity: 'com.example.shop.MfrMessageActivity',
      channel_properties: {
        channel_activity: 'com.example.shop.MfrMessageActivity',
        xiaomi_channel_id: 'high_system',
        huawei_channel_importance: 'NORMAL',
        vivo_category: 'MARKETING',
      },
    });
  });

  test('without a vendor-channel config nothing of it is sent, and iOS sends never carry it', async () => {
    await provider().sendBatch(request());
    const ios = umengApp('ios', { channelActivity: 'com.example.shop.MfrMessageActivity' });
    await provider().sendBatch(request({ app: ios, devices: devices(1, 'ios') }));
    for (const { body } of fake.requestsTo('/api/send')) {
      expect(body).not.toHaveProperty('mipush');
      expect(body).not.toHaveProperty('mi_activity');
      expect(body).not.toHaveProperty('channel_properties');
    }
  });
});

describe('too many sends in a minute (2026)', () => {
  function recordingSleep() {
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
      clock.now = new Date(clock.now.getTime() + ms);
    };
    return { waits, sleep };
  }

  test('a listcast refused with 2026 is sent again after waiting, and reaches its devices once', async () => {
    const { waits, sleep } = recordingSleep();
    fake.script('/api/send', { code: '2026', message: 'too many' }, 1);
    const result = await provider({ sleep }).sendBatch(request());
    expect(waits).toEqual([20_000]);
    expect(fake.requestsTo('/api/send')).toHaveLength(2);
    expect(fake.sends).toHaveLength(1);
    expect(result.providerRef).toBe(fake.sends[0]!.ref);
  });

  test('still 2026 after waiting a whole minute, the batch goes back to the dispatcher as retryable', async () => {
    for (const count of [3, 501]) {
      const { waits, sleep } = recordingSleep();
      fake.script('/api/send', { code: '2026', message: 'too many' }, 3);
      const error = await providerError(provider({ sleep }).sendBatch(request({ devices: devices(count) })));
      expect(error).toMatchObject({ code: '2026', retryable: true });
      expect(error.message).toContain('more than 10 sends in a minute');
      expect(waits.reduce((sum, ms) => sum + ms, 0)).toBeGreaterThanOrEqual(60_000);
    }
    expect(fake.sends).toHaveLength(0);
  });

  test('other retryable codes are not waited for: the dispatcher retries them', async () => {
    const { waits, sleep } = recordingSleep();
    fake.script('/api/send', { code: '4001' });
    await providerError(provider({ sleep }).sendBatch(request()));
    expect(waits).toEqual([]);
  });
});

describe('receipts', () => {
  const umeng = () => provider();
  const item = (fields: Record<string, unknown> = {}) => ({
    thirdparty_id: BATCH_ID,
    action_type: 0,
    msg_id: 'ul00000001',
    device_tokens: token(1),
    alias: '',
    channel: 'huawei',
    ...fields,
  });

  test('an arrival (action_type 0) is a delivery of each token, named by thirdparty_id and msg_id, dated on arrival', () => {
    const parsed = umeng().parseReceipts(item({ device_tokens: `${token(1)},${token(2)}` }));
    const expected = (pushToken: string) => ({
      taskId: null,
      deviceId: null,
      pushToken,
      kind: 'delivered',
      at: clock.now,
      batchId: BATCH_ID,
      providerRef: 'ul00000001',
      channel: 'huawei',
    });
    expect(parsed).toEqual({ receipts: [expected(token(1)), expected(token(2))], unreadable: [] });
  });

  test('an open (action_type 1) is an open; digits as text read the same', () => {
    const parsed = umeng().parseReceipts([
      item({ action_type: 1 }),
      item({ action_type: '1' }),
      item({ action_type: '0' }),
    ]);
    expect(parsed.receipts.map((r) => r.kind)).toEqual(['open', 'open', 'delivered']);
  });

  test('arrays, JSON text and bytes are read; one object is one item', () => {
    const p = umeng();
    expect(p.parseReceipts([item(), item({ action_type: 1 })]).receipts).toHaveLength(2);
    expect(p.parseReceipts(JSON.stringify([item()])).receipts).toHaveLength(1);
    expect(p.parseReceipts(Buffer.from(JSON.stringify(item()))).receipts).toHaveLength(1);
  });

  test('a receipt without thirdparty_id is found by msg_id, and one without msg_id by thirdparty_id', () => {
    const { thirdparty_id: _, ...byRef } = item();
    const { msg_id: __, ...byBatch } = item();
    const parsed = umeng().parseReceipts([
      byRef,
      byBatch,
      item({ msg_id: undefined, task_id: 'uf00000002' }),
    ]);
    expect(parsed.receipts.map((r) => [r.batchId, r.providerRef])).toEqual([
      [undefined, 'ul00000001'],
      [BATCH_ID, undefined],
      [BATCH_ID, 'uf00000002'],
    ]);
  });

  test('any other action_type is unreadable, kept as it came and never guessed', () => {
    const unknown = [
      item({ action_type: 2 }),
      item({ action_type: 3 }),
      item({ action_type: -1 }),
      item({ action_type: 'click' }),
      item({ action_type: undefined }),
    ];
    const parsed = umeng().parseReceipts([...unknown, item()]);
    expect(parsed.unreadable).toEqual(unknown);
    expect(parsed.receipts).toHaveLength(1);
  });

  test('garbage is counted as unreadable, kept as it came, and never throws', () => {
    const garbage = [
      null,
      42,
      'nonsense',
      [1, 2],
      {},
      item({ device_tokens: '' }), // no device
      item({ device_tokens: ' , ' }),
      item({ thirdparty_id: undefined, msg_id: undefined }), // no batch nor provider reference
    ];
    const parsed = umeng().parseReceipts([...garbage, item()]);
    expect(parsed.unreadable).toEqual(garbage);
    expect(parsed.receipts).toHaveLength(1);
    for (const body of [undefined, null, '', 'not json', Buffer.from('{oops'), 7, { receipts: [item()] }]) {
      const result = umeng().parseReceipts(body);
      expect(result.receipts).toEqual([]);
      expect(result.unreadable).toHaveLength(1);
    }
    expect(umeng().parseReceipts([])).toEqual({ receipts: [], unreadable: [] });
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
    const far = { expire_time: '2099-01-01 00:00:00' };
    expect(
      await post('/api/send', { type: 'listcast', payload, device_tokens: tokens(1), policy: far }),
    ).toEqual(refusal('2040'));
    const iosPayload = { aps: { alert: { title: 'Sale', body: 'Now' } }, d: 'reserved' };
    expect(
      await post('/api/send', { type: 'listcast', payload: iosPayload, device_tokens: tokens(1) }),
    ).toEqual(refusal('5002'));
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
