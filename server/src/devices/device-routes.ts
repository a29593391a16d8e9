/**
 * Devices of an app: listing, single and batch upsert, streaming CSV import, and the workspace's
 * device counts. Every way in applies the same rules (`device-input.ts`); a batch refuses bad items
 * one by one, a CSV import refuses the whole file.
 */
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { AppError, type FieldError, validationError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors, PageOf } from '../http/schemas.ts';
import { limited, untruncated, uploadTooLarge } from '../http/uploads.ts';
import type { AppRow, DeviceRow } from '../storage/database.ts';
import { importDevices } from './device-import.ts';
import {
  checkDeviceItem,
  type DeviceInput,
  type DeviceProblem,
  defaultChannel,
  isProblem,
} from './device-input.ts';
import {
  AppParams,
  DeviceBatchBody,
  DeviceBatchResultSchema,
  DeviceBody,
  DeviceCountsSchema,
  DeviceListQuery,
  DeviceParams,
  DeviceSchema,
  ImportResultSchema,
} from './device-schemas.ts';
import { registrationOf } from './device-store.ts';

/** Most devices in one batch request; larger sets go through the CSV import. */
export const MAX_BATCH_DEVICES = 50_000;
/** Body limit of the batch route, in bytes: 50,000 devices with long tokens fit. */
const BATCH_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

const tags = ['devices'];
/** The request field a device problem is about, and its field-problem code, for single-device errors. */
const PROBLEM_FIELD: Record<DeviceProblem['code'], Omit<FieldError, 'message'>> = {
  DEVICE_ID_INVALID: { field: 'deviceId', code: 'VALUE_INVALID' },
  PUSH_TOKEN_INVALID: { field: 'pushToken', code: 'VALUE_INVALID' },
  CHANNEL_INVALID: { field: 'channel', code: 'FORMAT_INVALID', params: { format: 'huawei (a-z 0-9 _ -)' } },
  TIME_ZONE_INVALID: { field: 'timeZone', code: 'TIME_ZONE_UNKNOWN' },
  LOCALE_INVALID: { field: 'locale', code: 'FORMAT_INVALID', params: { format: 'zh-CN' } },
  APP_VERSION_INVALID: { field: 'appVersion', code: 'VALUE_INVALID' },
  DEVICE_INVALID: { field: 'body', code: 'VALUE_INVALID' },
};

/** The `VALIDATION_FAILED` error of a single device refused by `checkDeviceItem`. */
export function deviceProblemError(problem: DeviceProblem): AppError {
  return validationError([{ ...PROBLEM_FIELD[problem.code], message: problem.message }]);
}

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
        querystring: DeviceListQuery,
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
        throw deviceProblemError(device);
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
        body: DeviceBatchBody,
        response: {
          200: DeviceBatchResultSchema,
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
        if (!file)
          throw validationError([{ field: 'file', code: 'REQUIRED', message: 'attach one CSV file' }]);
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
          200: DeviceCountsSchema,
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
