/**
 * Every store of the engine, built once from the database by the composition root (`main.ts`,
 * `buildApp`) and handed to the route modules and workers, which never build their own.
 */
import { type AppStore, createAppStore } from './apps/app-store.ts';
import { type AudienceStore, createAudienceStore } from './audiences/audience-store.ts';
import { type CampaignStore, createCampaignStore } from './campaigns/campaign-store.ts';
import { createDeviceStore, type DeviceStore } from './devices/device-store.ts';
import { createDispatchStore, type DispatchStore } from './dispatch/dispatch-store.ts';
import { createReceiptStore, type ReceiptStore } from './receipts/receipt-store.ts';
import { type BreakdownStore, createBreakdownStore } from './results/breakdown-store.ts';
import { createDeviceResultStore, type DeviceResultStore } from './results/device-result-store.ts';
import type { Db } from './storage/database.ts';
import { createTaskStore, type TaskStore } from './tasks/task-store.ts';
import { createTenancyStore, type TenancyStore } from './tenancy/tenancy-store.ts';

/** The stores over one database handle, one per capability. */
export interface Stores {
  apps: AppStore;
  audiences: AudienceStore;
  campaigns: CampaignStore;
  devices: DeviceStore;
  tenancy: TenancyStore;
  tasks: TaskStore;
  deviceResults: DeviceResultStore;
  breakdowns: BreakdownStore;
  dispatch: DispatchStore;
  receipts: ReceiptStore;
}

/**
 * Builds every store over `db` (building one runs no query, so the unused ones cost nothing); `clock`
 * is the time the dispatch store stamps its writes with, the dispatcher's own.
 */
export function createStores(db: Db, clock: () => Date = () => new Date()): Stores {
  return {
    apps: createAppStore(db),
    audiences: createAudienceStore(db),
    campaigns: createCampaignStore(db),
    devices: createDeviceStore(db),
    tenancy: createTenancyStore(db),
    tasks: createTaskStore(db),
    deviceResults: createDeviceResultStore(db),
    breakdowns: createBreakdownStore(db),
    dispatch: createDispatchStore(db, clock),
    receipts: createReceiptStore(db),
  };
}
