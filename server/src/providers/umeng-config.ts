/**
 * The config of an app on the Umeng U-Push provider: its fields, its schema as shown on reads, how a
 * client's config is checked (the vendor-channel options included, see README.md) and which fields
 * are credentials. `apps/provider-config.ts` composes it with the other providers'.
 */
import { Type } from 'typebox';
import {
  boolean,
  type CredentialFields,
  credential,
  type FieldCheck,
  type FieldRule,
  httpUrl,
  rate,
  rateLimitSchema,
} from './config-checks.ts';

/** Umeng's API address, used when an app's config names no `baseUrl`. */
export const UMENG_BASE_URL = 'https://msgapi.umeng.com';

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
    rateLimitPerSecond: rateLimitSchema,
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

/** Vendor-channel options whose values Pushboard knows (docs/providers.md#umeng); other names pass with any short text. */
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

/** How each field of a Umeng config is checked. */
export const UMENG_CONFIG_RULES: Record<keyof UmengConfig, FieldRule> = {
  appKey: { required: true, check: credential },
  appMasterSecret: { required: true, check: credential },
  baseUrl: { required: false, check: httpUrl },
  productionMode: { required: false, check: boolean },
  rateLimitPerSecond: { required: false, check: rate },
  channelActivity: { required: false, check: activityClass },
  channelProperties: { required: false, check: channelProperties },
};

/** The credential fields of a Umeng config. */
export const UMENG_CREDENTIAL_FIELDS: CredentialFields = {
  secrets: ['appMasterSecret'],
  identity: ['appKey'],
  endpoints: [{ field: 'baseUrl', realEndpoint: UMENG_BASE_URL }],
};
