/**
 * `dispatch_capped` (docs/delivery-controls.md#fatigue-control, SPEC §10.3): the `dispatch` send of N
 * devices (1,000,000; 100,000 with --quick) with the app's frequency cap in force (one marketing task
 * a day) and every other device already handed one an hour before, so half of every batch is capped —
 * checked against the cap, given its `capped` result — and half handed over and noted.
 *
 * Probe, in the same run: the uncapped `dispatch` send of the same devices (same seeded template,
 * same trial process, `dispatch-trial.ts`); the two alternate and the best of each is kept. Both
 * rates count every audience device, capped or sent. Target: the capped send at least half as fast.
 */
import path from 'node:path';
import { loadConfig } from '../../server/src/config.ts';
import type { BenchContext, ScenarioResult } from '../harness.ts';
import { type BenchStore, removeStore } from '../store.ts';
import { ROUNDS, seedTemplate, trialOnCopy } from './dispatch.ts';
import type { Measured } from './dispatch-trial.ts';

/** SPEC §10.3: a capped send of 1M devices runs at least half as fast as an uncapped one. */
const TARGET_RATIO = 0.5;

/** Runs the `dispatch_capped` scenario. */
export async function dispatchCappedScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const devices = ctx.scale(1_000_000);
  const batchSize = loadConfig({}, process.env).dispatch.batchSize;
  const template: BenchStore = ctx.scaled
    ? { kind: 'postgres', ...(await ctx.scaled.createDatabase('dispatch-capped')) }
    : { kind: 'sqlite', file: path.join(ctx.workDir, 'dispatch-capped-template.db') };
  ctx.log(`dispatch_capped: seeding ${devices.toLocaleString('en')} devices…`);
  const pragmas = await seedTemplate(template, devices);
  const uncapped: Measured[] = [];
  const capped: Measured[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [mode, results] of [
      ['send', uncapped],
      ['capped', capped],
    ] as const) {
      results.push(await trialOnCopy(ctx, template, mode, devices, batchSize, pragmas));
    }
    ctx.log(
      `dispatch_capped: round ${round}: capped ${Math.round(capped.at(-1)!.rate).toLocaleString('en')} devices/s, ` +
        `uncapped ${Math.round(uncapped.at(-1)!.rate).toLocaleString('en')} devices/s`,
    );
  }
  await removeStore(ctx, template);
  const value = Math.max(...capped.map((m) => m.rate));
  const probe = Math.max(...uncapped.map((m) => m.rate));
  const ratio = value / probe;
  return {
    value: Math.round(value),
    unit: 'devices/s',
    probe: Math.round(probe),
    ratio: Number(ratio.toFixed(3)),
    target: TARGET_RATIO,
    pass: ratio >= TARGET_RATIO,
    details: {
      devices,
      cappedDevices: Math.floor(devices / 2),
      frequencyCap: { perDay: 1 },
      batchSize,
      seconds: Number((devices / value).toFixed(2)),
      capped: capped.map((m) => Math.round(m.rate)),
      uncapped: uncapped.map((m) => Math.round(m.rate)),
      cappedCpuSeconds: capped.map((m) => Number(m.cpuSeconds.toFixed(2))),
      uncappedCpuSeconds: uncapped.map((m) => Number(m.cpuSeconds.toFixed(2))),
    },
  };
}
