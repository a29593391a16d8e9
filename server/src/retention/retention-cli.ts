/**
 * `pushboard purge [--as-of <ISO time>]`: runs the retention rule (docs/statistics.md#windows) once, as of now or of
 * the given time, and reports what it deleted. Exit codes: 0 done, 1 failure, 2 bad usage.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { Config, ConfigFlags } from '../config.ts';
import { openStore } from '../storage/open-store.ts';
import { purgeExpiredDetails } from './retention.ts';

/** Parses `--as-of`: an ISO 8601 time with a date, e.g. `2026-12-01T00:00:00Z`. */
export function parseAsOf(value: string): Date {
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(at.getTime())) {
    throw new InvalidArgumentError('expected an ISO 8601 time such as 2026-12-01T00:00:00Z');
  }
  return at;
}

/** Registers `pushboard purge`. */
export function registerRetentionCommands(
  program: Command,
  configFor: (extra?: ConfigFlags) => Config,
): void {
  program
    .command('purge')
    .description(
      'delete the device results of every task whose retention window has passed (aggregate statistics stay)',
    )
    .option('--as-of <time>', 'apply the rule as of this ISO 8601 time instead of now', parseAsOf)
    .action(async (options: { asOf?: Date }) => {
      const config = configFor();
      const asOf = options.asOf ?? new Date();
      const db = await openStore(config);
      try {
        const started = performance.now();
        const report = await purgeExpiredDetails(db, asOf, config);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        process.stdout.write(
          `purged ${report.deviceResults} device results of ${report.tasks} tasks ` +
            (report.partitionsDropped > 0 ? `and ${report.partitionsDropped} day partitions ` : '') +
            (report.unreadableReceipts > 0 ? `and ${report.unreadableReceipts} unreadable receipts ` : '') +
            `(retention ${config.retentionHours} h, as of ${asOf.toISOString()}) in ${seconds} s\n`,
        );
      } finally {
        await db.destroy();
      }
    });
}
