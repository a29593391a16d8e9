/**
 * Hostile input, walked from the API's own OpenAPI document: every operation is called with
 * malformed, oversized and wrong-typed input (path parameters, query parameters, bodies, content
 * types, methods) and must answer without a 5xx, with the error envelope on every 4xx, and without
 * writing anything. New routes are covered as soon as they are in the document.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../src/storage/database.ts';
import { createTestInstance, multipartBody, type TestInstance } from './helpers.ts';

let t: TestInstance;
/** Real IDs for path parameters, so that validation past the lookup is reached too. */
const real: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestInstance();
  const ws = `/api/v1/workspaces/${t.workspaceId}`;
  const post = async (url: string, body: unknown) => {
    const res = await t.request(t.adminToken, { method: 'POST', url, body: body as object });
    if (res.statusCode >= 300) throw new Error(`fixture ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  real.workspaceId = t.workspaceId;
  const app = await post(`${ws}/apps`, { name: 'Hostile', platform: 'android', provider: 'simulator' });
  real.appId = app.id;
  await post(`${ws}/apps/${app.id}/devices`, { deviceId: 'dev-1', pushToken: 'tok-1' });
  real.deviceId = 'dev-1';
  const audience = await post(`${ws}/audiences`, { name: 'Hostile audience', deviceIds: ['dev-1'] });
  real.audienceId = audience.id;
  const campaign = await post(`${ws}/campaigns`, { name: 'Hostile campaign' });
  real.campaignId = campaign.id;
  const sub = await post(`${ws}/campaigns/${campaign.id}/sub-campaigns`, { name: 'Hostile sub' });
  real.subCampaignId = sub.id;
  const task = await post(`${ws}/tasks`, {
    name: 'Hostile task',
    appId: app.id,
    title: 'Hello',
    content: 'World',
    clickAction: { type: 'open_app' },
    audienceId: audience.id,
    sendType: 'scheduled',
    scheduledAt: new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString(),
    subCampaignIds: [sub.id],
  });
  real.taskId = task.id;
  const token = await post(`${ws}/tokens`, { name: 'hostile', role: 'viewer' });
  real.tokenId = token.id;
  await post('/api/v1/users', { username: 'hostile-user', password: 'hostile-password-1' });
  await post(`${ws}/members`, { username: 'hostile-user', role: 'viewer' });
  real.username = 'hostile-user';
  real.provider = 'simulator';
});
afterAll(async () => {
  await t?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is untyped JSON.
type Json = any;

/** One request of the walk, with what it is meant to probe. */
interface Probe {
  what: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  payload?: string | Buffer;
}

/** Path parameter values no route may choke on. */
const HOSTILE_SEGMENTS = [
  'does-not-exist',
  'x'.repeat(5000),
  '%00',
  '..%2F..%2Fetc%2Fpasswd',
  '%F0%9F%92%A9',
  "'%20OR%201=1%20--",
  '%E0%A4%A',
];

/** Values for a query parameter of a given schema type, each wrong or out of range for it. */
function hostileQueryValues(schema: Json): string[] {
  const common = ['x'.repeat(10_000), '%00', '%ZZ'];
  switch (schema?.type) {
    case 'integer':
    case 'number':
      return ['abc', '1e308', '-1', '99999999999999999999', '1.5', 'NaN', ...common];
    case 'boolean':
      return ['maybe', ...common];
    case 'array':
      return ['bogus', ...common];
    default:
      return ['bogus-value', '2026-13-45T99:99:99Z', ...common];
  }
}

/** A value of a different JSON type than `schema` asks for. */
function wrongTyped(schema: Json): unknown {
  switch (schema?.type) {
    case 'string':
      return 12345;
    case 'integer':
    case 'number':
      return 'not-a-number';
    case 'boolean':
      return 'maybe';
    case 'array':
      return { not: 'an array' };
    case 'object':
      return 'not an object';
    default:
      return { unexpected: [1, { deeper: null }] };
  }
}

/** The JSON-body probes of one operation: malformed, wrong-typed, oversized, the wrong shape. */
function bodyProbes(base: { method: string; url: string }, schema: Json): Probe[] {
  const json = { 'content-type': 'application/json' };
  const probes: Probe[] = [
    { ...base, what: 'malformed JSON', headers: json, payload: '{"name": "x",' },
    { ...base, what: 'an array for the object', headers: json, payload: '[1,2,3]' },
    { ...base, what: 'JSON null', headers: json, payload: 'null' },
    { ...base, what: 'a JSON string', headers: json, payload: '"text"' },
    {
      ...base,
      what: 'deeply nested arrays',
      headers: json,
      payload: `${'['.repeat(5000)}${']'.repeat(5000)}`,
    },
    { ...base, what: 'a 9 MiB body', headers: json, payload: `{"name":"${'x'.repeat(9 * 1024 * 1024)}"}` },
    { ...base, what: 'text/plain instead of JSON', headers: { 'content-type': 'text/plain' }, payload: 'hi' },
    {
      ...base,
      what: 'an unknown content type',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    },
    { ...base, what: 'a prototype-polluting key', headers: json, payload: '{"__proto__":{"admin":true}}' },
  ];
  const properties: Record<string, Json> = schema?.properties ?? {};
  const names = Object.keys(properties);
  if (names.length > 0) {
    const allWrong = Object.fromEntries(names.map((n) => [n, wrongTyped(properties[n])]));
    probes.push({
      ...base,
      what: 'every field wrong-typed',
      headers: json,
      payload: JSON.stringify(allWrong),
    });
    for (const name of names) {
      probes.push({
        ...base,
        what: `${name} wrong-typed`,
        headers: json,
        payload: JSON.stringify({ [name]: wrongTyped(properties[name]) }),
      });
      probes.push({
        ...base,
        what: `${name} with a NUL character`,
        headers: json,
        payload: JSON.stringify({ [name]: properties[name]?.type === 'array' ? ['a\u0000b'] : 'a\u0000b' }),
      });
      probes.push({
        ...base,
        what: `${name} oversized`,
        headers: json,
        payload: JSON.stringify({ [name]: 'y'.repeat(200_000) }),
      });
    }
  }
  return probes;
}

/** Every probe of one operation of the document. */
function operationProbes(path: string, method: string, op: Json, doc: Json): Probe[] {
  const verb = method.toUpperCase();
  const params: Json[] = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path').map((p) => p.name as string);
  const fill = (values: Record<string, string>) =>
    path.replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? real[name] ?? 'unknown');
  const realUrl = fill({});
  const probes: Probe[] = [];
  const reads = verb === 'GET' || verb === 'HEAD';
  const streams = path.endsWith('/events');

  // Hostile path parameters: one at a time, the others real, so each lookup is reached.
  for (const name of pathParams) {
    for (const segment of HOSTILE_SEGMENTS) {
      probes.push({
        what: `path ${name}=${segment.slice(0, 20)}`,
        method: verb,
        url: fill({ [name]: segment }),
      });
    }
  }
  // Hostile query parameters on the real path. Writes are probed only with a body that is wrong
  // too, so that a probe can never be a valid request that writes.
  const query = params.filter((p) => p.in === 'query');
  if (reads && !streams) {
    for (const p of query) {
      for (const value of hostileQueryValues(p.schema)) {
        probes.push({
          what: `query ${p.name}=${value.slice(0, 20)}`,
          method: verb,
          url: `${realUrl}?${p.name}=${value}`,
        });
      }
    }
    probes.push({ what: 'a 100 KiB query string', method: verb, url: `${realUrl}?${'q'.repeat(100_000)}=1` });
  }
  // Bodies: JSON routes get the body probes; uploads get broken multipart and CSV.
  const content = op.requestBody?.content ?? {};
  const jsonSchema = resolve(content['application/json']?.schema, doc);
  if (!reads && (jsonSchema || content['multipart/form-data'] || path.endsWith('/upload'))) {
    probes.push(...bodyProbes({ method: verb, url: realUrl }, jsonSchema));
    const noBoundary = { 'content-type': 'multipart/form-data' };
    probes.push({
      what: 'multipart without a boundary',
      method: verb,
      url: realUrl,
      headers: noBoundary,
      payload: 'x',
    });
    const nul = multipartBody(
      { task: '{"name":"a\\u0000b"}', name: 'a\u0000b' },
      { field: 'file', filename: 'ids.csv', content: 'id\u0000one\n' },
    );
    probes.push({
      what: 'multipart with NUL characters',
      method: verb,
      url: realUrl,
      headers: nul.headers,
      payload: nul.payload,
    });
    const broken = multipartBody(
      { task: '{"name":', name: '' },
      { field: 'file', filename: '../../x.csv', content: '\0\0' },
    );
    probes.push({
      what: 'multipart with broken fields',
      method: verb,
      url: realUrl,
      headers: broken.headers,
      payload: broken.payload,
    });
  }
  if (content['text/csv']) {
    probes.push({
      what: 'a CSV of binary garbage',
      method: verb,
      url: realUrl,
      headers: { 'content-type': 'text/csv' },
      payload: Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0x2c, 0x2c, 0x0a, 0xc3, 0x28]),
    });
  }
  return probes;
}

/** Follows a `$ref` into the document's components. */
function resolve(schema: Json, doc: Json): Json {
  if (!schema?.$ref) return schema;
  const name = String(schema.$ref).split('/').pop() ?? '';
  return doc.components?.schemas?.[name];
}

/** Row counts of every table of the store, to prove nothing was written. */
async function tableCounts(db: Db): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of await db.introspection.getTables()) {
    const row = await db
      // biome-ignore lint/suspicious/noExplicitAny: every table of the store, by name.
      .selectFrom(table.name as any)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    counts[table.name] = Number(row.n);
  }
  return counts;
}

/** What was wrong with one answer, or undefined when it is a proper refusal. */
function problemWith(res: {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}): string | undefined {
  if (res.statusCode >= 500) return `${res.statusCode}: ${res.body.slice(0, 200)}`;
  if (res.statusCode < 400) return undefined;
  let parsed: Json;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    return `${res.statusCode} without a JSON envelope: ${res.body.slice(0, 200)}`;
  }
  const error = parsed?.error;
  if (typeof error?.code !== 'string' || !/^[A-Z][A-Z0-9_]+$/.test(error.code)) {
    return `${res.statusCode} without an error code: ${res.body.slice(0, 200)}`;
  }
  if (typeof error.message !== 'string' || error.message.length === 0) {
    return `${res.statusCode} ${error.code} without a message`;
  }
  return undefined;
}

describe('hostile input against every OpenAPI operation', () => {
  test('no 5xx, the envelope on every 4xx, and nothing written', async () => {
    const doc = (await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' })).json();
    const probes: Probe[] = [];
    for (const [path, operations] of Object.entries<Json>(doc.paths)) {
      for (const [method, op] of Object.entries<Json>(operations)) {
        probes.push(...operationProbes(path, method, op, doc));
      }
      // A method the path does not have.
      probes.push({
        what: 'an unsupported method',
        method: 'PUT',
        url: path.replace(/\{(\w+)\}/g, (_m, n) => real[n] ?? 'x'),
      });
    }
    expect(probes.length).toBeGreaterThan(500);

    const before = await tableCounts(t.db);
    const problems: string[] = [];
    for (const probe of probes) {
      const res = await t.request(t.adminToken, {
        method: probe.method as 'GET',
        url: probe.url,
        headers: probe.headers,
        payload: probe.payload,
      });
      const problem = problemWith(res);
      if (problem) problems.push(`${probe.method} ${probe.url.slice(0, 120)} (${probe.what}) → ${problem}`);
    }
    expect.soft(problems).toEqual([]);
    expect(await tableCounts(t.db)).toEqual(before);
  });

  test('unauthenticated and forged callers get the envelope on every operation', async () => {
    const doc = (await t.request(null, { method: 'GET', url: '/api/v1/openapi.json' })).json();
    const problems: string[] = [];
    const before = await tableCounts(t.db);
    for (const [path, operations] of Object.entries<Json>(doc.paths)) {
      const url = path.replace(/\{(\w+)\}/g, (_m, n: string) => real[n] ?? 'x');
      for (const method of Object.keys(operations)) {
        if (url.endsWith('/events')) continue;
        for (const authorization of [
          undefined,
          'Bearer forged-token',
          'Basic YWRtaW46YWRtaW4=',
          `Bearer ${'z'.repeat(20_000)}`,
        ]) {
          const res = await t.request(null, {
            method: method.toUpperCase() as 'GET',
            url,
            headers: {
              ...(authorization ? { authorization } : {}),
              'x-pushboard-key': 'pbk_forged',
              'x-pushboard-signature': 'f'.repeat(64),
              'content-type': 'application/json',
            },
            payload: method === 'get' ? undefined : '{"receipts":[]}',
          });
          const problem = problemWith(res);
          if (problem)
            problems.push(
              `${method.toUpperCase()} ${url} (${authorization?.slice(0, 20) ?? 'no token'}) → ${problem}`,
            );
        }
      }
    }
    expect.soft(problems).toEqual([]);
    expect(await tableCounts(t.db)).toEqual(before);
  });
});
