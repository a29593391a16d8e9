/**
 * Disk rules of docs/operations.md#disk: an upload that would leave less than PUSHBOARD_MIN_FREE_BYTES free is
 * refused with 507 (before reading when its size is announced, while streaming otherwise) and a
 * failed import leaves nothing behind at once; health degrades while the store cannot write.
 */
import { once } from 'node:events';
import type net from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { buildApp } from '../src/app.ts';
import { freeBytes } from '../src/http/disk-space.ts';
import { openReadOnlyStore, SCALED } from './backends.ts';
import { createTestInstance, multipartBody, type TestInstance } from './helpers.ts';
import { killAll, LISTENING, spawnServe } from './serve-harness.ts';

const WS = '/api/v1/workspaces/default';
/** More free bytes than any disk has: every upload would leave "too little". */
const HUGE = String(Number.MAX_SAFE_INTEGER);

const instances: TestInstance[] = [];
afterEach(async () => {
  killAll();
  for (const t of instances.splice(0)) await t.close();
});

async function instance(env: Record<string, string> = {}): Promise<TestInstance> {
  const t = await createTestInstance(env);
  instances.push(t);
  return t;
}

async function androidApp(t: TestInstance): Promise<string> {
  const res = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/apps`,
    body: { name: 'Shop', platform: 'android', provider: 'simulator' },
  });
  return res.json().id as string;
}

/** What imports may have left in the store. */
async function leftovers(t: TestInstance) {
  const [audiences, members, staging, lines, tasks] = await Promise.all([
    t.db.selectFrom('audiences').select('id').execute(),
    t.db.selectFrom('audience_members').select('device_id').execute(),
    t.db.selectFrom('device_imports').select('id').where('status', '=', 'staging').execute(),
    t.db.selectFrom('device_import_rows').select('line').execute(),
    t.db.selectFrom('tasks').select('id').execute(),
  ]);
  return {
    audiences: audiences.length,
    members: members.length,
    staging: staging.length,
    lines: lines.length,
    tasks: tasks.length,
  };
}

const NOTHING = { audiences: 0, members: 0, staging: 0, lines: 0, tasks: 0 };

test('with too little free space every upload is refused with 507 and nothing is written', async () => {
  const t = await instance({ PUSHBOARD_MIN_FREE_BYTES: HUGE });
  const appId = await androidApp(t);
  const csv = 'deviceId,pushToken\ndev-1,token-1\n';
  const devices = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/apps/${appId}/devices/import`,
    payload: csv,
    headers: { 'content-type': 'text/csv' },
  });
  const audience = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/audiences`,
    ...multipartBody({ name: 'VIP' }, { field: 'file', filename: 'ids.txt', content: 'a\nb\n' }),
  });
  const task = await t.request(t.adminToken, {
    method: 'POST',
    url: `${WS}/tasks/upload`,
    ...multipartBody(
      {
        task: JSON.stringify({
          name: 'Sale',
          appId,
          title: 'Sale',
          content: 'Half price',
          clickAction: { type: 'open_app' },
          sendType: 'immediate',
        }),
      },
      { field: 'file', filename: 'ids.txt', content: 'a\nb\n' },
    ),
  });
  for (const res of [devices, audience, task]) {
    expect(res.statusCode, res.body).toBe(507);
    expect(res.json().error).toMatchObject({
      code: 'INSUFFICIENT_STORAGE',
      message: expect.stringContaining('free'),
    });
  }
  expect(await leftovers(t)).toEqual(NOTHING);
  // Reading and small JSON writes are not uploads: they still work.
  const apps = await t.request(t.adminToken, { method: 'GET', url: `${WS}/apps` });
  expect(apps.statusCode).toBe(200);
});

/**
 * Streams a chunked text/csv body to a listening server: `first`, then (once `between` resolved)
 * `rest`; answers the status and body of the answer.
 */
async function streamUpload(
  t: TestInstance,
  url: string,
  first: string,
  between: () => Promise<void>,
  rest: string,
): Promise<{ status: number; body: { error?: { code: string } } }> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (t.app.server.address() as net.AddressInfo).port;
  const encoder = new TextEncoder();
  let step = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (step === 0) controller.enqueue(encoder.encode(first));
      else if (step === 1) {
        await between();
        controller.enqueue(encoder.encode(rest));
      } else controller.close();
      step++;
    },
  });
  const res = await fetch(`http://127.0.0.1:${port}${url}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'text/csv' },
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

/** Waits until `probe` holds (the import has begun writing). */
async function until(probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500 && !(await probe()); i++) await new Promise((r) => setTimeout(r, 10));
}

/** 2 MiB of lines: past the next look at the free space (every MiB). */
function manyLines(make: (i: number) => string): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < 2 * 1024 * 1024; i++) {
    const line = make(i);
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

test('an audience upload that runs the disk short while streaming is refused and leaves nothing behind', async () => {
  const t = await instance();
  t.config.minFreeBytes = 0;
  const res = await streamUpload(
    t,
    `${WS}/audiences?name=Streamed`,
    'id-start\n',
    async () => {
      // The import has begun (its audience row exists, `importing`) when the disk "fills".
      await until(async () => (await leftovers(t)).audiences > 0);
      t.config.minFreeBytes = Number.MAX_SAFE_INTEGER;
    },
    manyLines((i) => `id-${i}`),
  );
  expect(res.status).toBe(507);
  expect(res.body.error?.code).toBe('INSUFFICIENT_STORAGE');
  expect(await leftovers(t)).toEqual(NOTHING);
});

test('a device import that runs the disk short while streaming is refused and leaves nothing behind', async () => {
  const t = await instance();
  const appId = await androidApp(t);
  t.config.minFreeBytes = 0;
  const res = await streamUpload(
    t,
    `${WS}/apps/${appId}/devices/import`,
    'deviceId,pushToken\n',
    async () => {
      await until(async () => {
        const rows = await t.db.selectFrom('device_imports').select('id').execute();
        return rows.length > 0;
      });
      t.config.minFreeBytes = Number.MAX_SAFE_INTEGER;
    },
    manyLines((i) => `dev-${i},token-${i}`),
  );
  expect(res.status).toBe(507);
  expect(await leftovers(t)).toEqual(NOTHING);
  expect(await t.db.selectFrom('devices').select('device_id').execute()).toEqual([]);
});

test('health is 200 ok with its checks, and 503 degraded when free space is below the minimum', async () => {
  const t = await instance();
  const ok = await t.request(null, { method: 'GET', url: '/api/v1/health' });
  expect(ok.statusCode).toBe(200);
  expect(ok.json()).toEqual({ status: 'ok', checks: { store: 'ok', disk: 'ok' } });
  t.config.minFreeBytes = (await freeBytes(t.dir)) + 1024 * 1024 * 1024 * 1024;
  const low = await t.request(null, { method: 'GET', url: '/api/v1/health' });
  expect(low.statusCode).toBe(503);
  expect(low.json()).toEqual({ status: 'degraded', checks: { store: 'ok', disk: 'low' } });
});

test('health is 503 degraded while the store cannot write', async () => {
  const t = await instance();
  // A second handle on the same store that refuses every write, as a read-only or full database does.
  const readOnly = await openReadOnlyStore(t);
  const app = await buildApp({ config: t.config, db: readOnly, logger: false });
  try {
    // Every connection of the pool refuses writes: ask a few times.
    for (let i = 0; i < 4; i++) {
      const res = await app.inject({ method: 'GET', url: '/api/v1/health' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ status: 'degraded', checks: { store: 'not_writable', disk: 'ok' } });
    }
  } finally {
    await app.close();
    await readOnly.destroy();
  }
});

test('an embedded start drops every import a stopped process left half-written', async () => {
  const t = await instance();
  const appId = await androidApp(t);
  const now = new Date().toISOString();
  // What a process killed in the middle of two uploads leaves: an `importing` audience with
  // members, a `staging` device import with lines.
  await t.db
    .insertInto('audiences')
    .values({
      id: 'aud_killed',
      workspace_id: t.workspaceId,
      name: 'Half uploaded',
      source: 'upload',
      file_name: 'ids.txt',
      source_task_id: null,
      source_filter: null,
      created_at: now,
      status: 'importing',
      size: 0,
    })
    .execute();
  await t.db.insertInto('audience_members').values({ audience_id: 'aud_killed', device_id: 'a' }).execute();
  await t.db
    .insertInto('device_imports')
    .values({ id: 'imp_killed', app_id: appId, status: 'staging', created_at: now })
    .execute();
  await t.db
    .insertInto('device_import_rows')
    .values({
      import_id: 'imp_killed',
      line: 2,
      device_id: 'dev-1',
      push_token: 'token-1',
      channel: 'simulator',
    })
    .execute();
  const server = await spawnServe(
    [],
    { ...t.env, PUSHBOARD_SEED_DEMO: 'false', LOG_LEVEL: 'info' },
    LISTENING,
  );
  server.child.kill('SIGTERM');
  await once(server.child, 'exit');
  const left = await leftovers(t);
  if (SCALED) {
    // Other API processes may be importing right now: only imports a day old count as abandoned.
    expect(left).toMatchObject({ audiences: 1, staging: 1 });
  } else {
    expect(left).toEqual(NOTHING);
  }
});
