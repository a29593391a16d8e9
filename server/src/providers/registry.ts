/**
 * The providers a Pushboard process offers, built once: `main.ts` hands them to the dispatcher
 * (sending) and to the API (reading receipt callbacks).
 */
import type { Db } from '../storage/database.ts';
import type { ProviderRegistry } from './provider.ts';
import { createSimulatorLedger, createSimulatorProvider } from './simulator.ts';
import { createSimulatorOutbox } from './simulator-outbox.ts';
import { createUmengProvider } from './umeng.ts';

/** Every built-in provider, the simulator keeping its ledger and outbox in `db`. */
export function createProviders(db: Db, clock?: () => Date): ProviderRegistry {
  return {
    simulator: createSimulatorProvider({
      ledger: createSimulatorLedger(db),
      outbox: createSimulatorOutbox(db),
      ...(clock && { clock }),
    }),
    umeng: createUmengProvider(clock ? { clock } : {}),
  };
}
