/**
 * The providers a Pushboard process offers, built once: `main.ts` hands them to the dispatcher
 * (sending) and to the API (reading receipt callbacks).
 */
import type { Db } from '../storage/database.ts';
import { createApnsProvider } from './apns.ts';
import { createFcmProvider } from './fcm.ts';
import type { ProviderRegistry } from './provider.ts';
import { createSimulatorLedger, createSimulatorProvider } from './simulator.ts';
import { createSimulatorOutbox } from './simulator-outbox.ts';
import { createUmengProvider } from './umeng.ts';

/**
 * Every built-in provider, the simulator keeping its ledger and outbox in `db`; `urlAllowlist` is the
 * deployment's `Config.providerUrlAllowlist` (where else than their real endpoints providers may call).
 */
export function createProviders(
  db: Db,
  clock?: () => Date,
  urlAllowlist: readonly string[] = [],
): ProviderRegistry {
  return {
    simulator: createSimulatorProvider({
      ledger: createSimulatorLedger(db),
      outbox: createSimulatorOutbox(db),
      ...(clock && { clock }),
    }),
    umeng: createUmengProvider({ urlAllowlist, ...(clock && { clock }) }),
    fcm: createFcmProvider({ urlAllowlist, ...(clock && { clock }) }),
    apns: createApnsProvider({ urlAllowlist, ...(clock && { clock }) }),
  };
}
