/**
 * Apps: one mobile app on one platform with its provider and provider config. Platform and provider
 * are fixed for an app's life (its devices and tasks depend on them). Credentials are write-only, and
 * the app's own secrets (receipt secret, SDK secret) are shown in full only in the answer that created
 * them: the create and the rotate answers. The SDK key, an identifier every copy of the app carries,
 * is always shown.
 */
import { Type } from 'typebox';
import { deliverySettingsProblems, readFrequencyCap, readQuietHours } from '../domain/delivery-settings.ts';
import { AppError, type FieldError, validationError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors, PageOf } from '../http/schemas.ts';
import type { AppRow } from '../storage/database.ts';
import { hasRole, type WorkspaceContext } from '../tenancy/access.ts';
import { AppCreateBody, AppListQuery, AppParams, AppSchema, AppUpdateBody } from './app-schemas.ts';
import { type DeviceCounts, NO_DEVICES, newAppRow, newAppSecrets } from './app-store.ts';
import {
  changesCredentials,
  checkProviderConfig,
  maskProviderConfig,
  maskSecret,
  type Provider,
  readProviderConfig,
  sameProviderConfig,
} from './provider-config.ts';

/** The one platform a provider serves, for the providers that serve only one (docs/providers.md#fcm, docs/providers.md#apns). */
const PROVIDER_PLATFORM: Partial<Record<Provider, AppRow['platform']>> = { fcm: 'android', apns: 'ios' };
const tags = ['apps'];

/**
 * The API view of an app; secrets masked unless `revealSecrets` (the answer that created them). The
 * SDK key is no secret: the console shows it for integrators to copy.
 */
function appView(row: AppRow, counts: DeviceCounts, revealSecrets = false) {
  const secret = (value: string) => (revealSecrets ? value : maskSecret(value));
  return {
    id: row.id,
    name: row.name,
    platform: row.platform,
    provider: row.provider,
    providerConfig: maskProviderConfig(row.provider, readProviderConfig(row)),
    receiptSecret: secret(row.receipt_secret),
    sdkKey: row.sdk_key,
    sdkSecret: secret(row.sdk_secret),
    devices: counts.devices,
    invalidTokens: counts.invalidTokens,
    frequencyCap: readFrequencyCap(row.frequency_cap),
    quietHours: readQuietHours(row.quiet_hours),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The stored form of a delivery setting: its JSON, or null when removed. */
function settingColumn(setting: object | null): string | null {
  return setting === null ? null : JSON.stringify(setting);
}

/**
 * Refuses a write of provider credentials by anyone but an owner (docs/providers.md#endpoints-and-credentials): whoever may change them
 * decides where the app's secrets, push tokens and receipt URL are sent.
 */
function assertMayWriteCredentials(workspace: WorkspaceContext, provider: Provider): void {
  if (hasRole(workspace.role, 'owner')) return;
  throw new AppError(
    'FORBIDDEN',
    `Only a workspace owner may set or change the ${provider} credentials (providerConfig) of an app; ` +
      `you are ${workspace.role}. You may still rename the app, or send its providerConfig back unchanged.`,
  );
}

/** Registers the app routes (under a workspace). */
export function registerAppRoutes(app: Api, deps: RouteDeps): void {
  const store = deps.stores.apps;
  const urlAllowlist = deps.config.providerUrlAllowlist;

  async function getApp(workspaceId: string, id: string): Promise<AppRow> {
    const row = await store.findApp(workspaceId, id);
    if (!row) throw new AppError('APP_NOT_FOUND', `App ${id} does not exist in this workspace.`);
    return row;
  }

  async function deviceCounts(appId: string): Promise<DeviceCounts> {
    return (await store.countDevices([appId])).get(appId) ?? NO_DEVICES;
  }

  app.get(
    '/apps',
    {
      schema: {
        tags,
        summary: 'Apps with their device counts, newest first; secrets masked.',
        querystring: AppListQuery,
        response: { 200: PageOf(AppSchema), ...authErrors },
      },
    },
    async (request) => {
      const { page, pageSize, q, platform, provider } = request.query;
      const { rows, total } = await store.listApps(
        request.workspace.id,
        { q, platform, provider },
        (page - 1) * pageSize,
        pageSize,
      );
      const counts = await store.countDevices(rows.map((r) => r.id));
      return { items: rows.map((r) => appView(r, counts.get(r.id) ?? NO_DEVICES)), total, page, pageSize };
    },
  );

  app.post(
    '/apps',
    {
      schema: {
        tags,
        summary: 'Create an app; the answer carries its receipt secret, SDK key and SDK secret, once.',
        description:
          'An app of a provider that takes credentials (umeng, fcm, apns) is created by workspace owners ' +
          'only (403 FORBIDDEN otherwise); its endpoints (baseUrl, FCM token_uri) must be allowed by ' +
          'PUSHBOARD_PROVIDER_URL_ALLOWLIST (400 PROVIDER_URL_NOT_ALLOWED). fcm apps are android, apns apps ios.',
        body: AppCreateBody,
        response: { 201: AppSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const only = PROVIDER_PLATFORM[body.provider];
      if (only !== undefined && body.platform !== only) {
        throw validationError([
          {
            field: 'platform',
            code: 'PLATFORM_MISMATCH',
            params: { platform: only },
            message: `must be ${only}: the ${body.provider} provider sends to ${only === 'ios' ? 'iOS' : 'Android'} apps only`,
          },
        ]);
      }
      const settingsProblems = deliverySettingsProblems(body);
      if (settingsProblems.length > 0) throw validationError(settingsProblems);
      if (changesCredentials(body.provider, body.providerConfig)) {
        assertMayWriteCredentials(request.workspace, body.provider);
      }
      const row = newAppRow({
        workspaceId: request.workspace.id,
        name: body.name.trim(),
        platform: body.platform,
        provider: body.provider,
        providerConfig: checkProviderConfig(body.provider, body.providerConfig, { urlAllowlist }),
        frequencyCap: body.frequencyCap ?? null,
        quietHours: body.quietHours ?? null,
        now: deps.clock(),
      });
      await store.insertApp(row);
      return reply.status(201).send(appView(row, NO_DEVICES, true));
    },
  );

  app.get(
    '/apps/:appId',
    {
      schema: {
        tags,
        summary: 'One app; secrets masked.',
        params: AppParams,
        response: { 200: AppSchema, ...authErrors },
      },
    },
    async (request) => {
      const row = await getApp(request.workspace.id, request.params.appId);
      return appView(row, await deviceCounts(row.id));
    },
  );

  app.patch(
    '/apps/:appId',
    {
      schema: {
        tags,
        summary:
          'Rename an app or replace its provider config. A credential left out (or sent back masked) ' +
          'keeps its stored value. Platform and provider cannot change.',
        description:
          'Changing the provider config of a provider that takes credentials (umeng, fcm, apns) is for ' +
          'workspace owners only (403 FORBIDDEN; sending it back unchanged is no change). A new endpoint ' +
          '(baseUrl, FCM token_uri) or identity (Umeng appKey, FCM client_email/project_id/private_key_id, ' +
          'APNs teamId/keyId) needs the secret (appMasterSecret, private_key, privateKey) typed again in ' +
          'the same request (400 PROVIDER_SECRET_REQUIRED), and an endpoint must be allowed by ' +
          'PUSHBOARD_PROVIDER_URL_ALLOWLIST (400 PROVIDER_URL_NOT_ALLOWED).',
        params: AppParams,
        body: AppUpdateBody,
        response: { 200: AppSchema, ...authErrors },
      },
    },
    async (request) => {
      const { workspace, body } = request;
      const row = await getApp(workspace.id, request.params.appId);
      // Accepted only when unchanged, so that a client may send back the whole app it read.
      const immutable: FieldError[] = [];
      if (body.platform !== undefined && body.platform !== row.platform) {
        immutable.push({
          field: 'platform',
          code: 'CANNOT_CHANGE',
          message: `cannot change (the app is ${row.platform}); create a new app for another platform`,
        });
      }
      if (body.provider !== undefined && body.provider !== row.provider) {
        immutable.push({
          field: 'provider',
          code: 'CANNOT_CHANGE',
          message: `cannot change (the app uses ${row.provider}); create a new app for another provider`,
        });
      }
      immutable.push(...deliverySettingsProblems(body));
      if (immutable.length > 0) throw validationError(immutable);
      const stored = readProviderConfig(row);
      if (
        body.providerConfig !== undefined &&
        changesCredentials(row.provider, body.providerConfig, stored)
      ) {
        assertMayWriteCredentials(workspace, row.provider);
      }
      const checked =
        body.providerConfig === undefined
          ? undefined
          : checkProviderConfig(row.provider, body.providerConfig, { stored, urlAllowlist });
      // A config sent back unchanged is not written: rewriting it would put back the values this
      // request read over a change an owner made meanwhile.
      const providerConfig = checked && !sameProviderConfig(checked, stored) ? checked : undefined;
      await store.updateApp(workspace.id, row.id, {
        ...(body.name !== undefined && { name: body.name.trim() }),
        ...(providerConfig !== undefined && { provider_config: JSON.stringify(providerConfig) }),
        ...(body.frequencyCap !== undefined && { frequency_cap: settingColumn(body.frequencyCap) }),
        ...(body.quietHours !== undefined && { quiet_hours: settingColumn(body.quietHours) }),
        updated_at: deps.clock().toISOString(),
      });
      return appView(await getApp(workspace.id, row.id), await deviceCounts(row.id));
    },
  );

  app.delete(
    '/apps/:appId',
    {
      schema: {
        tags,
        summary: 'Delete an app with its devices; refused while a task uses it.',
        params: AppParams,
        response: { 204: Type.Null(), 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      const row = await getApp(request.workspace.id, request.params.appId);
      const tasks = await store.deleteAppUnlessUsed(request.workspace.id, row.id);
      if (tasks > 0) {
        throw new AppError(
          'APP_IN_USE',
          `${tasks} task(s) use this app, so it cannot be deleted: delete its scheduled tasks first ` +
            '(sent tasks keep their app for their statistics).',
          { tasks },
        );
      }
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/apps/:appId/secrets/rotate',
    {
      config: { minRole: 'owner' },
      schema: {
        tags,
        summary:
          'Replace the receipt secret, SDK key and SDK secret with new ones, shown in full once. The old ' +
          'ones stop working at once: give the new ones to the provider callback and the SDK right away.',
        params: AppParams,
        response: { 200: AppSchema, ...authErrors },
      },
    },
    async (request) => {
      const { workspace } = request;
      const row = await getApp(workspace.id, request.params.appId);
      const secrets = newAppSecrets();
      const updatedAt = deps.clock().toISOString();
      await store.updateApp(workspace.id, row.id, { ...secrets, updated_at: updatedAt });
      return appView({ ...row, ...secrets, updated_at: updatedAt }, await deviceCounts(row.id), true);
    },
  );
}
