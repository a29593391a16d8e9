/**
 * How long a request body may take to arrive (docs/operations.md#http, `PUSHBOARD_REQUEST_TIMEOUT_MS`). A JSON body
 * must arrive whole within the timeout. An upload is streamed into its import as it arrives and may
 * hold gigabytes, so it may take as long as it keeps coming, but may not stall for longer than the
 * timeout. Node's own `requestTimeout` times the whole request whatever its size, which would cut
 * every large import past a fixed size-over-speed; it is off, and this takes its place. Once the body
 * has arrived nothing is timed: an import's apply phase, an SSE stream or a long export take their time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

/** How a body's arrival is timed: `whole` within the timeout, or `idle` for at most the timeout at a time. */
export type BodyDeadline = 'whole' | 'idle';

/**
 * Calls `onTimeout` with the request's socket when its body has not arrived in time (per `deadline`).
 * Requests without a body, or whose body came with the headers, are not timed; neither are requests
 * without a real socket (Fastify's `inject()`).
 */
export function watchBodyArrival(
  request: IncomingMessage,
  response: ServerResponse,
  timeoutMs: number,
  deadline: BodyDeadline,
  onTimeout: (socket: Socket) => void,
): void {
  const { socket } = request;
  if (!(socket instanceof Socket) || request.complete || !hasBody(request)) return;
  const expire = () => onTimeout(socket);
  let timer: NodeJS.Timeout | undefined;
  if (deadline === 'whole') {
    timer = setTimeout(expire, timeoutMs);
  } else {
    // The socket's idle timer restarts with every chunk that arrives. Node's server hands an idle
    // socket's timeout to the incomplete request's listeners first (and destroys it only without any).
    socket.setTimeout(timeoutMs);
    request.once('timeout', expire);
  }
  let stopped = false;
  const stop = (answered: boolean) => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    else {
      request.off('timeout', expire);
      // Once the answer is out (or the request closed), the socket's timer is Node's keep-alive
      // timeout: not ours to clear.
      if (!answered) socket.setTimeout(0);
    }
  };
  request.once('end', () => stop(false));
  request.once('close', () => stop(true));
  response.once('finish', () => stop(true));
  response.once('close', () => stop(true));
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
