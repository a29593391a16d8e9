/**
 * `POST /api/v1/sdk/devices` (docs/devices.md#sdk-registration): an app on a device registers itself, or refreshes its push
 * token and what it says about itself (time zone, locale, app version). Like SDK receipts it carries
 * no bearer token — an app must never hold one — but the app's SDK key (`X-Pushboard-Key`) and the
 * hex HMAC-SHA256 of the raw body with the app's SDK secret (`X-Pushboard-Signature`).
 *
 * The key is looked up before the body is read, so an unknown key never gets a body buffered. The
 * signature is checked on the exact bytes received before anything is parsed, counted or stored; a
 * bad one is `401` and nothing is stored.
 */
import { Type } from 'typebox';
import { checkDeviceItem, defaultChannel, isProblem } from '../devices/device-input.ts';
import { deviceProblemError } from '../devices/device-routes.ts';
import { DeviceBody } from '../devices/device-schemas.ts';
import { registrationOf } from '../devices/device-store.ts';
import { AppError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { acceptRawBodies, parseJsonBody, rawBody } from '../http/signed-bodies.ts';
import { createRegistrationLimiter } from './registration-limit.ts';
import { sdkAuthentication } from './sdk-auth.ts';

/** Largest registration body, in bytes: one device with the longest fields fits many times over. */
export const REGISTRATION_BODY_LIMIT_BYTES = 16 * 1024;

const errorEnvelope = { $ref: 'ErrorEnvelope#' };

/** Registers `POST /devices` (under `/api/v1/sdk`). */
export function registerSdkDeviceRoutes(app: Api, deps: RouteDeps): void {
  const { db, clock } = deps;
  const devices = deps.stores.devices;
  const limiter = createRegistrationLimiter(deps.config.sdkRegistrationsPerSecond, clock);
  const sdk = sdkAuthentication(db, 'SDK_SIGNATURE_INVALID');

  acceptRawBodies(app, REGISTRATION_BODY_LIMIT_BYTES);

  app.post(
    '/devices',
    {
      config: { public: true },
      // The body is checked by hand once the signature holds; the schema below documents it.
      validatorCompiler: () => () => true,
      schema: {
        tags: ['sdk'],
        summary: 'Register or refresh a device from the app on it (SDK key + HMAC, no bearer token).',
        description:
          "Headers: `X-Pushboard-Key` = the app's sdkKey, `X-Pushboard-Signature` = hex HMAC-SHA256 of the raw " +
          "body with the app's sdkSecret. A new push token makes an invalid device active again (docs/devices.md#push-token-lifecycle); " +
          'a field left out keeps its stored value. Each app may register ' +
          `${deps.config.sdkRegistrationsPerSecond || 'any number of'} devices per second per API process ` +
          "(bursts of ten seconds' worth); beyond, `429 TOO_MANY_REGISTRATIONS` with `Retry-After`.",
        security: [],
        headers: Type.Object({
          'x-pushboard-key': Type.Optional(Type.String()),
          'x-pushboard-signature': Type.Optional(Type.String()),
        }),
        body: DeviceBody,
        response: {
          200: Type.Object({
            deviceId: Type.String(),
            status: Type.Union([Type.Literal('inserted'), Type.Literal('updated')], {
              description: '`inserted` for a device new to the app, `updated` for a refresh.',
            }),
          }),
          400: errorEnvelope,
          401: errorEnvelope,
          413: errorEnvelope,
          429: errorEnvelope,
        },
      },
      // Before the body is read: an unknown key never gets its body buffered.
      preParsing: async (request, _reply, payload) => {
        await sdk.identify(request);
        return payload;
      },
    },
    async (request) => {
      const found = sdk.verified(request);
      // Counted once the signature holds: the SDK key ships in every copy of the app, so anyone may
      // send it, but only the app's own devices may use up its registrations.
      const wait = limiter.take(found.id);
      if (wait > 0) {
        throw new AppError(
          'TOO_MANY_REGISTRATIONS',
          `App ${found.id} registers more devices per second than this server takes; try again in ${wait} s.`,
          { retryAfterSeconds: wait },
          { 'retry-after': String(wait) },
        );
      }
      const device = checkDeviceItem(parseJsonBody(rawBody(request)), defaultChannel(found));
      if (isProblem(device)) {
        throw deviceProblemError(device);
      }
      const status = await devices.upsertDevice(registrationOf(found.id, device, clock().toISOString()));
      return { deviceId: device.deviceId, status };
    },
  );
}
