/**
 * `npm run build -w server` (run by `npm install` through the root `prepare`): bundles the server's
 * TypeScript, from the command line (`src/cli.ts`) down, into JavaScript in `server/dist`, so that
 * `pushboard` starts without compiling anything. Dependencies stay outside the bundle (loaded from
 * node_modules as they are installed). Modules imported with `import()` — the scaled mode's BullMQ,
 * ioredis and pg — become chunks of their own, loaded only when a process calls for them. The stamp
 * (`stamp.js`) is the last file of a build: a build cut short never replaces the previous one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { buildState, DIST_DIR, STAMP_FILE, sourceHash } from './stamp.js';

const SERVER_DIR = path.dirname(DIST_DIR);

/**
 * Builds `server/dist` from `server/src` and stamps it with the hash of its sources; does nothing when
 * the build is already current (the test run and the bench build first, beside processes that may be
 * starting from it). The new build is written beside the old one and put in its place by renames, so
 * that a process starting meanwhile finds one or the other, not half of one.
 */
export async function buildServer() {
  if (buildState().current) return;
  const hash = sourceHash();
  const next = `${DIST_DIR}.next-${process.pid}`;
  const old = `${DIST_DIR}.old-${process.pid}`;
  fs.rmSync(next, { recursive: true, force: true });
  await build({
    // The receipt writer's thread is started by file name, never imported (receipts/receipt-writer.ts):
    // it is an entry of its own, beside cli.js and the chunks that `new URL(…, import.meta.url)` starts from.
    entryPoints: [
      path.join(SERVER_DIR, 'src/cli.ts'),
      path.join(SERVER_DIR, 'src/receipts/receipt-writer-worker.ts'),
    ],
    entryNames: '[name]',
    outdir: next,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Without splitting, esbuild would hoist the imports of a lazily imported module to the top of the
    // bundle, and the embedded mode would load BullMQ and pg again.
    splitting: true,
    // Chunks beside cli.js: code that finds files relative to its own module (main.ts's WEB_ROOT,
    // `../../web/dist`) resolves the same from `server/src` and from `server/dist`.
    chunkNames: '[name]-[hash]',
    // Stack traces map back to the TypeScript under `node --enable-source-maps` (docs/operations.md).
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  fs.writeFileSync(path.join(next, path.basename(STAMP_FILE)), `${JSON.stringify({ sourceHash: hash })}\n`);
  if (fs.existsSync(DIST_DIR)) fs.renameSync(DIST_DIR, old);
  fs.renameSync(next, DIST_DIR);
  fs.rmSync(old, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await buildServer();
}
