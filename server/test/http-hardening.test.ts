/**
 * The HTTP rules of docs/operations.md#http: security headers on every answer, the envelope on every 4xx, bounded
 * paging, request timeouts on a real listening server, receipt requests refused before their body
 * is read, and logs and config errors that hold no secret.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, expect, test } from 'vitest';
import { buildApp } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/http/logging.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const instances: TestInstance[] = [];
afterEach(async () => {
  for (const t of instances.splice(0)) await t.close();
});

async function instance(env: Record<string, string> = {}): Promise<TestInstance> {
  const t = await createTestInstance(env);
  instances.push(t);
  return t;
}

const WS = '/api/v1/workspaces/default';

/** Creates a simulator app and answers its ID, receipt secret and SDK key. */
async function simulatorApp(t: TestInstance) {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/apps`,
    body: { name: 'Receipts app', platform: 'android', provider: 'simulator' },
  });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string; receiptSecret: string; sdkKey: string; sdkSecret: string };
}

/** Opens a raw TCP connection to `t`'s listening server and answers what it receives and when it closes. */
async function rawRequest(port: number, head: string, body: string) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await new Promise((resolve) => socket.once('connect', resolve));
  const started = Date.now();
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk;
  });
  const closed = new Promise<number>((resolve) => {
    socket.once('close', () => resolve(Date.now() - started));
  });
  socket.on('error', () => {});
  socket.write(head + body);
  return { socket, closed, received: () => received, started };
}

test('every answer carries the security headers: the console, the docs, the API, errors', async () => {
  const t = await instance();
  for (const url of [
    '/api/v1/health',
    '/docs',
    '/docs/static/swagger-ui.css',
    '/api/v1/nope',
    `${WS}/apps`,
  ]) {
    const res = await t.request(null, { method: 'GET', url });
    expect(res.headers['content-security-policy'], url).toContain("frame-ancestors 'none'");
    expect(res.headers['content-security-policy'], url).toContain("script-src 'self'");
    expect(res.headers['x-content-type-options'], url).toBe('nosniff');
    expect(res.headers['referrer-policy'], url).toBe('no-referrer');
    // The public URL is http here: no HSTS.
    expect(res.headers['strict-transport-security'], url).toBeUndefined();
  }
});

test('HSTS is sent when the public URL is https', async () => {
  const t = await instance({ PUSHBOARD_PUBLIC_URL: 'https://push.example.com' });
  const res = await t.request(null, { method: 'GET', url: '/api/v1/health' });
  expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
});

test('every 4xx carries the error envelope: unknown route, 405, 413, 414, 415, malformed JSON', async () => {
  const t = await instance();
  const cases: { status: number; code: string; options: Parameters<TestInstance['request']>[1] }[] = [
    { status: 404, code: 'NOT_FOUND', options: { method: 'GET', url: '/api/v1/nope?x=1' } },
    { status: 405, code: 'METHOD_NOT_ALLOWED', options: { method: 'PUT', url: '/api/v1/health' } },
    { status: 405, code: 'METHOD_NOT_ALLOWED', options: { method: 'DELETE', url: `${WS}/apps` } },
    {
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      options: {
        method: 'POST',
        url: '/api/v1/workspaces',
        payload: JSON.stringify({ name: 'x'.repeat(2_000_000) }),
        headers: { 'content-type': 'application/json' },
      },
    },
    {
      status: 414,
      code: 'URL_TOO_LONG',
      options: { method: 'GET', url: `/api/v1/workspaces/${'a'.repeat(300)}/apps` },
    },
    {
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      options: {
        method: 'POST',
        url: '/api/v1/workspaces',
        payload: '<name/>',
        headers: { 'content-type': 'application/xml' },
      },
    },
    {
      status: 400,
      code: 'INVALID_JSON',
      options: {
        method: 'POST',
        url: '/api/v1/workspaces',
        payload: '{"name":',
        headers: { 'content-type': 'application/json' },
      },
    },
  ];
  for (const { status, code, options } of cases) {
    const res = await t.request(t.adminToken, options);
    const label = `${options.method} ${String(options.url).slice(0, 60)}`;
    expect(res.statusCode, label).toBe(status);
    expect(res.json(), label).toMatchObject({ error: { code, message: expect.any(String) } });
    expect(res.headers['content-security-policy'], label).toContain("frame-ancestors 'none'");
  }
  const allow = await t.request(null, { method: 'PUT', url: '/api/v1/health' });
  expect(allow.headers.allow).toContain('GET');
});

test('out-of-range paging is a 400, not a 500', async () => {
  const t = await instance();
  for (const url of [
    `${WS}/tasks?page=1e308`,
    `${WS}/apps?page=99999999999999999999`,
    `${WS}/audiences?pageSize=1e308`,
    `${WS}/campaigns?page=1e308&pageSize=1e308`,
  ]) {
    const res = await t.request(t.adminToken, { method: 'GET', url });
    expect(res.statusCode, url).toBe(400);
    expect(res.json().error.code, url).toBe('VALIDATION_FAILED');
  }
});

test('a config error shows a database URL with its password masked', () => {
  const attempt = (env: Record<string, string>) => {
    try {
      loadConfig({}, env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('no error');
  };
  const pg = attempt({ DATABASE_URL: 'mysql://pushboard:hunter2-secret@db.example.com/pushboard' });
  expect(pg).not.toContain('hunter2-secret');
  expect(pg).toContain('mysql://pushboard:***@db.example.com/pushboard');
  const redis = attempt({ DATABASE_URL: 'postgres://u@h/db', REDIS_URL: 'http://:redis-secret@cache:6379' });
  expect(redis).not.toContain('redis-secret');
});

test('logs hold no secret: no query string in a logged URL, no credential header', async () => {
  const t = await instance();
  const app = await simulatorApp(t);
  let logged = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logged += chunk;
      done();
    },
  });
  const logging = await buildApp({ config: t.config, db: t.db, logger: createLogger('trace', stream) });
  try {
    const unmatched = await logging.inject({
      method: 'GET',
      url: `/api/v1/nope?secret=${app.receiptSecret}`,
    });
    expect(unmatched.statusCode).toBe(404);
    const receipt = await logging.inject({
      method: 'POST',
      url: `/api/v1/receipts/simulator/${app.id}?secret=${app.receiptSecret}`,
      payload: JSON.stringify({ receipts: [] }),
      headers: { 'content-type': 'application/json', 'x-pushboard-signature': 'f'.repeat(64) },
    });
    expect(receipt.statusCode).toBe(200);
    const sdk = await logging.inject({
      method: 'POST',
      url: '/api/v1/receipts/sdk',
      payload: '{}',
      headers: { 'x-pushboard-key': app.sdkKey, 'x-pushboard-signature': 'e'.repeat(64) },
    });
    expect(sdk.statusCode).toBe(401);
    await logging.inject({
      method: 'GET',
      url: `${WS}/apps?token=${t.adminToken}`,
      headers: { authorization: `Bearer ${t.adminToken}`, cookie: 'session=cookie-secret' },
    });
  } finally {
    await logging.close();
  }
  expect(logged).toContain('/api/v1/nope');
  for (const secret of [app.receiptSecret, app.sdkKey, t.adminToken, 'cookie-secret', 'f'.repeat(64)]) {
    expect(logged).not.toContain(secret);
  }
});

test('a request whose body stalls is cut after PUSHBOARD_REQUEST_TIMEOUT_MS', async () => {
  const t = await instance({ PUSHBOARD_REQUEST_TIMEOUT_MS: '500' });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (t.app.server.address() as net.AddressInfo).port;
  const body = JSON.stringify({ name: 'A stalled workspace' });
  const { closed, received, socket } = await rawRequest(
    port,
    'POST /api/v1/workspaces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Authorization: Bearer ${t.adminToken}\r\nContent-Length: ${body.length}\r\n\r\n`,
    body.slice(0, 10),
  );
  // Half the body, then nothing: without a timeout the server waits for the rest for ever.
  const cutAfter = await Promise.race([
    closed,
    new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 10_000)),
  ]);
  socket.destroy();
  console.info(`stalled body cut after ${cutAfter} ms (timeout 500 ms)`);
  expect(cutAfter).toBeLessThan(5000);
  expect(received()).toContain('408');
  expect(received()).toContain('"code":"REQUEST_TIMEOUT"');
});

test('an upload may take longer than PUSHBOARD_REQUEST_TIMEOUT_MS while it keeps coming, but not stall', async () => {
  const t = await instance({ PUSHBOARD_REQUEST_TIMEOUT_MS: '500' });
  const app = await simulatorApp(t);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (t.app.server.address() as net.AddressInfo).port;
  const lines = Array.from({ length: 8 }, (_, i) => `dev-${i},token-${i}\n`);
  const head =
    `POST ${WS}/apps/${app.id}/devices/import HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n` +
    `Authorization: Bearer ${t.adminToken}\r\nContent-Length: ${lines.join('').length}\r\nConnection: close\r\n\r\n`;
  // A steady upload: a line every 200 ms, 1.6 s in all, more than three times the timeout.
  const steady = await rawRequest(port, head, lines[0] ?? '');
  for (const line of lines.slice(1)) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    steady.socket.write(line);
  }
  await steady.closed;
  expect(steady.received()).toMatch(/^HTTP\/1\.1 200/);
  expect(steady.received()).toContain('"lines":8');

  // The same upload stalling after its first line is cut once it has been idle for the timeout.
  const stalled = await rawRequest(port, head, lines[0] ?? '');
  const cutAfter = await Promise.race([
    stalled.closed,
    new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), 10_000)),
  ]);
  stalled.socket.destroy();
  expect(cutAfter).toBeLessThan(5000);
  expect(stalled.received()).toContain('"code":"REQUEST_TIMEOUT"');
});

test('an unknown SDK key is refused before its body is read', async () => {
  const t = await instance();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (t.app.server.address() as net.AddressInfo).port;
  // 8 MB announced, 1 KB sent: the answer comes without waiting for the rest.
  const { received, socket, started } = await rawRequest(
    port,
    'POST /api/v1/receipts/sdk HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `X-Pushboard-Key: sdk_unknown\r\nX-Pushboard-Signature: ${'a'.repeat(64)}\r\nContent-Length: 8000000\r\n\r\n`,
    'x'.repeat(1024),
  );
  while (!received().includes('\r\n\r\n') && Date.now() - started < 5000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  socket.destroy();
  expect(received()).toMatch(/^HTTP\/1\.1 401/);
  expect(received()).toContain('RECEIPT_SIGNATURE_INVALID');
});

test('a provider callback for an unknown app or with a wrong secret is refused before its body is read', async () => {
  const t = await instance();
  const app = await simulatorApp(t);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (t.app.server.address() as net.AddressInfo).port;
  for (const [url, status] of [
    ['/api/v1/receipts/simulator/app_unknown?secret=x', 404],
    [`/api/v1/receipts/simulator/${app.id}?secret=wrong`, 401],
    [`/api/v1/receipts/simulator/${app.id}`, 401],
  ] as const) {
    const { received, socket, started } = await rawRequest(
      port,
      `POST ${url} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8000000\r\n\r\n`,
      'x'.repeat(1024),
    );
    while (!received().includes('\r\n\r\n') && Date.now() - started < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    socket.destroy();
    expect(received(), url).toMatch(new RegExp(`^HTTP/1\\.1 ${status}`));
  }
});
