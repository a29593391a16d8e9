/**
 * Identifiers and secrets. IDs are `<prefix>_<time><random>` in Crockford base32: unique without
 * coordination (so several processes can create objects), roughly time-ordered, and unguessable.
 */
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Prefixes of the object kinds, so an ID says what it names. */
export type IdPrefix = 'ws' | 'usr' | 'tok' | 'app' | 'imp' | 'aud' | 'cmp' | 'sub' | 'tsk' | 'rcp';

/** The time part of an ID made at `ms` (milliseconds since the epoch): 10 base32 digits. */
function timeHead(ms: number): string {
  let time = ms;
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = ALPHABET[time % 32] + head;
    time = Math.floor(time / 32);
  }
  return head;
}

/**
 * The smallest ID of kind `prefix` made at or after `time`, in byte order: every such ID sorts at or
 * above it, every earlier one below. It turns a time range into an ID range (the PostgreSQL device
 * results are partitioned by task ID, i.e. by the day the task was created).
 */
export function idFloor(prefix: IdPrefix, time: Date): string {
  return `${prefix}_${timeHead(time.getTime())}`;
}

/** A new ID such as `tsk_01jc5x0q8m4f7tq3wz9k2v6e1h`. */
export function newId(prefix: IdPrefix): string {
  const head = timeHead(Date.now());
  let tail = '';
  for (const byte of randomBytes(16)) tail += ALPHABET[byte % 32];
  return `${prefix}_${head}${tail}`;
}

/** A random secret of `bytes` bytes, base64url encoded, with an optional readable prefix. */
export function newSecret(prefix = '', bytes = 32): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

/** SHA-256 hex digest, used to store bearer tokens without keeping the tokens themselves. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
