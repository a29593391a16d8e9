/**
 * The provider config of an app: what each provider needs, how a config sent by a client is checked,
 * and how credentials are masked. Credentials are write-only: every read shows them masked, and a
 * change that leaves a credential out keeps the stored one.
 */
import { Type } from 'typebox';
import { type FieldError, validationError } from '../errors.ts';
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

/** Credential fields per provider: masked on reads, kept when a change leaves them out. */
const CREDENTIALS: { [P in Provider]: (keyof ProviderConfigs[P])[] } = {
  umeng: ['appMasterSecret'],
  simulator: [],
};

/**
 * Checks a provider config sent by a client and returns it ready to store. `stored` is the app's
 * current config on a change: a credential left out, or sent back in its masked form, keeps its stored
 * value. Every problem is reported at once as `VALIDATION_FAILED` with `providerConfig.<field>` paths.
 */
export function checkProviderConfig(
  provider: Provider,
  input: unknown,
  stored?: ProviderConfig,
): ProviderConfig {
  const given = input ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw validationError([{ field: 'providerConfig', message: 'must be an object' }]);
  }
  const config: Record<string, unknown> = { ...(given as Record<string, unknown>) };
  const kept = (stored ?? {}) as Record<string, unknown>;
  for (const name of CREDENTIALS[provider] as string[]) {
    const keep =
      typeof kept[name] === 'string' &&
      (config[name] === undefined || config[name] === maskSecret(kept[name] as string));
    if (keep) config[name] = kept[name];
  }

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
  return config as ProviderConfig;
}

/** The stored config of an app (credentials in clear, for the provider that sends with them). */
export function readProviderConfig(app: AppRow): ProviderConfig {
  return JSON.parse(app.provider_config) as ProviderConfig;
}

/** A config as shown on reads: credentials masked. */
export function maskProviderConfig(provider: Provider, config: ProviderConfig): ProviderConfig {
  const masked: Record<string, unknown> = { ...config };
  for (const name of CREDENTIALS[provider] as string[]) {
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
