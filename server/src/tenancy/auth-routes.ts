/**
 * Login, logout and "who am I". Failed logins are counted per username in the store (so the
 * slowdown holds across processes): after `FREE_ATTEMPTS` consecutive failures each further attempt
 * must wait twice as long as the previous one, up to `MAX_LOCKOUT_S`.
 */
import { Type } from 'typebox';
import type { Api, RouteDeps } from '../app.ts';
import { AppError } from '../errors.ts';
import { newId, newSecret, sha256 } from '../ids.ts';
import { DECOY_HASH, verifyPassword } from './passwords.ts';
import type { TenancyStore } from './tenancy-store.ts';

/** Consecutive failed logins allowed before attempts are slowed down. */
const FREE_ATTEMPTS = 5;
/** Longest wait imposed between attempts, in seconds. */
const MAX_LOCKOUT_S = 15 * 60;
/** Lifetime of a login session, in milliseconds. */
const SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

/** Seconds a caller must still wait before the next login attempt for a username, 0 if none. */
export function loginWaitSeconds(failures: number, lastFailureAt: Date, now: Date): number {
  if (failures < FREE_ATTEMPTS) return 0;
  const lockout = Math.min(2 ** (failures - FREE_ATTEMPTS), MAX_LOCKOUT_S);
  const elapsed = (now.getTime() - lastFailureAt.getTime()) / 1000;
  return Math.max(0, Math.ceil(lockout - elapsed));
}

/** Registers `/auth/login`, `/auth/logout` and `/auth/me` (under `/api/v1`). */
export function registerAuthRoutes(app: Api, deps: RouteDeps, store: TenancyStore): void {
  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Exchange a username and password for a bearer token.',
        security: [],
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 100 }),
            password: Type.String({ minLength: 1, maxLength: 1000 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ token: Type.String(), expiresAt: Type.String({ format: 'date-time' }) }),
          401: Type.Ref('ErrorEnvelope'),
          429: Type.Ref('ErrorEnvelope'),
        },
      },
    },
    async (request) => {
      const { username, password } = request.body;
      const now = deps.clock();
      const record = await store.getLoginFailures(username);
      if (record) {
        const wait = loginWaitSeconds(record.failures, new Date(record.lastFailureAt), now);
        if (wait > 0) {
          throw new AppError(
            'TOO_MANY_LOGIN_ATTEMPTS',
            `Too many failed logins for "${username}"; try again in ${wait} s.`,
            { retryAfterSeconds: wait },
            { 'retry-after': String(wait) },
          );
        }
      }
      const user = await store.findUserByUsername(username);
      const valid = await verifyPassword(password, user?.password_hash ?? DECOY_HASH);
      if (!user || !valid) {
        await store.recordLoginFailure(username, now.toISOString());
        throw new AppError('INVALID_CREDENTIALS', 'Unknown username or wrong password.');
      }
      await store.clearLoginFailures(username);
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
      return { token, expiresAt };
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

  app.get(
    '/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'The caller: a user (with admin flag) or a workspace API token.',
        response: {
          200: Type.Object({
            kind: Type.Union([Type.Literal('user'), Type.Literal('api')]),
            username: Type.Optional(Type.String()),
            isAdmin: Type.Boolean(),
            workspaceId: Type.Optional(Type.String()),
            role: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async (request) => {
      const p = request.principal;
      return p.kind === 'user'
        ? { kind: p.kind, username: p.username, isAdmin: p.isAdmin }
        : { kind: p.kind, isAdmin: false, workspaceId: p.workspaceId, role: p.role };
    },
  );
}
