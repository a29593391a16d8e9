/**
 * The shapes of the device routes as TypeBox schemas: the routes validate and serialise with them,
 * and the console takes its types from them (`web/src/api/types.ts`, type-only imports).
 */
import { Type } from 'typebox';
import { PageQuery } from '../http/schemas.ts';
import { MAX_DEVICE_ID_LENGTH } from './device-input.ts';

/** A device's channel (`huawei`, `apns`…). */
export const ChannelSchema = Type.String({
  pattern: '^[a-z0-9_-]{1,32}$',
  description: 'e.g. huawei, apns.',
});
/** A device registered for an app, with the state of its push token. */
export const DeviceSchema = Type.Object({
  deviceId: Type.String(),
  pushToken: Type.String(),
  channel: Type.String(),
  tokenStatus: Type.Union([Type.Literal('active'), Type.Literal('invalid')], {
    description: '`invalid` once the provider said the push token is no longer valid: sends skip the device.',
  }),
  tokenInvalidAt: Type.Union([Type.String(), Type.Null()]),
  tokenInvalidReason: Type.Union([Type.String(), Type.Null()], {
    description: "The provider's word for why: UNREGISTERED, Unregistered, BadDeviceToken, Umeng 4020…",
  }),
  timeZone: Type.Union([Type.String(), Type.Null()], {
    description: 'IANA time zone the device reported (SDK registration); null until it did.',
  }),
  locale: Type.Union([Type.String(), Type.Null()], { description: 'BCP 47 locale the device reported.' }),
  appVersion: Type.Union([Type.String(), Type.Null()], {
    description: 'Version of the app the device last registered from.',
  }),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
/** What the device fields mean and which values they take, for the API documentation. */
const DeviceFieldDocs = {
  deviceId: 'The ID the customer knows the device by (OAID, IDFA, custom): 1–128 printable ASCII, no spaces.',
  pushToken: "The provider's token for the device: 1–512 printable ASCII, no spaces.",
  channel: 'Lowercase [a-z0-9_-]{1,32}. Default: apns on iOS, otherwise the provider (umeng or simulator).',
  timeZone: 'IANA time zone, e.g. Asia/Shanghai. Left out, the stored one stays.',
  locale: 'BCP 47 language tag, e.g. zh-CN (kept in canonical form). Left out, the stored one stays.',
  appVersion: 'The app version, 1–64 printable ASCII characters. Left out, the stored one stays.',
};
/** One device to register, as the single upsert and the SDK registration take it. */
export const DeviceBody = Type.Object(
  {
    deviceId: Type.String({ description: DeviceFieldDocs.deviceId }),
    pushToken: Type.String({ description: DeviceFieldDocs.pushToken }),
    channel: Type.Optional(Type.String({ description: DeviceFieldDocs.channel })),
    timeZone: Type.Optional(Type.String({ description: DeviceFieldDocs.timeZone })),
    locale: Type.Optional(Type.String({ description: DeviceFieldDocs.locale })),
    appVersion: Type.Optional(Type.String({ description: DeviceFieldDocs.appVersion })),
  },
  { additionalProperties: false },
);
/** One item of a batch registration, whatever its fields hold. */
// Field types are checked by `checkDevice` rather than by the schema, so that a batch refuses a
// bad item on its own instead of refusing the whole request.
export const DeviceItem = Type.Object(
  {
    deviceId: Type.Optional(Type.Unknown({ description: DeviceFieldDocs.deviceId })),
    pushToken: Type.Optional(Type.Unknown({ description: DeviceFieldDocs.pushToken })),
    channel: Type.Optional(Type.Unknown({ description: DeviceFieldDocs.channel })),
    timeZone: Type.Optional(Type.Unknown({ description: DeviceFieldDocs.timeZone })),
    locale: Type.Optional(Type.Unknown({ description: DeviceFieldDocs.locale })),
    appVersion: Type.Optional(Type.Unknown({ description: DeviceFieldDocs.appVersion })),
  },
  { additionalProperties: true },
);
/** What a CSV import did: device lines read, devices registered and devices updated. */
export const ImportResultSchema = Type.Object({
  lines: Type.Integer({ description: 'Device lines in the file (header and blank lines not counted).' }),
  inserted: Type.Integer({ description: 'Lines that registered a new device.' }),
  updated: Type.Integer({
    description:
      'Lines that replaced the token or channel of a registered device, one registered by an earlier ' +
      'line included: lines are upserts in file order, so inserted + updated = lines.',
  }),
});
/** A number of devices. */
export const CountSchema = Type.Integer();
/** The path parameters of an app's device routes. */
export const AppParams = Type.Object({ workspaceId: Type.String(), appId: Type.String() });
/** The path parameters of one device's routes. */
export const DeviceParams = Type.Object({
  workspaceId: Type.String(),
  appId: Type.String(),
  deviceId: Type.String({ description: 'Percent-encoded in the path.' }),
});

/** The query of an app's device list. */
export const DeviceListQuery = Type.Object({
  ...PageQuery,
  sort: Type.Union([Type.Literal('newest'), Type.Literal('deviceId')], { default: 'newest' }),
  channel: Type.Optional(ChannelSchema),
  tokenStatus: Type.Optional(
    Type.Union([Type.Literal('active'), Type.Literal('invalid')], {
      description: 'Only devices with an active push token, or only those the provider called invalid.',
    }),
  ),
  q: Type.Optional(
    Type.String({
      maxLength: MAX_DEVICE_ID_LENGTH,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'Device IDs starting with this (case-sensitive).',
    }),
  ),
});
/** The body of a batch registration. */
export const DeviceBatchBody = Type.Object(
  { devices: Type.Array(DeviceItem) },
  { additionalProperties: false },
);
/** What a batch registration did, with each refused item and why. */
export const DeviceBatchResultSchema = Type.Object({
  inserted: CountSchema,
  updated: CountSchema,
  rejected: CountSchema,
  errors: Type.Array(
    Type.Object({
      index: Type.Integer(),
      deviceId: Type.Union([Type.String(), Type.Null()]),
      code: Type.String({
        description:
          'DEVICE_ID_INVALID, PUSH_TOKEN_INVALID, CHANNEL_INVALID, TIME_ZONE_INVALID, LOCALE_INVALID, ' +
          'APP_VERSION_INVALID or DEVICE_INVALID.',
      }),
      message: Type.String(),
    }),
  ),
});
/** The registered devices of a workspace's apps, per app, per platform and per channel. */
export const DeviceCountsSchema = Type.Object({
  total: CountSchema,
  apps: Type.Array(
    Type.Object({
      appId: Type.String(),
      name: Type.String(),
      platform: Type.String(),
      devices: CountSchema,
      channels: Type.Array(Type.Object({ channel: Type.String(), devices: CountSchema })),
    }),
  ),
  platforms: Type.Array(Type.Object({ platform: Type.String(), devices: CountSchema })),
  channels: Type.Array(Type.Object({ channel: Type.String(), devices: CountSchema })),
});
