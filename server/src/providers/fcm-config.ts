/**
 * The config of an Android app on Firebase Cloud Messaging HTTP v1 (docs/providers.md#fcm): its fields (the
 * service-account key among them), its schema as shown on reads, how a client's config is checked
 * and which fields are credentials. `apps/provider-config.ts` composes it with the other providers'.
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
  shortText,
} from './config-checks.ts';
import { FCM_BASE_URL, GOOGLE_TOKEN_URI } from './endpoints.ts';

/**
 * The fields of a Google service-account JSON key that FCM needs (docs/providers.md#fcm); a key file's other
 * fields (`client_id`, `auth_uri`…) are not kept.
 */
export interface ServiceAccountKey {
  type?: 'service_account';
  project_id: string;
  private_key_id: string;
  /** PEM text of the RSA private key the OAuth assertion is signed with. Write-only. */
  private_key: string;
  client_email: string;
  /** Where the OAuth assertion is posted; `https://oauth2.googleapis.com/token` when absent. */
  token_uri?: string;
}

/** Credentials and options of an Android app on Firebase Cloud Messaging HTTP v1 (docs/providers.md#fcm). */
export interface FcmConfig {
  serviceAccount: ServiceAccountKey;
  /** Base URL of the FCM API; `https://fcm.googleapis.com` when absent (tests point it at a fake). */
  baseUrl?: string;
  /** Android notification channel the notifications are posted in (`android.notification.channel_id`). */
  androidChannelId?: string;
  /** Requests in flight at once for this app; 100 when absent. */
  concurrency?: number;
  /** Devices per second handed to FCM for this app; the deployment default when absent, 0 = no limit. */
  rateLimitPerSecond?: number;
}

/** FCM's config as shown on reads (the private key masked), for the OpenAPI document. */
export const FcmConfigSchema = Type.Object(
  {
    serviceAccount: Type.Object(
      {
        type: Type.Optional(Type.Literal('service_account')),
        project_id: Type.String(),
        private_key_id: Type.String(),
        private_key: Type.String({ description: 'Write-only: always masked on reads.' }),
        client_email: Type.String(),
        token_uri: Type.Optional(Type.String()),
      },
      {
        description:
          'The service-account JSON key file of the Firebase project, as downloaded (fields other than these are not kept).',
      },
    ),
    baseUrl: Type.Optional(
      Type.String({ description: `https URL of the FCM API; ${FCM_BASE_URL} when absent.` }),
    ),
    androidChannelId: Type.Optional(Type.String()),
    concurrency: concurrencySchema,
    rateLimitPerSecond: rateLimitSchema,
  },
  { additionalProperties: false, title: 'FcmConfig' },
);

/** Fields of a downloaded service-account key file that FCM does not need: accepted and not kept. */
const UNUSED_KEY_FILE_FIELDS = new Set([
  'client_id',
  'auth_uri',
  'auth_provider_x509_cert_url',
  'client_x509_cert_url',
  'universe_domain',
]);

/** Checks a service-account key object; answers its first problem, naming the key file's field. */
const serviceAccount: FieldCheck = (value) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'must be the service-account JSON key object (Firebase console › Project settings › Service accounts › Generate new private key)';
  }
  const key = value as Record<string, unknown>;
  if (key.type !== undefined && key.type !== 'service_account') {
    return `is a "${String(key.type).slice(0, 40)}" key, not a service-account key ("type": "service_account")`;
  }
  for (const name of ['project_id', 'private_key_id'] as const) {
    if (shortText(key[name]) !== undefined) return `${name} ${shortText(key[name])}`;
  }
  if (typeof key.client_email !== 'string' || !/^[^\s@]{1,100}@[^\s@]{1,150}$/.test(key.client_email)) {
    return 'client_email must be the e-mail address of the service account';
  }
  const keyProblem = privateKeyProblem(key.private_key, 'rsa');
  if (keyProblem) return `private_key ${keyProblem}`;
  if (key.token_uri !== undefined && httpsUrl(key.token_uri) !== undefined) {
    return `token_uri must be an https URL such as ${GOOGLE_TOKEN_URI}`;
  }
  const known = new Set(['type', 'project_id', 'private_key_id', 'private_key', 'client_email', 'token_uri']);
  const unknown = Object.keys(key).find((name) => !known.has(name) && !UNUSED_KEY_FILE_FIELDS.has(name));
  if (unknown !== undefined) return `${unknown.slice(0, 60)} is not a field of a service-account key file`;
  return undefined;
};

/** How each field of an FCM config is checked. */
export const FCM_CONFIG_RULES: Record<keyof FcmConfig, FieldRule> = {
  serviceAccount: { required: true, check: serviceAccount },
  baseUrl: { required: false, check: httpsUrl },
  androidChannelId: { required: false, check: shortText },
  concurrency: { required: false, check: concurrency },
  rateLimitPerSecond: { required: false, check: rate },
};

/** The credential fields of an FCM config: the service-account key's. */
export const FCM_CREDENTIAL_FIELDS: CredentialFields = {
  secrets: ['serviceAccount.private_key'],
  identity: ['serviceAccount.client_email', 'serviceAccount.project_id', 'serviceAccount.private_key_id'],
  endpoints: [
    { field: 'baseUrl', realEndpoint: FCM_BASE_URL },
    { field: 'serviceAccount.token_uri', realEndpoint: GOOGLE_TOKEN_URI },
  ],
};

/** A config as stored: the fields of a service-account key file that FCM does not use are left out. */
export function withoutUnusedKeyFields(config: Record<string, unknown>): Record<string, unknown> {
  if (typeof config.serviceAccount !== 'object' || config.serviceAccount === null) return config;
  const key = Object.fromEntries(
    Object.entries(config.serviceAccount as Record<string, unknown>).filter(
      ([name]) => !UNUSED_KEY_FILE_FIELDS.has(name),
    ),
  );
  return { ...config, serviceAccount: key };
}
