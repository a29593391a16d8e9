/**
 * Parse Server, the peer of `npm run bench -- --peer` (`peer.ts`), in a process of its own: the
 * cached `parse-server` install (`peer.ts` puts it there, outside the project's dependencies) on a
 * PostgreSQL database of the run, mounted on `/parse` of an Express app on a free loopback port,
 * with a no-op push adapter. The adapter answers every installation it is handed as transmitted at
 * once (as `@parse/push-adapter` reports a success), so Parse's own work is what is measured: the
 * `_PushStatus` bookkeeping, the count and the installation queries of its push queue, the worker's
 * batches. It counts the installations it received; the bench process asks for the count over IPC.
 *
 *   node --import tsx bench/peer-parse-server.ts <parse-server install folder> <postgres URL>
 *
 * Messages to the bench process: `{type: 'listening', port, appId, masterKey}`, then one
 * `{type: 'received', installations, sends}` per `{type: 'received'}` asked.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** The application ID and master key of the peer (loopback only, for this run). */
export const PARSE_APP_ID = 'pushboard-bench-peer';
export const PARSE_MASTER_KEY = 'pushboard-bench-peer-master-key';

/** Messages of the Parse process to the bench process. */
export type PeerMessage =
  | { type: 'listening'; port: number }
  | { type: 'received'; installations: number; sends: number };

/** What the no-op adapter gets from Parse's push worker: the installations of one batch. */
interface Installation {
  deviceType?: string;
  deviceToken?: string;
}

async function serve(installFolder: string, databaseURI: string): Promise<void> {
  const require = createRequire(path.join(installFolder, 'package.json'));
  // The peer's own modules, from its install folder (untyped here: they are not the project's).
  const { ParseServer } = require('parse-server') as {
    ParseServer: new (
      options: Record<string, unknown>,
    ) => { start(): Promise<unknown>; app: unknown; handleShutdown(): Promise<void> };
  };
  const express = require('express') as () => {
    use(path: string, handler: unknown): void;
    listen(port: number, host: string): import('node:http').Server;
  };
  let installations = 0;
  let sends = 0;
  const adapter = {
    getValidPushTypes: () => ['ios', 'android'],
    /** Hands nothing on: answers each installation as transmitted, as a provider that accepts all. */
    async send(_body: unknown, batch: Installation[]) {
      installations += batch.length;
      sends++;
      return batch.map((device) => ({ device, transmitted: true }));
    },
  };
  const server = new ParseServer({
    appId: PARSE_APP_ID,
    masterKey: PARSE_MASTER_KEY,
    databaseURI,
    serverURL: 'http://127.0.0.1/parse',
    push: { adapter },
    // Errors only, and no log files: the bench measures the push, not its logging.
    logLevel: 'error',
    silent: true,
    logsFolder: null,
  });
  await server.start();
  const app = express();
  app.use('/parse', server.app);
  const http = app.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const send = (message: PeerMessage) => process.send?.(message);
  send({ type: 'listening', port: (http.address() as AddressInfo).port });
  process.on('message', (message: { type: string }) => {
    if (message.type === 'received') send({ type: 'received', installations, sends });
  });
  const stop = async () => {
    http.close();
    await server.handleShutdown().catch(() => {});
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  // The bench process went away without stopping this one.
  process.once('disconnect', stop);
}

// Run only as a script: `peer.ts` imports this module for its names and types.
const [installFolder, databaseURI] = process.argv.slice(2);
if (
  path.resolve(process.argv[1] ?? '') === import.meta.filename &&
  installFolder !== undefined &&
  databaseURI !== undefined
) {
  await serve(installFolder, databaseURI);
}
