/**
 * First start on an empty store: creates workspace `default` and user `admin` (owner of it). The
 * password comes from the config or is generated; a generated one is returned so that the caller
 * prints it exactly once, and must be changed at the first login (it has been on a console).
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../storage/database.ts';
import { hashPassword } from './passwords.ts';
import { createTenancyStore } from './tenancy-store.ts';

/** ID of the workspace created on first start, fixed so that scripts and docs can name it. */
export const DEFAULT_WORKSPACE_ID = 'default';

/** What the first start created. */
export interface Bootstrap {
  workspaceId: string;
  username: string;
  /** The admin password when it was generated (to be printed once); undefined when configured. */
  generatedPassword: string | undefined;
}

/** Creates the default workspace and admin when no user exists yet; returns undefined otherwise. */
export async function bootstrapTenancy(
  db: Db,
  adminPassword: string | undefined,
  now: Date,
): Promise<Bootstrap | undefined> {
  const store = createTenancyStore(db);
  if ((await store.countUsers()) > 0) return undefined;
  const password = adminPassword ?? randomBytes(12).toString('base64url');
  const iso = now.toISOString();
  const userId = 'usr_admin';
  const inserted = await store.insertUser({
    id: userId,
    username: 'admin',
    password_hash: await hashPassword(password),
    is_admin: 1,
    created_at: iso,
    password_change_required: adminPassword === undefined ? 1 : 0,
  });
  // Another process bootstrapped at the same moment: its admin and workspace stand.
  if (!inserted) return undefined;
  await store.insertWorkspace(
    { id: DEFAULT_WORKSPACE_ID, name: 'default', created_at: iso },
    { workspace_id: DEFAULT_WORKSPACE_ID, user_id: userId, role: 'owner', created_at: iso },
  );
  return {
    workspaceId: DEFAULT_WORKSPACE_ID,
    username: 'admin',
    generatedPassword: adminPassword ? undefined : password,
  };
}
