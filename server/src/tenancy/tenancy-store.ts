/**
 * What tenancy (workspaces, users, memberships, access tokens, login throttling) needs from storage,
 * and its Kysely implementation, which runs unchanged on every backend.
 */
import type { AccessTokenRow, Db, MembershipRow, Role, UserRow, WorkspaceRow } from '../storage/database.ts';

/** A workspace as one principal sees it. */
export interface WorkspaceAccess {
  id: string;
  name: string;
  role: Role;
}

/** A member of a workspace, with the member's username. */
export interface Member {
  userId: string;
  username: string;
  role: Role;
  createdAt: string;
}

/** Storage operations of the tenancy module. */
export interface TenancyStore {
  countUsers(): Promise<number>;
  findUserByUsername(username: string): Promise<UserRow | undefined>;
  findUser(id: string): Promise<UserRow | undefined>;
  listUsers(): Promise<UserRow[]>;
  /** Inserts a user; returns false when the username is taken. */
  insertUser(user: UserRow): Promise<boolean>;
  insertWorkspace(workspace: WorkspaceRow, owner: MembershipRow | null): Promise<void>;
  findWorkspace(id: string): Promise<WorkspaceRow | undefined>;
  renameWorkspace(id: string, name: string): Promise<void>;
  /** The workspaces a user is a member of, with the user's role in each. */
  listUserWorkspaces(userId: string): Promise<WorkspaceAccess[]>;
  findMembership(workspaceId: string, userId: string): Promise<MembershipRow | undefined>;
  listMembers(workspaceId: string): Promise<Member[]>;
  /** Inserts a membership; returns false when the user is already a member. */
  insertMembership(membership: MembershipRow): Promise<boolean>;
  updateMembershipRole(workspaceId: string, userId: string, role: Role): Promise<void>;
  deleteMembership(workspaceId: string, userId: string): Promise<void>;
  countOwners(workspaceId: string): Promise<number>;
  insertToken(token: AccessTokenRow): Promise<void>;
  /** The unrevoked, unexpired token with this hash, if any. */
  findLiveToken(tokenHash: string, now: string): Promise<AccessTokenRow | undefined>;
  touchToken(id: string, now: string): Promise<void>;
  listWorkspaceTokens(workspaceId: string): Promise<AccessTokenRow[]>;
  findWorkspaceToken(workspaceId: string, id: string): Promise<AccessTokenRow | undefined>;
  revokeToken(id: string, now: string): Promise<void>;
  getLoginFailures(username: string): Promise<{ failures: number; lastFailureAt: string } | undefined>;
  recordLoginFailure(username: string, now: string): Promise<void>;
  clearLoginFailures(username: string): Promise<void>;
}

/** The tenancy store over Kysely. */
export function createTenancyStore(db: Db): TenancyStore {
  return {
    async countUsers() {
      const row = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    findUserByUsername: (username) =>
      db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst(),
    findUser: (id) => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst(),
    listUsers: () => db.selectFrom('users').selectAll().orderBy('created_at').orderBy('id').execute(),
    async insertUser(user) {
      const result = await db
        .insertInto('users')
        .values(user)
        .onConflict((oc) => oc.column('username').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },
    async insertWorkspace(workspace, owner) {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('workspaces').values(workspace).execute();
        if (owner) await trx.insertInto('memberships').values(owner).execute();
      });
    },
    findWorkspace: (id) => db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst(),
    async renameWorkspace(id, name) {
      await db.updateTable('workspaces').set({ name }).where('id', '=', id).execute();
    },
    listUserWorkspaces: (userId) =>
      db
        .selectFrom('memberships')
        .innerJoin('workspaces', 'workspaces.id', 'memberships.workspace_id')
        .select(['workspaces.id as id', 'workspaces.name as name', 'memberships.role as role'])
        .where('memberships.user_id', '=', userId)
        .orderBy('workspaces.created_at')
        .orderBy('workspaces.id')
        .execute(),
    findMembership: (workspaceId, userId) =>
      db
        .selectFrom('memberships')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .where('user_id', '=', userId)
        .executeTakeFirst(),
    async listMembers(workspaceId) {
      const rows = await db
        .selectFrom('memberships')
        .innerJoin('users', 'users.id', 'memberships.user_id')
        .select([
          'users.id as userId',
          'users.username as username',
          'memberships.role as role',
          'memberships.created_at as createdAt',
        ])
        .where('memberships.workspace_id', '=', workspaceId)
        .orderBy('memberships.created_at')
        .orderBy('users.username')
        .execute();
      return rows;
    },
    async insertMembership(membership) {
      const result = await db
        .insertInto('memberships')
        .values(membership)
        .onConflict((oc) => oc.columns(['workspace_id', 'user_id']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },
    async updateMembershipRole(workspaceId, userId, role) {
      await db
        .updateTable('memberships')
        .set({ role })
        .where('workspace_id', '=', workspaceId)
        .where('user_id', '=', userId)
        .execute();
    },
    async deleteMembership(workspaceId, userId) {
      await db
        .deleteFrom('memberships')
        .where('workspace_id', '=', workspaceId)
        .where('user_id', '=', userId)
        .execute();
    },
    async countOwners(workspaceId) {
      const row = await db
        .selectFrom('memberships')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('workspace_id', '=', workspaceId)
        .where('role', '=', 'owner')
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async insertToken(token) {
      await db.insertInto('access_tokens').values(token).execute();
    },
    findLiveToken: (tokenHash, now) =>
      db
        .selectFrom('access_tokens')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .executeTakeFirst(),
    async touchToken(id, now) {
      await db.updateTable('access_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
    },
    listWorkspaceTokens: (workspaceId) =>
      db
        .selectFrom('access_tokens')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .where('kind', '=', 'api')
        .orderBy('created_at')
        .orderBy('id')
        .execute(),
    findWorkspaceToken: (workspaceId, id) =>
      db
        .selectFrom('access_tokens')
        .selectAll()
        .where('workspace_id', '=', workspaceId)
        .where('kind', '=', 'api')
        .where('id', '=', id)
        .executeTakeFirst(),
    async revokeToken(id, now) {
      await db
        .updateTable('access_tokens')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    },
    async getLoginFailures(username) {
      const row = await db
        .selectFrom('login_failures')
        .selectAll()
        .where('username', '=', username)
        .executeTakeFirst();
      return row && { failures: Number(row.failures), lastFailureAt: row.last_failure_at };
    },
    async recordLoginFailure(username, now) {
      await db
        .insertInto('login_failures')
        .values({ username, failures: 1, last_failure_at: now })
        .onConflict((oc) =>
          oc.column('username').doUpdateSet((eb) => ({
            failures: eb('login_failures.failures', '+', 1),
            last_failure_at: now,
          })),
        )
        .execute();
    },
    async clearLoginFailures(username) {
      await db.deleteFrom('login_failures').where('username', '=', username).execute();
    },
  };
}
