/**
 * Login, logout, "who am I", changing one's password and ending one's sessions.
 *
 * Login throttling (docs/operations.md#login-throttling): each attempt is counted in the store *before* its password is checked,
 * under two keys — (username, client IP) and client IP — with one conditional write each, so that
 * parallel attempts get no further than sequential ones and several processes share the counts.
 * After `USER_FREE_ATTEMPTS` failures for a username from one address (or `ADDRESS_FREE_ATTEMPTS`
 * from one address for any usernames) each further attempt must wait twice as long as the previous
 * one, up to `MAX_LOCKOUT_S`. An IPv6 client is counted by its /64 network (`throttleAddress`).
 * Attempts from one address never slow down another address. A success
 * clears its (username, address) count and gives back its address attempt.
 *
 * The client IP is Fastify's `request.ip`: the peer address, or behind a proxy listed in
 * `PUSHBOARD_TRUST_PROXY` the client its `X-Forwarded-For` names (never read from other peers: a
 * direct client could forge that header and pick the address it is counted under).
 */
import { isIPv6 } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, validationError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { newId, newSecret, sha256 } from '../ids.ts';
import { requireUser } from './access.ts';
import { decoyHash, hashPassword, isOutdatedHash, PASSWORD_MAX_LENGTH, verifyPassword } from './passwords.ts';
import { LoginResultSchema, MeSchema, NewPassword } from './tenancy-schemas.ts';
import { MAX_LOCKOUT_S, type TenancyStore } from './tenancy-store.ts';

/** Failed logins for one username from one address before attempts are slowed down. */
export const USER_FREE_ATTEMPTS = 5;
/** Failed logins from one address, for any usernames, before its attempts are slowed down. */
export const ADDRESS_FREE_ATTEMPTS = 20;
/** Lifetime of a login session, in milliseconds. */
const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

/** Seconds a caller must still wait before the next attempt under one throttle key, 0 if none. */
export function loginWaitSeconds(
  failures: number,
  lastFailureAt: Date,
  now: Date,
  freeAttempts = USER_FREE_ATTEMPTS,
): number {
  if (failures < freeAttempts) return 0;
  const lockout = Math.min(2 ** (failures - freeAttempts), MAX_LOCKOUT_S);
  const elapsed = (now.getTime() - lastFailureAt.getTime()) / 1000;
  return Math.max(0, Math.ceil(lockout - elapsed));
}

/** The eight 16-bit groups of a valid IPv6 address, each as four lower-case hex digits. */
function ipv6Groups(ip: string): string[] {
  let text = ip.toLowerCase();
  // An embedded IPv4 tail (`::ffff:10.0.0.1`) is two groups written in dotted decimal.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((group) => group.padStart(4, '0'));
}

/**
 * The address a login attempt is counted under: an IPv4 address (also written IPv4-mapped,
 * `::ffff:a.b.c.d`) by itself, an IPv6 address by its /64 network — one subscriber or host holds a
 * whole /64, so counting its 2^64 addresses apart would give it unlimited guesses.
 */
export function throttleAddress(ip: string): string {
  const address = ip.replace(/%.*$/, ''); // a zone (`fe80::1%eth0`) names an interface, not a host
  if (!isIPv6(address)) return ip;
  const groups = ipv6Groups(address);
  if (groups.slice(0, 5).every((g) => g === '0000') && groups[5] === 'ffff') {
    const [high, low] = [Number.parseInt(groups[6] ?? '0', 16), Number.parseInt(groups[7] ?? '0', 16)];
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The throttle keys of one login attempt, with their free attempts, in the order they are counted. */
function throttleKeys(username: string, ip: string): { key: string; free: number }[] {
  const address = throttleAddress(ip);
  return [
    { key: JSON.stringify(['user', address, username]), free: USER_FREE_ATTEMPTS },
    { key: JSON.stringify(['ip', address]), free: ADDRESS_FREE_ATTEMPTS },
  ];
}

/**
 * Counts an attempt under every key or under none: throws 429 with the wait when one key must
 * still wait (giving back what was counted under the keys before it).
 */
async function reserveAttempt(store: TenancyStore, username: string, ip: string, now: Date): Promise<void> {
  const keys = throttleKeys(username, ip);
  for (const [i, { key, free }] of keys.entries()) {
    if (await store.reserveLoginAttempt(key, now.getTime(), free)) continue;
    for (const counted of keys.slice(0, i)) await store.refundLoginAttempt(counted.key);
    const attempts = await store.getLoginAttempts(key);
    // The count may have been cleared meanwhile by a success: then a retry in a second is right.
    const wait = Math.max(
      1,
      attempts ? loginWaitSeconds(attempts.failures, new Date(attempts.lastFailureMs), now, free) : 0,
    );
    throw new AppError(
      'TOO_MANY_LOGIN_ATTEMPTS',
      i === 0
        ? `Too many failed logins for "${username}" from your address; try again in ${wait} s.`
        : `Too many failed logins from your address; try again in ${wait} s.`,
      { retryAfterSeconds: wait },
      { 'retry-after': String(wait) },
    );
  }
}

/** Forgets the (username, address) failures and gives back the address attempt of a success. */
async function attemptSucceeded(store: TenancyStore, username: string, ip: string): Promise<void> {
  const [user, address] = throttleKeys(username, ip);
  if (user) await store.clearLoginAttempts(user.key);
  if (address) await store.refundLoginAttempt(address.key);
}

/**
 * Checks `password` of `username` behind the throttle: answers the user when it is right, undefined
 * when the user is unknown or the password wrong (the attempt then stays counted).
 */
async function checkPassword(
  store: TenancyStore,
  request: FastifyRequest,
  username: string,
  password: string,
  now: Date,
) {
  await reserveAttempt(store, username, request.ip, now);
  let user: Awaited<ReturnType<TenancyStore['findUserByUsername']>>;
  let valid: boolean;
  try {
    user = await store.findUserByUsername(username);
    valid = await verifyPassword(password, user?.password_hash ?? (await decoyHash()));
  } catch (error) {
    // No password was checked (the check queue was full, or the store failed): the attempt is given back.
    for (const { key } of throttleKeys(username, request.ip)) await store.refundLoginAttempt(key);
    throw error;
  }
  if (!user || !valid) return undefined;
  await attemptSucceeded(store, username, request.ip);
  if (isOutdatedHash(user.password_hash)) {
    // Upgraded while the password is at hand; a failure (a full disk) must not refuse the login.
    try {
      await store.updateUser(user.id, { password_hash: await hashPassword(password) });
    } catch (error) {
      request.log.warn({ err: error, user: user.username }, 'upgrading a password hash failed');
    }
  }
  return user;
}

/** Registers the `/auth/…` routes (under `/api/v1`). */
export function registerAuthRoutes(app: Api, deps: RouteDeps): void {
  const store = deps.stores.tenancy;
  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Exchange a username and password for a bearer token.',
        description:
          'Failed attempts are counted per (username, client address) and per client address; past the free ' +
          'attempts the caller must wait (429 with Retry-After; also, uncounted, while the server checks too many passwords at once). `passwordChangeRequired` means the session ' +
          'may only call /auth/me, /auth/password, /auth/logout and DELETE /auth/sessions until the password is changed.',
        security: [],
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 100 }),
            password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: LoginResultSchema,
          401: Type.Ref('ErrorEnvelope'),
          403: Type.Ref('ErrorEnvelope'),
          429: Type.Ref('ErrorEnvelope'),
        },
      },
    },
    async (request) => {
      const { username, password } = request.body;
      const now = deps.clock();
      const user = await checkPassword(store, request, username, password, now);
      if (!user) throw new AppError('INVALID_CREDENTIALS', 'Unknown username or wrong password.');
      if (user.disabled_at !== null) {
        throw new AppError('USER_DISABLED', `The user "${username}" is disabled; ask the instance admin.`);
      }
      const token = newSecret('pbs_');
      const expiresAt = new Date(now.getTime() + SESSION_TTL_MS).toISOString();
      await store.insertToken({
        id: newId('tok'),
        kind: 'session',
        token_hash: sha256(token),
        token_hint: token.slice(-4),
        name: `login ${request.headers['user-agent'] ?? ''}`.trim().slice(0, 200),
        user_id: user.id,
        workspace_id: null,
        role: null,
        created_at: now.toISOString(),
        expires_at: expiresAt,
        last_used_at: null,
        revoked_at: null,
      });
      return { token, expiresAt, passwordChangeRequired: user.password_change_required === 1 };
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke the bearer token of this request.',
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await store.revokeToken(request.principal.tokenId, deps.clock().toISOString());
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/auth/sessions',
    {
      schema: {
        tags: ['auth'],
        summary: "End all of the calling user's sessions, this one included.",
        response: { 204: Type.Null(), 401: Type.Ref('ErrorEnvelope'), 403: Type.Ref('ErrorEnvelope') },
      },
    },
    async (request, reply) => {
      const user = requireUser(request.principal, 'end sessions');
      await store.revokeUserSessions(user.userId, deps.clock().toISOString());
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/auth/password',
    {
      schema: {
        tags: ['auth'],
        summary: "Change the calling user's password; ends the user's other sessions.",
        body: Type.Object(
          {
            currentPassword: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
            newPassword: NewPassword,
          },
          { additionalProperties: false },
        ),
        response: {
          204: Type.Null(),
          400: Type.Ref('ErrorEnvelope'),
          401: Type.Ref('ErrorEnvelope'),
          403: Type.Ref('ErrorEnvelope'),
          429: Type.Ref('ErrorEnvelope'),
        },
      },
    },
    async (request, reply) => {
      const caller = requireUser(request.principal, 'change passwords');
      const { currentPassword, newPassword } = request.body;
      if (newPassword === currentPassword) {
        throw validationError([
          { field: 'newPassword', code: 'SAME_AS_CURRENT', message: 'must differ from the current password' },
        ]);
      }
      const now = deps.clock();
      // Throttled like a login: a stolen session must not become a way to guess the password.
      const user = await checkPassword(store, request, caller.username, currentPassword, now);
      if (!user) {
        throw new AppError('CURRENT_PASSWORD_WRONG', 'currentPassword is not your current password.');
      }
      await store.updateUserEndingSessions(
        user.id,
        { password_hash: await hashPassword(newPassword), password_change_required: 0 },
        now.toISOString(),
        caller.tokenId,
      );
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'The caller: a user (with admin flag) or a workspace API token.',
        response: {
          200: MeSchema,
        },
      },
    },
    async (request) => {
      const p = request.principal;
      const windows = {
        statisticsHours: deps.config.statisticsWindowHours,
        retentionHours: deps.config.retentionHours,
      };
      return p.kind === 'user'
        ? {
            kind: p.kind,
            username: p.username,
            isAdmin: p.isAdmin,
            passwordChangeRequired: p.passwordChangeRequired,
            windows,
          }
        : {
            kind: p.kind,
            isAdmin: false,
            passwordChangeRequired: false,
            workspaceId: p.workspaceId,
            role: p.role,
            windows,
          };
    },
  );
}
