/**
 * The provider config of an app: what each provider needs, how a config sent by a client is checked,
 * and how credentials are masked. Credentials are write-only: every read shows them masked, and a
 * change that leaves a credential out keeps the stored one. Each provider declares its own fields,
 * checks and credential fields (`providers/<provider>-config.ts`); this module composes them and
 * applies docs/providers.md#endpoints-and-credentials rules to the `CREDENTIAL_FIELDS` of each.
 */
import { Type } from 'typebox';
import { AppError, type FieldError, validationError } from '../errors.ts';
import {
  APNS_CONFIG_RULES,
  APNS_CREDENTIAL_FIELDS,
  type ApnsConfig,
  ApnsConfigSchema,
} from '../providers/apns-config.ts';
import type { CredentialFields, FieldRule } from '../providers/config-checks.ts';
import { endpointAllowed } from '../providers/endpoints.ts';
import {
  FCM_CONFIG_RULES,
  FCM_CREDENTIAL_FIELDS,
  type FcmConfig,
  FcmConfigSchema,
  withoutUnusedKeyFields,
} from '../providers/fcm-config.ts';
import {
  SIMULATOR_CONFIG_RULES,
  SIMULATOR_CREDENTIAL_FIELDS,
  type SimulatorConfig,
  SimulatorConfigSchema,
} from '../providers/simulator-config.ts';
import {
  UMENG_CONFIG_RULES,
  UMENG_CREDENTIAL_FIELDS,
  type UmengConfig,
  UmengConfigSchema,
} from '../providers/umeng-config.ts';
import type { AppRow } from '../storage/database.ts';

/** The platform of an app. */
export type Platform = AppRow['platform'];

/** The provider an app sends through. */
export type Provider = AppRow['provider'];

/** The config each provider takes. */
export interface ProviderConfigs {
  umeng: UmengConfig;
  simulator: SimulatorConfig;
  fcm: FcmConfig;
  apns: ApnsConfig;
}

/** The config of an app, whichever its provider. */
export type ProviderConfig = ProviderConfigs[Provider];

/** Any provider's config as shown on reads. */
export const ProviderConfigSchema = Type.Union([
  UmengConfigSchema,
  SimulatorConfigSchema,
  FcmConfigSchema,
  ApnsConfigSchema,
]);

/** How each field of each provider's config is checked. */
const RULES: { [P in Provider]: Record<keyof ProviderConfigs[P], FieldRule> } = {
  umeng: UMENG_CONFIG_RULES,
  simulator: SIMULATOR_CONFIG_RULES,
  fcm: FCM_CONFIG_RULES,
  apns: APNS_CONFIG_RULES,
};

/** The credential fields of each provider. */
export const CREDENTIAL_FIELDS: { [P in Provider]: CredentialFields } = {
  umeng: UMENG_CREDENTIAL_FIELDS,
  simulator: SIMULATOR_CREDENTIAL_FIELDS,
  fcm: FCM_CREDENTIAL_FIELDS,
  apns: APNS_CREDENTIAL_FIELDS,
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
      {
        field: 'providerConfig',
        code: 'NESTED_TOO_DEEP',
        params: { limit: MAX_CONFIG_DEPTH },
        message: `is nested too deeply (at most ${MAX_CONFIG_DEPTH} levels)`,
      },
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
 * change (a secret sent back masked or left out is no difference). Owners only may do that (docs/providers.md#endpoints-and-credentials).
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
    throw validationError([
      {
        field: 'providerConfig',
        code: 'WRONG_TYPE',
        params: { type: 'object' },
        message: 'must be an object',
      },
    ]);
  }
  const { stored } = context;
  const { config, typed } = withKeptSecrets(provider, given as Record<string, unknown>, stored);

  const rules: Record<string, FieldRule> = RULES[provider];
  const problems: FieldError[] = [];
  for (const [name, value] of Object.entries(config)) {
    const rule = rules[name];
    if (!rule) {
      problems.push({
        field: `providerConfig.${name}`,
        code: 'UNKNOWN_FIELD',
        message: `is not a ${provider} setting; expected one of ${Object.keys(rules).join(', ')}`,
      });
      continue;
    }
    // A setting's own check explains itself in its message; its code is the generic one.
    const message = rule.check(value);
    if (typeof message === 'string') {
      problems.push({ field: `providerConfig.${name}`, code: 'VALUE_INVALID', message });
    } else if (message) {
      for (const member of message) {
        problems.push({
          field: `providerConfig.${name}.${member.path}`,
          code: 'VALUE_INVALID',
          message: member.message,
        });
      }
    }
  }
  for (const [name, rule] of Object.entries(rules)) {
    if (rule.required && config[name] === undefined) {
      problems.push({
        field: `providerConfig.${name}`,
        code: 'REQUIRED',
        message: `is required for the ${provider} provider`,
      });
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
  return (provider === 'fcm' ? withoutUnusedKeyFields(config) : config) as ProviderConfig;
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
