/**
 * The SDK against a real `pushboard serve` on loopback: registration, receipts of a task really
 * sent to the devices, offline and restart behaviour, a forged secret, 429/5xx retries and batching.
 * Failures are injected by a proxy in front of the server; every count asserted is the server's own.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../server/test/helpers.ts';
import { killAll } from '../../server/test/serve-harness.ts';
import { memoryStorage, Pushboard, type PushboardError, type PushboardOptions } from '../src/index.ts';
import {
  addDevices,
  createApp,
  eventually,
  fileStorage,
  receiptsOf,
  sendTask,
  startProxy,
  startServer,
  statistics,
  type TestApp,
  type TestProxy,
  type TestServer,
} from './harness.ts';

let server: TestServer;
const proxies: TestProxy[] = [];
const clients: Pushboard[] = [];

beforeAll(async () => {
  server = await startServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await server?.stop();
  killAll();
});

/** A client of `app` for `deviceId`, closed after the test; errors are collected in `errors`. */
function client(app: TestApp, deviceId: string, options: Partial<PushboardOptions> = {}) {
  const errors: PushboardError[] = [];
  const pb = new Pushboard({
    baseUrl: server.baseUrl,
    sdkKey: app.sdkKey,
    sdkSecret: app.sdkSecret,
    deviceId,
    // Fast retries keep the tests short; the delays themselves are never asserted.
    retryBaseMs: 50,
    retryMaxMs: 200,
    onError: (error) => errors.push(error),
    ...options,
  });
  clients.push(pb);
  return { pb, errors };
}

async function proxy(): Promise<TestProxy> {
  const p = await startProxy(server.baseUrl);
  proxies.push(p);
  return p;
}

const ids = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

/** An app, `n` devices registered through the API, and a completed task sent to them. */
async function sentTask(name: string, n: number) {
  const app = await createApp(server, name);
  const devices = ids(name, n);
  await addDevices(server, app.id, devices);
  const taskId = await sendTask(server, app.id, devices);
  return { app, devices, taskId };
}

describe('registration', () => {
  it('registers 50 devices, listed with their time zone, locale and app version', async () => {
    const app = await createApp(server, 'register-50');
    const zones = ['Asia/Shanghai', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney'];
    const devices = ids('reg', 50);
    const results = await Promise.all(
      devices.map(async (deviceId, i) => {
        const { pb, errors } = client(app, deviceId);
        const result = await pb.register({
          pushToken: `token-${deviceId}`,
          channel: 'huawei',
          timeZone: zones[i % zones.length]!,
          locale: 'zh-CN',
          appVersion: '3.2.0',
        });
        return { result, errors };
      }),
    );
    for (const { result, errors } of results) {
      expect(errors).toEqual([]);
      expect(result.registered).toBe(true);
    }
    const listed = await server.api('GET', `/apps/${app.id}/devices?pageSize=100`);
    expect(listed.total).toBe(50);
    const byId = new Map<string, { timeZone: string; locale: string; appVersion: string }>(
      listed.items.map((d: { deviceId: string }) => [d.deviceId, d]),
    );
    devices.forEach((deviceId, i) => {
      expect(byId.get(deviceId)).toMatchObject({
        timeZone: zones[i % zones.length],
        locale: 'zh-CN',
        appVersion: '3.2.0',
        channel: 'huawei',
      });
    });
  });

  it("defaults the time zone and locale to the runtime's", async () => {
    const app = await createApp(server, 'register-defaults');
    const { pb, errors } = client(app, 'defaults-1');
    expect((await pb.register({ pushToken: 'token-defaults-1' })).registered).toBe(true);
    expect(errors).toEqual([]);
    const listed = await server.api('GET', `/apps/${app.id}/devices`);
    expect(listed.items[0]).toMatchObject({
      deviceId: 'defaults-1',
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    });
    expect(typeof listed.items[0].locale).toBe('string');
  });

  it('keeps a registration made offline and sends only the latest one, after a restart', async () => {
    const app = await createApp(server, 'register-offline');
    const p = await proxy();
    await p.shut();
    const storage = fileStorage(tempDir('pushboard-sdk-storage-'));
    const first = client(app, 'offline-1', { baseUrl: p.url, storage });
    const offline = await first.pb.register({ pushToken: 'old-token', timeZone: 'Asia/Shanghai' });
    expect(offline.registered).toBe(false);
    expect(offline.retryAt).not.toBeNull();
    expect(first.errors[0]?.code).toBe('NETWORK_ERROR');
    await first.pb.close();
    // A second start, still offline, registers a newer token: only that one matters.
    const second = client(app, 'offline-1', { baseUrl: p.url, storage });
    await second.pb.register({ pushToken: 'new-token', timeZone: 'Europe/Paris' });
    await second.pb.close();

    await p.open();
    const third = client(app, 'offline-1', { baseUrl: p.url, storage });
    // The restarted client sends what it found stored by itself; waiting for the server to list it.
    const listed = await eventually(
      () => server.api('GET', `/apps/${app.id}/devices`),
      (l) => l.total === 1,
    );
    expect(listed.items[0]).toMatchObject({ deviceId: 'offline-1', timeZone: 'Europe/Paris' });
    const registrations = p.requests.filter((r) => r.path === '/api/v1/sdk/devices' && r.answered === 200);
    expect(registrations.map((r) => JSON.parse(r.body).pushToken)).toEqual(['new-token']);
    expect((await third.pb.flush()).registered).toBe(false);
    expect(third.errors).toEqual([]);
  });

  it("waits out the server's 429 TOO_MANY_REGISTRATIONS (Retry-After) and registers every device", async () => {
    // A server taking 1 registration per second per app, in bursts of 10.
    const slow = await startServer({ PUSHBOARD_SDK_REGISTRATION_RATE: '1' });
    try {
      const app = await createApp(slow, 'register-throttled');
      const devices = ids('burst', 14);
      const throttled: { delayMs: number; retryAfter: unknown }[] = [];
      const results = await Promise.all(
        devices.map((deviceId) => {
          const { pb } = client(app, deviceId, {
            baseUrl: slow.baseUrl,
            onRetry: ({ delayMs, error }) => {
              if (error.code === 'TOO_MANY_REGISTRATIONS') {
                throttled.push({
                  delayMs,
                  retryAfter: (error.details as { retryAfterSeconds?: unknown })?.retryAfterSeconds,
                });
              }
            },
          });
          return pb.register({ pushToken: `token-${deviceId}` });
        }),
      );
      // The burst went through at once; the rest were told to wait and kept their registration.
      // (A slow machine may refill a token or two while the burst is being answered.)
      const atOnce = results.filter((r) => r.registered).length;
      expect(atOnce).toBeGreaterThanOrEqual(10);
      expect(atOnce).toBeLessThan(devices.length);
      expect(throttled.length).toBeGreaterThanOrEqual(devices.length - atOnce);
      for (const t of throttled) {
        expect(typeof t.retryAfter).toBe('number');
        expect(t.delayMs).toBeGreaterThanOrEqual((t.retryAfter as number) * 1000);
      }
      const listed = await eventually(
        () => slow.api('GET', `/apps/${app.id}/devices?pageSize=100`),
        // The page and its total are two reads: the last registration can land between them.
        (l) => l.total === devices.length && l.items.length === devices.length,
      );
      expect(listed.items.map((d: { deviceId: string }) => d.deviceId).sort()).toEqual(devices);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await slow.stop();
    }
  });

  it('drops a registration the server refuses as invalid and reports it', async () => {
    const app = await createApp(server, 'register-invalid');
    const { pb, errors } = client(app, 'invalid-1');
    const result = await pb.register({ pushToken: 'has spaces in it' });
    expect(result).toMatchObject({ registered: false, retryAt: null });
    expect(errors.map((e) => [e.code, e.status, e.willRetry])).toEqual([['VALIDATION_FAILED', 400, false]]);
    // Nothing is left to retry.
    expect((await pb.flush()).registered).toBe(false);
    expect(errors).toHaveLength(1);
  });
});

describe('receipts of a task sent to the devices', () => {
  it('tracks impressions, opens and dismissals; the task statistics show them', async () => {
    const { app, devices, taskId } = await sentTask('track', 50);
    expect(await statistics(server, taskId)).toMatchObject({ totalSent: 50, impressions: 0, opens: 0 });
    const all = devices.map((deviceId) => ({ deviceId, ...client(app, deviceId) }));
    await Promise.all(
      all.map(async ({ pb }, i) => {
        expect(await pb.track(taskId, 'impression')).toBe(true);
        if (i < 20) await pb.track(taskId, 'open');
        else if (i < 30) await pb.track(taskId, 'dismissal');
        const result = await pb.flush();
        expect(result).toMatchObject({ sent: i < 30 ? 2 : 1, dropped: 0, pending: 0, retryAt: null });
      }),
    );
    for (const { errors } of all) expect(errors).toEqual([]);
    expect(await statistics(server, taskId)).toMatchObject({
      totalSent: 50,
      impressions: 50,
      opens: 20,
      dismissals: 10,
    });
    const opened = await server.api('GET', `/tasks/${taskId}/devices?receipt=open&limit=100`);
    expect(opened.items.map((d: { deviceId: string }) => d.deviceId)).toEqual(devices.slice(0, 20));
  });

  it('reports per-receipt refusals of a 200 answer and does not retry them', async () => {
    const { app, taskId } = await sentTask('refused', 2);
    const { pb, errors } = client(app, 'not-in-the-send');
    await pb.track(taskId, 'impression');
    await pb.track('no-such-task', 'open');
    expect(await pb.flush()).toMatchObject({ sent: 2, pending: 0, retryAt: null });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'RECEIPTS_REJECTED', status: 200, willRetry: false });
    expect((errors[0]!.details as { code: string }[]).map((r) => r.code)).toEqual([
      'DEVICE_NOT_IN_SEND',
      'UNKNOWN_TASK',
    ]);
    expect(await statistics(server, taskId)).toMatchObject({ impressions: 0, opens: 0 });
  });

  it('tracks while the server is unreachable and delivers once it is back, exactly once', async () => {
    const { app, devices, taskId } = await sentTask('offline', 3);
    const p = await proxy();
    await p.shut();
    const retries: number[] = [];
    const all = devices.map((deviceId) =>
      client(app, deviceId, { baseUrl: p.url, onRetry: ({ attempt }) => retries.push(attempt) }),
    );
    for (const { pb } of all) {
      await pb.track(taskId, 'impression');
      await pb.track(taskId, 'open');
      const result = await pb.flush();
      expect(result).toMatchObject({ sent: 0, pending: 2 });
      expect(result.retryAt).not.toBeNull();
    }
    for (const { errors } of all) expect(errors[0]).toMatchObject({ code: 'NETWORK_ERROR', willRetry: true });
    expect(retries.length).toBeGreaterThanOrEqual(3);
    await p.open();
    // Nobody calls flush again: the scheduled retries deliver.
    await eventually(
      () => Promise.all(all.map(({ pb }) => pb.pending())),
      (pending) => pending.every((n) => n === 0),
    );
    expect(await statistics(server, taskId)).toMatchObject({ impressions: 3, opens: 3 });
    const delivered = p.requests.filter((r) => r.answered === 200).flatMap(receiptsOf);
    expect(delivered).toHaveLength(6);
  });

  it('a new instance over the same storage delivers what the old one queued; counted once', async () => {
    const { app, devices, taskId } = await sentTask('restart', 2);
    const p = await proxy();
    await p.shut();
    const dir = tempDir('pushboard-sdk-storage-');
    for (const deviceId of devices) {
      const old = client(app, deviceId, { baseUrl: p.url, storage: fileStorage(dir) });
      await old.pb.track(taskId, 'impression');
      await old.pb.track(taskId, 'open');
      await old.pb.flush();
      // The app is killed: the instance goes away with its receipts unsent.
      await old.pb.close();
      expect(await old.pb.pending()).toBe(2);
    }
    await p.open();
    // The first answer is lost after the server stored it (a crash between send and acknowledgement):
    // the receipts are sent again and the server recognises them.
    p.script.push({ kind: 'lose-answer' });
    const answers: { accepted: number; duplicate: number }[] = [];
    const restarted = devices.map((deviceId) =>
      client(app, deviceId, {
        baseUrl: p.url,
        storage: fileStorage(dir),
        onReceiptAnswer: (answer) => answers.push(answer),
      }),
    );
    await eventually(
      () => Promise.all(restarted.map(({ pb }) => pb.pending())),
      (pending) => pending.every((n) => n === 0),
    );
    expect(p.requests.some((r) => r.answered === 'lost')).toBe(true);
    const total = answers.reduce(
      (sum, a) => ({ accepted: sum.accepted + a.accepted, duplicate: sum.duplicate + a.duplicate }),
      {
        accepted: 0,
        duplicate: 0,
      },
    );
    // 4 receipts stored once; the 2 of the lost answer came back as duplicates.
    expect(total).toEqual({ accepted: 2, duplicate: 2 });
    expect(await statistics(server, taskId)).toMatchObject({ impressions: 2, opens: 2 });
    // A later start finds nothing left to send.
    const later = client(app, devices[0]!, { baseUrl: p.url, storage: fileStorage(dir) });
    expect(await later.pb.flush()).toMatchObject({ sent: 0, pending: 0 });
  });

  it('reports delivered on arrival: a no-feedback Android device becomes a delivery', async () => {
    const { app, devices, taskId } = await sentTask('delivered', 4);
    expect(await statistics(server, taskId)).toMatchObject({ deliveries: 0, noFeedback: 4 });
    for (const deviceId of devices.slice(0, 3)) {
      const { pb, errors } = client(app, deviceId);
      await pb.track(taskId, 'delivered');
      expect(await pb.flush()).toMatchObject({ sent: 1, pending: 0 });
      expect(errors).toEqual([]);
    }
    expect(await statistics(server, taskId)).toMatchObject({ deliveries: 3, noFeedback: 1 });
  });

  it('an iOS app does not count dismissals: the server refuses them per receipt', async () => {
    const app = await createApp(server, 'ios-dismissal', 'ios');
    await addDevices(server, app.id, ['iphone-1'], null);
    const taskId = await sendTask(server, app.id, ['iphone-1']);
    const { pb, errors } = client(app, 'iphone-1');
    await pb.track(taskId, 'impression');
    await pb.track(taskId, 'dismissal');
    expect(await pb.flush()).toMatchObject({ sent: 2, pending: 0 });
    expect(errors.map((e) => e.code)).toEqual(['RECEIPTS_REJECTED']);
    expect(
      (errors[0]!.details as { code: string; receipt: { kind: string } }[]).map((r) => [
        r.receipt.kind,
        r.code,
      ]),
    ).toEqual([['dismissal', 'KIND_NOT_SUPPORTED']]);
    expect(await statistics(server, taskId)).toMatchObject({ impressions: 1, dismissals: 0 });
  });

  it('a forged secret is refused with 401: dropped, reported, nothing stored', async () => {
    const { app, devices, taskId } = await sentTask('forged', 1);
    const forged = { ...app, sdkSecret: 'not-the-secret' };
    const { pb, errors } = client(forged, devices[0]!);
    await pb.track(taskId, 'impression');
    expect(await pb.flush()).toMatchObject({ sent: 0, dropped: 1, pending: 0, retryAt: null });
    expect(errors.map((e) => [e.code, e.status, e.willRetry])).toEqual([
      ['RECEIPT_SIGNATURE_INVALID', 401, false],
    ]);
    expect(await statistics(server, taskId)).toMatchObject({ impressions: 0 });
  });

  it('honours 429 Retry-After and retries 5xx until the server has the receipts', async () => {
    const { app, devices, taskId } = await sentTask('throttled', 1);
    const p = await proxy();
    p.script.push(
      {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': '1' },
        body: { error: { code: 'TOO_MANY_REQUESTS', message: 'slow down' } },
      },
      { kind: 'status', status: 503 },
      { kind: 'status', status: 500 },
    );
    const retries: { delayMs: number; status: number | null }[] = [];
    const { pb, errors } = client(app, devices[0]!, {
      baseUrl: p.url,
      onRetry: ({ delayMs, error }) => retries.push({ delayMs, status: error.status }),
    });
    await pb.track(taskId, 'impression');
    await pb.track(taskId, 'open');
    const first = await pb.flush();
    expect(first.retryAt).not.toBeNull();
    // Within the Retry-After, flush() leaves it to the scheduled retry and sends nothing.
    expect(await pb.flush()).toMatchObject({ sent: 0, pending: 2 });
    expect(p.requests).toHaveLength(1);
    await eventually(
      () => pb.pending(),
      (n) => n === 0,
    );
    expect(errors.map((e) => [e.code, e.status])).toEqual([
      ['TOO_MANY_REQUESTS', 429],
      ['INJECTED', 503],
      ['INJECTED', 500],
    ]);
    expect(retries.map((r) => r.status)).toEqual([429, 503, 500]);
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(1000);
    // The retry after the 429 came no earlier than the server asked.
    expect(p.requests[1]!.at - p.requests[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(p.requests.map((r) => r.answered)).toEqual([429, 503, 500, 200]);
    expect(await statistics(server, taskId)).toMatchObject({ impressions: 1, opens: 1 });
  });

  it('splits more than 5,000 queued receipts into requests of at most 5,000', async () => {
    const { app, devices, taskId } = await sentTask('batching', 50);
    const p = await proxy();
    // One device reporting many times over (duplicates are harmless): 6,001 receipts.
    const { pb, errors } = client(app, devices[0]!, {
      baseUrl: p.url,
      maxQueueSize: 10_000,
      flushThreshold: 100_000,
      flushIntervalMs: 600_000,
    });
    for (let i = 0; i < 6001; i++) await pb.track(taskId, i % 2 === 0 ? 'impression' : 'open');
    expect(await pb.pending()).toBe(6001);
    expect(await pb.flush()).toMatchObject({ sent: 6001, pending: 0, retryAt: null });
    expect(errors).toEqual([]);
    expect(p.requests.map((r) => receiptsOf(r).length)).toEqual([5000, 1001]);
    expect(await statistics(server, taskId)).toMatchObject({ impressions: 1, opens: 1 });
  });

  it('sends on its own once the queue reaches the threshold', async () => {
    const { app, devices, taskId } = await sentTask('threshold', 10);
    const p = await proxy();
    const all = devices.map((deviceId) =>
      client(app, deviceId, { baseUrl: p.url, flushThreshold: 1, flushIntervalMs: 600_000 }),
    );
    for (const { pb } of all) await pb.track(taskId, 'impression');
    await eventually(
      () => statistics(server, taskId),
      (s) => s.impressions === 10,
    );
    for (const { errors } of all) expect(errors).toEqual([]);
  });

  it('keeps the default in-memory queue per client', async () => {
    const storage = memoryStorage();
    const app = await createApp(server, 'memory');
    const { pb } = client(app, 'memory-1', { storage, baseUrl: 'http://127.0.0.1:9' });
    await pb.track('t', 'open');
    expect(await pb.pending()).toBe(1);
    expect(storage.size).toBeGreaterThan(0);
  });
});
