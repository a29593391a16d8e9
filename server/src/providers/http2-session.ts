/**
 * One HTTP/2 connection to a provider's origin, shared by every request of the apps that send there:
 * many streams at once on one TLS connection (as APNs requires and FCM allows), a new connection
 * made when the server sends GOAWAY or the connection drops, and never more streams in flight than the
 * server's `SETTINGS_MAX_CONCURRENT_STREAMS`. TLS is always verified (system CAs plus
 * `NODE_EXTRA_CA_CERTS`; `ca` replaces them, for tests only). Redirects are never followed: a 3xx is
 * an answer like any other.
 */
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';

/** A provider's answer to one request. */
export interface Http2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request to the origin. */
export interface Http2Request {
  method: 'GET' | 'POST';
  /** Path and query, e.g. `/3/device/<token>`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Longest time the request may go without receiving anything (an idle timeout, per stream). */
  timeoutMs: number;
}

/**
 * A request that got no answer. `processed: false` means the server cannot have acted on it (the
 * connection was never made, or the server refused the stream before reading it, as after GOAWAY):
 * sending it again cannot deliver twice. Otherwise it may have been acted on.
 */
export class Http2RequestError extends Error {
  /** `CONNECT`, `REFUSED_STREAM`, `TIMEOUT` or `NETWORK`. */
  readonly code: 'CONNECT' | 'REFUSED_STREAM' | 'TIMEOUT' | 'NETWORK';
  readonly processed: boolean;

  constructor(code: Http2RequestError['code'], message: string, processed: boolean) {
    super(message);
    this.name = 'Http2RequestError';
    this.code = code;
    this.processed = processed;
  }
}

/** The connection to one origin. */
export interface Http2Origin {
  /**
   * Sends one request, connecting (again) first when needed. The connection lives as long as the
   * process: it is unreferenced while idle, so it never keeps the process alive.
   */
  request(request: Http2Request): Promise<Http2Answer>;
}

/** How to reach an origin. */
export interface Http2OriginOptions {
  /** Trusted CA certificates instead of the system's (tests with a self-signed fake only). */
  ca?: string | Buffer;
  /** Longest wait for a connection to be made. */
  connectTimeoutMs?: number;
}

/** Streams assumed allowed until the server's settings arrive (RFC 9113 recommends at least 100). */
const DEFAULT_MAX_STREAMS = 100;

/** A connection to `origin` (`https://host:port`), made on first use. */
export function createHttp2Origin(origin: string, options: Http2OriginOptions = {}): Http2Origin {
  let session: ClientHttp2Session | undefined;
  let connecting: Promise<ClientHttp2Session> | undefined;
  let inFlight = 0;
  const waiting: (() => void)[] = [];

  const maxStreams = () => Math.max(1, session?.remoteSettings?.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS);

  /** Forgets `s` as the current connection, so that the next request makes a new one. */
  const retire = (s: ClientHttp2Session) => {
    if (session === s) session = undefined;
  };

  function connect(): Promise<ClientHttp2Session> {
    connecting ??= new Promise<ClientHttp2Session>((resolve, reject) => {
      const s = http2.connect(origin, { ...(options.ca !== undefined && { ca: options.ca }) });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Http2RequestError('CONNECT', `no connection to ${origin} within the time limit`, false));
      }, options.connectTimeoutMs ?? 10_000);
      s.once('connect', () => {
        clearTimeout(timer);
        session = s;
        resolve(s);
      });
      s.once('error', (error) => {
        clearTimeout(timer);
        retire(s);
        reject(new Http2RequestError('CONNECT', `cannot connect to ${origin}: ${error.message}`, false));
      });
      // After GOAWAY the server takes no new stream on this connection: the next request connects anew.
      s.on('goaway', () => retire(s));
      s.on('close', () => retire(s));
      // An idle connection must not keep the process alive.
      s.unref();
    }).finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  async function slot(): Promise<void> {
    while (inFlight >= maxStreams()) await new Promise<void>((resolve) => waiting.push(resolve));
    inFlight++;
  }

  function release(): void {
    inFlight--;
    waiting.shift()?.();
  }

  function send(s: ClientHttp2Session, request: Http2Request): Promise<Http2Answer> {
    return new Promise<Http2Answer>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = s.request({ ':method': request.method, ':path': request.path, ...request.headers });
      } catch (error) {
        // The session was closing: the stream was never sent.
        retire(s);
        reject(
          new Http2RequestError('REFUSED_STREAM', `request not sent: ${(error as Error).message}`, false),
        );
        return;
      }
      // Every stream ends with 'close', after 'end' or an error: the first outcome wins, and an error
      // object (costly: it captures a stack) is made only when no answer came. This path runs once per
      // device of a send.
      let settled = false;
      let headers: IncomingHttpHeaders = {};
      let body = '';
      const fail = (code: Http2RequestError['code'], message: string, processed: boolean) => {
        if (settled) return;
        settled = true;
        reject(new Http2RequestError(code, message, processed));
      };
      stream.setTimeout(request.timeoutMs, () => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        fail('TIMEOUT', `no answer from ${origin} within ${request.timeoutMs} ms`, true);
      });
      stream.setEncoding('utf8');
      stream.on('response', (h) => {
        headers = h;
      });
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('end', () => {
        if (settled) return;
        settled = true;
        resolve({ status: Number(headers[':status'] ?? 0), headers, body });
      });
      const ended = (error?: Error) => {
        if (settled) return;
        // REFUSED_STREAM (and streams above a GOAWAY's last stream ID) were not processed by the server.
        const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
        fail(
          refused ? 'REFUSED_STREAM' : 'NETWORK',
          error
            ? `the connection to ${origin} failed during the request: ${error.message}`
            : // Closed without an answer or an error (reset by the server): like an error.
              `${origin} closed the request without an answer (HTTP/2 code ${stream.rstCode})`,
          !refused,
        );
      };
      stream.on('error', ended);
      stream.on('close', () => ended());
      stream.end(request.body);
    });
  }

  return {
    async request(request) {
      await slot();
      try {
        const s = session && !session.closed && !session.destroyed ? session : await connect();
        // A request in flight keeps the process alive (a script's last await may be this answer);
        // only an idle connection is unreferenced.
        s.ref();
        try {
          return await send(s, request);
        } finally {
          if (inFlight <= 1) s.unref();
        }
      } finally {
        release();
      }
    },
  };
}
