/**
 * The key files an owner uploads for FCM and APNs, read in the browser: the Google service-account
 * JSON key (FCM) and the `.p8` signing key (APNs). They are checked here so that a wrong file is
 * named at once, before anything is sent; the server checks them again (and the key itself) on save.
 */
import type { ServiceAccountKey } from '../../api/types.ts';

/** Largest key file read, in bytes: real ones are 2–3 KB; anything far larger is another file. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/** The fields of a service-account key file FCM needs, in the order they are checked. */
export const SERVICE_ACCOUNT_FIELDS = [
  'type',
  'project_id',
  'private_key_id',
  'private_key',
  'client_email',
] as const;

/** Why a chosen file is not the key file asked for; the console has words for each. */
export type KeyFileProblem =
  | { code: 'TOO_LARGE' }
  | { code: 'NOT_JSON' }
  | { code: 'NOT_SERVICE_ACCOUNT'; type: string }
  | { code: 'FIELD_MISSING'; field: string }
  | { code: 'NOT_PEM_KEY'; field: string }
  | { code: 'NOT_P8' };

/** What reading a key file gave: its content, or the problem with it. */
export type KeyFileRead<T> = { ok: true; content: T } | { ok: false; problem: KeyFileProblem };

/** A key file chosen in a form: its name and what reading it gave. */
export type KeyFile<T> = { fileName: string } & KeyFileRead<T>;

const PEM_PRIVATE_KEY = /^-----BEGIN PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PRIVATE KEY-----\s*$/;

/**
 * Reads a service-account JSON key file's text. Only the fields FCM needs are kept (`client_id`,
 * `auth_uri`… stay in the browser), so that what is saved is exactly what is shown.
 */
export function parseServiceAccountKey(text: string): KeyFileRead<ServiceAccountKey> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, problem: { code: 'NOT_JSON' } };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, problem: { code: 'NOT_JSON' } };
  }
  const file = parsed as Record<string, unknown>;
  for (const field of SERVICE_ACCOUNT_FIELDS) {
    const value = file[field];
    if (typeof value !== 'string' || value.trim() === '') {
      return { ok: false, problem: { code: 'FIELD_MISSING', field } };
    }
  }
  if (file.type !== 'service_account') {
    return { ok: false, problem: { code: 'NOT_SERVICE_ACCOUNT', type: String(file.type).slice(0, 40) } };
  }
  const privateKey = file.private_key as string;
  if (!PEM_PRIVATE_KEY.test(privateKey.trim())) {
    return { ok: false, problem: { code: 'NOT_PEM_KEY', field: 'private_key' } };
  }
  const key: ServiceAccountKey = {
    type: 'service_account',
    project_id: file.project_id as string,
    private_key_id: file.private_key_id as string,
    private_key: privateKey,
    client_email: file.client_email as string,
  };
  if (typeof file.token_uri === 'string' && file.token_uri !== '') key.token_uri = file.token_uri;
  return { ok: true, content: key };
}

/** Reads a `.p8` key file's text: the PKCS#8 PEM Apple gives, `-----BEGIN PRIVATE KEY-----…`. */
export function parseP8Key(text: string): KeyFileRead<string> {
  const pem = text.trim();
  return PEM_PRIVATE_KEY.test(pem)
    ? { ok: true, content: `${pem}\n` }
    : { ok: false, problem: { code: 'NOT_P8' } };
}

/** Reads a chosen file with `parse`; a file too large to be a key is refused without reading it. */
export async function readKeyFile<T>(
  file: File,
  parse: (text: string) => KeyFileRead<T>,
): Promise<KeyFile<T>> {
  if (file.size > MAX_KEY_FILE_BYTES)
    return { fileName: file.name, ok: false, problem: { code: 'TOO_LARGE' } };
  return { fileName: file.name, ...parse(await file.text()) };
}
