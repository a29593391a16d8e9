/**
 * The provider config of an app: what each provider needs, how a config sent by a client is checked,
 * and how credentials are masked. Credentials are write-only: every read shows them masked, and a
 * change that leaves a credential out keeps the stored one. `CREDENTIAL_FIELDS` says which fields are
 * secrets, identity and endpoints, for SPEC §4.1's rules.
 */
import { createPrivateKey } from 'node:crypto';
import { Type } from 'typebox';
import { AppError, type FieldError, validationError } from '../errors.ts';
import { APNS_BASE_URLS, endpointAllowed, FCM_BASE_URL, GOOGLE_TOKEN_URI } from '../providers/endpoints.ts';
import { UMENG_BASE_URL } from '../providers/umeng.ts';
import type { AppRow } from '../storage/database.ts';

/** The platform of an app. */
export type Platform = AppRow['platform'];

/** The provider an app sends through. */
export type Provider = AppRow['provider'];

/** Credentials and options of an app on the Umeng U-Push provider. */
export interface UmengConfig {
  appKey: string;
  appMasterSecret: string;
  /** Base URL of the U-Push API; the provider's default when absent (tests point it at a fake). */
  baseUrl?: string;
  /**
   * Umeng's `production_mode` (default true): false limits broadcast and groupcast sends to the app's
   * test devices. Pushboard sends listcasts and filecasts, which Umeng does not limit either way.
   */
  productionMode?: boolean;
  /** Devices per second handed to Umeng for this app; the deployment default when absent, 0 = no limit. */
  rateLimitPerSecond?: number;
  /**
   * Android: the activity (full class name) that Xiaomi, Huawei, OPPO and vivo open for a push they
   * deliver through their own channel while the app is offline; sent as
   * `channel_properties.channel_activity` and, for older Umeng SDKs, `mipush: "true"` + `mi_activity`.
   */
  channelActivity?: string;
  /**
   * Android: further vendor-channel options passed as they are in `channel_properties`
   * (`xiaomi_channel_id`, `huawei_channel_importance`, `huawei_channel_category`, `oppo_channel_id`,
   * `vivo_category`…), every value a string.
   */
  channelProperties?: Record<string, string>;
}

/**
 * The fields of a Google service-account JSON key that FCM needs (SPEC §4.2); a key file's other
 * fields (`client_id`, `auth_uri`…) are not kept.
 */
export interface ServiceAccountKey {
  type?: 'service_account';
  project_id: string;
  private_key_id: string;
  /** PEM text of the RSA private key the OAuth assertion is signed with. Write-only. */
  private_key: string;
  client_email: string;
  /** Where the OAuth assertion is posted; `https://oauth2.googleapis.com/token` when absent. */
  token_uri?: string;
}

/** Credentials and options of an Android app on Firebase Cloud Messaging HTTP v1 (SPEC §4.2). */
export interface FcmConfig {
  serviceAccount: ServiceAccountKey;
  /** Base URL of the FCM API; `https://fcm.googleapis.com` when absent (tests point it at a fake). */
  baseUrl?: string;
  /** Android notification channel the notifications are posted in (`android.notification.channel_id`). */
  androidChannelId?: string;
  /** Requests in flight at once for this app; 100 when absent. */
  concurrency?: number;
  /** Devices per second handed to FCM for this app; the deployment default when absent, 0 = no limit. */
  rateLimitPerSecond?: number;
}

/** Credentials and options of an iOS app on the Apple Push Notification service (SPEC §4.3). */
export interface ApnsConfig {
  /** The Apple developer team ID (10 characters): the provider token's `iss`. */
  teamId: string;
  /** The ID of the `.p8` signing key (10 characters): the provider token's `kid`. */
  keyId: string;
  /** PEM text of the `.p8` ES256 (P-256) signing key. Write-only. */
  privateKey: string;
  /** The app's bundle ID, sent as `apns-topic`. */
  bundleId: string;
  /** `production` (https://api.push.apple.com) or `sandbox` (https://api.sandbox.push.apple.com). */
  environment: 'production' | 'sandbox';
  /** Base URL of the APNs API, overriding the environment's (tests point it at a fake). */
  baseUrl?: string;
  /** Streams in flight at once on the app's HTTP/2 connection; 100 when absent. */
  concurrency?: number;
  /** Devices per second handed to APNs for this app; the deployment default when absent, 0 = no limit. */
  rateLimitPerSecond?: number;
}

/** Behaviour of the built-in simulator provider; every field falls back to the simulator's default. */
export interface SimulatorConfig {
  /** Seed of the simulator's random choices; the same seed gives the same results. */
  seed?: number;
  /** Fractions in [0, 1], applied in funnel order: accepted → delivered → impression → open / dismissal. */
  acceptRate?: number;
  deliveryRate?: number;
  impressionRate?: number;
  openRate?: number;
  dismissalRate?: number;
  /** Divides the simulated receipt delays: 1 is real time, 60 makes an hour pass in a minute. */
  timeScale?: number;
  /** Devices per second handed to the simulator for this app; the deployment default when absent, 0 = no limit. */
  rateLimitPerSecond?: number;
}

/** The config each provider takes. */
export interface ProviderConfigs {
  umeng: UmengConfig;
  simulator: SimulatorConfig;
  fcm: FcmConfig;
  apns: ApnsConfig;
}

/** The config of an app, whichever its provider. */
export type ProviderConfig = ProviderConfigs[Provider];

/** Most requests one app may keep in flight (`concurrency` of FCM and APNs). */
export const MAX_CONCURRENCY = 1000;

/** Umeng's config as shown on reads (the master secret masked), for the OpenAPI document. */
export const UmengConfigSchema = Type.Object(
  {
    appKey: Type.String(),
    appMasterSecret: Type.String({ description: 'Write-only: always masked on reads, e.g. "••••1a2b".' }),
    baseUrl: Type.Optional(Type.String({ description: 'http(s) URL of the U-Push API.' })),
    productionMode: Type.Optional(
      Type.Boolean({
        description:
          'Umeng production_mode (default true). false limits only broadcast and groupcast sends to test ' +
          'devices; Pushboard sends listcasts and filecasts, which reach every device either way.',
      }),
    ),
    rateLimitPerSecond: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Devices per second for this app; 0 = no limit; absent = deployment default.',
      }),
    ),
    channelActivity: Type.Optional(
      Type.String({
        description:
          'Android: full class name of the activity vendor channels (Xiaomi, Huawei, OPPO, vivo…) open, e.g. ' +
          '"com.example.app.MfrMessageActivity"; sent as channel_properties.channel_activity and mi_activity.',
      }),
    ),
    channelProperties: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description:
          'Android: vendor-channel options sent as they are in channel_properties, e.g. xiaomi_channel_id, ' +
          'huawei_channel_importance (NORMAL or LOW), huawei_channel_category, oppo_channel_id, vivo_category.',
      }),
    ),
  },
  { additionalProperties: false, title: 'UmengConfig' },
);

/** The simulator's config, for the OpenAPI document. */
export const SimulatorConfigSchema = Type.Object(
  {
    seed: Type.Optional(Type.Integer()),
    acceptRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    deliveryRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    impressionRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    openRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    dismissalRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    timeScale: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    rateLimitPerSecond: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Devices per second for this app; 0 = no limit; absent = deployment default.',
      }),
    ),
  },
  { additionalProperties: false, title: 'SimulatorConfig' },
);

const rateLimitSchema = Type.Optional(
  Type.Integer({
    minimum: 0,
    description: 'Devices per second for this app; 0 = no limit; absent = deployment default.',
  }),
);

const concurrencySchema = Type.Optional(
  Type.Integer({
    minimum: 1,
    maximum: MAX_CONCURRENCY,
    description: 'Requests in flight at once; 100 when absent.',
  }),
);

/** FCM's config as shown on reads (the private key masked), for the OpenAPI document. */
export const FcmConfigSchema = Type.Object(
  {
    serviceAccount: Type.Object(
      {
        type: Type.Optional(Type.Literal('service_account')),
        project_id: Type.String(),
        private_key_id: Type.String(),
        private_key: Type.String({ description: 'Write-only: always masked on reads.' }),
        client_email: Type.String(),
        token_uri: Type.Optional(Type.String()),
      },
      {
        description:
          'The service-account JSON key file of the Firebase project, as downloaded (fields other than these are not kept).',
      },
    ),
    baseUrl: Type.Optional(
      Type.String({ description: `https URL of the FCM API; ${FCM_BASE_URL} when absent.` }),
    ),
    androidChannelId: Type.Optional(Type.String()),
    concurrency: concurrencySchema,
    rateLimitPerSecond: rateLimitSchema,
  },
  { additionalProperties: false, title: 'FcmConfig' },
);

/** APNs' config as shown on reads (the private key masked), for the OpenAPI document. */
export const ApnsConfigSchema = Type.Object(
  {
    teamId: Type.String(),
    keyId: Type.String(),
    privateKey: Type.String({ description: 'PEM text of the .p8 key. Write-only: always masked on reads.' }),
    bundleId: Type.String(),
    environment: Type.Union([Type.Literal('production'), Type.Literal('sandbox')]),
    baseUrl: Type.Optional(Type.String({ description: "https URL of APNs; the environment's when absent." })),
    concurrency: concurrencySchema,
    rateLimitPerSecond: rateLimitSchema,
  },
  { additionalProperties: false, title: 'ApnsConfig' },
);

/** Any provider's config as shown on reads. */
export const ProviderConfigSchema = Type.Union([
  UmengConfigSchema,
  SimulatorConfigSchema,
  FcmConfigSchema,
  ApnsConfigSchema,
]);

/** Checks one field value; answers the problem, or undefined when the value is fine. */
/**
 * The problem with one config field's value, or undefined when it is fine; a check of an object field
 * may list problems of its members instead (`path` relative to the field).
 */
type FieldCheck = (value: unknown) => string | { path: string; message: string }[] | undefined;

interface FieldRule {
  required: boolean;
  check: FieldCheck;
}

const credential: FieldCheck = (value) =>
  typeof value === 'string' && /^\S{1,256}$/.test(value)
    ? undefined
    : 'must be a non-empty string without spaces, at most 256 characters';

const httpUrl: FieldCheck = (value) => {
  const problem = 'must be an http(s) URL such as https://msgapi.umeng.com';
  if (typeof value !== 'string') return problem;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : problem;
  } catch {
    return problem;
  }
};

const boolean: FieldCheck = (value) => (typeof value === 'boolean' ? undefined : 'must be true or false');

const fraction: FieldCheck = (value) =>
  typeof value === 'number' && value >= 0 && value <= 1
    ? undefined
    : 'must be a fraction between 0 and 1 (e.g. 0.95)';

const integer: FieldCheck = (value) => (Number.isSafeInteger(value) ? undefined : 'must be an integer');

const positive: FieldCheck = (value) =>
  typeof value === 'number' && Number.isFinite(value) && value > 0
    ? undefined
    : 'must be a number greater than 0 (1 = real time)';

const rate: FieldCheck = (value) =>
  Number.isSafeInteger(value) && (value as number) >= 0
    ? undefined
    : 'must be a whole number of devices per second, 0 for no limit';

const httpsUrl: FieldCheck = (value) =>
  typeof value === 'string' && value.startsWith('https://') && httpUrl(value) === undefined
    ? undefined
    : 'must be an https URL';

const shortText: FieldCheck = (value) =>
  typeof value === 'string' && /^\S{1,100}$/.test(value)
    ? undefined
    : 'must be a non-empty string without spaces, at most 100 characters';

const concurrency: FieldCheck = (value) =>
  Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= MAX_CONCURRENCY
    ? undefined
    : `must be a whole number of requests from 1 to ${MAX_CONCURRENCY}`;

// A fully qualified Java class name: what Android vendor channels open (`com.example.app.PushActivity`).
const JAVA_CLASS_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)+$/;

const activityClass: FieldCheck = (value) =>
  typeof value === 'string' && value.length <= 256 && JAVA_CLASS_NAME.test(value)
    ? undefined
    : 'must be the full class name of an Android activity, e.g. "com.example.app.MfrMessageActivity"';

/** Most vendor-channel options one Umeng app may carry. */
const MAX_CHANNEL_PROPERTIES = 30;

const CHANNEL_PROPERTY_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const VENDOR_ID: FieldCheck = (value) =>
  typeof value === 'string' && /^\S{1,200}$/.test(value)
    ? undefined
    : 'must be the channel ID created in the vendor console (no spaces, at most 200 characters)';
const VENDOR_WORD: FieldCheck = (value) =>
  typeof value === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(value)
    ? undefined
    : 'must be the vendor\'s upper-case word for it, e.g. "MARKETING" or "IM"';

/** Vendor-channel options whose values Pushboard knows (UMENG.md); other names pass with any short text. */
const KNOWN_CHANNEL_PROPERTIES: Record<string, FieldCheck> = {
  xiaomi_channel_id: VENDOR_ID,
  oppo_channel_id: VENDOR_ID,
  huawei_channel_importance: (value) =>
    value === 'NORMAL' || value === 'LOW' ? undefined : 'must be "NORMAL" or "LOW"',
  huawei_channel_category: VENDOR_WORD,
  vivo_category: VENDOR_WORD,
  oppo_category: VENDOR_WORD,
};

const channelProperties: FieldCheck = (value) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be an object of vendor-channel option → text, e.g. {"xiaomi_channel_id": "high_system"}';
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_CHANNEL_PROPERTIES) return `may hold at most ${MAX_CHANNEL_PROPERTIES} options`;
  const problems: { path: string; message: string }[] = [];
  for (const [name, option] of entries) {
    if (name === 'channel_activity') {
      problems.push({ path: name, message: 'is set through providerConfig.channelActivity, not here' });
    } else if (!CHANNEL_PROPERTY_NAME.test(name)) {
      problems.push({
        path: name,
        message:
          'is not a vendor-channel option name (lower-case letters, digits and _, as Umeng names them)',
      });
    } else if (typeof option !== 'string') {
      problems.push({ path: name, message: 'must be text (Umeng takes every option as a string)' });
    } else {
      const check = KNOWN_CHANNEL_PROPERTIES[name];
      const message = check
        ? check(option)
        : option.length <= 256 && ![...option].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
          ? undefined
          : 'must be at most 256 characters without control characters';
      if (typeof message === 'string') problems.push({ path: name, message });
    }
  }
  return problems.length > 0 ? problems : undefined;
};

/** Whether `pem` is the PEM text of a private key of the given kind (`rsa`, or `ec` on P-256). */
function privateKeyProblem(pem: unknown, kind: 'rsa' | 'p256'): string | undefined {
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

/** Fields of a downloaded service-account key file that FCM does not need: accepted and not kept. */
const UNUSED_KEY_FILE_FIELDS = new Set([
  'client_id',
  'auth_uri',
  'auth_provider_x509_cert_url',
  'client_x509_cert_url',
  'universe_domain',
]);

/** Checks a service-account key object; answers its first problem, naming the key file's field. */
const serviceAccount: FieldCheck = (value) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be the service-account JSON key object (Firebase console › Project settings › Service accounts › Generate new private key)';
  }
  const key = value as Record<string, unknown>;
  if (key.type !== undefined && key.type !== 'service_account') {
    return `is a "${String(key.type).slice(0, 40)}" key, not a service-account key ("type": "service_account")`;
  }
  for (const name of ['project_id', 'private_key_id'] as const) {
    if (shortText(key[name]) !== undefined) return `${name} ${shortText(key[name])}`;
  }
  if (typeof key.client_email !== 'string' || !/^[^\s@]{1,100}@[^\s@]{1,150}$/.test(key.client_email)) {
    return 'client_email must be the e-mail address of the service account';
  }
  const keyProblem = privateKeyProblem(key.private_key, 'rsa');
  if (keyProblem) return `private_key ${keyProblem}`;
  if (key.token_uri !== undefined && httpsUrl(key.token_uri) !== undefined) {
    return `token_uri must be an https URL such as ${GOOGLE_TOKEN_URI}`;
  }
  const known = new Set(['type', 'project_id', 'private_key_id', 'private_key', 'client_email', 'token_uri']);
  const unknown = Object.keys(key).find((name) => !known.has(name) && !UNUSED_KEY_FILE_FIELDS.has(name));
  if (unknown !== undefined) return `${unknown.slice(0, 60)} is not a field of a service-account key file`;
  return undefined;
};

const apnsId: FieldCheck = (value) =>
  typeof value === 'string' && /^[A-Z0-9]{10}$/.test(value)
    ? undefined
    : 'must be the 10-character ID shown in the Apple developer account (letters and digits, e.g. "AB12CD34EF")';

const bundleId: FieldCheck = (value) =>
  typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9.-]{0,154}$/.test(value)
    ? undefined
    : 'must be the app\'s bundle ID, e.g. "com.example.app"';

const environment: FieldCheck = (value) =>
  value === 'production' || value === 'sandbox' ? undefined : 'must be "production" or "sandbox"';

const RULES: { [P in Provider]: Record<keyof ProviderConfigs[P], FieldRule> } = {
  umeng: {
    appKey: { required: true, check: credential },
    appMasterSecret: { required: true, check: credential },
    baseUrl: { required: false, check: httpUrl },
    productionMode: { required: false, check: boolean },
    rateLimitPerSecond: { required: false, check: rate },
    channelActivity: { required: false, check: activityClass },
    channelProperties: { required: false, check: channelProperties },
  },
  simulator: {
    seed: { required: false, check: integer },
    acceptRate: { required: false, check: fraction },
    deliveryRate: { required: false, check: fraction },
    impressionRate: { required: false, check: fraction },
    openRate: { required: false, check: fraction },
    dismissalRate: { required: false, check: fraction },
    timeScale: { required: false, check: positive },
    rateLimitPerSecond: { required: false, check: rate },
  },
  fcm: {
    serviceAccount: { required: true, check: serviceAccount },
    baseUrl: { required: false, check: httpsUrl },
    androidChannelId: { required: false, check: shortText },
    concurrency: { required: false, check: concurrency },
    rateLimitPerSecond: { required: false, check: rate },
  },
  apns: {
    teamId: { required: true, check: apnsId },
    keyId: { required: true, check: apnsId },
    privateKey: { required: true, check: (value) => privateKeyProblem(value, 'p256') },
    bundleId: { required: true, check: bundleId },
    environment: { required: true, check: environment },
    baseUrl: { required: false, check: httpsUrl },
    concurrency: { required: false, check: concurrency },
    rateLimitPerSecond: { required: false, check: rate },
  },
};

/**
 * What the fields of one provider's config are, for the rules of SPEC §4.1. Every provider lists its
 * fields here, as paths into the config (`serviceAccount.private_key`), so that owner-only writes,
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

/** The credential fields of each provider. */
export const CREDENTIAL_FIELDS: { [P in Provider]: CredentialFields } = {
  umeng: {
    secrets: ['appMasterSecret'],
    identity: ['appKey'],
    endpoints: [{ field: 'baseUrl', realEndpoint: UMENG_BASE_URL }],
  },
  simulator: { secrets: [], identity: [], endpoints: [] },
  fcm: {
    secrets: ['serviceAccount.private_key'],
    identity: ['serviceAccount.client_email', 'serviceAccount.project_id', 'serviceAccount.private_key_id'],
    endpoints: [
      { field: 'baseUrl', realEndpoint: FCM_BASE_URL },
      { field: 'serviceAccount.token_uri', realEndpoint: GOOGLE_TOKEN_URI },
    ],
  },
  apns: {
    secrets: ['privateKey'],
    identity: ['teamId', 'keyId'],
    endpoints: [{ field: 'baseUrl', realEndpoint: [APNS_BASE_URLS.production, APNS_BASE_URLS.sandbox] }],
  },
};

/** The value at a dotted `path` of a config (`serviceAccount.private_key`), or undefined. */
function valueAt(config: Record<string, unknown>, path: string): unknown {
  let value: unknown = config;
  for (const name of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

/** A copy of `config` with `value` at the dotted `path`; parent objects are copied, not changed. */
function withValueAt(config: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [name, ...rest] = path.split('.') as [string, ...string[]];
  if (rest.length === 0) return { ...config, [name]: value };
  const child = config[name];
  if (typeof child !== 'object' || child === null || Array.isArray(child)) return config;
  return { ...config, [name]: withValueAt(child as Record<string, unknown>, rest.join('.'), value) };
}

/** Whether `provider` takes credentials at all (the simulator does not). */
function takesCredentials(provider: Provider): boolean {
  const fields = CREDENTIAL_FIELDS[provider];
  return fields.secrets.length + fields.identity.length + fields.endpoints.length > 0;
}

/** `input` with each secret it leaves out (or sends back masked) taken from `stored`; and the secrets it typed. */
function withKeptSecrets(
  provider: Provider,
  input: Record<string, unknown>,
  stored: ProviderConfig | undefined,
): { config: Record<string, unknown>; typed: Set<string> } {
  let config: Record<string, unknown> = { ...input };
  const kept = (stored ?? {}) as Record<string, unknown>;
  const typed = new Set<string>();
  for (const path of CREDENTIAL_FIELDS[provider].secrets) {
    const storedValue = valueAt(kept, path);
    const given = valueAt(config, path);
    const keep =
      typeof storedValue === 'string' && (given === undefined || given === maskSecret(storedValue));
    if (keep) config = withValueAt(config, path, storedValue);
    else if (given !== undefined) typed.add(path);
  }
  return { config, typed };
}

/** How deep a provider config may nest (FCM's `serviceAccount` is the deepest: 2 levels). */
const MAX_CONFIG_DEPTH = 8;

/**
 * JSON text of `value` with object keys sorted, so that two configs compare by content. A client's
 * config nested deeper than `MAX_CONFIG_DEPTH` is refused here, before anything recurses through it.
 */
function canonical(value: unknown, depth = 0): string {
  if (depth > MAX_CONFIG_DEPTH) {
    throw validationError([
      { field: 'providerConfig', message: `is nested too deeply (at most ${MAX_CONFIG_DEPTH} levels)` },
    ]);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v, depth + 1)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v, depth + 1)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Whether two provider configs hold the same fields and values (key order aside). */
export function sameProviderConfig(a: ProviderConfig, b: ProviderConfig): boolean {
  return canonical(a) === canonical(b);
}

/**
 * Whether writing `input` as the provider config changes the provider's credentials: any config of a
 * provider that takes credentials on create (`stored` absent), any difference from `stored` on a
 * change (a secret sent back masked or left out is no difference). Owners only may do that (§4.1).
 */
export function changesCredentials(provider: Provider, input: unknown, stored?: ProviderConfig): boolean {
  if (!takesCredentials(provider)) return false;
  if (stored === undefined) return true;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return true;
  const { config } = withKeptSecrets(provider, input as Record<string, unknown>, stored);
  return canonical(config) !== canonical(stored);
}

/** Where checking a provider config looks: the app's current config (on a change) and the deployment's allowlist. */
export interface ConfigCheckContext {
  /** The app's current config on a change; absent on create. */
  stored?: ProviderConfig;
  /** `Config.providerUrlAllowlist`: endpoint prefixes allowed besides each provider's real one. */
  urlAllowlist: readonly string[];
}

/**
 * Checks a provider config sent by a client and returns it ready to store. On a change (`stored`), a
 * secret left out, or sent back in its masked form, keeps its stored value. Every field problem is
 * reported at once as `VALIDATION_FAILED` with `providerConfig.<field>` paths; then an endpoint outside
 * the allowlist is `PROVIDER_URL_NOT_ALLOWED`, and a new endpoint or identity without the secrets typed
 * again is `PROVIDER_SECRET_REQUIRED` (a stored secret never goes to a place it was not typed for).
 */
export function checkProviderConfig(
  provider: Provider,
  input: unknown,
  context: ConfigCheckContext,
): ProviderConfig {
  const given = input ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw validationError([{ field: 'providerConfig', message: 'must be an object' }]);
  }
  const { stored } = context;
  const { config, typed } = withKeptSecrets(provider, given as Record<string, unknown>, stored);

  const rules: Record<string, FieldRule> = RULES[provider];
  const problems: FieldError[] = [];
  for (const [name, value] of Object.entries(config)) {
    const rule = rules[name];
    const message = rule
      ? rule.check(value)
      : `is not a ${provider} setting; expected one of ${Object.keys(rules).join(', ')}`;
    if (typeof message === 'string') problems.push({ field: `providerConfig.${name}`, message });
    else if (message) {
      for (const member of message) {
        problems.push({ field: `providerConfig.${name}.${member.path}`, message: member.message });
      }
    }
  }
  for (const [name, rule] of Object.entries(rules)) {
    if (rule.required && config[name] === undefined) {
      problems.push({ field: `providerConfig.${name}`, message: `is required for the ${provider} provider` });
    }
  }
  if (problems.length > 0) throw validationError(problems);
  const kept = keptFields(provider, config);

  const fields = CREDENTIAL_FIELDS[provider];
  for (const { field, realEndpoint } of fields.endpoints) {
    const value = valueAt(config, field);
    if (typeof value === 'string' && !endpointAllowed(value, context.urlAllowlist, realEndpoint)) {
      const real = typeof realEndpoint === 'string' ? realEndpoint : realEndpoint.join(' or ');
      throw new AppError(
        'PROVIDER_URL_NOT_ALLOWED',
        `providerConfig.${field} "${value}" is not allowed: ${provider} requests go to ${real}, or to a ` +
          'URL (without user, query or fragment) that starts with a prefix of the deployment setting ' +
          'PUSHBOARD_PROVIDER_URL_ALLOWLIST' +
          (context.urlAllowlist.length > 0 ? ` (${context.urlAllowlist.join(', ')})` : ', which is empty'),
        { field: `providerConfig.${field}` },
      );
    }
  }
  if (stored !== undefined) {
    const before = stored as Record<string, unknown>;
    const moved = [...fields.endpoints.map((e) => e.field), ...fields.identity].filter(
      (path) => canonical(valueAt(config, path)) !== canonical(valueAt(before, path)),
    );
    const missing = fields.secrets.filter((name) => !typed.has(name));
    if (moved.length > 0 && missing.length > 0) {
      throw new AppError(
        'PROVIDER_SECRET_REQUIRED',
        `Changing ${moved.map((name) => `providerConfig.${name}`).join(' and ')} needs ` +
          `${missing.map((name) => `providerConfig.${name}`).join(' and ')} typed again in the same request, ` +
          'so that a stored secret is never sent to a place or an account it was not entered for.',
        { fields: missing.map((name) => `providerConfig.${name}`) },
      );
    }
  }
  return kept;
}

/** The config as stored: a service-account key file's fields FCM does not use are left out. */
function keptFields(provider: Provider, config: Record<string, unknown>): ProviderConfig {
  if (provider !== 'fcm' || typeof config.serviceAccount !== 'object' || config.serviceAccount === null) {
    return config as ProviderConfig;
  }
  const key = Object.fromEntries(
    Object.entries(config.serviceAccount as Record<string, unknown>).filter(
      ([name]) => !UNUSED_KEY_FILE_FIELDS.has(name),
    ),
  );
  return { ...config, serviceAccount: key } as ProviderConfig;
}

/** The stored config of an app (credentials in clear, for the provider that sends with them). */
export function readProviderConfig(app: AppRow): ProviderConfig {
  return JSON.parse(app.provider_config) as ProviderConfig;
}

/** A config as shown on reads: credentials masked. */
export function maskProviderConfig(provider: Provider, config: ProviderConfig): ProviderConfig {
  let masked = { ...config } as Record<string, unknown>;
  for (const path of CREDENTIAL_FIELDS[provider].secrets) {
    const secret = valueAt(masked, path);
    if (typeof secret === 'string') masked = withValueAt(masked, path, maskSecret(secret));
  }
  return masked as ProviderConfig;
}

/**
 * A secret as shown on reads: bullets and its last four characters, enough to tell two secrets apart.
 * Short secrets show bullets only, so that the hint never gives away a large part of them.
 */
export function maskSecret(secret: string): string {
  return secret.length >= 16 ? `••••${secret.slice(-4)}` : '••••';
}
