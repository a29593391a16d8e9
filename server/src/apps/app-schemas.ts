/**
 * The shapes of the app routes as TypeBox schemas: the routes validate and serialise with them, and
 * the console takes its types from them (`web/src/api/types.ts`, type-only imports). Each provider's
 * config schema lives with its provider (`providers/<provider>-config.ts`).
 */
import { Type } from 'typebox';
import { MAX_PER_DAY, MAX_PER_WEEK, TIME_OF_DAY_PATTERN } from '../domain/delivery-settings.ts';
import { Name, Nullable, PageQuery } from '../http/schemas.ts';
import { ProviderConfigSchema } from './provider-config.ts';

/** The platform of an app. */
export const PlatformSchema = Type.Union([Type.Literal('ios'), Type.Literal('android')]);
/** The push service an app sends through. */
export const ProviderSchema = Type.Union([
  Type.Literal('simulator'),
  Type.Literal('umeng'),
  Type.Literal('fcm'),
  Type.Literal('apns'),
]);

/** A provider config as a client sends it: any object, checked per provider by `checkProviderConfig`. */
// Checked per provider in `checkProviderConfig`, which names each wrong field; a schema union here
// would only say "does not match any of".
export const ProviderConfigInput = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      'umeng: {appKey, appMasterSecret, baseUrl?, productionMode?}. fcm (Android): {serviceAccount: <the ' +
      'service-account JSON key object>, baseUrl?, androidChannelId?, concurrency?}. apns (iOS): {teamId, ' +
      'keyId, privateKey: <the .p8 PEM text>, bundleId, environment: "production"|"sandbox", baseUrl?, ' +
      'concurrency?}. simulator (all optional): {seed, acceptRate, deliveryRate, impressionRate, openRate, ' +
      'dismissalRate, timeScale}; rates are fractions in [0,1], timeScale > 0. Every provider also takes ' +
      'rateLimitPerSecond. Unknown keys are refused.',
  },
);
/** An app's frequency cap (docs/delivery-controls.md#fatigue-control). */
export const FrequencyCapSchema = Type.Object(
  {
    perDay: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_PER_DAY,
        description: 'Most marketing tasks one device is handed in any rolling 24 hours.',
      }),
    ),
    perWeek: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_PER_WEEK,
        description: 'Most marketing tasks one device is handed in any rolling 7 days.',
      }),
    ),
  },
  { additionalProperties: false },
);

/** An app's quiet hours (docs/delivery-controls.md#quiet-hours). */
export const QuietHoursSchema = Type.Object(
  {
    start: Type.String({ pattern: TIME_OF_DAY_PATTERN, description: 'HH:MM, local to timeZone.' }),
    end: Type.String({
      pattern: TIME_OF_DAY_PATTERN,
      description: 'HH:MM, local to timeZone; before start means the window wraps midnight.',
    }),
    timeZone: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'IANA time zone, e.g. Asia/Shanghai.',
    }),
  },
  { additionalProperties: false },
);

/** The delivery settings an app is created or changed with; null removes one. */
const deliverySettings = {
  frequencyCap: Type.Optional(
    Nullable(FrequencyCapSchema, {
      description: 'Fatigue control for marketing tasks; null: no cap.',
    }),
  ),
  quietHours: Type.Optional(
    Nullable(QuietHoursSchema, {
      description: 'Marketing tasks due inside this daily window wait until it ends; null: none.',
    }),
  ),
};

/** An app as the API shows it; its secrets are in full only in the create and rotate answers. */
export const AppSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  platform: PlatformSchema,
  provider: ProviderSchema,
  providerConfig: ProviderConfigSchema,
  receiptSecret: Type.String({
    description: 'Signs provider receipt callbacks. In full only in the create and rotate answers.',
  }),
  sdkKey: Type.String({
    description:
      'Identifies the app in everything its SDK sends (registrations, receipts). Always in full: it ships in every copy of the app and proves nothing without the sdkSecret.',
  }),
  sdkSecret: Type.String({
    description: 'Signs what the SDK sends (registrations, receipts). In full only when created/rotated.',
  }),
  devices: Type.Integer({ description: 'Registered devices.' }),
  invalidTokens: Type.Integer({
    description:
      'Registered devices whose push token the provider called invalid (docs/devices.md#push-token-lifecycle): sends skip them.',
  }),
  frequencyCap: Nullable(FrequencyCapSchema),
  quietHours: Nullable(QuietHoursSchema),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
/** The path parameters of one app's routes. */
export const AppParams = Type.Object({ workspaceId: Type.String(), appId: Type.String() });
/** The query of the app list. */
export const AppListQuery = Type.Object({
  ...PageQuery,
  q: Type.Optional(Type.String({ maxLength: 200, description: 'Name contains (any case).' })),
  platform: Type.Optional(PlatformSchema),
  provider: Type.Optional(ProviderSchema),
});
/** The body of an app create. */
export const AppCreateBody = Type.Object(
  {
    name: Name,
    platform: PlatformSchema,
    provider: ProviderSchema,
    providerConfig: Type.Optional(ProviderConfigInput),
    ...deliverySettings,
  },
  { additionalProperties: false },
);
/**
 * The body of an app change: a new name and/or a whole new provider config. Platform and provider
 * are taken only to refuse a change of them with a clear error.
 */
export const AppUpdateBody = Type.Object(
  {
    name: Type.Optional(Name),
    providerConfig: Type.Optional(ProviderConfigInput),
    ...deliverySettings,
    platform: Type.Optional(PlatformSchema),
    provider: Type.Optional(ProviderSchema),
  },
  { additionalProperties: false },
);
