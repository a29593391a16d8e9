/**
 * A local fake of Firebase Cloud Messaging HTTP v1 and of Google's OAuth 2.0 token endpoint, over
 * HTTP/2 + TLS on loopback, for the `fcm` provider's tests and the benchmark. It is strict where the
 * real services are: it verifies the JWT-bearer assertion (RS256 signature with the service account's
 * public key, `kid`, scope, audience, lifetime), accepts only the access tokens it issued, for their
 * own project, and checks each message's fields and types, answering in FCM's error shape
 * (`{error:{code, message, status, details:[FcmError…]}}`). Tests script the rest: unregistered or
 * invalid tokens, another project's tokens, quota and outage answers, revoked tokens, a denied project,
 * a refused grant.
 *
 * Run on its own for the benchmark: `node --import tsx server/test/fake-fcm.ts --lean` (see `main`).
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, verify } from 'node:crypto';
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createTestCertificate } from './tls-fixture.ts';

type Json = Record<string, unknown>;

/** A service account the fake's token endpoint knows, with the public half of its key. */
export interface FakeServiceAccount {
  client_email: string;
  private_key_id: string;
  /** PEM of the public key matching the account's `private_key`. */
  publicKey: string;
  project_id: string;
}

/** How the fake is started. */
export interface FakeFcmOptions {
  accounts: FakeServiceAccount[];
  /** The TLS certificate and key it serves (`createTestCertificate()`). */
  cert: { key: string; cert: string };
  /** Records nothing per request (no `sends`, no `assertions`): for the benchmark's millions of sends. */
  lean?: boolean;
  /** Milliseconds each `messages:send` waits before answering, so that requests in flight overlap. */
  answerDelayMs?: number;
  /** The fake's clock in epoch milliseconds, for assertion times and token expiry (default: real time). */
  now?: () => number;
}

/** A scripted error answer to a `messages:send` (see `failNext`). */
export interface FakeFailure {
  httpStatus: number;
  /** The FCM error code in `details` (`QUOTA_EXCEEDED`, `UNAVAILABLE`, `INTERNAL`…); none when absent. */
  errorCode?: string;
  /** The canonical status (`RESOURCE_EXHAUSTED`…); derived from `httpStatus` when absent. */
  status?: string;
  message?: string;
  /** The `Retry-After` header, as sent (seconds or an HTTP date). */
  retryAfter?: string;
}

/** A message FCM accepted: the token it goes to and the message as sent. */
export interface FakeSend {
  token: string;
  message: Json;
  /** The message name answered, `projects/<p>/messages/<id>`. */
  name: string;
}

/** An assertion the token endpoint accepted, decoded. */
export interface FakeAssertion {
  header: Json;
  claims: Json;
}

/** A running fake. Counters and scripts are plain fields: tests read and set them directly. */
export interface FakeFcm {
  /** The FCM base URL to put in an app's `baseUrl`, e.g. `https://127.0.0.1:43817`. */
  baseUrl: string;
  /** The token endpoint, `${baseUrl}/token`, for the service account's `token_uri`. */
  tokenUri: string;
  /** Tokens answered `404 UNREGISTERED` (the app was uninstalled). */
  unregistered: Set<string>;
  /** Tokens answered `403 SENDER_ID_MISMATCH` (a token of another Firebase project). */
  senderMismatch: Set<string>;
  /** Tokens answered `400 INVALID_ARGUMENT` "The registration token is not a valid FCM registration token". */
  invalidTokens: Set<string>;
  /** When true, the token endpoint refuses every assertion with `invalid_grant`. */
  refuseGrant: boolean;
  /** See `FakeFcmOptions.answerDelayMs`. */
  answerDelayMs: number;
  /** Accepted messages, in order (empty when lean). */
  sends: FakeSend[];
  /** Accepted assertions, in order (empty when lean). */
  assertions: FakeAssertion[];
  /** Access tokens issued, in order (empty when lean), so tests can check no message repeats one. */
  accessTokens: string[];
  /** Requests to the token endpoint, accepted or not. */
  tokenRequests: number;
  /** Requests to `messages:send`, whatever their answer. */
  sendRequests: number;
  /** Most `messages:send` requests in progress at once. */
  maxInFlight: number;
  /** Answers the next `count` sends that pass authentication with `failure`. */
  failNext(count: number, failure: FakeFailure): void;
  /** Makes every access token issued so far answer `401 UNAUTHENTICATED`. */
  revokeTokens(): void;
  /** Answers every send to project `projectId` with `403 PERMISSION_DENIED`. */
  denyProject(projectId: string): void;
  close(): Promise<void>;
}

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/** What Google answers as `expires_in`, in seconds. */
const TOKEN_LIFETIME_S = 3599;
/** Longest assertion lifetime Google accepts (`exp - iat`), in seconds. */
const MAX_ASSERTION_S = 3600;
/** How far in the future an `iat` may lie (clock skew), in seconds. */
const IAT_SKEW_S = 300;
/** FCM's limit on a message, in bytes of its JSON. */
const MESSAGE_LIMIT_BYTES = 4096;
const SEND_PATH = /^\/v1\/projects\/([^/]+)\/messages:send$/;
const TTL = /^\d+(\.\d{1,9})?s$/;
const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';

// The fields of the message parts the fake knows; FCM refuses any other name ("Unknown name").
const MESSAGE_FIELDS = new Set(['token', 'notification', 'data', 'android']);
const NOTIFICATION_FIELDS = new Set(['title', 'body', 'image']);
const ANDROID_FIELDS = new Set([
  'priority',
  'ttl',
  'collapse_key',
  'notification',
  'restricted_package_name',
]);
const ANDROID_NOTIFICATION_FIELDS = new Set([
  'title',
  'body',
  'icon',
  'color',
  'sound',
  'tag',
  'click_action',
  'channel_id',
  'image',
]);
// Data keys FCM reserves ("Invalid data payload key: from"); `notification` is documented but accepted.
const RESERVED_DATA_KEYS = new Set(['from', 'message_type']);
const RESERVED_DATA_PREFIXES = ['google', 'gcm'];

const CANONICAL_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** An error answer of FCM: HTTP status, canonical status, message, and the FCM error code if any. */
class FcmRefusal extends Error {
  constructor(
    readonly httpStatus: number,
    message: string,
    readonly errorCode?: string,
    readonly status = CANONICAL_STATUS[httpStatus] ?? 'UNKNOWN',
    readonly retryAfter?: string,
  ) {
    super(message);
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodePart(part: string | undefined): Json | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the fake on a free loopback port. */
export async function startFakeFcm(options: FakeFcmOptions): Promise<FakeFcm> {
  const lean = options.lean ?? false;
  const now = options.now ?? Date.now;
  const accounts = new Map<string, { account: FakeServiceAccount; key: KeyObject }>(
    options.accounts.map((account) => [
      account.client_email,
      { account, key: createPublicKey(account.publicKey) },
    ]),
  );
  // Access token → who it was issued to and until when (epoch ms); revoked tokens are deleted.
  const issued = new Map<string, { projectId: string; expiresAt: number }>();
  const deniedProjects = new Set<string>();
  const failures: FakeFailure[] = [];
  let inFlight = 0;
  let messageCounter = 0;

  const server = http2.createSecureServer({
    key: options.cert.key,
    cert: options.cert.cert,
    allowHTTP1: true,
  });
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `https://127.0.0.1:${port}`;
  const tokenUri = `${baseUrl}/token`;

  const fake: FakeFcm = {
    baseUrl,
    tokenUri,
    unregistered: new Set(),
    senderMismatch: new Set(),
    invalidTokens: new Set(),
    refuseGrant: false,
    answerDelayMs: options.answerDelayMs ?? 0,
    sends: [],
    assertions: [],
    accessTokens: [],
    tokenRequests: 0,
    sendRequests: 0,
    maxInFlight: 0,
    failNext(count, failure) {
      for (let i = 0; i < count; i++) failures.push(failure);
    },
    revokeTokens() {
      issued.clear();
    },
    denyProject(projectId) {
      deniedProjects.add(projectId);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  /** The token endpoint's answer to a form-encoded JWT-bearer grant. */
  function grant(form: URLSearchParams): { status: number; body: Json } {
    const refuse = (description: string) => ({
      status: 400,
      body: { error: 'invalid_grant', error_description: description },
    });
    if (form.get('grant_type') !== JWT_BEARER) {
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: ' },
      };
    }
    if (fake.refuseGrant) return refuse('Invalid JWT Signature.');
    const [headerPart, claimsPart, signaturePart] = (form.get('assertion') ?? '').split('.');
    const header = decodePart(headerPart);
    const claims = decodePart(claimsPart);
    if (!header || !claims || signaturePart === undefined) return refuse('Invalid JWT: cannot be decoded.');
    if (header.alg !== 'RS256') return refuse('Invalid JWT: the algorithm must be RS256.');
    const known = accounts.get(String(claims.iss));
    if (!known) return refuse('Invalid grant: account not found');
    if (header.kid !== known.account.private_key_id) return refuse('Invalid JWT Signature.');
    const signed = verify(
      'sha256',
      Buffer.from(`${headerPart}.${claimsPart}`),
      known.key,
      Buffer.from(signaturePart, 'base64url'),
    );
    if (!signed) return refuse('Invalid JWT Signature.');
    if (claims.scope !== FCM_SCOPE) return refuse(`Invalid OAuth scope: ${String(claims.scope)}`);
    if (claims.aud !== tokenUri) return refuse('Invalid JWT: Failed audience check.');
    const nowS = now() / 1000;
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number')
      return refuse('Invalid JWT: iat and exp required.');
    if (exp - iat > MAX_ASSERTION_S || exp <= iat) {
      return refuse(
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.',
      );
    }
    if (exp <= nowS || iat > nowS + IAT_SKEW_S) {
      return refuse(
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.',
      );
    }
    const accessToken = `ya29.fake-${randomBytes(24).toString('base64url')}`;
    issued.set(accessToken, {
      projectId: known.account.project_id,
      expiresAt: now() + TOKEN_LIFETIME_S * 1000,
    });
    if (!lean) {
      fake.assertions.push({ header, claims });
      fake.accessTokens.push(accessToken);
    }
    return {
      status: 200,
      body: { access_token: accessToken, expires_in: TOKEN_LIFETIME_S, token_type: 'Bearer' },
    };
  }

  /** Checks a message as FCM does; throws a 400 INVALID_ARGUMENT naming the field. */
  function checkMessage(message: unknown): asserts message is Json & { token: string } {
    const invalid = (text: string) => new FcmRefusal(400, text, 'INVALID_ARGUMENT');
    const unknownNames = (value: Json, allowed: Set<string>, at: string) => {
      for (const name of Object.keys(value)) {
        if (!allowed.has(name)) {
          throw invalid(
            `Invalid JSON payload received. Unknown name "${name}" at '${at}': Cannot find field.`,
          );
        }
      }
    };
    if (!isObject(message)) throw invalid("Invalid value at 'message': the message is required.");
    unknownNames(message, MESSAGE_FIELDS, 'message');
    if (typeof message.token !== 'string' || message.token === '') {
      throw invalid('Recipient of the message is not set.');
    }
    const { notification, data, android } = message;
    if (notification !== undefined) {
      if (!isObject(notification)) throw invalid("Invalid value at 'message.notification'.");
      unknownNames(notification, NOTIFICATION_FIELDS, 'message.notification');
      for (const field of ['title', 'body']) {
        if (notification[field] !== undefined && typeof notification[field] !== 'string') {
          throw invalid(`Invalid value at 'message.notification.${field}' (TYPE_STRING).`);
        }
      }
    }
    if (data !== undefined) {
      if (!isObject(data)) throw invalid("Invalid value at 'message.data'.");
      for (const [key, value] of Object.entries(data)) {
        if (typeof value !== 'string') {
          throw invalid(
            `Invalid value at 'message.data[${key}].value' (TYPE_STRING), ${JSON.stringify(value)}`,
          );
        }
        const lower = key.toLowerCase();
        if (RESERVED_DATA_KEYS.has(lower) || RESERVED_DATA_PREFIXES.some((p) => lower.startsWith(p))) {
          throw invalid(`Invalid data payload key: ${key}`);
        }
      }
    }
    if (android !== undefined) {
      if (!isObject(android)) throw invalid("Invalid value at 'message.android'.");
      unknownNames(android, ANDROID_FIELDS, 'message.android');
      if (android.priority !== undefined && android.priority !== 'normal' && android.priority !== 'high') {
        throw invalid(
          `Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), ${JSON.stringify(android.priority)}`,
        );
      }
      if (android.ttl !== undefined && (typeof android.ttl !== 'string' || !TTL.test(android.ttl))) {
        throw invalid(
          `Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(android.ttl)}`,
        );
      }
      const androidNotification = android.notification;
      if (androidNotification !== undefined) {
        if (!isObject(androidNotification)) throw invalid("Invalid value at 'message.android.notification'.");
        unknownNames(androidNotification, ANDROID_NOTIFICATION_FIELDS, 'message.android.notification');
        for (const [field, value] of Object.entries(androidNotification)) {
          if (typeof value !== 'string') {
            throw invalid(`Invalid value at 'message.android.notification.${field}' (TYPE_STRING).`);
          }
        }
      }
    }
    if (Buffer.byteLength(JSON.stringify(message), 'utf8') > MESSAGE_LIMIT_BYTES) {
      throw invalid('Android message is too big');
    }
  }

  /** Handles one `messages:send` to project `projectId`; answers the message name or throws a refusal. */
  function send(projectId: string, authorization: string | undefined, raw: string): string {
    const bearer = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    const holder = bearer === undefined ? undefined : issued.get(bearer);
    if (!holder || holder.expiresAt <= now()) {
      throw new FcmRefusal(
        401,
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    }
    if (holder.projectId !== projectId || deniedProjects.has(projectId)) {
      throw new FcmRefusal(
        403,
        `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${projectId}' (or it may not exist).`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new FcmRefusal(400, 'Invalid JSON payload received.');
    }
    if (!isObject(body)) throw new FcmRefusal(400, 'Invalid JSON payload received.');
    const { message } = body;
    // Lean (the benchmark), only the recipient is read: the fields are what the tests check strictly.
    if (!lean) checkMessage(message);
    else if (!isObject(message) || typeof message.token !== 'string') {
      throw new FcmRefusal(400, 'Recipient of the message is not set.');
    }
    const token = String(message.token);
    const failure = failures.shift();
    if (failure) {
      throw new FcmRefusal(
        failure.httpStatus,
        failure.message ?? `scripted ${failure.httpStatus}`,
        failure.errorCode,
        failure.status,
        failure.retryAfter,
      );
    }
    if (fake.unregistered.has(token)) {
      throw new FcmRefusal(404, 'Requested entity was not found.', 'UNREGISTERED');
    }
    if (fake.senderMismatch.has(token)) {
      throw new FcmRefusal(403, 'SenderId mismatch', 'SENDER_ID_MISMATCH');
    }
    if (fake.invalidTokens.has(token)) {
      throw new FcmRefusal(
        400,
        'The registration token is not a valid FCM registration token',
        'INVALID_ARGUMENT',
      );
    }
    const name = `projects/${projectId}/messages/0:${Date.now()}%${(++messageCounter).toString(16).padStart(16, '0')}`;
    if (!lean) fake.sends.push({ token, message: message as Json, name });
    return name;
  }

  /** The answer to one request, whatever carried it. */
  interface Answer {
    status: number;
    body: Json;
    headers?: Record<string, string>;
  }

  /** Answers one request: the token endpoint, `messages:send`, or 404. */
  function handle(method: string, path: string, authorization: string | undefined, raw: string): Answer {
    if (method === 'POST' && path === '/token') {
      fake.tokenRequests++;
      return grant(new URLSearchParams(raw));
    }
    const project = SEND_PATH.exec(path)?.[1];
    if (method !== 'POST' || project === undefined) {
      return { status: 404, body: { error: { code: 404, message: 'Not Found', status: 'NOT_FOUND' } } };
    }
    try {
      return { status: 200, body: { name: send(decodeURIComponent(project), authorization, raw) } };
    } catch (error) {
      if (!(error instanceof FcmRefusal)) throw error;
      const details = error.errorCode ? [{ '@type': FCM_ERROR_TYPE, errorCode: error.errorCode }] : [];
      return {
        status: error.httpStatus,
        body: { error: { code: error.httpStatus, message: error.message, status: error.status, details } },
        ...(error.retryAfter !== undefined && { headers: { 'retry-after': error.retryAfter } }),
      };
    }
  }

  /** Runs `answer` at once or after the scripted delay, counting the requests in flight meanwhile. */
  function answerSend(answer: () => void): void {
    fake.sendRequests++;
    inFlight++;
    fake.maxInFlight = Math.max(fake.maxInFlight, inFlight);
    const run = () => {
      inFlight--;
      answer();
    };
    if (fake.answerDelayMs > 0) setTimeout(run, fake.answerDelayMs);
    else run();
  }

  if (lean) {
    // The benchmark's millions of requests: HTTP/2 streams straight, without the compatibility layer's
    // request and response objects, so that the fake costs the machine as little as it can.
    server.on('stream', (stream, headers) => {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        raw += chunk;
      });
      stream.on('error', () => {});
      stream.on('end', () => {
        const method = String(headers[':method']);
        const path = String(headers[':path']);
        const respond = () => {
          if (stream.closed || stream.destroyed) return;
          const answer = handle(method, path, headers.authorization, raw);
          stream.respond({
            ':status': answer.status,
            'content-type': 'application/json; charset=UTF-8',
            ...answer.headers,
          });
          stream.end(JSON.stringify(answer.body));
        };
        if (SEND_PATH.test(path)) answerSend(respond);
        else respond();
      });
    });
  } else {
    server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const method = req.method;
        const path = req.url ?? '/';
        const respond = () => {
          if (res.closed || res.destroyed) return;
          const answer = handle(method, path, req.headers.authorization, raw);
          res.writeHead(answer.status, {
            'content-type': 'application/json; charset=UTF-8',
            ...answer.headers,
          });
          res.end(JSON.stringify(answer.body));
        };
        if (SEND_PATH.test(path)) answerSend(respond);
        else respond();
      });
    });
  }

  return fake;
}

/** The fields of a service-account key file the fake makes, `token_uri` left to the caller. */
export interface GeneratedServiceAccount {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
}

/**
 * A new RSA service account of `projectId`: the key file's fields (for an app's config) and the fake's
 * view of it (for `startFakeFcm`). The key is generated, so no real credential is ever involved.
 */
export function generateServiceAccount(projectId: string): {
  serviceAccount: GeneratedServiceAccount;
  account: FakeServiceAccount;
} {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privateKeyId = randomBytes(20).toString('hex');
  const clientEmail = `pushboard-sender@${projectId}.iam.gserviceaccount.com`;
  return {
    serviceAccount: {
      type: 'service_account',
      project_id: projectId,
      private_key_id: privateKeyId,
      private_key: privateKey,
      client_email: clientEmail,
    },
    account: { client_email: clientEmail, private_key_id: privateKeyId, publicKey, project_id: projectId },
  };
}

/**
 * The benchmark's fake: its own certificate and service account, lean, answering at once. Prints one
 * JSON line (`baseUrl`, `tokenUri`, `certPath` for NODE_EXTRA_CA_CERTS, `serviceAccount`) and runs
 * until SIGTERM or SIGINT.
 */
async function main(): Promise<void> {
  if (!process.argv.includes('--lean')) {
    process.stderr.write('usage: node --import tsx server/test/fake-fcm.ts --lean\n');
    process.exit(2);
  }
  const certificate = createTestCertificate();
  const { serviceAccount, account } = generateServiceAccount('pushboard-bench');
  const fake = await startFakeFcm({ accounts: [account], cert: certificate, lean: true });
  process.stdout.write(
    `${JSON.stringify({
      baseUrl: fake.baseUrl,
      tokenUri: fake.tokenUri,
      certPath: certificate.certPath,
      serviceAccount: { ...serviceAccount, token_uri: fake.tokenUri },
    })}\n`,
  );
  const stop = async () => {
    await fake.close();
    certificate.remove();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
