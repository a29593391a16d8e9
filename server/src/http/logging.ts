/**
 * The process's logger, made so that logs never hold a secret (docs/operations.md#http): a logged request shows
 * its path without the query string (a provider's receipt URL carries `?secret=`), and credential
 * headers are redacted wherever a log line carries them.
 */
import pino from 'pino';

/** Request headers that carry credentials: never written to a log. */
export const SECRET_HEADERS = ['authorization', 'cookie', 'x-pushboard-signature', 'x-pushboard-key'];

/** How a request appears in a log line. */
interface LoggedRequest {
  method: string;
  url: string;
  hostname?: string;
  remoteAddress?: string;
  remotePort?: number;
}

/** A request as Fastify hands it to the `req` serializer. */
interface RequestLike {
  method: string;
  url: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** The path of `url` without its query string or fragment. */
export function withoutQuery(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function serializeRequest(request: RequestLike): LoggedRequest {
  return {
    method: request.method,
    url: withoutQuery(request.url),
    hostname: request.hostname,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/**
 * The destination of a log for people: pino-pretty in pino's transport thread, writing readable lines
 * to stdout (coloured when stdout is a terminal). Secrets are redacted before lines reach it.
 */
export function prettyDestination(): pino.DestinationStream {
  return pino.transport({
    target: 'pino-pretty',
    options: {
      colorize: Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,role',
    },
  });
}

/** A pino logger at `level` writing JSON lines to `destination` (stdout by default), with secrets kept out. */
export function createLogger(level: string, destination?: pino.DestinationStream): pino.Logger {
  const paths = SECRET_HEADERS.flatMap((name) => [
    `req.headers["${name}"]`,
    `headers["${name}"]`,
    `request.headers["${name}"]`,
  ]);
  return pino(
    {
      level,
      serializers: { req: serializeRequest },
      redact: { paths, censor: '[redacted]' },
    },
    destination,
  );
}
