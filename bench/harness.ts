/**
 * The shape every benchmark scenario shares (docs/benchmarks.md): a scenario measures one figure, beside the
 * physical-limit probe measured in the same run where there is one, and judges it against a target.
 */
import type { ScaledRun } from './scaled.ts';

/** One scenario's result, as written to `bench/results/latest.json`. */
export interface ScenarioResult {
  value: number;
  unit: string;
  /** The physical-limit probe measured in the same run (same unit as `value`), or null when there is none. */
  probe: number | null;
  /** `value ÷ probe`, or the ratio the target is about (e.g. RSS(10M) ÷ RSS(1M)); null when none. */
  ratio: number | null;
  target: number;
  pass: boolean;
  /** What else was measured: sizes, every trial, intermediate figures. */
  details?: Record<string, unknown>;
}

/** What a scenario receives. */
export interface BenchContext {
  /** `--quick`: every size is a tenth. */
  quick: boolean;
  /** A full-run size, divided by ten under `--quick`. */
  scale(size: number): number;
  /** A fresh folder for the scenario's files, removed after the run. */
  workDir: string;
  /** The repository root. */
  root: string;
  /** Progress for the person waiting (stderr). */
  log(message: string): void;
  /**
   * `--scaled`: the PostgreSQL and Redis the scenario runs on (PostgreSQL store, BullMQ queues);
   * undefined in the embedded mode (SQLite file, in-process queue).
   */
  scaled?: ScaledRun;
}

/** A benchmark scenario, by the name docs/benchmarks.md gives it. */
export interface Scenario {
  name: string;
  /** What the value means, shown in the table (sizes as run: full or quick; mode as run). */
  what(quick: boolean, scaled?: boolean): string;
  /** How the target reads, shown in the table. */
  targetText: string;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}
