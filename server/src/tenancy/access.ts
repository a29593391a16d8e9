/**
 * Who is calling and what they may do. `authenticate` turns a bearer token into a `Principal`;
 * `authorizeWorkspace` resolves the caller's role in the workspace of the path and checks it against
 * the route's required role. Both run as `onRequest` hooks, before any body is read, so a refused
 * caller never costs an upload.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { sha256 } from '../ids.ts';
import type { Role } from '../storage/database.ts';
import type { TenancyStore } from './tenancy-store.ts';

/** The authenticated caller: a logged-in user, or a workspace API token. */
export type Principal =
  | {
      kind: 'user';
      tokenId: string;
      userId: string;
      username: string;
      isAdmin: boolean;
      /** The user must change a generated password; until then only `PASSWORD_CHANGE_ALLOWED` routes answer. */
      passwordChangeRequired: boolean;
    }
  | { kind: 'api'; tokenId: string; workspaceId: string; role: Role; createdBy: string | null };

/** The calling user, or 403 `FORBIDDEN` for an API token: `what` names what tokens cannot do. */
export function requireUser(principal: Principal, what: string): Extract<Principal, { kind: 'user' }> {
  if (principal.kind !== 'user')
    throw new AppError('FORBIDDEN', `API tokens cannot ${what}; log in as a user.`);
  return principal;
}

/** The workspace a workspace-scoped request addresses, with the caller's role in it. */
export interface WorkspaceContext {
  id: string;
  name: string;
  role: Role;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, owner: 2 };

/** Whether `role` is at least `required`. */
export function hasRole(role: Role, required: Role): boolean {
  return RANK[role] >= RANK[required];
}

/** A session ends this long after its last use (docs/operations.md#sessions-and-api-tokens); its 30-day lifetime is its `expires_at`. */
export const SESSION_IDLE_MS = 7 * 24 * 3600 * 1000;
/**
 * `last_used_at` is written at most this often per token, and only as a best effort: authentication
 * must work on a store that cannot write (a full disk).
 */
export const TOUCH_INTERVAL_MS = 60 * 1000;
/**
 * The routes a user who must change their password may call: besides changing it, seeing who they
 * are and ending this session or all of them ("log out everywhere" after a leaked password).
 */
export const PASSWORD_CHANGE_ALLOWED = new Set([
  '/api/v1/auth/me',
  '/api/v1/auth/password',
  '/api/v1/auth/logout',
  '/api/v1/auth/sessions',
]);

/**
 * Reads the bearer token of a request and returns its principal, or throws 401 (403 for a user who
 * must change their password first). One query reads the token, its user and, for an API token, its
 * creator's role: the token stops working once the creator is no longer an owner of its workspace
 * or is disabled. Nothing here needs a write to succeed.
 */
export async function authenticate(
  store: TenancyStore,
  request: FastifyRequest,
  now: Date,
): Promise<Principal> {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) {
    throw new AppError(
      'UNAUTHENTICATED',
      'Send a bearer token: "Authorization: Bearer <token>" (POST /api/v1/auth/login gives one).',
    );
  }
  const iso = now.toISOString();
  const live = await store.findLiveToken(sha256(match[1]), iso);
  if (!live) throw new AppError('UNAUTHENTICATED', 'The bearer token is unknown, expired or revoked.');
  const { token, user } = live;
  if (!user) throw new AppError('UNAUTHENTICATED', 'The token belongs to a user that no longer exists.');
  if (user.disabled_at !== null) {
    throw new AppError('UNAUTHENTICATED', `The token belongs to the disabled user "${user.username}".`);
  }
  const lastActive = token.last_used_at ?? token.created_at;
  if (token.kind === 'session' && now.getTime() - Date.parse(lastActive) > SESSION_IDLE_MS) {
    throw new AppError('UNAUTHENTICATED', 'The session ended after 7 days unused; log in again.');
  }
  if (token.kind === 'api' && live.creatorRole !== 'owner') {
    throw new AppError(
      'UNAUTHENTICATED',
      `The API token stopped working: its creator "${user.username}" is no longer an owner of its workspace.`,
    );
  }
  if (token.last_used_at === null || now.getTime() - Date.parse(token.last_used_at) >= TOUCH_INTERVAL_MS) {
    try {
      await store.touchToken(token.id, iso);
    } catch (error) {
      request.log.warn({ err: error, tokenId: token.id }, 'recording the use of a token failed');
    }
  }
  if (token.kind === 'api') {
    if (!token.workspace_id || !token.role)
      throw new AppError('UNAUTHENTICATED', 'The bearer token is malformed.');
    return {
      kind: 'api',
      tokenId: token.id,
      workspaceId: token.workspace_id,
      role: token.role,
      createdBy: token.user_id,
    };
  }
  const passwordChangeRequired = user.password_change_required === 1;
  if (passwordChangeRequired && !PASSWORD_CHANGE_ALLOWED.has(request.routeOptions.url ?? '')) {
    throw new AppError(
      'PASSWORD_CHANGE_REQUIRED',
      'Change the generated password first: POST /api/v1/auth/password {currentPassword, newPassword}.',
    );
  }
  return {
    kind: 'user',
    tokenId: token.id,
    userId: token.user_id as string,
    username: user.username,
    isAdmin: user.is_admin === 1,
    passwordChangeRequired,
  };
}

/**
 * The caller's access to workspace `workspaceId`. A workspace the caller cannot see answers 404
 * exactly like one that does not exist, so IDs of other tenants leak nothing.
 */
export async function resolveWorkspace(
  store: TenancyStore,
  principal: Principal,
  workspaceId: string,
): Promise<WorkspaceContext> {
  const notFound = new AppError(
    'WORKSPACE_NOT_FOUND',
    `Workspace ${workspaceId} does not exist or you are not a member.`,
  );
  const workspace = await store.findWorkspace(workspaceId);
  if (!workspace) throw notFound;
  if (principal.kind === 'api') {
    if (principal.workspaceId !== workspaceId) throw notFound;
    return { id: workspace.id, name: workspace.name, role: principal.role };
  }
  const membership = await store.findMembership(workspaceId, principal.userId);
  if (!membership) throw notFound;
  return { id: workspace.id, name: workspace.name, role: membership.role };
}

/** The role a route needs: its `config.minRole`, else `viewer` for reads and `operator` for writes. */
export function requiredRole(method: string, configured: Role | undefined): Role {
  if (configured) return configured;
  return method === 'GET' || method === 'HEAD' ? 'viewer' : 'operator';
}

/** Throws 403 unless `role` is enough for `required`. */
export function assertRole(role: Role, required: Role): void {
  if (!hasRole(role, required)) {
    throw new AppError('FORBIDDEN', `This needs the ${required} role in the workspace; you are ${role}.`);
  }
}
