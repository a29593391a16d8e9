/**
 * `pushboard users reset-password <username> [--password-stdin]`: sets a user's password from the
 * shell (for an admin who is locked out, or a forgotten password) and ends the user's sessions. The
 * new password is generated and printed once, or read from standard input. Exit codes: 0 done,
 * 1 failure (unknown user, a password against the policy), 2 bad usage.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { Value } from 'typebox/value';
import type { Config, ConfigFlags } from '../config.ts';
import { AppError, validationError } from '../errors.ts';
import { openStore } from '../storage/open-store.ts';
import { hashPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './passwords.ts';
import { NewPassword } from './tenancy-schemas.ts';
import { createTenancyStore } from './tenancy-store.ts';

/** Reads all of standard input as text, without its final line break. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Registers `pushboard users …`. */
export function registerUserCommands(program: Command, configFor: (extra?: ConfigFlags) => Config): void {
  const users = program.command('users').description('manage the users of this instance');
  users
    .command('reset-password <username>')
    .description(
      "set a user's password and end their sessions; prints a generated password once unless --password-stdin",
    )
    .option('--password-stdin', 'read the new password from standard input instead of generating one')
    .action(async (username: string, options: { passwordStdin?: boolean }) => {
      const password = options.passwordStdin ? await readStdin() : randomBytes(15).toString('base64url');
      // The same schema as a new password over HTTP, so the shell cannot set one the API would refuse.
      if (!Value.Check(NewPassword, password)) {
        throw validationError([
          {
            field: 'password',
            code: 'LENGTH_RANGE',
            params: { min: PASSWORD_MIN_LENGTH, max: PASSWORD_MAX_LENGTH },
            message: `must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters long`,
          },
        ]);
      }
      const db = await openStore(configFor());
      try {
        const store = createTenancyStore(db);
        const user = await store.findUserByUsername(username);
        if (!user) throw new AppError('USER_NOT_FOUND', `There is no user "${username}".`);
        const ended = await store.updateUserEndingSessions(
          user.id,
          { password_hash: await hashPassword(password) },
          new Date().toISOString(),
        );
        if (!options.passwordStdin) process.stdout.write(`${password}\n`);
        process.stderr.write(
          `password of "${username}" reset; ${ended} session${ended === 1 ? '' : 's'} ended` +
            (options.passwordStdin ? '\n' : ' (the new password is shown only now)\n'),
        );
      } finally {
        await db.destroy();
      }
    });
}
