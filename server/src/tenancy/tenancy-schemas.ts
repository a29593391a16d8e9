/**
 * The shapes of the auth and workspace routes as TypeBox schemas: the routes validate and serialise
 * with them, and the console takes its types from them (`web/src/api/types.ts`, type-only imports).
 */
import { Type } from 'typebox';
import { RoleSchema } from '../http/schemas.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './passwords.ts';

/** A new password as the password policy wants it (over HTTP and in `pushboard users`). */
export const NewPassword = Type.String({
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  description: `At least ${PASSWORD_MIN_LENGTH} characters.`,
});
/** The answer to a login: the bearer token, when it expires, and whether the password must change first. */
export const LoginResultSchema = Type.Object({
  token: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  passwordChangeRequired: Type.Boolean(),
});
/** The caller: a user (with the admin flag) or a workspace API token (with its workspace and role). */
export const MeSchema = Type.Object({
  kind: Type.Union([Type.Literal('user'), Type.Literal('api')]),
  username: Type.Optional(Type.String()),
  isAdmin: Type.Boolean(),
  passwordChangeRequired: Type.Boolean(),
  workspaceId: Type.Optional(Type.String()),
  role: Type.Optional(Type.String()),
  /**
   * This deployment's windows (docs/statistics.md): hours a task's statistics collect receipts after
   * sending starts, and hours its device-level details are kept — so clients say the real durations.
   */
  windows: Type.Object({ statisticsHours: Type.Integer(), retentionHours: Type.Integer() }),
});
/** A workspace with the caller's role in it. */
export const WorkspaceSchema = Type.Object({ id: Type.String(), name: Type.String(), role: RoleSchema });
/** A member of a workspace. */
export const MemberSchema = Type.Object({
  userId: Type.String(),
  username: Type.String(),
  role: RoleSchema,
  createdAt: Type.String(),
});
/** A workspace API token; the token itself is masked except in the answer that created it. */
export const TokenSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  token: Type.String({ description: 'Masked (only the last 4 characters) except in the create response.' }),
  createdAt: Type.String(),
  createdBy: Type.Union([Type.String(), Type.Null()], {
    description: 'Username of the user who created the token; it works only while that user is an owner.',
  }),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});
/** A user of the instance. */
export const UserSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  isAdmin: Type.Boolean(),
  disabled: Type.Boolean(),
  createdAt: Type.String(),
});
/** The path parameters of one workspace's routes. */
export const WorkspaceParams = Type.Object({ workspaceId: Type.String() });
/** A username: letters, digits and `._@-`. */
export const Username = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._@-]+$' });
