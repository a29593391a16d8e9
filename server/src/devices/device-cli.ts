/**
 * `pushboard devices import <appId> <file>`: streams a device CSV straight into the store with the
 * same import as the HTTP API (all lines or none), showing its progress on stderr. Exit codes: 0
 * imported, 1 refused (the bad lines are listed) or unknown app, 2 bad usage or unreadable file.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { createAppStore } from '../apps/app-store.ts';
import type { Config, ConfigFlags } from '../config.ts';
import { AppError, type CsvInvalidDetails } from '../errors.ts';
import { assertRoom, withRoomChecks } from '../http/disk-space.ts';
import { progressBar } from '../progress-bar.ts';
import { openStore } from '../storage/open-store.ts';
import { DEFAULT_WORKSPACE_ID } from '../tenancy/bootstrap.ts';
import { type ImportProgress, importDevices } from './device-import.ts';
import { createDeviceStore } from './device-store.ts';

/** Registers `pushboard devices …`. */
export function registerDeviceCommands(program: Command, configFor: (extra?: ConfigFlags) => Config): void {
  const devices = program.command('devices').description('manage the devices registered for apps');
  devices
    .command('import')
    .description(
      'import a device CSV into an app: every line is applied, or none. Lines are ' +
        '"deviceId,pushToken[,channel]", optionally after a header line naming those columns.',
    )
    .argument('<appId>', 'the app to register the devices for')
    .argument('<file>', 'the CSV file')
    .option('-w, --workspace <id>', 'workspace of the app', DEFAULT_WORKSPACE_ID)
    .addHelpText(
      'after',
      '\nExit codes: 0 imported; 1 file refused (its bad lines are listed) or unknown app; 2 bad usage or ' +
        'unreadable file.',
    )
    .action(async (appId: string, file: string, options: { workspace: string }) => {
      const size = fileSize(file);
      if (size === undefined) {
        process.stderr.write(`pushboard: cannot read ${file}: there is no such file\n`);
        process.exitCode = 2;
        return;
      }
      const config = configFor();
      const db = await openStore(config);
      try {
        // The same free-space rule as uploads over HTTP: refused before and while the file is read.
        await assertRoom(config, size);
        const app = await createAppStore(db).findApp(options.workspace, appId);
        if (!app) {
          throw new AppError(
            'APP_NOT_FOUND',
            `App ${appId} does not exist in workspace ${options.workspace} (choose another with --workspace).`,
          );
        }
        const progress = progressBar(path.basename(file), size, 'lines');
        const started = performance.now();
        try {
          const result = await importDevices(
            createDeviceStore(db),
            app,
            // The default 64 KiB chunks: larger ones only make more garbage per chunk (measured slower).
            withRoomChecks(fs.createReadStream(file), config),
            {
              now: new Date(),
              onProgress: (p: ImportProgress) =>
                progress.update(
                  p.bytes,
                  p.lines,
                  p.phase === 'applying'
                    ? `all ${number(p.lines)} lines read and valid; applying them…`
                    : undefined,
                ),
            },
          );
          progress.done();
          const seconds = (performance.now() - started) / 1000;
          process.stdout.write(
            `Imported ${number(result.lines)} lines into ${app.name} (${app.id}): ` +
              `${number(result.inserted)} new devices, ${number(result.updated)} updated, ` +
              `in ${seconds.toFixed(1)} s (${number(result.lines / seconds)} lines/s).\n`,
          );
        } catch (error) {
          progress.done();
          if (!(error instanceof AppError) || error.code !== 'CSV_INVALID') throw error;
          const details = error.details as CsvInvalidDetails;
          process.stderr.write(`pushboard: ${file} was refused; nothing was imported.\n`);
          for (const problem of details.errors) {
            process.stderr.write(`  line ${problem.line}: ${problem.message} [${problem.code}]\n`);
          }
          const unlisted = details.errorCount - details.errors.length;
          if (unlisted > 0) process.stderr.write(`  … and ${number(unlisted)} more bad lines\n`);
          if (details.errorCount === 0) process.stderr.write(`  ${error.message}\n`);
          process.exitCode = 1;
        }
      } finally {
        await db.destroy();
      }
    });
}

function fileSize(file: string): number | undefined {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

function number(value: number): string {
  return Math.round(value).toLocaleString('en');
}
