/**
 * Requests that prove who sent them by a signature over their raw body instead of a bearer token:
 * provider receipt callbacks and everything a device's SDK sends (receipts, registrations). The
 * signature is the hex HMAC-SHA256 of the exact bytes received, so such routes take their bodies raw
 * and parse them only once the signature holds.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import type { Api } from './route-deps.ts';

/** Header with the hex HMAC-SHA256 of the raw body. */
export const SIGNATURE_HEADER = 'x-pushboard-signature';

/** Header with the app's SDK key, on everything a device's SDK sends. */
export const SDK_KEY_HEADER = 'x-pushboard-key';

/** The hex HMAC-SHA256 of `body` with `secret`: what a provider or an SDK sends as its signature. */
export function signBody(body: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Whether `signature` (hex) is the HMAC of `body` with `secret`, compared in constant time. */
export function signatureMatches(body: Buffer, secret: string, signature: unknown): boolean {
  if (typeof signature !== 'string' || !/^[0-9a-fA-F]{64}$/.test(signature)) return false;
  return timingSafeEqual(Buffer.from(signBody(body, secret), 'hex'), Buffer.from(signature, 'hex'));
}

/**
 * Makes every route of `app` (a plugin scope) receive its body as the raw bytes, whatever the
 * content type, up to `bodyLimit` bytes.
 */
export function acceptRawBodies(app: Api, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_r, body, done) => done(null, body));
}

/** The raw body of a request of a scope set up by `acceptRawBodies` (empty when there was none). */
export function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** The JSON value of a raw body, or `400 INVALID_JSON` saying what is wrong with it. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new AppError('INVALID_JSON', `The body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * An error answered before the body was read: the connection is closed after it, so that the
 * server neither reads nor keeps the rest of the body.
 */
export function refusedUnread(error: AppError): AppError {
  return new AppError(error.code, error.message, error.details, { connection: 'close' });
}
