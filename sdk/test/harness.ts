/**
 * What the SDK tests run against: the real `pushboard serve` on loopback over this run's backend
 * (SQLite, or PostgreSQL + BullMQ when PUSHBOARD_TEST_SCALED=1, as server/test/backends.ts picks),
 * an API client to set up apps, devices, audiences and tasks, a small HTTP proxy in front of the
 * server that can play dead or answer 429/5xx, and a file-backed storage that survives an SDK
 * instance the way AsyncStorage survives an app restart.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { storeEnvFor } from '../../server/test/backends.ts';
import { tempDir } from '../../server/test/helpers.ts';
import { baseUrlOf, LISTENING, type ServeProcess, spawnServe } from '../../server/test/serve-harness.ts';
import type { PushboardStorage } from '../src/index.ts';

const ADMIN_PASSWORD = 'sdk-test-admin-password';

/** A running Pushboard server with a logged-in admin. */
export interface TestServer {
  baseUrl: string;
  dataDir: string;
  /** Calls the workspace API as admin; throws on anything but 2xx. */
  // biome-ignore lint/suspicious/noExplicitAny: the tests read the API's JSON loosely, as a script would.
  api<T = any>(method: string, url: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/** Starts `pushboard serve` on a free loopback port with an empty store (no demo data), `env` added. */
export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = tempDir('pushboard-sdk-');
  const store = await storeEnvFor(dataDir);
  const server: ServeProcess = await spawnServe(
    [],
    {
      ...store,
      PUSHBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD,
      PUSHBOARD_SEED_DEMO: 'false',
      LOG_LEVEL: 'info',
      ...env,
    },
    LISTENING,
  );
  const baseUrl = baseUrlOf(server);
  const login = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}/api/v1/workspaces/default${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return {
    baseUrl,
    dataDir,
    api,
    async stop() {
      if (server.child.exitCode === null) {
        const exited = new Promise((resolve) => server.child.once('exit', resolve));
        server.child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A simulator app whose simulator reports no receipt at all: every receipt the task gets is the SDK's. */
export const SILENT_SIMULATOR = {
  seed: 1,
  acceptRate: 1,
  deliveryRate: 0,
  impressionRate: 0,
  openRate: 0,
  dismissalRate: 0,
};

/** An app's ID and the SDK credentials shown when it was created. */
export interface TestApp {
  id: string;
  sdkKey: string;
  sdkSecret: string;
}

/** Creates a simulator app (`platform` android unless told). */
export async function createApp(server: TestServer, name: string, platform = 'android'): Promise<TestApp> {
  const app = await server.api('POST', '/apps', {
    name,
    platform,
    provider: 'simulator',
    providerConfig: SILENT_SIMULATOR,
  });
  return { id: app.id, sdkKey: app.sdkKey, sdkSecret: app.sdkSecret };
}

/** Registers devices through the workspace API (for tests about receipts, not registration); `null` channel: the app's default. */
export async function addDevices(
  server: TestServer,
  appId: string,
  deviceIds: string[],
  channel: string | null = 'xiaomi',
): Promise<void> {
  await server.api('POST', `/apps/${appId}/devices/batch`, {
    devices: deviceIds.map((deviceId) => ({
      deviceId,
      pushToken: `tok-${deviceId}`,
      ...(channel !== null && { channel }),
    })),
  });
}

/** Task statistics as the API shows them. */
export type Statistics = Record<string, number | null>;

/** Sends an immediate task from `appId` to `deviceIds` and waits until it is completed. */
export async function sendTask(server: TestServer, appId: string, deviceIds: string[]): Promise<string> {
  const audience = await server.api('POST', '/audiences', { name: `sdk ${Math.random()}`, deviceIds });
  const task = await server.api('POST', '/tasks', {
    name: `sdk task ${Math.random()}`,
    appId,
    title: 'Hello',
    content: 'From the SDK tests',
    clickAction: { type: 'open_app' },
    audienceId: audience.id,
    sendType: 'immediate',
    subCampaignIds: [],
  });
  for (;;) {
    const read = await server.api('GET', `/tasks/${task.id}`);
    if (read.status === 'completed') return task.id as string;
    if (read.status === 'failed') throw new Error(`task failed: ${JSON.stringify(read)}`);
    await sleep(50);
  }
}

/** The statistics of a task. */
export async function statistics(server: TestServer, taskId: string): Promise<Statistics> {
  return (await server.api('GET', `/tasks/${taskId}`)).statistics;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `read` until `done` holds for its value (for what arrives in the background), then returns it. */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`never reached: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

/** What the proxy does with the next request. */
export type ProxyAnswer =
  | { kind: 'pass' }
  /** Answers `status` itself (the server never sees the request), with the given headers and body. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  /** Forwards the request, then cuts the connection instead of answering: a lost answer. */
  | { kind: 'lose-answer' };

/** One request the proxy saw. */
export interface ProxiedRequest {
  path: string;
  at: number;
  body: string;
  answered: number | 'lost';
}

/** A proxy in front of the server that can be shut (connection refused) and scripted per request. */
export interface TestProxy {
  url: string;
  requests: ProxiedRequest[];
  /** Answers for the next requests, in order; `pass` once they are used up. */
  script: ProxyAnswer[];
  /** Stops listening: requests fail as with a server that is down. */
  shut(): Promise<void>;
  /** Listens again on the same port. */
  open(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy to `target` on a free loopback port. */
export async function startProxy(target: string): Promise<TestProxy> {
  const requests: ProxiedRequest[] = [];
  const script: ProxyAnswer[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const seen: ProxiedRequest = {
        path: req.url ?? '',
        at: Date.now(),
        body: body.toString(),
        answered: 0,
      };
      requests.push(seen);
      const answer = script.shift() ?? { kind: 'pass' };
      if (answer.kind === 'status') {
        seen.answered = answer.status;
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(
          JSON.stringify(
            answer.body ?? { error: { code: 'INJECTED', message: 'injected by the test proxy' } },
          ),
        );
        return;
      }
      try {
        const upstream = await fetch(target + (req.url ?? ''), {
          method: req.method ?? 'POST',
          headers: Object.fromEntries(
            Object.entries(req.headers).filter(
              ([name, value]) =>
                typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name),
            ) as [string, string][],
          ),
          ...(body.length > 0 && { body }),
        });
        const text = Buffer.from(await upstream.arrayBuffer());
        if (answer.kind === 'lose-answer') {
          seen.answered = 'lost';
          res.socket?.destroy();
          return;
        }
        seen.answered = upstream.status;
        const headers: Record<string, string> = {
          'content-type': upstream.headers.get('content-type') ?? 'application/json',
        };
        const retryAfter = upstream.headers.get('retry-after');
        if (retryAfter !== null) headers['retry-after'] = retryAfter;
        res.writeHead(upstream.status, headers);
        res.end(text);
      } catch {
        res.socket?.destroy();
      }
    });
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const shut = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script,
    shut,
    open: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    async close() {
      if (server.listening) await shut();
    },
  };
}

/** The receipts a proxied receipt request carried. */
export function receiptsOf(request: ProxiedRequest): { taskId: string; deviceId: string; kind: string }[] {
  return request.path === '/api/v1/receipts/sdk' ? JSON.parse(request.body).receipts : [];
}

/**
 * A storage that keeps every key in its own file, read and written from disk on every call: a new
 * SDK instance over the same folder sees exactly what the old one wrote, like an app restarted over
 * its AsyncStorage.
 */
export function fileStorage(dir: string): PushboardStorage {
  fs.mkdirSync(dir, { recursive: true });
  const file = (key: string) => path.join(dir, encodeURIComponent(key));
  return {
    async getItem(key) {
      try {
        return fs.readFileSync(file(key), 'utf8');
      } catch {
        return null;
      }
    },
    async setItem(key, value) {
      // Written to a side file and renamed: a crash leaves the old value or the new one.
      fs.writeFileSync(`${file(key)}.tmp`, value);
      fs.renameSync(`${file(key)}.tmp`, file(key));
    },
    async removeItem(key) {
      fs.rmSync(file(key), { force: true });
    },
  };
}
