/**
 * A small HTTP load client for the API scenarios: requests over loopback with keep-alive sockets
 * (Node's `http`, no dependency), a few concurrent clients taking requests from one source, optional
 * pacing, and latency percentiles. Each latency runs from writing the request to reading the whole
 * answer.
 */
import http from 'node:http';

/** One request to send. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What came back, and how long it took in milliseconds. */
export interface HttpAnswer {
  status: number;
  body: string;
  ms: number;
}

/** A keep-alive HTTP client for one server. */
export interface HttpClient {
  send(request: HttpRequest): Promise<HttpAnswer>;
  /** Sends and parses a JSON answer, throwing unless the status is `expect`. */
  json<T>(request: HttpRequest, expect?: number): Promise<T>;
  close(): void;
}

/** A client for `base` (`http://127.0.0.1:<port>`) with up to `sockets` open connections. */
export function httpClient(base: string, sockets: number): HttpClient {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const send = (request: HttpRequest) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const started = performance.now();
      const body = request.body === undefined ? undefined : Buffer.from(request.body);
      const outgoing = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: request.method,
          path: request.path,
          agent,
          headers: {
            ...request.headers,
            ...(body && { 'content-type': 'application/json', 'content-length': String(body.length) }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              ms: performance.now() - started,
            }),
          );
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  return {
    send,
    async json<T>(request: HttpRequest, expect = 200): Promise<T> {
      const answer = await send(request);
      if (answer.status !== expect) {
        throw new Error(
          `${request.method} ${request.path}: HTTP ${answer.status} ${answer.body.slice(0, 300)}`,
        );
      }
      return JSON.parse(answer.body) as T;
    },
    close: () => agent.destroy(),
  };
}

/** Logs in as `username` and answers the bearer token. */
export async function login(client: HttpClient, username: string, password: string): Promise<string> {
  const { token } = await client.json<{ token: string }>({
    method: 'POST',
    path: '/api/v1/auth/login',
    body: JSON.stringify({ username, password }),
  });
  return token;
}

/** What a load run measured. */
export interface LoadResult {
  requests: number;
  seconds: number;
  /** Latency of every request, in milliseconds, in completion order. */
  latencies: number[];
}

/**
 * Runs `clients` concurrent loops; each sends the request `next` gives it, waits for the answer,
 * hands it to `check`, and goes on until `next` answers undefined. With `intervalMs`, requests start
 * on a fixed schedule (one every `intervalMs` across all clients) instead of back to back, so the
 * offered load is the same whatever the latency.
 */
export async function runLoad(options: {
  client: HttpClient;
  clients: number;
  next: () => HttpRequest | undefined;
  check?: (answer: HttpAnswer, request: HttpRequest) => void;
  intervalMs?: number;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  const started = performance.now();
  let scheduled = started;
  const loop = async () => {
    for (;;) {
      if (options.intervalMs !== undefined) {
        // Claim the next slot of the schedule, then wait for it.
        const slot = scheduled;
        scheduled += options.intervalMs;
        const wait = slot - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const request = options.next();
      if (request === undefined) return;
      const answer = await options.client.send(request);
      latencies.push(answer.ms);
      options.check?.(answer, request);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, loop));
  return { requests: latencies.length, seconds: (performance.now() - started) / 1000, latencies };
}

/** The `p` quantile (0…1) of `values` by the nearest-rank method. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** A millisecond figure rounded for the results file. */
export function ms(value: number): number {
  return Number(value.toFixed(2));
}
