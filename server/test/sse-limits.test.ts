/**
 * Limits of the live-statistics event streams (docs/operations.md#receipts-streams-and-exports): at most 20 open streams per token and
 * 1,000 per process (`429 TOO_MANY_EVENT_STREAMS` with `Retry-After` beyond), the caller's token
 * re-checked while a stream is open (a revoked token's stream ends), and every stream ended after
 * its maximum age (clients reconnect). The intervals are shortened through the app's deps; the
 * streams are real HTTP on a listening server.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { buildApp } from '../src/app.ts';
import type { Api } from '../src/http/route-deps.ts';
import { EVENT_STREAM_LIMITS, type EventStreamLimits } from '../src/results/device-result-routes.ts';
import { createTestInstance, type TestInstance } from './helpers.ts';

const WS = '/api/v1/workspaces/default';

let t: TestInstance;
let instance: TestInstance | undefined;
let api: Api | undefined;
const open: AbortController[] = [];

afterEach(async () => {
  for (const stream of open.splice(0)) stream.abort();
  await api?.close();
  api = undefined;
  await instance?.close();
  instance = undefined;
});

/** A test instance with a task that is sending (its stream stays open), served over HTTP with `limits`. */
async function serve(limits: Partial<EventStreamLimits>) {
  t = await createTestInstance();
  instance = t;
  const create = async (url: string, body: object) => {
    const res = await t.request(t.adminToken, { method: 'POST', url: `${WS}${url}`, body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id as string;
  };
  const appId = await create('/apps', { name: 'Live', platform: 'android', provider: 'simulator' });
  const audienceId = await create('/audiences', { name: 'Live', deviceIds: ['d-1'] });
  const taskId = await create('/tasks', {
    name: 'Live',
    appId,
    title: 'Hello',
    content: 'World',
    clickAction: { type: 'open_app' },
    audienceId,
    sendType: 'immediate',
  });
  await t.db
    .updateTable('tasks')
    .set({ status: 'sending', started_at: t.clock.now.toISOString() })
    .where('id', '=', taskId)
    .execute();
  api = await buildApp({
    config: t.config,
    db: t.db,
    logger: false,
    clock: () => t.clock.now,
    eventStreams: limits,
  });
  const base = await api.listen({ port: 0, host: '127.0.0.1' });
  return { base, url: `${base}${WS}/tasks/${taskId}/events` };
}

/** An API token of the default workspace: its bearer and ID. */
async function apiToken(name: string) {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/tokens`,
    body: { name, role: 'viewer' },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; token: string };
}

/** Opens a stream and reads until its first frame; answers the response and a reader of what follows. */
async function stream(url: string, token: string) {
  const abort = new AbortController();
  open.push(abort);
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  if (res.status !== 200) return { res, abort, ended: Promise.resolve(true) };
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  expect(text).toMatch(/^event: statistics\n/);
  // Resolves once the server ends the stream (true), with what it sent after the first frame.
  const ended = (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return true;
      text += decoder.decode(value);
    }
  })();
  return { res, abort, ended, rest: () => text };
}

describe('event stream limits', () => {
  test('the defaults are 20 per token, 1,000 per process, a token check every minute, an hour per stream', () => {
    expect(EVENT_STREAM_LIMITS).toEqual({
      perToken: 20,
      perProcess: 1000,
      recheckMs: 60_000,
      maxAgeMs: 3_600_000,
    });
  });

  test('the 21st stream of one token is refused with 429 and Retry-After; other tokens and freed slots are fine', async () => {
    const { url } = await serve({});
    const streams = [];
    for (let i = 0; i < 20; i++) streams.push(await stream(url, t.adminToken));
    for (const s of streams) expect(s.res.status).toBe(200);
    const refused = await stream(url, t.adminToken);
    expect(refused.res.status).toBe(429);
    expect(refused.res.headers.get('retry-after')).toMatch(/^\d+$/);
    const body = await refused.res.json();
    expect(body.error.code).toBe('TOO_MANY_EVENT_STREAMS');
    expect(body.error.details).toMatchObject({ scope: 'token', limit: 20 });

    const other = await apiToken('watcher');
    expect((await stream(url, other.token)).res.status).toBe(200);

    // Closing one of the 20 gives its slot back.
    streams[0]!.abort.abort();
    let again: Awaited<ReturnType<typeof stream>> | undefined;
    for (let i = 0; i < 100 && again?.res.status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      again = await stream(url, t.adminToken);
    }
    expect(again?.res.status).toBe(200);
  });

  test('a process serves at most its limit of streams, whoever asks', async () => {
    const { url } = await serve({ perProcess: 3 });
    const tokens = await Promise.all(['a', 'b', 'c', 'd'].map((name) => apiToken(name)));
    for (const token of tokens.slice(0, 3)) expect((await stream(url, token.token)).res.status).toBe(200);
    const refused = await stream(url, tokens[3]!.token);
    expect(refused.res.status).toBe(429);
    expect(refused.res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await refused.res.json()).error).toMatchObject({
      code: 'TOO_MANY_EVENT_STREAMS',
      details: { scope: 'process', limit: 3 },
    });
  });

  test('revoking the token ends its open stream within the re-check interval', async () => {
    const { url } = await serve({ recheckMs: 300 });
    const token = await apiToken('revoked-soon');
    const kept = await stream(url, t.adminToken);
    const doomed = await stream(url, token.token);
    expect(doomed.res.status).toBe(200);
    const revoked = await t.request(t.adminToken, { method: 'DELETE', url: `${WS}/tokens/${token.id}` });
    expect(revoked.statusCode, revoked.body).toBe(204);
    const revokedAt = performance.now();
    expect(await doomed.ended).toBe(true);
    // The interval plus one poll of the stream's loop, with room for a slow machine.
    expect(performance.now() - revokedAt).toBeLessThan(300 + 2_000);
    // No `end` event: nothing about the task is final; the client's reconnect then gets 401.
    expect(doomed.rest?.()).not.toContain('event: end');
    expect((await stream(url, token.token)).res.status).toBe(401);
    // The admin's stream is untouched.
    const race = await Promise.race([kept.ended, new Promise((resolve) => setTimeout(resolve, 700, 'open'))]);
    expect(race).toBe('open');
  });

  test('a stream is ended after its maximum age; the client may reconnect', async () => {
    const { url } = await serve({ maxAgeMs: 500 });
    const first = await stream(url, t.adminToken);
    const openedAt = performance.now();
    expect(await first.ended).toBe(true);
    expect(performance.now() - openedAt).toBeLessThan(500 + 2_000);
    expect(first.rest?.()).not.toContain('event: end');
    expect((await stream(url, t.adminToken)).res.status).toBe(200);
  });
});
