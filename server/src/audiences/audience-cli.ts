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
import { AppError } from '../errors.ts';
import { openStore } from '../main.ts';
import { DEFAULT_WORKSPACE_ID } from '../tenancy/bootstrap.ts';
import { importAudienceFile, type LineError } from './audience-import.ts';

/** How often progress is redrawn on a terminal, and printed as a new line otherwise (ms). */
const PROGRESS_INTERVAL_TTY_MS = 200;
const PROGRESS_INTERVAL_LOG_MS = 5_000;

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
  const progress = progressLine(stat.size, path.basename(file));
  try {
    const created = await importAudienceFile(db, {
      workspaceId: options.workspace,
      name,
      fileName: path.basename(file),
      source: 'upload',
      lines: counted(fs.createReadStream(file), (bytes) => progress.addBytes(bytes)),
      now: new Date(),
      onProgress: ({ deviceIds }) => progress.update(deviceIds),
    });
    progress.finish();
    process.stdout.write(
      options.json
        ? `${JSON.stringify(created)}\n`
        : `Created audience ${created.id} "${created.name}" with ${format(created.size)} device IDs.\n`,
    );
    return 0;
  } catch (error) {
    progress.finish();
    if (!(error instanceof AppError)) throw error;
    process.stderr.write(`pushboard: ${error.message}\n`);
    if (error.code === 'WORKSPACE_NOT_FOUND') {
      process.stderr.write(
        '  (pass --workspace <id>; `pushboard serve` creates workspace "default" on first start)\n',
      );
    }
    if (error.code === 'CSV_INVALID') {
      const { errors, totalErrors } = error.details as { errors: LineError[]; totalErrors: number };
      for (const e of errors) process.stderr.write(`  line ${e.line}: ${e.reason}\n`);
      if (totalErrors > errors.length) {
        process.stderr.write(`  … and ${format(totalErrors - errors.length)} more invalid lines\n`);
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

/**
 * Progress on stderr: redrawn in place (`\r`) on a terminal, a plain line every few seconds when
 * stderr is a file or a pipe (so logs stay readable), and a final summary either way.
 */
function progressLine(totalBytes: number, label: string) {
  const tty = process.stderr.isTTY === true;
  const interval = tty ? PROGRESS_INTERVAL_TTY_MS : PROGRESS_INTERVAL_LOG_MS;
  const started = Date.now();
  let bytes = 0;
  let deviceIds = 0;
  let shownAt = started;
  let finished = false;

  const text = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const percent = totalBytes > 0 ? Math.floor((bytes / totalBytes) * 100) : 100;
    return (
      `${label}: ${fileSize(bytes)} of ${fileSize(totalBytes)} (${percent}%), ` +
      `${format(deviceIds)} IDs read, ${format(Math.round(deviceIds / seconds))} IDs/s`
    );
  };
  const show = (final: boolean) => {
    if (tty) process.stderr.write(`\r${text()}\x1b[K${final ? '\n' : ''}`);
    else process.stderr.write(`${text()}\n`);
  };

  return {
    addBytes(n: number) {
      bytes += n;
    },
    update(ids: number) {
      deviceIds = ids;
      const now = Date.now();
      if (now - shownAt >= interval) {
        shownAt = now;
        show(false);
      }
    },
    finish() {
      if (finished) return;
      finished = true;
      show(true);
    },
  };
}

function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function format(n: number): string {
  return n.toLocaleString('en-US');
}
