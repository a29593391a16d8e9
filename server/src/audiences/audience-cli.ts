/**
 * `pushboard audiences import <name> <file>`: creates an audience from a local CSV or TXT file by
 * calling `importAudienceFile` on the store directly (no server needed), streaming the file and
 * showing progress on stderr. Exit codes: 0 created, 1 file rejected or unreadable, or workspace
 * missing, 2 bad usage.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Config, ConfigFlags } from '../config.ts';
import { AppError, type CsvInvalidDetails } from '../errors.ts';
import { assertRoom, withRoomChecks } from '../http/disk-space.ts';
import { progressBar } from '../progress-bar.ts';
import { openStore } from '../storage/open-store.ts';
import { DEFAULT_WORKSPACE_ID } from '../tenancy/bootstrap.ts';
import { importAudienceFile } from './audience-import.ts';

/** Registers the `audiences` commands. */
export function registerAudienceCommands(program: Command, configFor: (extra?: ConfigFlags) => Config): void {
  const audiences = program.command('audiences').description('manage audiences');
  audiences
    .command('import')
    .description(
      'create an audience from a CSV or TXT file of device IDs: one per line, or a CSV with a ' +
        'header row naming a deviceId column. A bad line rejects the whole file.',
    )
    .argument('<name>', 'name of the new audience')
    .argument('<file>', 'path of the CSV or TXT file (UTF-8)')
    .option('-w, --workspace <id>', 'workspace to create it in', DEFAULT_WORKSPACE_ID)
    .option('--json', 'print the new audience as JSON instead of a sentence')
    .action(async (name: string, file: string, options: { workspace: string; json?: boolean }) => {
      process.exitCode = await importCommand(configFor(), name, file, options);
    });
}

/** Runs one import and answers the exit code; every message goes to stdout or stderr here. */
async function importCommand(
  config: Config,
  name: string,
  file: string,
  options: { workspace: string; json?: boolean },
): Promise<number> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    process.stderr.write(`pushboard: cannot read ${file}: no such file\n`);
    return 1;
  }
  if (!stat.isFile()) {
    process.stderr.write(`pushboard: cannot read ${file}: not a file\n`);
    return 1;
  }

  const db = await openStore(config);
  const progress = progressBar(path.basename(file), stat.size, 'IDs');
  let bytes = 0;
  try {
    // The same free-space rule as uploads over HTTP: refused before and while the file is read.
    await assertRoom(config, stat.size);
    const created = await importAudienceFile(db, {
      workspaceId: options.workspace,
      name,
      fileName: path.basename(file),
      source: 'upload',
      lines: withRoomChecks(
        counted(fs.createReadStream(file), (n) => {
          bytes += n;
        }),
        config,
      ),
      now: new Date(),
      onProgress: ({ deviceIds }) => progress.update(bytes, deviceIds),
    });
    progress.done();
    process.stdout.write(
      options.json
        ? `${JSON.stringify(created)}\n`
        : `Created audience ${created.id} "${created.name}" with ${format(created.size)} device IDs.\n`,
    );
    return 0;
  } catch (error) {
    progress.done();
    if (!(error instanceof AppError)) throw error;
    process.stderr.write(`pushboard: ${error.message}\n`);
    if (error.code === 'WORKSPACE_NOT_FOUND') {
      process.stderr.write(
        '  (pass --workspace <id>; `pushboard serve` creates workspace "default" on first start)\n',
      );
    }
    if (error.code === 'CSV_INVALID') {
      const { errors, errorCount } = error.details as CsvInvalidDetails;
      for (const e of errors) process.stderr.write(`  line ${e.line}: ${e.message}\n`);
      if (errorCount > errors.length) {
        process.stderr.write(`  … and ${format(errorCount - errors.length)} more invalid lines\n`);
      }
    }
    // A blank or overlong name is a usage error; everything else is about the file or the store.
    return error.code === 'VALIDATION_FAILED' ? 2 : 1;
  } finally {
    await db.destroy();
  }
}

/** Passes a file's chunks through, reporting each chunk's size. */
async function* counted(stream: fs.ReadStream, onBytes: (bytes: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    onBytes(buffer.length);
    yield buffer;
  }
}

function format(n: number): string {
  return n.toLocaleString('en-US');
}
