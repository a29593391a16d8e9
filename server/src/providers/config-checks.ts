/**
 * The pieces every provider's config module checks its fields with (`umeng-config.ts`,
 * `fcm-config.ts`, `apns-config.ts`, `simulator-config.ts`): the shape of a field rule, the checks
 * several providers share, and the shape of the credential fields `apps/provider-config.ts` applies
 * docs/providers.md#endpoints-and-credentials rules to. Providers import nothing from `apps/`: it composes them.
 */
import { createPrivateKey } from 'node:crypto';
import { Type } from 'typebox';

/**
 * The problem with one config field's value, or undefined when it is fine; a check of an object field
 * may list problems of its members instead (`path` relative to the field).
 */
export type FieldCheck = (value: unknown) => string | { path: string; message: string }[] | undefined;

/** How one field of a provider config is checked: whether it must be given, and its check. */
export interface FieldRule {
  required: boolean;
  check: FieldCheck;
}

/**
 * What the fields of one provider's config are, for the rules of docs/providers.md#endpoints-and-credentials. Every provider's config
 * module lists its fields, as paths into the config (`serviceAccount.private_key`), so that owner-only writes,
 * re-entered secrets and the endpoint allowlist hold for each provider without code of its own.
 */
export interface CredentialFields {
  /** Write-only fields: masked on reads, kept when a change leaves them out or sends them back masked. */
  secrets: string[];
  /** Fields that say whose credentials these are (Umeng `appKey`): a change needs the secrets typed again. */
  identity: string[];
  /**
   * URL fields that provider requests go to, each with the provider's real endpoints (one is used
   * when the field is absent; they are always allowed); any other value must be in the deployment's
   * allowlist, and a change needs the secrets typed again.
   */
  endpoints: { field: string; realEndpoint: string | readonly string[] }[];
}

/** Most requests one app may keep in flight (`concurrency` of FCM and APNs). */
export const MAX_CONCURRENCY = 1000;

/** The schema of `rateLimitPerSecond`, shared by every provider's config schema. */
export const rateLimitSchema = Type.Optional(
  Type.Integer({
    minimum: 0,
    description: 'Devices per second for this app; 0 = no limit; absent = deployment default.',
  }),
);

/** The schema of `concurrency`, shared by the config schemas of FCM and APNs. */
export const concurrencySchema = Type.Optional(
  Type.Integer({
    minimum: 1,
    maximum: MAX_CONCURRENCY,
    description: 'Requests in flight at once; 100 when absent.',
  }),
);

/** A credential: non-empty text without spaces (Umeng's app key and master secret). */
export const credential: FieldCheck = (value) =>
  typeof value === 'string' && /^\S{1,256}$/.test(value)
    ? undefined
    : 'must be a non-empty string without spaces, at most 256 characters';

/** An http(s) URL. */
export const httpUrl: FieldCheck = (value) => {
  const problem = 'must be an http(s) URL such as https://msgapi.umeng.com';
  if (typeof value !== 'string') return problem;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : problem;
  } catch {
    return problem;
  }
};

/** true or false. */
export const boolean: FieldCheck = (value) =>
  typeof value === 'boolean' ? undefined : 'must be true or false';

/** A fraction in [0, 1]. */
export const fraction: FieldCheck = (value) =>
  typeof value === 'number' && value >= 0 && value <= 1
    ? undefined
    : 'must be a fraction between 0 and 1 (e.g. 0.95)';

/** A safe integer. */
export const integer: FieldCheck = (value) =>
  Number.isSafeInteger(value) ? undefined : 'must be an integer';

/** A number above 0. */
export const positive: FieldCheck = (value) =>
  typeof value === 'number' && Number.isFinite(value) && value > 0
    ? undefined
    : 'must be a number greater than 0 (1 = real time)';

/** A rate limit: whole devices per second, 0 for none. */
export const rate: FieldCheck = (value) =>
  Number.isSafeInteger(value) && (value as number) >= 0
    ? undefined
    : 'must be a whole number of devices per second, 0 for no limit';

/** An https URL. */
export const httpsUrl: FieldCheck = (value) =>
  typeof value === 'string' && value.startsWith('https://') && httpUrl(value) === undefined
    ? undefined
    : 'must be an https URL';

/** Short text without spaces (IDs, channel names). */
export const shortText: FieldCheck = (value) =>
  typeof value === 'string' && /^\S{1,100}$/.test(value)
    ? undefined
    : 'must be a non-empty string without spaces, at most 100 characters';

/** Requests in flight at once: 1 to `MAX_CONCURRENCY`. */
export const concurrency: FieldCheck = (value) =>
  Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= MAX_CONCURRENCY
    ? undefined
    : `must be a whole number of requests from 1 to ${MAX_CONCURRENCY}`;

/** Whether `pem` is the PEM text of a private key of the given kind (`rsa`, or `ec` on P-256). */
export function privateKeyProblem(pem: unknown, kind: 'rsa' | 'p256'): string | undefined {
  const expected =
    kind === 'rsa'
      ? 'must be the PEM text of an RSA private key ("-----BEGIN PRIVATE KEY-----…"), as in the JSON key file'
      : 'must be the PEM text of the .p8 key file ("-----BEGIN PRIVATE KEY-----…", an ES256 key)';
  if (typeof pem !== 'string' || pem.length > 10_000 || !pem.includes('-----BEGIN')) return expected;
  try {
    const key = createPrivateKey(pem);
    if (kind === 'rsa') return key.asymmetricKeyType === 'rsa' ? undefined : expected;
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
      ? undefined
      : expected;
  } catch {
    return expected;
  }
}
