/**
 * Compact JSON Web Tokens signed the two ways push providers ask for: RS256 (Google's OAuth
 * JWT-bearer assertion for FCM) and ES256 (APNs provider tokens). Node's crypto signs; nothing else is
 * needed. ES256 signatures are the raw 64-byte `r‖s` JWS wants (`ieee-p1363`), not DER.
 */
import { createPrivateKey, type KeyObject, sign } from 'node:crypto';

/** The algorithms a provider token is signed with. */
export type JwtAlgorithm = 'RS256' | 'ES256';

const base64url = (value: Buffer | string) => Buffer.from(value).toString('base64url');

/** A private key read once from its PEM text (parsing it per token would cost a millisecond each). */
export function readPrivateKey(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/**
 * `header.claims.signature` for `claims`, with `alg` (and `typ: "JWT"`) added to `header` (`kid`…).
 * Throws when the key does not fit the algorithm.
 */
export function signJwt(
  alg: JwtAlgorithm,
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: KeyObject,
): string {
  const input = `${base64url(JSON.stringify({ alg, typ: 'JWT', ...header }))}.${base64url(JSON.stringify(claims))}`;
  const signature =
    alg === 'RS256'
      ? sign('sha256', Buffer.from(input), key)
      : sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${base64url(signature)}`;
}
