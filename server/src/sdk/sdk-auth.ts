/**
 * How everything a device's SDK sends proves which app it comes from: the app's SDK key in
 * `X-Pushboard-Key`, and the hex HMAC-SHA256 of the raw body with the app's SDK secret in
 * `X-Pushboard-Signature` (docs/api.md#shapes, docs/devices.md#sdk-registration). The key is looked up before the body is read, so an
 * unknown key never gets a body buffered; the signature is checked on the exact bytes received,
 * before anything is parsed or stored.
 */
import type { FastifyRequest } from 'fastify';
import type { Platform } from '../domain/task-content.ts';
import { AppError } from '../errors.ts';
import {
  rawBody,
  refusedUnread,
  SDK_KEY_HEADER,
  SIGNATURE_HEADER,
  signatureMatches,
} from '../http/signed-bodies.ts';
import type { AppRow, Db } from '../storage/database.ts';

/** The app an SDK request proved itself for: what its routes need of it. */
export interface SdkApp {
  id: string;
  platform: Platform;
  provider: AppRow['provider'];
  sdk_secret: string;
}

/** Checks SDK requests of a group of routes; `code` is the error they answer a bad key or signature with. */
export interface SdkAuthentication {
  /** A `preParsing` hook: refuses, unread, a request without a known SDK key or without a signature. */
  identify(request: FastifyRequest): Promise<void>;
  /** The app whose SDK secret signed the request's raw body; throws the 401 otherwise. */
  verified(request: FastifyRequest): SdkApp;
}

/** SDK authentication over `db`, refusing with `code` (401). */
export function sdkAuthentication(
  db: Db,
  code: 'RECEIPT_SIGNATURE_INVALID' | 'SDK_SIGNATURE_INVALID',
): SdkAuthentication {
  const refused = () =>
    new AppError(
      code,
      "Unknown SDK key or bad signature: send X-Pushboard-Key (the app's sdkKey) and X-Pushboard-Signature " +
        "(hex HMAC-SHA256 of the raw body with the app's sdkSecret).",
    );
  // The app each request named, from its preParsing hook to its handler.
  const named = new WeakMap<FastifyRequest, SdkApp>();
  return {
    async identify(request) {
      const key = request.headers[SDK_KEY_HEADER];
      const found =
        typeof key === 'string'
          ? await db
              .selectFrom('apps')
              .select(['id', 'platform', 'provider', 'sdk_secret'])
              .where('sdk_key', '=', key)
              .executeTakeFirst()
          : undefined;
      if (!found || typeof request.headers[SIGNATURE_HEADER] !== 'string') throw refusedUnread(refused());
      named.set(request, { ...found, platform: found.platform as Platform });
    },
    verified(request) {
      const app = named.get(request);
      if (!app || !signatureMatches(rawBody(request), app.sdk_secret, request.headers[SIGNATURE_HEADER])) {
        throw refused();
      }
      return app;
    },
  };
}
