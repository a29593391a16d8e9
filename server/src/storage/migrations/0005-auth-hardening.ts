/**
 * Account controls and login throttling of docs/operations.md#login-throttling: a user can be disabled or be required to change
 * their password (the generated first-start password), and failed logins are counted per
 * (username, client IP) and per client IP in `login_throttles`, which replaces the per-username
 * `login_failures` (its counts are not carried over: they expire within 15 minutes anyway).
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types.
type AnyDb = Kysely<any>;

/** Adds the user flags and the throttle table; drops `login_failures`. */
export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable('users').addColumn('disabled_at', 'text').execute();
  await db.schema
    .alterTable('users')
    .addColumn('password_change_required', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('login_throttles')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    // Milliseconds since the epoch: the conditional write that reserves an attempt compares it
    // with arithmetic, the same in both dialects (ISO text would need dialect date functions).
    .addColumn('last_failure_ms', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.dropTable('login_failures').execute();
}

/** Restores `login_failures` (empty) and drops what `up` added. */
export async function down(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('login_failures')
    .addColumn('username', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('last_failure_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.dropTable('login_throttles').execute();
  await db.schema.alterTable('users').dropColumn('password_change_required').execute();
  await db.schema.alterTable('users').dropColumn('disabled_at').execute();
}
