/**
 * The app form's values and their mapping to and from the API: the form's initial values for an
 * app, the provider config it sends, and which form item an API field path points at. Pure
 * functions, so that the form components only lay out fields.
 */
import type {
  ApnsEnvironment,
  App,
  Platform,
  ProviderConfig,
  ProviderName,
  ServiceAccountKey,
} from '../../api/types.ts';
import type { Translate } from '../../i18n/i18n.tsx';
import { type DeliveryValues, deliveryItemOf, deliveryValuesOf } from './AppDeliverySection.tsx';
import type { KeyFile } from './key-files.ts';
import { configOf } from './providers.ts';

/** The simulator's outcome rates, as form items and config fields of the same names. */
export const RATES = ['acceptRate', 'deliveryRate', 'impressionRate', 'openRate', 'dismissalRate'] as const;

/** The form's fields; the provider config's fields keep their API names, so API errors find them. */
export interface AppValues extends DeliveryValues {
  name: string;
  platform: Platform;
  provider: ProviderName;
  appKey?: string;
  appMasterSecret?: string;
  productionMode?: boolean;
  channelActivity?: string;
  /** Umeng vendor-channel options as typed: one `name=value` a line. */
  channelProperties?: string;
  serviceAccount?: KeyFile<ServiceAccountKey>;
  androidChannelId?: string;
  teamId?: string;
  keyId?: string;
  bundleId?: string;
  environment?: ApnsEnvironment;
  privateKey?: KeyFile<string>;
  baseUrl?: string;
  concurrency?: number | null;
  rateLimitPerSecond?: number | null;
  seed?: number | null;
  acceptRate?: number | null;
  deliveryRate?: number | null;
  impressionRate?: number | null;
  openRate?: number | null;
  dismissalRate?: number | null;
  timeScale?: number | null;
}

/** Every form item an API field path may point at (`providerConfig.teamId` → `teamId`). */
const FORM_ITEMS = new Set<string>([
  'name',
  'platform',
  'provider',
  'appKey',
  'appMasterSecret',
  'productionMode',
  'channelActivity',
  'channelProperties',
  'serviceAccount',
  'androidChannelId',
  'teamId',
  'keyId',
  'bundleId',
  'environment',
  'privateKey',
  'baseUrl',
  'concurrency',
  'rateLimitPerSecond',
  'seed',
  'timeScale',
  ...RATES,
]);

/** The form item showing an API field path, or null: `providerConfig.serviceAccount.private_key` → `serviceAccount`. */
export function itemOf(path: string): string | null {
  const delivery = deliveryItemOf(path);
  if (delivery) return delivery;
  const parts = path.split('.');
  const name = parts[0] === 'providerConfig' ? parts[1] : parts[0];
  return name !== undefined && FORM_ITEMS.has(name) ? name : null;
}

/** The form item holding each provider's secret. */
export const SECRET_ITEM: Partial<Record<ProviderName, 'appMasterSecret' | 'serviceAccount' | 'privateKey'>> =
  {
    umeng: 'appMasterSecret',
    fcm: 'serviceAccount',
    apns: 'privateKey',
  };

/** A text field as sent: trimmed, and left out when empty. */
function text(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Vendor-channel options as the form shows them: one `name=value` a line. */
function channelPropertiesText(properties: Record<string, string> | undefined): string | undefined {
  if (!properties || Object.keys(properties).length === 0) return undefined;
  return Object.entries(properties)
    .map(([name, value]) => `${name}=${value}`)
    .join('\n');
}

/**
 * The vendor-channel options typed as `name=value` lines (blank lines skipped), or the first line
 * that is not one (1-based) for the form to point at.
 */
export function parseChannelProperties(
  typed: string | undefined,
): { ok: true; properties: Record<string, string> } | { ok: false; line: number } {
  const properties: Record<string, string> = {};
  const lines = (typed ?? '').split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { ok: false, line: index + 1 };
    properties[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return { ok: true, properties };
}

/** Numbers typed in the form, left out when empty (the provider's default then applies). */
function numbers<K extends keyof AppValues>(v: AppValues, keys: readonly K[]): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const key of keys) {
    const value = v[key];
    if (typeof value === 'number') out[key] = value;
  }
  return out;
}

/** The form's values for a new app, or for the app being changed (its secrets stay with the server). */
export function initialValues(app: App | null): Partial<AppValues> {
  if (!app)
    return {
      platform: 'android',
      provider: 'simulator',
      productionMode: true,
      environment: 'production',
      ...deliveryValuesOf(null),
    };
  const base = { name: app.name, platform: app.platform, provider: app.provider, ...deliveryValuesOf(app) };
  const umeng = configOf(app, 'umeng');
  if (umeng)
    return {
      ...base,
      ...umeng,
      appMasterSecret: undefined,
      productionMode: umeng.productionMode ?? true,
      channelProperties: channelPropertiesText(umeng.channelProperties),
    };
  const fcm = configOf(app, 'fcm');
  if (fcm) {
    const { serviceAccount: _, ...options } = fcm;
    return { ...base, ...options };
  }
  const apns = configOf(app, 'apns');
  if (apns) {
    const { privateKey: _, ...fields } = apns;
    return { ...base, ...fields };
  }
  return { ...base, ...configOf(app, 'simulator') };
}

/**
 * The provider config the form describes. A secret not given again is left out (FCM: the key read
 * from the app is sent back, its private key masked), so that the server keeps the stored one.
 */
export function providerConfigOf(v: AppValues, app: App | null): ProviderConfig {
  const shared = {
    ...(text(v.baseUrl) && { baseUrl: text(v.baseUrl) }),
    ...numbers(v, ['rateLimitPerSecond']),
  };
  switch (v.provider) {
    case 'umeng': {
      // Vendor channels are Android's (Xiaomi, Huawei, OPPO, vivo…); an iOS app sends none.
      const android = v.platform === 'android';
      const typed = parseChannelProperties(v.channelProperties);
      const properties = typed.ok ? typed.properties : {};
      return {
        appKey: text(v.appKey) ?? '',
        ...(text(v.appMasterSecret) && { appMasterSecret: text(v.appMasterSecret) }),
        productionMode: v.productionMode ?? true,
        ...(android && text(v.channelActivity) && { channelActivity: text(v.channelActivity) }),
        ...(android && Object.keys(properties).length > 0 && { channelProperties: properties }),
        ...shared,
        // The type wants the secret; the server fills one left out from the stored config.
      } as ProviderConfig;
    }
    case 'fcm': {
      const typed = v.serviceAccount?.ok ? v.serviceAccount.content : undefined;
      return {
        serviceAccount: typed ?? (configOf(app, 'fcm')?.serviceAccount as ServiceAccountKey),
        ...(text(v.androidChannelId) && { androidChannelId: text(v.androidChannelId) }),
        ...numbers(v, ['concurrency']),
        ...shared,
      };
    }
    case 'apns':
      return {
        teamId: text(v.teamId) ?? '',
        keyId: text(v.keyId) ?? '',
        bundleId: text(v.bundleId) ?? '',
        environment: v.environment ?? 'production',
        ...(v.privateKey?.ok && { privateKey: v.privateKey.content }),
        ...numbers(v, ['concurrency']),
        ...shared,
      } as ProviderConfig;
    default:
      return { ...numbers(v, [...RATES, 'seed', 'timeScale']), ...shared };
  }
}

/**
 * The credential fields changed from the stored config while the secret is not given again: the
 * server refuses such a change (PROVIDER_SECRET_REQUIRED), so the form says so before saving.
 */
export function changedWithoutSecret(v: AppValues, app: App | null, t: Translate): string[] {
  if (!app) return [];
  const changed = (label: string, now: string | undefined, before: string | undefined) =>
    text(now) !== text(before) ? [label] : [];
  const umeng = configOf(app, 'umeng');
  if (umeng && !text(v.appMasterSecret)) {
    return [
      ...changed('appKey', v.appKey, umeng.appKey),
      ...changed(t('apps.baseUrl'), v.baseUrl, umeng.baseUrl),
    ];
  }
  const fcm = configOf(app, 'fcm');
  // A new key file brings its own private key with its project and client email.
  if (fcm && !v.serviceAccount?.ok) return changed(t('apps.baseUrl'), v.baseUrl, fcm.baseUrl);
  const apns = configOf(app, 'apns');
  if (apns && !v.privateKey?.ok) {
    return [
      ...changed(t('apps.teamId'), v.teamId, apns.teamId),
      ...changed(t('apps.keyId'), v.keyId, apns.keyId),
      ...changed(t('apps.baseUrl'), v.baseUrl, apns.baseUrl),
    ];
  }
  return [];
}
