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
  | { kind: 'user'; tokenId: string; userId: string; username: string; isAdmin: boolean }
  | { kind: 'api'; tokenId: string; workspaceId: string; role: Role; createdBy: string | null };

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

/** Reads the bearer token of a request and returns its principal, or throws 401. */
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
  const token = await store.findLiveToken(sha256(match[1]), iso);
  if (!token) throw new AppError('UNAUTHENTICATED', 'The bearer token is unknown, expired or revoked.');
  await store.touchToken(token.id, iso);
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
  const user = token.user_id ? await store.findUser(token.user_id) : undefined;
  if (!user) throw new AppError('UNAUTHENTICATED', 'The session belongs to a user that no longer exists.');
  return {
    kind: 'user',
    tokenId: token.id,
    userId: user.id,
    username: user.username,
    isAdmin: user.is_admin === 1,
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
