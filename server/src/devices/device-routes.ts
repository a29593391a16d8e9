/**
 * Devices of an app: listing, single and batch upsert, streaming CSV import, and the workspace's
 * device counts. Every way in applies the same rules (`device-input.ts`); a batch refuses bad items
 * one by one, a CSV import refuses the whole file.
 */
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { AppError, validationError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors, PageOf, PageQuery } from '../http/schemas.ts';
import { limited, untruncated, uploadTooLarge } from '../http/uploads.ts';
import type { AppRow, DeviceRow } from '../storage/database.ts';
import { importDevices } from './device-import.ts';
import {
  checkDeviceItem,
  type DeviceInput,
  type DeviceProblem,
  defaultChannel,
  isProblem,
  MAX_DEVICE_ID_LENGTH,
} from './device-input.ts';
import { registrationOf } from './device-store.ts';

/** Most devices in one batch request; larger sets go through the CSV import. */
export const MAX_BATCH_DEVICES = 50_000;
/** Body limit of the batch route, in bytes: 50,000 devices with long tokens fit. */
const BATCH_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

const ChannelSchema = Type.String({ pattern: '^[a-z0-9_-]{1,32}$', description: 'e.g. huawei, apns.' });
const DeviceSchema = Type.Object({
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
// Field types are checked by `checkDevice` rather than by the schema, so that a batch refuses a
// bad item on its own instead of refusing the whole request.
const DeviceItem = Type.Object(
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
const ImportResultSchema = Type.Object({
  lines: Type.Integer({ description: 'Device lines in the file (header and blank lines not counted).' }),
  inserted: Type.Integer({ description: 'Lines that registered a new device.' }),
  updated: Type.Integer({
    description:
      'Lines that replaced the token or channel of a registered device, one registered by an earlier ' +
      'line included: lines are upserts in file order, so inserted + updated = lines.',
  }),
});
const CountSchema = Type.Integer();
const AppParams = Type.Object({ workspaceId: Type.String(), appId: Type.String() });
const DeviceParams = Type.Object({
  workspaceId: Type.String(),
  appId: Type.String(),
  deviceId: Type.String({ description: 'Percent-encoded in the path.' }),
});
const tags = ['devices'];
/** The request field a device problem is about, for single-device errors. */
export const PROBLEM_FIELD: Record<DeviceProblem['code'], string> = {
  DEVICE_ID_INVALID: 'deviceId',
  PUSH_TOKEN_INVALID: 'pushToken',
  CHANNEL_INVALID: 'channel',
  TIME_ZONE_INVALID: 'timeZone',
  LOCALE_INVALID: 'locale',
  APP_VERSION_INVALID: 'appVersion',
  DEVICE_INVALID: 'body',
};

/** A device as the API shows it. */
export function deviceView(row: DeviceRow) {
  return {
    deviceId: row.device_id,
    pushToken: row.push_token,
    channel: row.channel,
    tokenStatus: row.token_status,
    tokenInvalidAt: row.token_invalid_at,
    tokenInvalidReason: row.token_invalid_reason,
    timeZone: row.time_zone,
    locale: row.locale,
    appVersion: row.app_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Registers the device routes (under a workspace). */
export function registerDeviceRoutes(app: Api, deps: RouteDeps): void {
  const apps = deps.stores.apps;
  const store = deps.stores.devices;

  async function getApp(workspaceId: string, id: string): Promise<AppRow> {
    const row = await apps.findApp(workspaceId, id);
    if (!row) throw new AppError('APP_NOT_FOUND', `App ${id} does not exist in this workspace.`);
    return row;
  }

  app.get(
    '/apps/:appId/devices',
    {
      schema: {
        tags,
        summary: "An app's devices, newest first or by device ID.",
        params: AppParams,
        querystring: Type.Object({
          ...PageQuery,
          sort: Type.Union([Type.Literal('newest'), Type.Literal('deviceId')], { default: 'newest' }),
          channel: Type.Optional(ChannelSchema),
          tokenStatus: Type.Optional(
            Type.Union([Type.Literal('active'), Type.Literal('invalid')], {
              description:
                'Only devices with an active push token, or only those the provider called invalid.',
            }),
          ),
          q: Type.Optional(
            Type.String({
              maxLength: MAX_DEVICE_ID_LENGTH,
              pattern: '^[\\x21-\\x7e]+$',
              description: 'Device IDs starting with this (case-sensitive).',
            }),
          ),
        }),
        response: { 200: PageOf(DeviceSchema), ...authErrors },
      },
    },
    async (request) => {
      const { page, pageSize, sort, channel, q, tokenStatus } = request.query;
      const appRow = await getApp(request.workspace.id, request.params.appId);
      const { rows, total } = await store.listDevices(
        appRow.id,
        { channel, deviceIdPrefix: q, tokenStatus },
        sort,
        (page - 1) * pageSize,
        pageSize,
      );
      return { items: rows.map(deviceView), total, page, pageSize };
    },
  );

  app.post(
    '/apps/:appId/devices',
    {
      schema: {
        tags,
        summary: 'Register a device, or replace its token and channel: 201 when new, 200 when updated.',
        description:
          'Server-side registration (a bearer token); apps on devices register through `POST /api/v1/sdk/devices`.',
        params: AppParams,
        body: DeviceBody,
        response: { 200: DeviceSchema, 201: DeviceSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const appRow = await getApp(request.workspace.id, request.params.appId);
      const device = checkDeviceItem(request.body, defaultChannel(appRow));
      if (isProblem(device)) {
        throw validationError([{ field: PROBLEM_FIELD[device.code], message: device.message }]);
      }
      const outcome = await store.upsertDevice(registrationOf(appRow.id, device, deps.clock().toISOString()));
      const row = await store.findDevice(appRow.id, device.deviceId);
      return reply.status(outcome === 'inserted' ? 201 : 200).send(deviceView(row!));
    },
  );

  app.get(
    '/apps/:appId/devices/:deviceId',
    {
      schema: {
        tags,
        summary: 'One device of an app.',
        params: DeviceParams,
        response: { 200: DeviceSchema, ...authErrors },
      },
    },
    async (request) => {
      const appRow = await getApp(request.workspace.id, request.params.appId);
      const row = await store.findDevice(appRow.id, request.params.deviceId);
      if (!row) {
        throw new AppError(
          'DEVICE_NOT_FOUND',
          `Device ${request.params.deviceId} is not registered for app ${appRow.id}.`,
        );
      }
      return deviceView(row);
    },
  );

  app.delete(
    '/apps/:appId/devices/:deviceId',
    {
      schema: {
        tags,
        summary: 'Unregister a device; audiences keep its ID, which then goes unmatched.',
        params: DeviceParams,
        response: { 204: Type.Null(), ...authErrors },
      },
    },
    async (request, reply) => {
      const appRow = await getApp(request.workspace.id, request.params.appId);
      if (!(await store.deleteDevice(appRow.id, request.params.deviceId))) {
        throw new AppError(
          'DEVICE_NOT_FOUND',
          `Device ${request.params.deviceId} is not registered for app ${appRow.id}.`,
        );
      }
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/apps/:appId/devices/batch',
    {
      bodyLimit: BATCH_BODY_LIMIT_BYTES,
      schema: {
        tags,
        summary: `Register or update up to ${MAX_BATCH_DEVICES.toLocaleString('en')} devices in one transaction.`,
        description:
          'Each item is checked on its own: bad items are refused and listed in `errors` (with their ' +
          'index), the others are stored. A device ID repeated in the batch is upserted in order (the ' +
          'last one wins). More items answer 413; use the CSV import for larger sets.',
        params: AppParams,
        body: Type.Object({ devices: Type.Array(DeviceItem) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
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
          }),
          413: Type.Ref('ErrorEnvelope'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const appRow = await getApp(request.workspace.id, request.params.appId);
      const items = request.body.devices;
      if (items.length > MAX_BATCH_DEVICES) {
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `A batch holds at most ${MAX_BATCH_DEVICES} devices and this one has ${items.length}: split it, ` +
            'or import a CSV file (POST …/devices/import).',
        );
      }
      const fallbackChannel = defaultChannel(appRow);
      const valid: DeviceInput[] = [];
      const errors: { index: number; deviceId: string | null; code: string; message: string }[] = [];
      items.forEach((item, index) => {
        const device = checkDeviceItem(item, fallbackChannel);
        if (!isProblem(device)) valid.push(device);
        else {
          const deviceId = (item as { deviceId?: unknown }).deviceId;
          errors.push({ index, deviceId: typeof deviceId === 'string' ? deviceId : null, ...device });
        }
      });
      const counts =
        valid.length > 0
          ? await store.upsertDevices(appRow.id, valid, deps.clock().toISOString())
          : { inserted: 0, updated: 0 };
      return { ...counts, rejected: errors.length, errors };
    },
  );

  app.post(
    '/apps/:appId/devices/import',
    {
      schema: {
        tags,
        summary: 'Import a device CSV: every line is applied, or none.',
        description:
          'Send the file as the raw body (`Content-Type: text/csv`) or as the one file of a ' +
          '`multipart/form-data` request. One device per line: `deviceId,pushToken[,channel]`, optionally ' +
          'after a header line naming those columns; blank lines are skipped; when a device ID repeats, ' +
          'its last line wins. If any line is bad the whole file is refused with 400 `CSV_INVALID`, whose ' +
          'details are `{errors:[{line, code, message}] (the first 100), errorCount}`, and nothing is stored.',
        params: AppParams,
        consumes: ['text/csv', 'multipart/form-data'],
        // Documents the upload; a schema without constraints leaves the stream to the handler.
        body: Type.Unknown({ description: 'The CSV file: the raw body, or the one file of a form.' }),
        response: {
          200: ImportResultSchema,
          413: Type.Ref('ErrorEnvelope'),
          415: Type.Ref('ErrorEnvelope'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const appRow = await getApp(request.workspace.id, request.params.appId);
      const limit = deps.config.uploadLimitBytes;
      // Refused before reading when the size is announced; otherwise while reading.
      if (Number(request.headers['content-length'] ?? 0) > limit) throw uploadTooLarge(limit);
      let source: AsyncIterable<Buffer>;
      if (request.isMultipart()) {
        const file = await request.file();
        if (!file) throw validationError([{ field: 'file', message: 'attach one CSV file' }]);
        source = untruncated(file.file, deps.config);
      } else if (request.body instanceof Readable) {
        source = limited(request.body, deps.config);
      } else {
        throw new AppError(
          'UNSUPPORTED_MEDIA_TYPE',
          'Send the CSV as the raw body with Content-Type text/csv, or as multipart/form-data with one file.',
        );
      }
      return importDevices(store, appRow, source, { now: deps.clock() });
    },
  );

  app.get(
    '/devices/counts',
    {
      schema: {
        tags,
        summary: "Registered devices of the workspace's apps, per app, per platform and per channel.",
        response: {
          200: Type.Object({
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
          }),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const rows = await store.countDevices(request.workspace.id);
      type AppCount = {
        appId: string;
        name: string;
        platform: string;
        devices: number;
        channels: ChannelCount[];
      };
      type ChannelCount = { channel: string; devices: number };
      const perApp = new Map<string, AppCount>();
      const perPlatform = new Map<string, number>([
        ['android', 0],
        ['ios', 0],
      ]);
      const perChannel = new Map<string, number>();
      let total = 0;
      for (const row of rows) {
        let entry = perApp.get(row.app_id);
        if (!entry) {
          entry = { appId: row.app_id, name: row.name, platform: row.platform, devices: 0, channels: [] };
          perApp.set(row.app_id, entry);
        }
        if (row.channel === null) continue;
        entry.devices += row.devices;
        entry.channels.push({ channel: row.channel, devices: row.devices });
        perPlatform.set(row.platform, (perPlatform.get(row.platform) ?? 0) + row.devices);
        perChannel.set(row.channel, (perChannel.get(row.channel) ?? 0) + row.devices);
        total += row.devices;
      }
      const byCount = (a: ChannelCount, b: ChannelCount) => b.devices - a.devices;
      for (const entry of perApp.values()) entry.channels.sort(byCount);
      return {
        total,
        apps: [...perApp.values()],
        platforms: [...perPlatform].map(([platform, devices]) => ({ platform, devices })),
        channels: [...perChannel].map(([channel, devices]) => ({ channel, devices })).sort(byCount),
      };
    },
  );
}
