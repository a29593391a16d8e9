/**
 * The `pushboard` command line. It reads the same settings as the server (`loadConfig`), and each
 * capability contributes its own sub-commands. Exit codes: 0 success, 1 failure, 2 bad usage.
 */
import { Command, CommanderError, Option } from 'commander';
import { registerAudienceCommands } from './audiences/audience-cli.ts';
import { ConfigError, type ConfigFlags, loadConfig, parsePortFlag } from './config.ts';
import { registerDeviceCommands } from './devices/device-cli.ts';
import { AppError } from './errors.ts';
import { PROCESS_ROLES, type ProcessRole, startServer } from './main.ts';
import { registerRetentionCommands } from './retention/retention-cli.ts';
import { openStore } from './storage/open-store.ts';
import { registerUserCommands } from './tenancy/users-cli.ts';

/** Flags every sub-command accepts, mapped onto `ConfigFlags`. */
export interface GlobalOptions {
  dataDir?: string;
  logLevel?: string;
}

const program = new Command('pushboard')
  .description('Pushboard: self-hosted push-notification marketing console and engine.')
  .option('--data-dir <dir>', 'folder of the SQLite file (env PUSHBOARD_DATA_DIR, default ./data)')
  .option('--log-level <level>', 'log level: fatal, error, warn, info, debug, trace, silent (env LOG_LEVEL)')
  .showHelpAfterError()
  .exitOverride();

/** The config for a sub-command: environment plus the global and the command's own flags. */
export function configFor(extra: ConfigFlags = {}) {
  const global = program.opts<GlobalOptions>();
  return loadConfig({ dataDir: global.dataDir, logLevel: global.logLevel, ...extra });
}

program
  .command('serve')
  .description('run the HTTP API and console, the dispatcher, or both (--role)')
  .option('-p, --port <port>', 'TCP port (env PORT, default 3000)', parsePortFlag)
  .option('--host <host>', 'interface to bind (env HOST, default 0.0.0.0)')
  .addOption(
    new Option('--role <role>', 'what this process runs: api, worker or all (api and worker need REDIS_URL)')
      .choices(PROCESS_ROLES)
      .default('all'),
  )
  .action(async (options: { port?: number; host?: string; role: ProcessRole }) => {
    await startServer(configFor({ port: options.port, host: options.host }), options.role);
  });

program
  .command('migrate')
  .description('create or upgrade the database schema, then exit')
  .action(async () => {
    const db = await openStore(configFor());
    await db.destroy();
    process.stdout.write('schema is up to date\n');
  });

registerDeviceCommands(program, configFor);
registerAudienceCommands(program, configFor);
registerRetentionCommands(program, configFor);
registerUserCommands(program, configFor);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof ConfigError || error instanceof AppError) {
    process.stderr.write(`pushboard: ${error.message}\n`);
    if (error instanceof AppError && Array.isArray(error.details)) {
      for (const d of error.details.slice(0, 20)) process.stderr.write(`  ${JSON.stringify(d)}\n`);
    }
    process.exitCode = 1;
  } else {
    process.stderr.write(
      `pushboard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  }
}
