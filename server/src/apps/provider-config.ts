/**
 * The provider config of an app: what each provider needs, how a config sent by a client is checked,
 * and how credentials are masked. Credentials are write-only: every read shows them masked, and a
 * change that leaves a credential out keeps the stored one. `CREDENTIAL_FIELDS` says which fields are
 * secrets, identity and endpoints, for SPEC §4.1's rules.
 */
import { Type } from 'typebox';
import { AppError, type FieldError, validationError } from '../errors.ts';
import { endpointAllowed } from '../providers/endpoints.ts';
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
  /** Umeng's `production_mode`: false sends to test devices only. */
  productionMode?: boolean;
  /** Devices per second handed to Umeng for this app; the deployment default when absent, 0 = no limit. */
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
}

/** The config of an app, whichever its provider. */
export type ProviderConfig = ProviderConfigs[Provider];

/** Umeng's config as shown on reads (the master secret masked), for the OpenAPI document. */
export const UmengConfigSchema = Type.Object(
  {
    appKey: Type.String(),
    appMasterSecret: Type.String({ description: 'Write-only: always masked on reads, e.g. "••••1a2b".' }),
    baseUrl: Type.Optional(Type.String({ description: 'http(s) URL of the U-Push API.' })),
    productionMode: Type.Optional(Type.Boolean()),
    rateLimitPerSecond: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Devices per second for this app; 0 = no limit; absent = deployment default.',
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

/** Either provider's config as shown on reads. */
export const ProviderConfigSchema = Type.Union([UmengConfigSchema, SimulatorConfigSchema]);

/** Checks one field value; answers the problem, or undefined when the value is fine. */
type FieldCheck = (value: unknown) => string | undefined;

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

const RULES: { [P in Provider]: Record<keyof ProviderConfigs[P], FieldRule> } = {
  umeng: {
    appKey: { required: true, check: credential },
    appMasterSecret: { required: true, check: credential },
    baseUrl: { required: false, check: httpUrl },
    productionMode: { required: false, check: boolean },
    rateLimitPerSecond: { required: false, check: rate },
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
};

/**
 * What the fields of one provider's config are, for the rules of SPEC §4.1. Every provider lists its
 * fields here (FCM's `serviceAccount.client_email` and `token_uri`, APNs' `teamId` and `keyId` join
 * the same lists), so that owner-only writes, re-entered secrets and the endpoint allowlist hold for
 * each provider without code of its own.
 */
export interface CredentialFields {
  /** Write-only fields: masked on reads, kept when a change leaves them out or sends them back masked. */
  secrets: string[];
  /** Fields that say whose credentials these are (Umeng `appKey`): a change needs the secrets typed again. */
  identity: string[];
  /**
   * URL fields that provider requests go to, each with the provider's real endpoint (used when the
   * field is absent and always allowed); any other value must be in the deployment's allowlist, and
   * a change needs the secrets typed again.
   */
  endpoints: { field: string; realEndpoint: string }[];
}

/** The credential fields of each provider. */
export const CREDENTIAL_FIELDS: { [P in Provider]: CredentialFields } = {
  umeng: {
    secrets: ['appMasterSecret'],
    identity: ['appKey'],
    endpoints: [{ field: 'baseUrl', realEndpoint: UMENG_BASE_URL }],
  },
  simulator: { secrets: [], identity: [], endpoints: [] },
};

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
  const config: Record<string, unknown> = { ...input };
  const kept = (stored ?? {}) as Record<string, unknown>;
  const typed = new Set<string>();
  for (const name of CREDENTIAL_FIELDS[provider].secrets) {
    const keep =
      typeof kept[name] === 'string' &&
      (config[name] === undefined || config[name] === maskSecret(kept[name] as string));
    if (keep) config[name] = kept[name];
    else if (config[name] !== undefined) typed.add(name);
  }
  return { config, typed };
}

/** JSON text of `value` with object keys sorted, so that two configs compare by content. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
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
    if (message) problems.push({ field: `providerConfig.${name}`, message });
  }
  for (const [name, rule] of Object.entries(rules)) {
    if (rule.required && config[name] === undefined) {
      problems.push({ field: `providerConfig.${name}`, message: `is required for the ${provider} provider` });
    }
  }
  if (problems.length > 0) throw validationError(problems);

  const fields = CREDENTIAL_FIELDS[provider];
  for (const { field, realEndpoint } of fields.endpoints) {
    const value = config[field];
    if (typeof value === 'string' && !endpointAllowed(value, context.urlAllowlist, realEndpoint)) {
      throw new AppError(
        'PROVIDER_URL_NOT_ALLOWED',
        `providerConfig.${field} "${value}" is not allowed: ${provider} requests go to ${realEndpoint}, or to a ` +
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
      (name) => canonical(config[name]) !== canonical(before[name]),
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
  return config as ProviderConfig;
}

/** The stored config of an app (credentials in clear, for the provider that sends with them). */
export function readProviderConfig(app: AppRow): ProviderConfig {
  return JSON.parse(app.provider_config) as ProviderConfig;
}

/** A config as shown on reads: credentials masked. */
export function maskProviderConfig(provider: Provider, config: ProviderConfig): ProviderConfig {
  const masked: Record<string, unknown> = { ...config };
  for (const name of CREDENTIAL_FIELDS[provider].secrets) {
    if (typeof masked[name] === 'string') masked[name] = maskSecret(masked[name] as string);
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
