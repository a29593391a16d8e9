/**
 * The public receipt endpoints (docs/receipts.md, docs/api.md#shapes): provider callbacks and SDK batches. They carry no
 * bearer token; each request proves it comes from the app's provider or SDK with the app's secrets:
 *
 * - `POST /api/v1/receipts/{provider}/{appId}`: either the header `X-Pushboard-Signature` (hex
 *   HMAC-SHA256 of the raw body with the app's `receiptSecret`, as the simulator signs), or the query
 *   parameter `secret=<receiptSecret>` for providers that cannot sign (Umeng posts to the receipt URL
 *   Pushboard gives it, which carries the secret).
 * - `POST /api/v1/receipts/sdk`: headers `X-Pushboard-Key` (the app's `sdkKey`) and
 *   `X-Pushboard-Signature` (hex HMAC-SHA256 of the raw body with the app's `sdkSecret`).
 *
 * The app is looked up before the body is read: an unknown app or SDK key, a wrong `secret` or a
 * missing signature is answered at once and the body is never buffered. The signature is then
 * checked on the exact bytes received, before anything is parsed or stored; a bad one is `401` and
 * nothing is stored.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Platform } from '../domain/task-content.ts';
import { AppError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors } from '../http/schemas.ts';
import {
  acceptRawBodies,
  parseJsonBody,
  rawBody,
  refusedUnread,
  SIGNATURE_HEADER,
  signatureMatches,
} from '../http/signed-bodies.ts';
import type { ParsedReceipt, ProviderApp, ProviderRegistry } from '../providers/provider.ts';
import { sdkAuthentication } from '../sdk/sdk-auth.ts';
import {
  assertBatchSize,
  createReceiptIngest,
  MAX_RECEIPTS_PER_REQUEST,
  type ReceiptIngest,
  readReceiptBody,
} from './receipt-ingest.ts';

export { MAX_RECEIPTS_PER_REQUEST } from './receipt-ingest.ts';

/** Largest receipt request body, in bytes: room for a full batch with long IDs. */
export const RECEIPT_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

/**
 * Log level of the receipt routes: Fastify's per-request info lines would log every callback's URL,
 * and a provider's receipt URL carries the app's receipt secret (and these routes are the busiest).
 */
const RECEIPT_LOG_LEVEL = 'warn';

/** What the receipt routes are built from besides the shared route deps. */
export interface ReceiptRouteDeps extends RouteDeps {
  /** Providers by name: their `parseReceipts` reads the callback bodies. */
  providers: ProviderRegistry;
  /**
   * Where checked requests are stored: the embedded mode's writer thread (`receipt-writer.ts`); absent,
   * ingestion runs on this thread over `stores.receipts` (PostgreSQL, and tests over an in-memory store).
   */
  ingest?: ReceiptIngest;
}

// Devices report what they saw; `delivered` too, for providers that report no deliveries (FCM, docs/devices.md#sdk-registration).
const SDK_KINDS: readonly ParsedReceipt['kind'][] = ['delivered', 'impression', 'open', 'dismissal'];

const ReceiptItem = Type.Object({
  taskId: Type.String({ description: 'The Pushboard task ID (the payload carries it as `pb_task`).' }),
  deviceId: Type.String(),
  kind: Type.String({
    description: 'SDK: delivered, impression, open, dismissal (Android only). Simulator: delivered, open.',
  }),
  at: Type.String({ format: 'date-time', description: 'When it happened on the device (ISO 8601).' }),
});

const ReceiptAnswer = Type.Object({
  accepted: Type.Integer({ description: 'Receipts stored now: each changed a device result.' }),
  duplicate: Type.Integer({ description: 'Receipts the device result already had (replays, copies).' }),
  rejected: Type.Integer({ description: 'Receipts refused; `errors` says why, by position.' }),
  late: Type.Integer({
    description:
      'Receipts after the statistics window for devices of the send, once per device and kind: counted on the task only.',
  }),
  unreadable: Type.Optional(
    Type.Integer({
      description: 'Provider callbacks only: items that could not be read (kept as received).',
    }),
  ),
  errors: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'Position of the receipt in the request.' }),
      code: Type.String({
        description:
          'INVALID_RECEIPT, UNKNOWN_TASK, TASK_NOT_SENT, DEVICE_NOT_IN_SEND, DEVICE_SEND_FAILED, KIND_NOT_SUPPORTED, ' +
          'RECEIPT_TIME_IN_FUTURE (at more than 5 minutes after arrival) or DEVICE_DETAILS_EXPIRED (past retention).',
      }),
    }),
  ),
});

const errorResponses = {
  400: authErrors[400],
  401: authErrors[401],
  404: authErrors[404],
  413: { $ref: 'ErrorEnvelope#' },
  429: { $ref: 'ErrorEnvelope#' },
};

function secretMatches(given: unknown, secret: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

function badReceiptSignature(): AppError {
  return new AppError(
    'RECEIPT_SIGNATURE_INVALID',
    "Bad receipt signature: sign the raw body with the app's receiptSecret (X-Pushboard-Signature, hex HMAC-SHA256) or use the receipt URL with its secret.",
  );
}

/** Registers the receipt endpoints under `/api/v1/receipts`. */
export function registerReceiptRoutes(app: Api, deps: ReceiptRouteDeps): void {
  const { db, clock, config } = deps;
  const store = deps.stores.receipts;
  const ingest =
    deps.ingest ??
    createReceiptIngest({
      store,
      windows: { statisticsWindowHours: config.statisticsWindowHours, retentionHours: config.retentionHours },
      clock,
    });

  // Signatures are over the exact bytes sent, so these routes take their bodies raw, whatever the
  // content type, and parse them only once the signature holds.
  acceptRawBodies(app, RECEIPT_BODY_LIMIT_BYTES);
  // The body is validated by hand (per item, so one bad receipt does not refuse the batch); the
  // schema below documents it.
  const documentedOnly = () => () => true;

  const sdk = sdkAuthentication(db, 'RECEIPT_SIGNATURE_INVALID');
  // The app each provider callback proved itself for before its body was read (preParsing below).
  const providerApps = new WeakMap<
    FastifyRequest,
    { id: string; platform: string; provider: string; receipt_secret: string; bySecret: boolean }
  >();

  app.post(
    '/sdk',
    {
      config: { public: true },
      logLevel: RECEIPT_LOG_LEVEL,
      validatorCompiler: documentedOnly,
      schema: {
        tags: ['receipts'],
        summary: 'SDK receipts: deliveries, impressions, opens and dismissals reported by devices.',
        description:
          `At most ${MAX_RECEIPTS_PER_REQUEST} receipts per request. Headers: \`X-Pushboard-Key\` = the app's sdkKey, ` +
          "`X-Pushboard-Signature` = hex HMAC-SHA256 of the raw body with the app's sdkSecret. Answers what " +
          'became of each receipt; only stored receipts are counted as accepted.',
        security: [],
        headers: Type.Object({
          'x-pushboard-key': Type.Optional(Type.String()),
          'x-pushboard-signature': Type.Optional(Type.String()),
        }),
        body: Type.Object({ receipts: Type.Array(ReceiptItem, { maxItems: MAX_RECEIPTS_PER_REQUEST }) }),
        response: { 200: ReceiptAnswer, ...errorResponses },
      },
      // Before the body is read: an unknown key never gets its body buffered.
      preParsing: async (request, _reply, payload) => {
        await sdk.identify(request);
        return payload;
      },
    },
    async (request) => {
      const found = sdk.verified(request);
      const body = rawBody(request);
      // An SDK body has no unreadable items (each bad one is refused with its code), so its answer has no count of them.
      const { unreadable: _none, ...tally } = ingest.receiveBody
        ? await ingest.receiveBody(found, body, SDK_KINDS)
        : await ingest.receive(found, readReceiptBody(body, SDK_KINDS));
      return tally;
    },
  );

  app.post(
    '/:provider/:appId',
    {
      config: { public: true },
      logLevel: RECEIPT_LOG_LEVEL,
      validatorCompiler: documentedOnly,
      schema: {
        tags: ['receipts'],
        summary: "Provider callbacks: deliveries and opens reported by the app's push provider.",
        description:
          "Authenticated by the app's receiptSecret: the header `X-Pushboard-Signature` (hex HMAC-SHA256 of the raw " +
          'body) or the query parameter `secret` (the receipt URL Pushboard gives providers that cannot sign carries ' +
          'it). Simulator body: `{receipts:[{taskId, deviceId, kind: delivered|open, at}]}`. Umeng bodies are read ' +
          'tolerantly (one object or a list); items that cannot be read are kept as received and counted.',
        security: [],
        params: Type.Object({ provider: Type.String(), appId: Type.String() }),
        querystring: Type.Object({ secret: Type.Optional(Type.String()) }),
        headers: Type.Object({ 'x-pushboard-signature': Type.Optional(Type.String()) }),
        body: Type.Object({ receipts: Type.Array(ReceiptItem, { maxItems: MAX_RECEIPTS_PER_REQUEST }) }),
        response: { 200: ReceiptAnswer, ...errorResponses },
      },
      // Before the body is read: the app must exist, and a `secret` must be its receipt secret (a
      // request without one must carry a signature, checked once the body is in).
      preParsing: async (request, _reply, payload) => {
        const { provider: providerName, appId } = request.params as { provider: string; appId: string };
        const found = await store.receivingApp(appId);
        if (!found || found.provider !== providerName) {
          throw refusedUnread(
            new AppError('APP_NOT_FOUND', `No ${providerName} app ${appId} receives receipts here.`),
          );
        }
        if (!deps.providers[found.provider as ProviderApp['provider']]?.parseReceipts) {
          throw refusedUnread(
            new AppError(
              'APP_NOT_FOUND',
              `${found.provider} posts no receipts: the devices of app ${appId} report theirs through ` +
                'POST /api/v1/receipts/sdk.',
            ),
          );
        }
        const secret = (request.query as { secret?: string }).secret;
        const bySecret = secret !== undefined;
        if (bySecret ? !secretMatches(secret, found.receipt_secret) : !request.headers[SIGNATURE_HEADER]) {
          throw refusedUnread(badReceiptSignature());
        }
        providerApps.set(request, { ...found, bySecret });
        return payload;
      },
    },
    async (request) => {
      const found = providerApps.get(request);
      const body = rawBody(request);
      if (
        !found ||
        (!found.bySecret && !signatureMatches(body, found.receipt_secret, request.headers[SIGNATURE_HEADER]))
      ) {
        throw badReceiptSignature();
      }
      const provider = deps.providers[found.provider as ProviderApp['provider']];
      if (!provider?.parseReceipts) {
        throw new AppError('APP_NOT_FOUND', `This server reads no ${found.provider} receipts.`);
      }
      const parsed = provider.parseReceipts(parseJsonBody(body));
      assertBatchSize(parsed);
      return ingest.receive({ id: found.id, platform: found.platform as Platform }, parsed);
    },
  );
}
