/**
 * `npm run build -w server` (run by `npm install` through the root `prepare`): bundles the server's
 * TypeScript, from the command line (`src/cli.ts`) down, into JavaScript in `server/dist`, so that
 * `pushboard` starts without compiling anything. Dependencies stay outside the bundle (loaded from
 * node_modules as they are installed). Modules imported with `import()` — the scaled mode's BullMQ,
 * ioredis and pg — become chunks of their own, loaded only when a process calls for them. The stamp
 * (`stamp.js`) is written last: a build cut short leaves none, and `pushboard` does not run it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { DIST_DIR, STAMP_FILE, sourceHash } from './stamp.js';

const SERVER_DIR = path.dirname(DIST_DIR);

/** Builds `server/dist` from `server/src` and stamps it with the hash of its sources. */
export async function buildServer() {
  const hash = sourceHash();
  fs.rmSync(DIST_DIR, { recursive: true, force: true });
  await build({
    entryPoints: [path.join(SERVER_DIR, 'src/cli.ts')],
    outdir: DIST_DIR,
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
  fs.writeFileSync(STAMP_FILE, `${JSON.stringify({ sourceHash: hash })}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await buildServer();
}
