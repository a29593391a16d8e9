/**
 * Whether `server/dist` holds the build of the TypeScript sources as they are now. The build
 * (`build.js`) writes a stamp, the hash of every file it was made from; the `pushboard` command
 * computes the same hash before it runs the build, so that a build older than a checkout or an edit
 * is never run without a word. No dependency: the command loads this before anything else.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The folder the build writes: `server/dist`. */
export const DIST_DIR = path.join(SERVER_DIR, 'dist');

/** The built command line, what `pushboard` runs when the build is current. */
export const DIST_ENTRY = path.join(DIST_DIR, 'cli.js');

/** The stamp the build writes last: `{ sourceHash }`. */
export const STAMP_FILE = path.join(DIST_DIR, 'build-stamp.json');

/**
 * The SHA-256 of what the build is made from: every file under `server/src` (path and content, in
 * path order) and the build script itself (its options shape the output).
 */
export function sourceHash() {
  const sourceDir = path.join(SERVER_DIR, 'src');
  const files = fs
    .readdirSync(sourceDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
  const hash = crypto.createHash('sha256');
  for (const file of [...files, path.join(SERVER_DIR, 'build/build.js')]) {
    hash.update(`${path.relative(SERVER_DIR, file)}\0`);
    hash.update(fs.readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * Answers `{ current: true }` when `server/dist` was built from the sources as they are now, else
 * `{ current: false, reason }` with what is wrong, in words for the person starting the command.
 */
export function buildState() {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(STAMP_FILE, 'utf8'));
  } catch {
    return { current: false, reason: 'server/dist is missing (or its build did not finish)' };
  }
  if (stamp.sourceHash !== sourceHash()) {
    return { current: false, reason: 'server/dist was built from other sources than those in server/src' };
  }
  return { current: true };
}
