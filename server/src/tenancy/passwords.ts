/**
 * Password hashing with scrypt from Node's crypto (no native dependency), in the self-describing
 * format `scrypt$N=131072,r=8,p=1$<salt>$<hash>`: each hash carries its cost, so that the cost can
 * rise later while older hashes still verify (and are upgraded at the next login). Hashes of the
 * first format, `scrypt$<salt>$<hash>`, were made with Node's defaults (N=2^14, r=8, p=1).
 *
 * One check at N=2^17 takes 128 MiB and about a third of a second of one core, so at most
 * `PASSWORD_CHECK_CONCURRENCY` run at once in a process; up to `PASSWORD_CHECK_QUEUE_LIMIT` others
 * wait their turn, and more are refused (docs/operations.md#passwords-and-accounts).
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';

/** Shortest password a user may choose (creating, changing or resetting one). */
export const PASSWORD_MIN_LENGTH = 12;
/** Longest password a user may choose (a bound on the work of hashing it). */
export const PASSWORD_MAX_LENGTH = 1000;

/** Password hashes or checks one process runs at the same time. */
export const PASSWORD_CHECK_CONCURRENCY = 2;
/**
 * Password hashes or checks that may wait for their turn in one process (about 5 s of work): more
 * are refused with 429 at once, so that many clients cannot pile up scrypt work and memory.
 */
export const PASSWORD_CHECK_QUEUE_LIMIT = 32;
/** The Retry-After of a check refused because the queue is full, in seconds. */
const BUSY_RETRY_S = 1;

/** scrypt's cost parameters. */
interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** The cost new hashes are made with (docs/operations.md#passwords-and-accounts: N ≥ 2^17). */
const CURRENT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
/** The cost of hashes in the first format, which did not record it (Node's defaults). */
const LEGACY: ScryptParams = { N: 2 ** 14, r: 8, p: 1 };
/** Hashes that claim a larger cost are refused rather than computed (a corrupt or hostile row). */
const MAX_N = 2 ** 20;
const KEY_BYTES = 32;

let running = 0;
const waiting: (() => void)[] = [];

/**
 * Runs `work` once fewer than `PASSWORD_CHECK_CONCURRENCY` others run; throws 429
 * `TOO_MANY_LOGIN_ATTEMPTS` when `PASSWORD_CHECK_QUEUE_LIMIT` already wait.
 */
async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= PASSWORD_CHECK_CONCURRENCY) {
    if (waiting.length >= PASSWORD_CHECK_QUEUE_LIMIT) {
      throw new AppError(
        'TOO_MANY_LOGIN_ATTEMPTS',
        `The server is checking too many passwords at once; try again in ${BUSY_RETRY_S} s.`,
        { retryAfterSeconds: BUSY_RETRY_S },
        { 'retry-after': String(BUSY_RETRY_S) },
      );
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else running++;
  try {
    return await work();
  } finally {
    // The slot passes straight to the next waiter, so `running` stays counted for it.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function scrypt(password: string, salt: Buffer, keylen: number, params: ScryptParams): Promise<Buffer> {
  return limited(
    () =>
      new Promise((resolve, reject) => {
        // scrypt needs 128 · N · r bytes; Node refuses more than `maxmem` (32 MiB by default).
        const maxmem = 128 * params.N * params.r + 1024 * 1024;
        scryptCallback(password, salt, keylen, { ...params, maxmem }, (error, key) =>
          error ? reject(error) : resolve(key),
        );
      }),
  );
}

/** Hashes a password with a fresh random salt at the current cost. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEY_BYTES, CURRENT);
  const { N, r, p } = CURRENT;
  return `scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** The parts of a stored hash, or undefined when it is not one this module made. */
function parseHash(stored: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts[0] !== 'scrypt') return undefined;
  if (parts.length === 3) {
    return {
      params: LEGACY,
      salt: Buffer.from(parts[1] ?? '', 'base64'),
      hash: Buffer.from(parts[2] ?? '', 'base64'),
    };
  }
  const match = /^N=(\d+),r=(\d+),p=(\d+)$/.exec(parts[1] ?? '');
  if (parts.length !== 4 || !match) return undefined;
  const params = { N: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  if (params.N > MAX_N || params.r > 32 || params.p > 16) return undefined;
  return { params, salt: Buffer.from(parts[2] ?? '', 'base64'), hash: Buffer.from(parts[3] ?? '', 'base64') };
}

/** Checks a password against a stored hash in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed || parsed.hash.length === 0) return false;
  const actual = await scrypt(password, parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(parsed.hash, actual);
}

/** Whether a stored hash was made at a lower cost than new ones (then it is re-hashed at the next login). */
export function isOutdatedHash(stored: string): boolean {
  const parsed = parseHash(stored);
  return !parsed || parsed.params.N < CURRENT.N || parsed.params.r < CURRENT.r;
}

let decoy: Promise<string> | undefined;

/**
 * A hash of a random password, verified against when a login names an unknown user so that unknown
 * and known usernames take the same time to refuse. Made on first use, not at start.
 */
export function decoyHash(): Promise<string> {
  // A refused hash (a full queue) must not be remembered, or every later unknown user would fail.
  decoy ??= hashPassword(randomBytes(16).toString('hex')).catch((error: unknown) => {
    decoy = undefined;
    throw error;
  });
  return decoy;
}
