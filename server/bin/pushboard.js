#!/usr/bin/env node
// The `pushboard` command: runs the TypeScript CLI through tsx's loader, so no build step is needed.
import v8 from 'node:v8';
import { register } from 'tsx/esm/api';

// V8 lets the old generation grow to up to four times what survived the last full collection before
// collecting again. A send through FCM or APNs (one request per device) promotes short-lived request
// objects at a high rate, so the server's peak RSS rose by ~110 MB of garbage waiting for collection;
// half again of the live heap keeps the peak within the 256 MB budget at no measured cost in speed
// (bench/README.md, dispatch_fcm).
v8.setFlagsFromString('--heap-growing-percent=50');
register();
await import('../src/cli.ts');
