/**
 * A local fake of the Apple Push Notification service's HTTP/2 API, over TLS on loopback, for the
 * `apns` provider's tests and the benchmark. It is strict where APNs is: HTTP/2 only, `POST
 * /3/device/<hex token>`, an ES256 provider token verified with the signing key's public half (its
 * `kid`, `iss` and age, and no new token for a key on a connection within 20 minutes of the previous
 * one), the
 * `apns-*` headers and the JSON payload with its `aps` dictionary and 4096-byte limit — answering
 * `{reason}` bodies as APNs does. Tests script the rest: unregistered, bad or other-topic tokens,
 * error answers, revoked keys, expired tokens, slow answers and GOAWAY after N streams.
 *
 * Run on its own for the benchmark: `node --import tsx server/test/fake-apns.ts --lean` (see `main`).
 */
import {
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  randomUUID,
  verify,
} from 'node:crypto';
import http2, { type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createTestCertificate } from './tls-fixture.ts';

type Json = Record<string, unknown>;

/** A `.p8` signing key the fake knows: its team, its ID and the PEM of its public key. */
export interface FakeSigningKey {
  teamId: string;
  keyId: string;
  publicKey: string;
}

/** How the fake is started. */
export interface FakeApnsOptions {
  keys: FakeSigningKey[];
  /** The topics (bundle IDs) the keys may send to. */
  bundleIds: string[];
  /** The TLS certificate and key it serves (`createTestCertificate()`). */
  cert: { key: string; cert: string };
  /** Records nothing per request (no `sends`): for the benchmark's millions of sends. */
  lean?: boolean;
  /** The server's `SETTINGS_MAX_CONCURRENT_STREAMS` (Node's default, practically unlimited, when absent). */
  maxConcurrentStreams?: number;
  /** After this many streams on one connection, the fake sends GOAWAY and closes it (APNs does so now and then). */
  goawayAfterStreams?: number;
  /** The fake's clock in epoch milliseconds, for provider-token ages (default: real time). */
  now?: () => number;
}

/** A scripted error answer (see `failNext`). */
export interface FakeApnsFailure {
  status: number;
  reason: string;
  /** The `Retry-After` header, as sent (seconds). */
  retryAfter?: string;
}

/** A notification the fake accepted: the device token, the request headers and the payload. */
export interface FakeApnsSend {
  token: string;
  headers: Record<string, string>;
  body: Json;
}

/** A running fake. Counters and scripts are plain fields: tests read and set them directly. */
export interface FakeApns {
  /** The base URL to put in an app's `baseUrl`, e.g. `https://127.0.0.1:43817`. */
  baseUrl: string;
  /** Tokens answered `410 Unregistered` (the app was removed from the device). */
  unregistered: Set<string>;
  /** Tokens answered `400 BadDeviceToken`. */
  badTokens: Set<string>;
  /** Tokens answered `400 DeviceTokenNotForTopic` (a token of another app). */
  wrongTopic: Set<string>;
  /** Milliseconds each notification waits before it is answered, so that streams in flight overlap. */
  answerDelayMs: number;
  /** Accepted notifications, in order (empty when lean). */
  sends: FakeApnsSend[];
  /** Streams handled, whatever their answer (streams refused after a GOAWAY not counted). */
  requests: number;
  /** TLS connections opened by clients. */
  connections: number;
  /** Most streams in progress at once. */
  maxInFlight: number;
  /** Distinct provider tokens (JWTs) presented. */
  providerTokens: number;
  /** Answers the next `count` requests that pass every check with `failure`. */
  failNext(count: number, failure: FakeApnsFailure): void;
  /** Refuses every token signed by this key from now on (`403 InvalidProviderToken`). */
  revokeKey(keyId: string): void;
  /** Makes every provider token seen so far answer `403 ExpiredProviderToken`. */
  expireTokens(): void;
  close(): Promise<void>;
}

/** A provider token is refused as expired once its `iat` is older than this, in milliseconds (APNs: 1 h). */
const TOKEN_MAX_AGE_MS = 60 * 60 * 1000;
/** APNs refuses a new token for a key within this long of the previous one, in milliseconds. */
const TOKEN_MIN_RENEWAL_MS = 20 * 60 * 1000;
/** How far in the future an `iat` may lie (clock skew), in milliseconds. */
const IAT_SKEW_MS = 60_000;
/** APNs' limit on a notification's payload, in bytes. */
const PAYLOAD_LIMIT_BYTES = 4096;
const DEVICE_PATH = /^\/3\/device\/([^/?#]*)$/;
const DEVICE_TOKEN = /^[0-9a-fA-F]{64,200}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PUSH_TYPES = new Set([
  'alert',
  'background',
  'location',
  'voip',
  'complication',
  'fileprovider',
  'mdm',
  'liveactivity',
  'pushtotalk',
  'widgets',
  'controls',
]);
const COLLAPSE_ID_MAX_BYTES = 64;

/** An error answer of APNs. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly retryAfter?: string,
  ) {
    super(reason);
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

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Starts the fake on a free loopback port. */
export async function startFakeApns(options: FakeApnsOptions): Promise<FakeApns> {
  const lean = options.lean ?? false;
  const now = options.now ?? Date.now;
  const keys = new Map<string, { teamId: string; key: KeyObject }>(
    options.keys.map((k) => [k.keyId, { teamId: k.teamId, key: createPublicKey(k.publicKey) }]),
  );
  const bundleIds = new Set(options.bundleIds);
  const revoked = new Set<string>();
  const expired = new Set<string>();
  // Each JWT presented, verified once: the key it was signed with and its `iat` (ms), or why it is refused.
  const verified = new Map<string, { keyId: string; iatMs: number } | { refused: string }>();
  // Per connection (as APNs tracks them): the tokens accepted on it, and per key when its newest token
  // was first accepted there (the renewal rate). Keys are `<connection number>\n<jwt or key ID>`.
  const accepted = new Set<string>();
  const lastRenewal = new Map<string, { keyId: string; at: number }>();
  const failures: FakeApnsFailure[] = [];
  const connectionOf = new WeakMap<Http2Session, { number: number; streams: number }>();
  let inFlight = 0;

  const server = http2.createSecureServer({
    key: options.cert.key,
    cert: options.cert.cert,
    ...(options.maxConcurrentStreams !== undefined && {
      settings: { maxConcurrentStreams: options.maxConcurrentStreams },
    }),
  });
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('session', (session: Http2Session) => {
    fake.connections++;
    connectionOf.set(session, { number: fake.connections, streams: 0 });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const fake: FakeApns = {
    baseUrl: `https://127.0.0.1:${port}`,
    unregistered: new Set(),
    badTokens: new Set(),
    wrongTopic: new Set(),
    answerDelayMs: 0,
    sends: [],
    requests: 0,
    connections: 0,
    maxInFlight: 0,
    providerTokens: 0,
    failNext(count, failure) {
      for (let i = 0; i < count; i++) failures.push(failure);
    },
    revokeKey(keyId) {
      revoked.add(keyId);
    },
    expireTokens() {
      for (const [jwt, entry] of verified) {
        if ('keyId' in entry) {
          expired.add(jwt);
          // An expired token is an hour old: renewing it now is not "too often".
          for (const [id, renewal] of lastRenewal) if (renewal.keyId === entry.keyId) lastRenewal.delete(id);
        }
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  /** Verifies a JWT's header, claims and ES256 signature, once per distinct token. */
  function verifyJwt(jwt: string): { keyId: string; iatMs: number } | { refused: string } {
    const [headerPart, claimsPart, signaturePart] = jwt.split('.');
    const head = decodePart(headerPart);
    const claims = decodePart(claimsPart);
    if (!head || !claims || signaturePart === undefined) return { refused: 'InvalidProviderToken' };
    const known = typeof head.kid === 'string' ? keys.get(head.kid) : undefined;
    if (head.alg !== 'ES256' || !known || claims.iss !== known.teamId || typeof claims.iat !== 'number') {
      return { refused: 'InvalidProviderToken' };
    }
    const signature = Buffer.from(signaturePart, 'base64url');
    const signed = verify(
      'sha256',
      Buffer.from(`${headerPart}.${claimsPart}`),
      { key: known.key, dsaEncoding: 'ieee-p1363' },
      signature,
    );
    if (!signed) return { refused: 'InvalidProviderToken' };
    return { keyId: head.kid as string, iatMs: claims.iat * 1000 };
  }

  /** Checks the provider token of a request; throws the refusal APNs would answer. */
  function authenticate(authorization: string | undefined, connection: number): void {
    const match = /^bearer (\S+)$/i.exec(authorization ?? '');
    if (!match) throw new Refusal(403, 'MissingProviderToken');
    const jwt = match[1]!;
    let entry = verified.get(jwt);
    if (!entry) {
      entry = verifyJwt(jwt);
      verified.set(jwt, entry);
      fake.providerTokens++;
    }
    if ('refused' in entry) throw new Refusal(403, entry.refused);
    if (revoked.has(entry.keyId)) throw new Refusal(403, 'InvalidProviderToken');
    if (entry.iatMs > now() + IAT_SKEW_MS) throw new Refusal(403, 'InvalidProviderToken');
    if (expired.has(jwt) || now() - entry.iatMs > TOKEN_MAX_AGE_MS) {
      throw new Refusal(403, 'ExpiredProviderToken');
    }
    if (!accepted.has(`${connection}\n${jwt}`)) {
      // A token new on this connection renews its key's token there: at most once per 20 minutes.
      const renewalId = `${connection}\n${entry.keyId}`;
      const previous = lastRenewal.get(renewalId);
      if (previous !== undefined && now() - previous.at < TOKEN_MIN_RENEWAL_MS) {
        throw new Refusal(429, 'TooManyProviderTokenUpdates');
      }
      accepted.add(`${connection}\n${jwt}`);
      lastRenewal.set(renewalId, { keyId: entry.keyId, at: now() });
    }
  }

  /** Handles one notification request; returns the `apns-id` answered, or throws a refusal. */
  function handle(headers: IncomingHttpHeaders, raw: string, connection: number): string {
    if (headers[':method'] !== 'POST') throw new Refusal(405, 'MethodNotAllowed');
    const token = DEVICE_PATH.exec(header(headers, ':path') ?? '')?.[1];
    if (token === undefined) throw new Refusal(404, 'BadPath');
    if (token === '') throw new Refusal(400, 'MissingDeviceToken');
    if (!DEVICE_TOKEN.test(token)) throw new Refusal(400, 'BadDeviceToken');
    authenticate(header(headers, 'authorization'), connection);
    const topic = header(headers, 'apns-topic');
    if (topic === undefined || topic === '') throw new Refusal(400, 'MissingTopic');
    if (!bundleIds.has(topic)) throw new Refusal(400, 'BadTopic');
    const pushType = header(headers, 'apns-push-type');
    if (pushType !== undefined && !PUSH_TYPES.has(pushType)) throw new Refusal(400, 'InvalidPushType');
    const priority = header(headers, 'apns-priority');
    if (priority !== undefined && !['1', '5', '10'].includes(priority)) throw new Refusal(400, 'BadPriority');
    const expiration = header(headers, 'apns-expiration');
    if (expiration !== undefined && !/^\d+$/.test(expiration)) throw new Refusal(400, 'BadExpirationDate');
    const givenId = header(headers, 'apns-id');
    if (givenId !== undefined && !UUID.test(givenId)) throw new Refusal(400, 'BadMessageId');
    const collapseId = header(headers, 'apns-collapse-id');
    if (collapseId !== undefined && Buffer.byteLength(collapseId) > COLLAPSE_ID_MAX_BYTES) {
      throw new Refusal(400, 'BadCollapseId');
    }
    if (raw === '') throw new Refusal(400, 'PayloadEmpty');
    if (Buffer.byteLength(raw, 'utf8') > PAYLOAD_LIMIT_BYTES) throw new Refusal(413, 'PayloadTooLarge');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    if (!isObject(body) || !isObject(body.aps)) throw new Refusal(400, 'PayloadEmpty');

    const failure = failures.shift();
    if (failure) throw new Refusal(failure.status, failure.reason, failure.retryAfter);
    if (fake.badTokens.has(token)) throw new Refusal(400, 'BadDeviceToken');
    if (fake.wrongTopic.has(token)) throw new Refusal(400, 'DeviceTokenNotForTopic');
    if (fake.unregistered.has(token)) throw new Refusal(410, 'Unregistered');

    if (!lean) {
      const recorded: Record<string, string> = {};
      for (const [name, value] of Object.entries(headers)) {
        if (!name.startsWith(':') && value !== undefined) recorded[name] = String(value);
      }
      fake.sends.push({ token, headers: recorded, body });
    }
    return givenId ?? randomUUID();
  }

  function answer(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    raw: string,
    connection: number,
  ): void {
    if (stream.closed || stream.destroyed) return;
    try {
      const apnsId = handle(headers, raw, connection);
      stream.respond({ ':status': 200, 'apns-id': apnsId });
      stream.end();
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      const body: Json = { reason: error.reason };
      // APNs says since when the token is no longer valid.
      if (error.status === 410) body.timestamp = now();
      stream.respond({
        ':status': error.status,
        'content-type': 'application/json',
        'apns-id': header(headers, 'apns-id') ?? randomUUID(),
        ...(error.retryAfter !== undefined && { 'retry-after': error.retryAfter }),
      });
      stream.end(JSON.stringify(body));
    }
  }

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    // A stream always belongs to its (counted) session while it is being received.
    const session = stream.session;
    if (!session) return;
    const connection = connectionOf.get(session);
    if (!connection) return;
    const count = ++connection.streams;
    const number = connection.number;
    const limit = options.goawayAfterStreams;
    if (limit !== undefined && count > limit) {
      // Past the GOAWAY's last stream: never processed, the client must send it again elsewhere.
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (limit !== undefined && count === limit) {
      // No new stream on this connection; the ones already received are answered, then it closes.
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id ?? 0);
      session.close();
    }
    fake.requests++;
    inFlight++;
    fake.maxInFlight = Math.max(fake.maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', () => {
      // A client that went away: nothing to answer.
    });
    stream.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const done = () => {
        inFlight--;
        answer(stream, headers, raw, number);
      };
      if (fake.answerDelayMs > 0) setTimeout(done, fake.answerDelayMs);
      else done();
    });
  });

  return fake;
}

/** A new P-256 signing key: its PEM private key (for an app's config) and the fake's view of it. */
export function generateSigningKey(
  teamId: string,
  keyId: string,
): { privateKey: string; key: FakeSigningKey } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKey, key: { teamId, keyId, publicKey } };
}

/** A random 10-character Apple ID (team or key), like `ABCDE12345`. */
function appleId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join('');
}

/**
 * The benchmark's fake: its own certificate and signing key, lean, answering at once. Prints one JSON
 * line (`baseUrl`, `certPath` for NODE_EXTRA_CA_CERTS, `teamId`, `keyId`, `privateKey`, `bundleId`)
 * and runs until SIGTERM or SIGINT.
 */
async function main(): Promise<void> {
  if (!process.argv.includes('--lean')) {
    process.stderr.write('usage: node --import tsx server/test/fake-apns.ts --lean\n');
    process.exit(2);
  }
  const certificate = createTestCertificate();
  const teamId = appleId();
  const keyId = appleId();
  const bundleId = 'com.pushboard.bench';
  const { privateKey, key } = generateSigningKey(teamId, keyId);
  const fake = await startFakeApns({ keys: [key], bundleIds: [bundleId], cert: certificate, lean: true });
  process.stdout.write(
    `${JSON.stringify({ baseUrl: fake.baseUrl, certPath: certificate.certPath, teamId, keyId, privateKey, bundleId })}\n`,
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
