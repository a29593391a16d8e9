#!/usr/bin/env node
// The `pushboard` command: runs the server as built to JavaScript in server/dist (`npm install` builds
// it, as does `npm run build`). A build that is missing or older than the sources is never run: the
// command says so on stderr and runs the TypeScript sources through tsx's loader instead (a developer
// between an edit and a build), or, without tsx, stops and asks for the build.
import v8 from 'node:v8';
import { buildState, DIST_ENTRY } from '../build/stamp.js';

// V8 lets the old generation grow to up to four times what survived the last full collection before
// collecting again. A send through FCM or APNs (one request per device) promotes short-lived request
// objects at a high rate, so the server's peak RSS rose by ~110 MB of garbage waiting for collection;
// half again of the live heap keeps the peak within the 256 MB budget at no measured cost in speed
// (bench/README.md, dispatch_fcm).
v8.setFlagsFromString('--heap-growing-percent=50');

const build = buildState();
if (build.current) {
  await import(DIST_ENTRY);
} else {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    process.stderr.write(`pushboard: ${build.reason}: run \`npm run build\`.\n`);
    process.exit(1);
  }
  process.stderr.write(
    `pushboard: ${build.reason}; running the TypeScript sources through tsx (\`npm run build\` to run the build).\n`,
  );
  tsx.register();
  await import('../src/cli.ts');
}
