/**
 * The config of an iOS app on the Apple Push Notification service (docs/providers.md#apns): its fields, its
 * schema as shown on reads, how a client's config is checked and which fields are credentials.
 * `apps/provider-config.ts` composes it with the other providers'.
 */
import { Type } from 'typebox';
import {
  type CredentialFields,
  concurrency,
  concurrencySchema,
  type FieldCheck,
  type FieldRule,
  httpsUrl,
  privateKeyProblem,
  rate,
  rateLimitSchema,
} from './config-checks.ts';
import { APNS_BASE_URLS } from './endpoints.ts';

/** Credentials and options of an iOS app on the Apple Push Notification service (docs/providers.md#apns). */
export interface ApnsConfig {
  /** The Apple developer team ID (10 characters): the provider token's `iss`. */
  teamId: string;
  /** The ID of the `.p8` signing key (10 characters): the provider token's `kid`. */
  keyId: string;
  /** PEM text of the `.p8` ES256 (P-256) signing key. Write-only. */
  privateKey: string;
  /** The app's bundle ID, sent as `apns-topic`. */
  bundleId: string;
  /** `production` (https://api.push.apple.com) or `sandbox` (https://api.sandbox.push.apple.com). */
  environment: 'production' | 'sandbox';
  /** Base URL of the APNs API, overriding the environment's (tests point it at a fake). */
  baseUrl?: string;
  /** Streams in flight at once on the app's HTTP/2 connection; 100 when absent. */
  concurrency?: number;
  /** Devices per second handed to APNs for this app; the deployment default when absent, 0 = no limit. */
  rateLimitPerSecond?: number;
}

/** APNs' config as shown on reads (the private key masked), for the OpenAPI document. */
export const ApnsConfigSchema = Type.Object(
  {
    teamId: Type.String(),
    keyId: Type.String(),
    privateKey: Type.String({ description: 'PEM text of the .p8 key. Write-only: always masked on reads.' }),
    bundleId: Type.String(),
    environment: Type.Union([Type.Literal('production'), Type.Literal('sandbox')]),
    baseUrl: Type.Optional(Type.String({ description: "https URL of APNs; the environment's when absent." })),
    concurrency: concurrencySchema,
    rateLimitPerSecond: rateLimitSchema,
  },
  { additionalProperties: false, title: 'ApnsConfig' },
);

const apnsId: FieldCheck = (value) =>
  typeof value === 'string' && /^[A-Z0-9]{10}$/.test(value)
    ? undefined
    : 'must be the 10-character ID shown in the Apple developer account (letters and digits, e.g. "AB12CD34EF")';

const bundleId: FieldCheck = (value) =>
  typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9.-]{0,154}$/.test(value)
    ? undefined
    : 'must be the app\'s bundle ID, e.g. "com.example.app"';

const environment: FieldCheck = (value) =>
  value === 'production' || value === 'sandbox' ? undefined : 'must be "production" or "sandbox"';

/** How each field of an APNs config is checked. */
export const APNS_CONFIG_RULES: Record<keyof ApnsConfig, FieldRule> = {
  teamId: { required: true, check: apnsId },
  keyId: { required: true, check: apnsId },
  privateKey: { required: true, check: (value) => privateKeyProblem(value, 'p256') },
  bundleId: { required: true, check: bundleId },
  environment: { required: true, check: environment },
  baseUrl: { required: false, check: httpsUrl },
  concurrency: { required: false, check: concurrency },
  rateLimitPerSecond: { required: false, check: rate },
};

/** The credential fields of an APNs config. */
export const APNS_CREDENTIAL_FIELDS: CredentialFields = {
  secrets: ['privateKey'],
  identity: ['teamId', 'keyId'],
  endpoints: [{ field: 'baseUrl', realEndpoint: [APNS_BASE_URLS.production, APNS_BASE_URLS.sandbox] }],
};
