/**
 * A local fake of Umeng's U-Push API (docs/providers.md#umeng) on loopback, for the `umeng` provider's tests. It is
 * strict where the real service is: it checks the signature, timestamp, appkey, JSON and the body of
 * each send type, issues file IDs and task IDs, drops a repeated `out_biz_no`, and records every
 * request and every send that would reach devices. Tests can script failures: an error code, a bare
 * HTTP answer, or a call that never answers.
 *
 * Where the real error code of a check is unknown (field errors), it answers 1000 with a message
 * naming the problem; only the codes of docs/providers.md#umeng are used otherwise. Message IDs look like Umeng's:
 * `ul…` for a listcast, `uf…` for a filecast. It posts receipts the way integrations report Umeng
 * does (docs/providers.md#umeng-receipts): `{thirdparty_id, action_type, msg_id, device_tokens, alias, channel}`,
 * to the `receipt_url` of the send.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = Record<string, unknown>;

/** Credentials of one app the fake knows. */
export interface FakeUmengApp {
  appKey: string;
  appMasterSecret: string;
}

/** One request as the fake received it, with what it answered. */
export interface RecordedRequest {
  path: string;
  /** The `sign` query parameter. */
  sign: string | null;
  /** The body exactly as received. */
  raw: string;
  /** The body parsed, or undefined when it was not JSON. */
  body: Json | undefined;
  /** HTTP status and body answered; null while (or because) the call hangs. */
  answer: { status: number; body: unknown } | null;
}

/** A send Umeng accepted, i.e. one that reaches its devices (a deduplicated repeat is not one). */
export interface FakeSend {
  type: 'listcast' | 'filecast';
  /** The `msg_id` (listcast) or `task_id` (filecast) answered. */
  ref: string;
  /** Tokens the push goes to (refused tokens left out). */
  tokens: string[];
  body: Json;
}

/** One receipt item as Umeng posts it (docs/providers.md#umeng): `action_type` 0 = arrival, 1 = open. */
export interface UmengReceiptItem {
  thirdparty_id: string;
  action_type: number;
  msg_id: string;
  /** Comma-separated. */
  device_tokens: string;
  alias: string;
  channel: string;
}

/** How a test delivers a receipt post to Pushboard: the receipt URL of the send and the JSON body. */
export type ReceiptPoster = (url: string, body: string) => Promise<{ status: number; body: string }>;

/** A task-type send, as `/api/status` and `/api/cancel` see it. */
export interface FakeTask {
  taskId: string;
  appKey: string;
  /** Umeng's status number (docs/providers.md#umeng): 2 done, 4 cancelled, 7 scheduled… */
  status: number;
  startTime: string | null;
}

/**
 * A scripted answer for the next call(s) to one path, given after the signature checks passed: a FAIL
 * with a code, a bare HTTP answer, a redirect elsewhere, or no answer at all — before handling the call, or after it (the
 * call took effect and its answer was lost).
 */
export type ScriptedAnswer =
  | { code: string; message?: string; httpStatus?: number }
  | { httpStatus: number; body: string }
  | { redirect: 301 | 302 | 303 | 307 | 308; location: string }
  | { hang: true; afterHandling?: boolean };

/** How a per-token failure lists the refused tokens. */
export type TokenFailureShape = 'objects' | 'csv' | 'none';

export interface FakeUmengOptions {
  apps: FakeUmengApp[];
  /** The fake's clock, in milliseconds (defaults to the real time). */
  now?: () => number;
}

/** A running fake. */
export interface FakeUmeng {
  /** Base URL to put in an app's `baseUrl`. */
  baseUrl: string;
  requests: RecordedRequest[];
  sends: FakeSend[];
  tasks: Map<string, FakeTask>;
  /** Answers the next `times` calls to `path` with `answer` instead of handling them. */
  script(path: string, answer: ScriptedAnswer, times?: number): void;
  /** Refuses these tokens in listcasts, each with its code (4020, 4014…), listed in `shape`. */
  refuseTokens(codes: Record<string, string>, shape?: TokenFailureShape): void;
  /** Requests to one path. */
  requestsTo(path: string): RecordedRequest[];
  /**
   * Receipt items of `send` for `tokens` (default: all its tokens in one item), with `action_type`
   * and the `channel` that reached them (default `umeng`).
   */
  receiptsOf(send: FakeSend, actionType: number, tokens?: string[], channel?: string): UmengReceiptItem;
  /**
   * Posts `body` (one item or an array, as Umeng may) to the `receipt_url` of `send`, through `post`
   * (default: a real HTTP POST); answers Pushboard's status and answer.
   */
  postReceipts(
    send: FakeSend,
    body: UmengReceiptItem | UmengReceiptItem[],
    post?: ReceiptPoster,
  ): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

const MAX_TIMESTAMP_AGE_MS = 10 * 60 * 1000;
const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;
const LISTCAST_MAX = 500;
const PAYLOAD_LIMITS = { android: 1840, ios: 2012 };
const AFTER_OPEN = new Set(['go_app', 'go_url', 'go_activity', 'go_custom']);
const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;

/** A FAIL answer: its code, message and any data beside them (the tokens of a per-token refusal). */
class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly data: Json = {},
  ) {
    super(message);
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A real HTTP POST of a receipt body, as Umeng makes it. */
const httpPost: ReceiptPoster = async (url, body) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { status: response.status, body: await response.text() };
};

function bytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** Starts a fake U-Push server on a free loopback port. */
export async function startFakeUmeng(options: FakeUmengOptions): Promise<FakeUmeng> {
  const now = options.now ?? Date.now;
  const secrets = new Map(options.apps.map((app) => [app.appKey, app.appMasterSecret]));
  const requests: RecordedRequest[] = [];
  const sends: FakeSend[] = [];
  const tasks = new Map<string, FakeTask>();
  const files = new Map<string, { appKey: string; tokens: string[] }>();
  const outBizNos = new Map<string, string>(); // `${appkey} ${out_biz_no}` → task_id
  const scripts = new Map<string, ScriptedAnswer[]>();
  let refused: Record<string, string> = {};
  let refusedShape: TokenFailureShape = 'objects';
  let counter = 0;
  const nextId = (prefix: string) => `${prefix}${String(++counter).padStart(8, '0')}`;

  function check(condition: unknown, message: string, code = '1000'): asserts condition {
    if (!condition) throw new Refusal(code, message);
  }

  function checkPayload(payload: unknown): void {
    check(isObject(payload), 'payload is required');
    if (isObject(payload.aps)) {
      const alert = payload.aps.alert;
      check(isObject(alert) && typeof alert.title === 'string', 'aps.alert needs title and body');
      check(payload.d === undefined && payload.p === undefined, 'keys d and p are reserved', '5002');
      check(bytes(payload) <= PAYLOAD_LIMITS.ios, 'payload too long', '2022');
      return;
    }
    check(payload.display_type === 'notification' || payload.display_type === 'message', 'bad display_type');
    const body = payload.body;
    check(isObject(body), 'payload.body is required');
    for (const field of ['ticker', 'title', 'text']) {
      check(typeof body[field] === 'string' && body[field] !== '', `body.${field} is required`);
    }
    check(AFTER_OPEN.has(String(body.after_open)), 'bad after_open');
    if (body.after_open === 'go_url') check(/^https?:\/\//.test(String(body.url)), 'go_url needs url');
    if (body.after_open === 'go_activity') check(typeof body.activity === 'string', 'needs activity');
    if (body.after_open === 'go_custom') check(body.custom !== undefined, 'go_custom needs custom');
    check(payload.extra === undefined || isObject(payload.extra), 'extra must be an object');
    check(bytes(payload) <= PAYLOAD_LIMITS.android, 'payload too long', '2022');
  }

  /** `yyyy-MM-dd HH:mm:ss` in Beijing time → epoch ms, or NaN. */
  function beijingMs(value: string): number {
    if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value)) return Number.NaN;
    return Date.parse(`${value.replace(' ', 'T')}Z`) - BEIJING_OFFSET_MS;
  }

  function send(appKey: string, body: Json): Json {
    check(body.type === 'listcast' || body.type === 'filecast', `type ${String(body.type)} is not faked`);
    checkPayload(body.payload);
    if (body.production_mode !== undefined) {
      check(body.production_mode === 'true' || body.production_mode === 'false', 'bad production_mode');
    }
    if (body.receipt_url !== undefined) {
      check(typeof body.receipt_url === 'string', 'receipt_url must be a string');
      check(Buffer.byteLength(body.receipt_url) <= 256, 'receipt_url longer than 256 bytes');
    }
    if (body.receipt_type !== undefined) check([1, 2, 3].includes(Number(body.receipt_type)), 'receipt_type');
    if (body.thirdparty_id !== undefined) {
      check(
        typeof body.thirdparty_id === 'string' && body.thirdparty_id !== '',
        'thirdparty_id must be text',
      );
    }
    if (body.category !== undefined) check(body.category === 0 || body.category === 1, 'category is 0 or 1');
    if (body.mipush !== undefined) {
      check(body.mipush === 'true' || body.mipush === 'false', 'mipush must be "true" or "false"');
      if (body.mipush === 'true') check(typeof body.mi_activity === 'string', 'mipush needs mi_activity');
    }
    if (body.channel_properties !== undefined) {
      const properties = body.channel_properties;
      check(isObject(properties), 'channel_properties must be an object');
      for (const value of Object.values(properties)) {
        check(typeof value === 'string', 'channel_properties values must be strings');
      }
    }
    const policy = body.policy ?? {};
    check(isObject(policy), 'policy must be an object');
    let expireAt = now() + 3 * 24 * 60 * 60 * 1000;
    if (policy.expire_time !== undefined) {
      expireAt = beijingMs(String(policy.expire_time));
      check(Number.isFinite(expireAt) && expireAt > now(), 'expire_time must be a future time', '2003');
      check(expireAt <= now() + SEVEN_DAYS_MS, 'expire_time is more than 7 days away', '2040');
    }
    let startTime: string | null = null;
    if (policy.start_time !== undefined) {
      check(body.type === 'filecast', 'start_time is for task-type sends only', '2002');
      startTime = String(policy.start_time);
      const at = beijingMs(startTime);
      check(Number.isFinite(at) && at > now(), 'start_time must be a future yyyy-MM-dd HH:mm:ss', '2002');
      check(at <= now() + SEVEN_DAYS_MS, 'start_time is more than 7 days after creation', '2046');
      check(at < expireAt, 'start_time must be before expire_time', '2003');
    }

    if (body.type === 'listcast') {
      check(typeof body.device_tokens === 'string' && body.device_tokens !== '', 'device_tokens required');
      const tokens = body.device_tokens.split(',');
      check(tokens.length <= LISTCAST_MAX, `listcast takes at most ${LISTCAST_MAX} device_tokens`);
      const bad = tokens.filter((token) => refused[token] !== undefined);
      const sent = tokens.filter((token) => refused[token] === undefined);
      const msgId = nextId('ul');
      if (sent.length > 0) sends.push({ type: 'listcast', ref: msgId, tokens: sent, body });
      if (bad.length === 0) return { msg_id: msgId };
      const all = bad.length === tokens.length;
      const data: Json = sent.length > 0 ? { msg_id: msgId } : {};
      if (refusedShape === 'objects') {
        data.fail_device_tokens = bad.map((token) => ({
          device_token: token,
          error_code: refused[token],
          error_msg: 'refused by fake',
        }));
      } else if (refusedShape === 'csv') data.fail_device_tokens = bad.join(',');
      throw new Refusal(all ? '4025' : '4026', all ? 'all device tokens failed' : 'some tokens failed', data);
    }

    const file = files.get(String(body.file_id));
    check(file !== undefined && file.appKey === appKey, `file_id ${String(body.file_id)} was not issued`);
    const outBizNo = policy.out_biz_no === undefined ? undefined : String(policy.out_biz_no);
    const key = `${appKey} ${outBizNo}`;
    if (outBizNo !== undefined && outBizNos.has(key)) return { task_id: outBizNos.get(key) };
    const taskId = nextId('uf');
    if (outBizNo !== undefined) outBizNos.set(key, taskId);
    tasks.set(taskId, { taskId, appKey, status: startTime ? 7 : 2, startTime });
    sends.push({ type: 'filecast', ref: taskId, tokens: file.tokens, body });
    return { task_id: taskId };
  }

  function handle(path: string, appKey: string, body: Json): Json {
    if (path === '/upload') {
      check(typeof body.content === 'string' && body.content !== '', 'content is required');
      const fileId = nextId('PF');
      files.set(fileId, { appKey, tokens: body.content.split('\n') });
      return { file_id: fileId };
    }
    if (path === '/api/send') return send(appKey, body);
    const task = tasks.get(String(body.task_id));
    check(task !== undefined && task.appKey === appKey, `task ${String(body.task_id)} not found`, '2014');
    if (path === '/api/status') return { task_id: task.taskId, status: task.status };
    check(task.status === 0 || task.status === 7, `task is in status ${task.status}`, '2014');
    task.status = 4;
    return { task_id: task.taskId };
  }

  const hanging = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      const raw = Buffer.concat(chunks).toString('utf8');
      const record: RecordedRequest = {
        path: url.pathname,
        sign: url.searchParams.get('sign'),
        raw,
        body: undefined,
        answer: null,
      };
      requests.push(record);
      const reply = (status: number, answer: unknown) => {
        record.answer = { status, body: answer };
        res.writeHead(status, {
          'content-type': typeof answer === 'string' ? 'text/plain' : 'application/json',
        });
        res.end(typeof answer === 'string' ? answer : JSON.stringify(answer));
      };
      const fail = (code: string, message: string, status = 400, data: Json = {}) =>
        reply(status, { ret: 'FAIL', data: { ...data, error_code: code, error_msg: message } });

      if (req.method !== 'POST') return reply(405, 'POST only');
      if (!['/upload', '/api/send', '/api/cancel', '/api/status'].includes(url.pathname)) {
        return reply(404, 'not found');
      }
      try {
        record.body = JSON.parse(raw);
      } catch {
        return fail('2008', 'invalid JSON');
      }
      const body = record.body;
      if (!isObject(body)) return fail('2008', 'the body must be a JSON object');
      const appKey = String(body.appkey);
      const secret = secrets.get(appKey);
      if (secret === undefined) return fail('2007', 'appkey or app_master_secret error');
      const expected = createHash('md5')
        .update(`POST${url.origin}${url.pathname}${raw}${secret}`, 'utf8')
        .digest('hex');
      if (record.sign !== expected) return fail('2027', 'signature error');
      const timestamp = String(body.timestamp);
      if (!/^(\d{10}|\d{13})$/.test(timestamp)) return fail('2028', 'timestamp must have 10 or 13 digits');
      const sentAt = timestamp.length === 10 ? Number(timestamp) * 1000 : Number(timestamp);
      if (now() - sentAt > MAX_TIMESTAMP_AGE_MS) return fail('2028', 'timestamp expired');

      const scripted = scripts.get(url.pathname)?.shift();
      if (scripted) {
        if ('hang' in scripted) {
          hanging.add(res);
          if (scripted.afterHandling) {
            try {
              handle(url.pathname, appKey, body);
            } catch (error) {
              if (!(error instanceof Refusal)) throw error;
            }
          }
          return;
        }
        if ('body' in scripted) return reply(scripted.httpStatus, scripted.body);
        if ('redirect' in scripted) {
          record.answer = { status: scripted.redirect, body: '' };
          res.writeHead(scripted.redirect, { location: scripted.location });
          return res.end();
        }
        return fail(scripted.code, scripted.message ?? `scripted ${scripted.code}`, scripted.httpStatus);
      }

      try {
        return reply(200, { ret: 'SUCCESS', data: handle(url.pathname, appKey, body) });
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        return fail(error.code, error.message, 400, error.data);
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    sends,
    tasks,
    script(path, answer, times = 1) {
      const queue = scripts.get(path) ?? [];
      for (let i = 0; i < times; i++) queue.push(answer);
      scripts.set(path, queue);
    },
    refuseTokens(codes, shape = 'objects') {
      refused = codes;
      refusedShape = shape;
    },
    requestsTo(path) {
      return requests.filter((request) => request.path === path);
    },
    receiptsOf(send, actionType, tokens = send.tokens, channel = 'umeng') {
      return {
        thirdparty_id: String(send.body.thirdparty_id ?? ''),
        action_type: actionType,
        msg_id: send.ref,
        device_tokens: tokens.join(','),
        alias: '',
        channel,
      };
    },
    async postReceipts(send, body, post = httpPost) {
      check(typeof send.body.receipt_url === 'string', 'the send asked for no receipts');
      return post(send.body.receipt_url, JSON.stringify(body));
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
