/**
 * What a benchmark result is measured on: the machine, Node, SQLite and the commit, printed with
 * every run and written into `bench/results/latest.json`.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import SQLite from 'better-sqlite3';

/** The run's environment. */
export interface Environment {
  commit: string;
  machine: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  sqlite: string;
  platform: string;
}

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** The commit checked out in `root`, with `-dirty` when the tree has uncommitted changes. */
export function currentCommit(root: string): string {
  const head = git(['rev-parse', '--short', 'HEAD'], root) ?? 'unknown';
  const dirty = (git(['status', '--porcelain', '--untracked-files=no'], root) ?? '') !== '';
  return dirty ? `${head}-dirty` : head;
}

/** Describes this machine and runtime. */
export function describeEnvironment(root: string): Environment {
  const cpus = os.cpus();
  const cpu = cpus[0]?.model.trim() ?? 'unknown CPU';
  const memoryGiB = Math.round(os.totalmem() / 1024 ** 3);
  const database = new SQLite(':memory:');
  const sqlite = (database.prepare('select sqlite_version()').pluck().get() as string) ?? 'unknown';
  database.close();
  return {
    commit: currentCommit(root),
    machine: `${cpu}, ${cpus.length} cores, ${memoryGiB} GiB, ${os.type()} ${os.release()}`,
    cpu,
    cores: cpus.length,
    memoryGiB,
    node: process.version,
    sqlite,
    platform: `${os.type()} ${os.release()}`,
  };
}
