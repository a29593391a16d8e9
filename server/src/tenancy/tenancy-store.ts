/**
 * What tenancy (workspaces, users, memberships, access tokens, login throttling) needs from storage,
 * and its Kysely implementation, which runs unchanged on every backend.
 */
import { sql } from 'kysely';
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

/** A new user: the account flags default to enabled with no password change required. */
export type NewUser = Omit<UserRow, 'disabled_at' | 'password_change_required'> &
  Partial<Pick<UserRow, 'disabled_at' | 'password_change_required'>>;

/** What may change on a user. */
export type UserChanges = Partial<
  Pick<UserRow, 'password_hash' | 'disabled_at' | 'password_change_required'>
>;

/**
 * A live bearer token with what authentication decides on in the same query: its user (the
 * session's user, or the API token's creator) and that user's role in the token's workspace.
 */
export interface LiveToken {
  token: AccessTokenRow;
  user: Pick<UserRow, 'username' | 'is_admin' | 'disabled_at' | 'password_change_required'> | undefined;
  /** The creator's current role in the API token's workspace (null when not a member, or a session). */
  creatorRole: Role | null;
}

/** A workspace API token with the username of its creator. */
export type ListedToken = AccessTokenRow & { created_by: string | null };

/** A throttle key's counted login attempts. */
export interface LoginAttempts {
  failures: number;
  lastFailureMs: number;
}

/** Milliseconds after its last failure when a throttle key starts over. */
export const LOGIN_FAILURES_FORGOTTEN_MS = 24 * 3600 * 1000;
/** Longest wait imposed between attempts, in seconds. */
export const MAX_LOCKOUT_S = 15 * 60;

/** Storage operations of the tenancy module. */
export interface TenancyStore {
  countUsers(): Promise<number>;
  findUserByUsername(username: string): Promise<UserRow | undefined>;
  findUser(id: string): Promise<UserRow | undefined>;
  listUsers(): Promise<UserRow[]>;
  /** Inserts a user; returns false when the username is taken. */
  insertUser(user: NewUser): Promise<boolean>;
  updateUser(id: string, changes: UserChanges): Promise<void>;
  /**
   * Changes a user and revokes their live sessions except `exceptTokenId` in one transaction (a new
   * password or disabling must not leave the old sessions working); returns how many ended.
   */
  updateUserEndingSessions(
    id: string,
    changes: UserChanges,
    now: string,
    exceptTokenId?: string,
  ): Promise<number>;
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
  /** The unrevoked, unexpired token with this hash, if any, with its user and the creator's role. */
  findLiveToken(tokenHash: string, now: string): Promise<LiveToken | undefined>;
  touchToken(id: string, now: string): Promise<void>;
  listWorkspaceTokens(workspaceId: string): Promise<ListedToken[]>;
  findWorkspaceToken(workspaceId: string, id: string): Promise<AccessTokenRow | undefined>;
  revokeToken(id: string, now: string): Promise<void>;
  /** Revokes every live session of a user, except `exceptTokenId`; returns how many. */
  revokeUserSessions(userId: string, now: string, exceptTokenId?: string): Promise<number>;
  /**
   * Counts one login attempt for `key` in one conditional write, unless the key must still wait
   * (more than `freeAttempts` failures and the doubling wait since the last one not over): answers
   * whether the attempt was counted. Concurrent callers are serialised by the database, so no more
   * attempts get through than one after the other.
   */
  reserveLoginAttempt(key: string, nowMs: number, freeAttempts: number): Promise<boolean>;
  getLoginAttempts(key: string): Promise<LoginAttempts | undefined>;
  /** Gives back one counted attempt (it was not used to check a password, or it succeeded); a key left with none is deleted. */
  refundLoginAttempt(key: string): Promise<void>;
  clearLoginAttempts(key: string): Promise<void>;
  /** Deletes the counts whose last failure is old enough to be forgotten at `nowMs`; returns how many. */
  forgetLoginAttempts(nowMs: number): Promise<number>;
}

/** Writes `changes` to user `id` through `db` (a transaction or not). */
async function writeUser(db: Db, id: string, changes: UserChanges): Promise<void> {
  // An empty SET is not SQL: nothing to change is nothing to write.
  if (Object.keys(changes).length === 0) return;
  await db.updateTable('users').set(changes).where('id', '=', id).execute();
}

/** Revokes the live sessions of a user but `exceptTokenId` through `db`; returns how many. */
async function revokeSessions(db: Db, userId: string, now: string, exceptTokenId?: string): Promise<number> {
  let query = db
    .updateTable('access_tokens')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('kind', '=', 'session')
    .where('revoked_at', 'is', null);
  if (exceptTokenId !== undefined) query = query.where('id', '!=', exceptTokenId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
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
    updateUser: (id, changes) => writeUser(db, id, changes),
    updateUserEndingSessions: (id, changes, now, exceptTokenId) =>
      db.transaction().execute(async (trx) => {
        await writeUser(trx, id, changes);
        return revokeSessions(trx, id, now, exceptTokenId);
      }),
    async insertUser(user) {
      const result = await db
        .insertInto('users')
        .values({
          ...user,
          disabled_at: user.disabled_at ?? null,
          password_change_required: user.password_change_required ?? 0,
        })
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
    async findLiveToken(tokenHash, now) {
      const row = await db
        .selectFrom('access_tokens')
        .leftJoin('users', 'users.id', 'access_tokens.user_id')
        .leftJoin('memberships', (join) =>
          join
            .onRef('memberships.workspace_id', '=', 'access_tokens.workspace_id')
            .onRef('memberships.user_id', '=', 'access_tokens.user_id'),
        )
        .selectAll('access_tokens')
        .select([
          'users.username as user_username',
          'users.is_admin as user_is_admin',
          'users.disabled_at as user_disabled_at',
          'users.password_change_required as user_password_change_required',
          'memberships.role as creator_role',
        ])
        .where('access_tokens.token_hash', '=', tokenHash)
        .where('access_tokens.revoked_at', 'is', null)
        .where((eb) =>
          eb.or([eb('access_tokens.expires_at', 'is', null), eb('access_tokens.expires_at', '>', now)]),
        )
        .executeTakeFirst();
      if (!row) return undefined;
      const {
        user_username,
        user_is_admin,
        user_disabled_at,
        user_password_change_required,
        creator_role,
        ...token
      } = row;
      return {
        token,
        user:
          user_username === null
            ? undefined
            : {
                username: user_username,
                is_admin: Number(user_is_admin),
                disabled_at: user_disabled_at,
                password_change_required: Number(user_password_change_required),
              },
        creatorRole: token.kind === 'api' ? creator_role : null,
      };
    },
    async touchToken(id, now) {
      await db.updateTable('access_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
    },
    listWorkspaceTokens: (workspaceId) =>
      db
        .selectFrom('access_tokens')
        .leftJoin('users', 'users.id', 'access_tokens.user_id')
        .selectAll('access_tokens')
        .select('users.username as created_by')
        .where('access_tokens.workspace_id', '=', workspaceId)
        .where('access_tokens.kind', '=', 'api')
        .orderBy('access_tokens.created_at')
        .orderBy('access_tokens.id')
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
    revokeUserSessions: (userId, now, exceptTokenId) => revokeSessions(db, userId, now, exceptTokenId),
    async reserveLoginAttempt(key, nowMs, freeAttempts) {
      const now = sql<number>`cast(${nowMs} as bigint)`;
      const free = sql<number>`cast(${freeAttempts} as integer)`;
      const failures = sql.ref<number>('login_throttles.failures');
      const last = sql.ref<number>('login_throttles.last_failure_ms');
      // The wait after `failures` failures, as in `loginWaitSeconds`: none for the free attempts, then
      // 1 s doubling with each failure, capped at MAX_LOCKOUT_S (2^10 s is past the cap).
      const waitMs = sql<number>`case when ${failures} < ${free} then 0
        when ${failures} - ${free} >= 10 then ${MAX_LOCKOUT_S * 1000}
        else (1 << (${failures} - ${free})) * 1000 end`;
      const forgotten = sql<boolean>`${last} < ${now} - ${LOGIN_FAILURES_FORGOTTEN_MS}`;
      const row = await db
        .insertInto('login_throttles')
        .values({ key, failures: 1, last_failure_ms: nowMs })
        .onConflict((oc) =>
          oc
            .column('key')
            .doUpdateSet({
              failures: sql<number>`case when ${forgotten} then 1 else ${failures} + 1 end`,
              last_failure_ms: now,
            })
            .where(sql<boolean>`${forgotten} or ${last} + ${waitMs} <= ${now}`),
        )
        .returning('failures')
        .executeTakeFirst();
      return row !== undefined;
    },
    async getLoginAttempts(key) {
      const row = await db
        .selectFrom('login_throttles')
        .selectAll()
        .where('key', '=', key)
        .executeTakeFirst();
      return row && { failures: Number(row.failures), lastFailureMs: Number(row.last_failure_ms) };
    },
    async refundLoginAttempt(key) {
      // A key given back its last attempt is deleted, so that every address that ever logged in
      // successfully does not leave a row behind.
      const deleted = await db
        .deleteFrom('login_throttles')
        .where('key', '=', key)
        .where('failures', '<=', 1)
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) > 0) return;
      await db
        .updateTable('login_throttles')
        .set((eb) => ({ failures: eb('failures', '-', 1) }))
        .where('key', '=', key)
        .where('failures', '>', 1)
        .execute();
    },
    async clearLoginAttempts(key) {
      await db.deleteFrom('login_throttles').where('key', '=', key).execute();
    },
    async forgetLoginAttempts(nowMs) {
      // The next attempt would start over on these anyway: keeping them only grows the table.
      const result = await db
        .deleteFrom('login_throttles')
        .where('last_failure_ms', '<', nowMs - LOGIN_FAILURES_FORGOTTEN_MS)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
