/**
 * Secrets at rest (docs/operations.md#secrets-at-rest): app secrets and provider credentials are stored sealed with AES-256-GCM
 * under one 32-byte key, `PUSHBOARD_SECRET_KEY` or, when it is unset (embedded mode only), a key file
 * the first start creates beside the SQLite file (mode 0600). A sealed value is text:
 * `pbenc1:` + base64url(12-byte IV ‖ 16-byte GCM tag ‖ ciphertext). A value without that prefix is
 * a plaintext secret written by an older version: it is read as it is until the start-up pass
 * (`storage/sealed-columns.ts`) seals it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, SECRET_KEY_BYTES } from '../config.ts';

/** Name of the key file made in the data folder when `PUSHBOARD_SECRET_KEY` is unset. */
export const KEY_FILE_NAME = 'secret.key';

/** How every sealed value starts; the `1` is the format version. */
export const SEALED_PREFIX = 'pbenc1:';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals and opens secrets with one key. */
export interface SecretBox {
  /** `plain` sealed (a fresh IV each time, so equal secrets do not look equal). */
  seal(plain: string): string;
  /**
   * The secret in `stored`: opened when sealed, as it is when it is an older plaintext value. Throws
   * `ConfigError` when it was sealed with another key (or altered): never answers garbage.
   */
  open(stored: string): string;
}

/** Whether `stored` is a sealed value (rather than an older plaintext one). */
export function isSealed(stored: string): boolean {
  return stored.startsWith(SEALED_PREFIX);
}

/** A box over `key` (32 bytes). */
export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== SECRET_KEY_BYTES) throw new Error(`a secret key has ${SECRET_KEY_BYTES} bytes`);
  return {
    seal(plain) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    open(stored) {
      if (!isSealed(stored)) return stored;
      const raw = Buffer.from(stored.slice(SEALED_PREFIX.length), 'base64url');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
        decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        return Buffer.concat([
          decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new ConfigError(
          'The stored app secrets cannot be opened with this secret key: they were sealed with another one. ' +
            "Start with the PUSHBOARD_SECRET_KEY (or the data folder's secret.key file) they were written with; " +
            "a lost key cannot be recovered — rotate the apps' secrets and enter their provider credentials again.",
        );
      }
    },
  };
}

/**
 * The key of a store: `secretKey` when set; else the key file in `folder`, created on first use with
 * 32 random bytes (base64, mode 0600). A key file that exists but holds no key is a `ConfigError`.
 */
export function loadSecretKey(secretKey: Buffer | undefined, folder: string): Buffer {
  if (secretKey) return secretKey;
  const file = path.join(folder, KEY_FILE_NAME);
  if (!fs.existsSync(file)) {
    // Written whole under a temporary name, then linked into place: of two processes starting at
    // once, one key wins and both read it; nobody ever reads a half-written file.
    const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(draft, `${randomBytes(SECRET_KEY_BYTES).toString('base64')}\n`, { mode: 0o600 });
    try {
      fs.linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(draft, { force: true });
    }
  }
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== SECRET_KEY_BYTES) {
    throw new ConfigError(
      `${file} holds no ${SECRET_KEY_BYTES}-byte key (base64): restore it from a backup, or set PUSHBOARD_SECRET_KEY`,
    );
  }
  fs.chmodSync(file, 0o600);
  return key;
}
