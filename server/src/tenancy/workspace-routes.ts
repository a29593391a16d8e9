/**
 * Tenancy endpoints of docs/api.md#shapes: workspaces, instance users, workspace members and workspace API
 * tokens. Members and tokens are managed by owners only; users by the instance admin only.
 */
import { Type } from 'typebox';
import { AppError, validationError } from '../errors.ts';
import type { Api, RouteDeps } from '../http/route-deps.ts';
import { authErrors, Name, RoleSchema } from '../http/schemas.ts';
import { newId, newSecret, sha256 } from '../ids.ts';
import type { AccessTokenRow, UserRow } from '../storage/database.ts';
import { type Principal, requireUser } from './access.ts';
import { hashPassword } from './passwords.ts';
import {
  MemberSchema,
  NewPassword,
  TokenSchema,
  Username,
  UserSchema,
  WorkspaceParams,
  WorkspaceSchema,
} from './tenancy-schemas.ts';
import type { TenancyStore, UserChanges } from './tenancy-store.ts';

function userView(row: UserRow) {
  return {
    id: row.id,
    username: row.username,
    isAdmin: row.is_admin === 1,
    disabled: row.disabled_at !== null,
    createdAt: row.created_at,
  };
}

function requireAdmin(principal: Principal, what: string) {
  const user = requireUser(principal, what);
  if (!user.isAdmin) throw new AppError('FORBIDDEN', `Only the instance admin can ${what}.`);
  return user;
}

function tokenView(row: AccessTokenRow, createdBy: string | null, token?: string) {
  return {
    id: row.id,
    name: row.name,
    role: row.role ?? 'viewer',
    token: token ?? `…${row.token_hint}`,
    createdAt: row.created_at,
    createdBy,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** Registers the workspace, user, member and token routes (under `/api/v1`). */
export function registerWorkspaceRoutes(app: Api, deps: RouteDeps): void {
  const store = deps.stores.tenancy;
  app.get(
    '/workspaces',
    {
      schema: {
        tags: ['tenancy'],
        summary: "The caller's workspaces with the caller's role in each.",
        response: {
          200: Type.Object({ items: Type.Array(WorkspaceSchema) }),
          401: Type.Ref('ErrorEnvelope'),
        },
      },
    },
    async (request) => {
      const p = request.principal;
      if (p.kind === 'api') {
        const ws = await store.findWorkspace(p.workspaceId);
        return { items: ws ? [{ id: ws.id, name: ws.name, role: p.role }] : [] };
      }
      return { items: await store.listUserWorkspaces(p.userId) };
    },
  );

  app.post(
    '/workspaces',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Create a workspace; the calling user becomes its owner.',
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 201: WorkspaceSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const user = requireUser(request.principal, 'create workspaces');
      const now = deps.clock().toISOString();
      const id = newId('ws');
      await store.insertWorkspace(
        { id, name: request.body.name.trim(), created_at: now },
        { workspace_id: id, user_id: user.userId, role: 'owner', created_at: now },
      );
      return reply.status(201).send({ id, name: request.body.name.trim(), role: 'owner' as const });
    },
  );

  app.get(
    '/workspaces/:workspaceId',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'One workspace.',
        params: WorkspaceParams,
        response: { 200: WorkspaceSchema, ...authErrors },
      },
    },
    async (request) => request.workspace,
  );

  app.patch(
    '/workspaces/:workspaceId',
    {
      config: { minRole: 'owner' },
      schema: {
        tags: ['tenancy'],
        summary: 'Rename a workspace (owner).',
        params: WorkspaceParams,
        body: Type.Object({ name: Name }, { additionalProperties: false }),
        response: { 200: WorkspaceSchema, ...authErrors },
      },
    },
    async (request) => {
      await store.renameWorkspace(request.workspace.id, request.body.name.trim());
      return { ...request.workspace, name: request.body.name.trim() };
    },
  );

  app.get(
    '/users',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'All users of this instance (instance admin).',
        response: { 200: Type.Object({ items: Type.Array(UserSchema) }), ...authErrors },
      },
    },
    async (request) => {
      requireAdmin(request.principal, 'list users');
      return { items: (await store.listUsers()).map(userView) };
    },
  );

  app.post(
    '/users',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Create a user (instance admin). The user starts with no workspace.',
        body: Type.Object({ username: Username, password: NewPassword }, { additionalProperties: false }),
        response: { 201: UserSchema, 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      requireAdmin(request.principal, 'create users');
      const row: UserRow = {
        id: newId('usr'),
        username: request.body.username,
        password_hash: await hashPassword(request.body.password),
        is_admin: 0,
        created_at: deps.clock().toISOString(),
        disabled_at: null,
        password_change_required: 0,
      };
      if (!(await store.insertUser(row))) {
        throw new AppError('USERNAME_TAKEN', `The username "${row.username}" is already taken.`);
      }
      return reply.status(201).send(userView(row));
    },
  );

  app.patch(
    '/users/:username',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Reset a password or disable / enable a user (instance admin).',
        description:
          "A new password or disabling ends the user's sessions; a disabled user cannot log in and their " +
          'API tokens stop working until they are enabled again. The admin cannot disable themself.',
        params: Type.Object({ username: Type.String({ maxLength: 100 }) }),
        body: Type.Object(
          { password: Type.Optional(NewPassword), disabled: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 200: UserSchema, 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request) => {
      const admin = requireAdmin(request.principal, 'change users');
      const user = await store.findUserByUsername(request.params.username);
      if (!user) throw new AppError('USER_NOT_FOUND', `There is no user "${request.params.username}".`);
      const { password, disabled } = request.body;
      if (disabled === true && user.id === admin.userId) {
        throw new AppError(
          'CANNOT_DISABLE_SELF',
          'You cannot disable yourself: the instance would be left without an admin who can log in.',
        );
      }
      const now = deps.clock().toISOString();
      const changes: UserChanges = {};
      if (password !== undefined) changes.password_hash = await hashPassword(password);
      if (disabled !== undefined) changes.disabled_at = disabled ? (user.disabled_at ?? now) : null;
      if (password !== undefined || disabled === true)
        await store.updateUserEndingSessions(user.id, changes, now);
      else await store.updateUser(user.id, changes);
      return userView({ ...user, ...changes });
    },
  );

  app.get(
    '/workspaces/:workspaceId/members',
    {
      schema: {
        tags: ['tenancy'],
        summary: 'Members of a workspace.',
        params: WorkspaceParams,
        response: { 200: Type.Object({ items: Type.Array(MemberSchema) }), ...authErrors },
      },
    },
    async (request) => ({ items: await store.listMembers(request.workspace.id) }),
  );

  app.post(
    '/workspaces/:workspaceId/members',
    {
      config: { minRole: 'owner' },
      schema: {
        tags: ['tenancy'],
        summary: 'Add an existing user to the workspace with a role (owner).',
        params: WorkspaceParams,
        body: Type.Object({ username: Username, role: RoleSchema }, { additionalProperties: false }),
        response: { 201: MemberSchema, 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      const user = await store.findUserByUsername(request.body.username);
      if (!user)
        throw new AppError(
          'USER_NOT_FOUND',
          `There is no user "${request.body.username}"; an admin creates users first.`,
        );
      const createdAt = deps.clock().toISOString();
      const inserted = await store.insertMembership({
        workspace_id: request.workspace.id,
        user_id: user.id,
        role: request.body.role,
        created_at: createdAt,
      });
      if (!inserted)
        throw new AppError(
          'MEMBER_EXISTS',
          `${user.username} is already a member; change the role with PATCH.`,
        );
      return reply
        .status(201)
        .send({ userId: user.id, username: user.username, role: request.body.role, createdAt });
    },
  );

  app.patch(
    '/workspaces/:workspaceId/members/:username',
    {
      config: { minRole: 'owner' },
      schema: {
        tags: ['tenancy'],
        summary: "Change a member's role (owner). The last owner cannot be demoted.",
        params: Type.Object({ workspaceId: Type.String(), username: Type.String() }),
        body: Type.Object({ role: RoleSchema }, { additionalProperties: false }),
        response: { 200: MemberSchema, 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request) => {
      const member = await findMember(store, request.workspace.id, request.params.username);
      if (
        member.role === 'owner' &&
        request.body.role !== 'owner' &&
        (await store.countOwners(request.workspace.id)) <= 1
      ) {
        throw new AppError(
          'LAST_OWNER',
          'A workspace needs at least one owner; make someone else owner first.',
        );
      }
      await store.updateMembershipRole(request.workspace.id, member.userId, request.body.role);
      return { ...member, role: request.body.role };
    },
  );

  app.delete(
    '/workspaces/:workspaceId/members/:username',
    {
      config: { minRole: 'owner' },
      schema: {
        tags: ['tenancy'],
        summary: 'Remove a member (owner). The last owner cannot be removed.',
        params: Type.Object({ workspaceId: Type.String(), username: Type.String() }),
        response: { 204: Type.Null(), 409: Type.Ref('ErrorEnvelope'), ...authErrors },
      },
    },
    async (request, reply) => {
      const member = await findMember(store, request.workspace.id, request.params.username);
      if (member.role === 'owner' && (await store.countOwners(request.workspace.id)) <= 1) {
        throw new AppError(
          'LAST_OWNER',
          'A workspace needs at least one owner; make someone else owner first.',
        );
      }
      await store.deleteMembership(request.workspace.id, member.userId);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/workspaces/:workspaceId/tokens',
    {
      config: { minRole: 'owner' },
      schema: {
        tags: ['tenancy'],
        summary: 'API tokens of the workspace, masked (owner).',
        params: WorkspaceParams,
        response: { 200: Type.Object({ items: Type.Array(TokenSchema) }), ...authErrors },
      },
    },
    async (request) => ({
      items: (await store.listWorkspaceTokens(request.workspace.id)).map((row) =>
        tokenView(row, row.created_by),
      ),
    }),
  );

  app.post(
    '/workspaces/:workspaceId/tokens',
    {
      config: { minRole: 'owner' },
      schema: {
        tags: ['tenancy'],
        summary: 'Create an API token with a role (owner). The token is shown in this response only.',
        params: WorkspaceParams,
        body: Type.Object(
          {
            name: Name,
            role: RoleSchema,
            expiresAt: Type.Optional(
              Type.String({
                format: 'date-time',
                description: 'When the token stops working (in the future).',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: TokenSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const now = deps.clock();
      const expiresAt = request.body.expiresAt === undefined ? null : new Date(request.body.expiresAt);
      if (expiresAt && !(expiresAt.getTime() > now.getTime())) {
        throw validationError([
          { field: 'expiresAt', code: 'TIME_NOT_FUTURE', message: 'must be a time in the future' },
        ]);
      }
      // The token works only while its creator is an owner here; a token creating a token hands on its creator.
      const creator =
        request.principal.kind === 'user'
          ? { id: request.principal.userId, username: request.principal.username }
          : await creatorOf(store, request.principal.createdBy);
      const token = newSecret('pbt_');
      const row: AccessTokenRow = {
        id: newId('tok'),
        kind: 'api',
        token_hash: sha256(token),
        token_hint: token.slice(-4),
        name: request.body.name.trim(),
        user_id: creator.id,
        workspace_id: request.workspace.id,
        role: request.body.role,
        created_at: now.toISOString(),
        expires_at: expiresAt?.toISOString() ?? null,
        last_used_at: null,
        revoked_at: null,
      };
      await store.insertToken(row);
      return reply.status(201).send(tokenView(row, creator.username, token));
    },
  );

  app.delete(
    '/workspaces/:workspaceId/tokens/:tokenId',
    {
      config: { minRole: 'owner' },
      schema: {
        tags: ['tenancy'],
        summary: 'Revoke an API token (owner). It answers 401 from then on.',
        params: Type.Object({ workspaceId: Type.String(), tokenId: Type.String() }),
        response: { 204: Type.Null(), ...authErrors },
      },
    },
    async (request, reply) => {
      const row = await store.findWorkspaceToken(request.workspace.id, request.params.tokenId);
      if (!row)
        throw new AppError(
          'TOKEN_NOT_FOUND',
          `Token ${request.params.tokenId} does not exist in this workspace.`,
        );
      await store.revokeToken(row.id, deps.clock().toISOString());
      return reply.status(204).send(null);
    },
  );
}

async function creatorOf(store: TenancyStore, userId: string | null) {
  const user = userId ? await store.findUser(userId) : undefined;
  if (!user) throw new AppError('FORBIDDEN', 'This API token has no creator; create tokens as a user.');
  return { id: user.id, username: user.username };
}

async function findMember(store: TenancyStore, workspaceId: string, username: string) {
  const member = (await store.listMembers(workspaceId)).find((m) => m.username === username);
  if (!member) throw new AppError('MEMBER_NOT_FOUND', `${username} is not a member of this workspace.`);
  return member;
}
