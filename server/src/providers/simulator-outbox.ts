/**
 * How the simulator reports receipts (docs/providers.md#simulator): like a real push service and a real SDK, through the
 * public receipt endpoints over HTTP, signed with the app's secrets — so the whole pipeline (signature,
 * ingestion, counters, late receipts) runs on a fresh machine.
 *
 * When the simulator accepts a batch it writes the receipts its funnel planned into its outbox
 * (`simulator_receipts`), each with the time it is due. The reporter takes what is due, oldest first,
 * posts deliveries and opens to `/api/v1/receipts/simulator/{appId}` (signed with the receiptSecret)
 * and impressions and dismissals to `/api/v1/receipts/sdk` (sdkKey + HMAC with the sdkSecret), and
 * deletes what was answered. The outbox lives in the database, so a restart carries on where it
 * stopped and a task of millions of devices never sits in memory.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Db, ReceiptKind, SimulatorReceiptRow } from '../storage/database.ts';
import { jsonArrayRows, skipLockedRows } from '../storage/dialect.ts';

/** Receipts the SDK reports; the provider reports the rest. */
const SDK_KINDS: ReadonlySet<ReceiptKind> = new Set(['impression', 'dismissal']);

/** One planned receipt of a batch: device ID, kind, channel, due time (ISO 8601). */
export type PlannedRow = [deviceId: string, kind: ReceiptKind, channel: string, dueAt: string];

/** The simulator's outbox: where accepted batches leave the receipts they will produce. */
export interface SimulatorOutbox {
  /** Stores the receipts the simulator planned for a batch of `taskId` it accepted. */
  plan(taskId: string, appId: string, rows: PlannedRow[]): Promise<void>;
}

/** The outbox over the `simulator_receipts` table. */
export function createSimulatorOutbox(db: Db): SimulatorOutbox {
  return {
    async plan(taskId, appId, rows) {
      if (rows.length === 0) return;
      // One statement for the whole batch, its rows as one JSON parameter: thousands of bound values
      // per statement would cost more to build than to write.
      await sql`
        insert into simulator_receipts (task_id, device_id, kind, app_id, channel, due_at)
        select cast(${taskId} as text), value ->> 0, value ->> 1, cast(${appId} as text), value ->> 2, value ->> 3
        from ${jsonArrayRows(db, JSON.stringify(rows))} as j
        where true
        on conflict do nothing`.execute(db);
    },
  };
}

/** What the reporter is built from. */
export interface SimulatorReporterOptions {
  db: Db;
  /** Base URL of this server as the simulator reaches it, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Signs a body with a secret (hex HMAC-SHA256), as the receipt endpoints check it. */
  sign: (body: string, secret: string) => string;
  clock?: () => Date;
  fetch?: typeof fetch;
  /** Milliseconds between two looks at the outbox when nothing was due. */
  intervalMs?: number;
  /** Receipts per request (at most the endpoints' 5,000). */
  batchSize?: number;
  logger?: { warn(details: object, message: string): void };
}

/** The running reporter. */
export interface SimulatorReporter {
  /** Posts everything due now; answers how many receipts were posted and answered. */
  flush(): Promise<number>;
  /** Starts posting in the background until `stop`. */
  start(): void;
  stop(): Promise<void>;
}

interface AppKeys {
  receipt_secret: string;
  sdk_key: string;
  sdk_secret: string;
}

/** How long a reporter holds the receipts it took to post. */
const CLAIM_MS = 30_000;

/** Creates the reporter that empties the outbox into the receipt endpoints. */
export function createSimulatorReporter(options: SimulatorReporterOptions): SimulatorReporter {
  const { db } = options;
  const clock = options.clock ?? (() => new Date());
  const post = options.fetch ?? fetch;
  const intervalMs = options.intervalMs ?? 250;
  const batchSize = Math.min(options.batchSize ?? 1000, 5000);
  let running: Promise<void> | undefined;
  const stopping = new AbortController();

  /** Posts one group of receipts; answers whether the server answered (2xx or a final 4xx). */
  async function send(rows: SimulatorReceiptRow[], keys: AppKeys, sdk: boolean): Promise<boolean> {
    const body = JSON.stringify({
      receipts: rows.map((r) => ({
        taskId: r.task_id,
        deviceId: r.device_id,
        kind: r.kind,
        at: r.due_at,
        ...(sdk ? {} : { channel: r.channel }),
      })),
    });
    const appId = rows[0]!.app_id;
    const url = sdk
      ? `${options.baseUrl}/api/v1/receipts/sdk`
      : `${options.baseUrl}/api/v1/receipts/simulator/${appId}`;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-pushboard-signature': options.sign(body, sdk ? keys.sdk_secret : keys.receipt_secret),
      ...(sdk && { 'x-pushboard-key': keys.sdk_key }),
    };
    try {
      const response = await post(url, { method: 'POST', headers, body, signal: stopping.signal });
      await response.arrayBuffer();
      if (response.ok) return true;
      // A refused request (app deleted, secrets rotated, batch refused) will never be accepted: a
      // real service gives up on it too. Server errors are tried again later.
      options.logger?.warn({ appId, status: response.status }, 'simulator receipts refused');
      return response.status < 500;
    } catch (error) {
      if (!stopping.signal.aborted) {
        options.logger?.warn({ appId, err: (error as Error).message }, 'simulator receipts not delivered');
      }
      return false;
    }
  }

  /**
   * Takes up to `batchSize` due receipts nobody holds, holding them for `CLAIM_MS`: the reporters of
   * several workers never post the same receipt at once, and what a reporter took and could not post
   * (it died, the server did not answer) is due again once the claim runs out.
   */
  async function claimDue(): Promise<SimulatorReceiptRow[]> {
    const now = clock();
    const at = now.toISOString();
    const until = new Date(now.getTime() + CLAIM_MS).toISOString();
    // PostgreSQL: rows another reporter is claiming right now are skipped rather than waited for.
    const skipLocked = skipLockedRows(db);
    const { rows } = await sql<SimulatorReceiptRow>`
      update simulator_receipts set claimed_until = ${until}
      where (task_id, device_id, kind) in (
        select task_id, device_id, kind from simulator_receipts
        where due_at <= ${at} and (claimed_until is null or claimed_until <= ${at})
        order by due_at
        limit ${batchSize}
        ${skipLocked}
      )
      returning task_id, device_id, kind, app_id, channel, due_at, claimed_until`.execute(db);
    return rows.sort((a, b) => (a.due_at < b.due_at ? -1 : a.due_at > b.due_at ? 1 : 0));
  }

  async function flush(): Promise<number> {
    let posted = 0;
    for (;;) {
      const due = await claimDue();
      if (due.length === 0) return posted;
      const appIds = [...new Set(due.map((r) => r.app_id))];
      const apps = await db
        .selectFrom('apps')
        .select(['id', 'receipt_secret', 'sdk_key', 'sdk_secret'])
        .where('id', 'in', appIds)
        .execute();
      const appKeys = new Map(apps.map((a) => [a.id, a]));
      const done: SimulatorReceiptRow[] = [];
      let failed = false;
      for (const appId of appIds) {
        const ofApp = due.filter((r) => r.app_id === appId);
        const keys = appKeys.get(appId);
        if (!keys) {
          done.push(...ofApp); // The app is gone: nobody to report to.
          continue;
        }
        for (const sdk of [false, true]) {
          const group = ofApp.filter((r) => SDK_KINDS.has(r.kind) === sdk);
          if (group.length === 0) continue;
          if (await send(group, keys, sdk)) done.push(...group);
          else failed = true;
        }
      }
      const keysOf = (rows: SimulatorReceiptRow[]) =>
        JSON.stringify(rows.map((r) => [r.task_id, r.device_id, r.kind]));
      if (done.length > 0) {
        await sql`
          delete from simulator_receipts
          where (task_id, device_id, kind) in (
            select value ->> 0, value ->> 1, value ->> 2 from ${jsonArrayRows(db, keysOf(done))} as j
          )`.execute(db);
      }
      if (done.length < due.length) {
        // Not posted: let them go at once, to be tried again at the next look rather than after the claim.
        const answered = new Set(done);
        await sql`
          update simulator_receipts set claimed_until = null
          where (task_id, device_id, kind) in (
            select value ->> 0, value ->> 1, value ->> 2
            from ${jsonArrayRows(db, keysOf(due.filter((r) => !answered.has(r))))} as j
          )`.execute(db);
      }
      posted += done.length;
      if (failed || stopping.signal.aborted) return posted;
    }
  }

  return {
    flush,
    start() {
      running ??= (async () => {
        while (!stopping.signal.aborted) {
          await flush().catch((error: unknown) =>
            options.logger?.warn({ err: (error as Error).message }, 'simulator reporter failed'),
          );
          await delay(intervalMs, undefined, { signal: stopping.signal }).catch(() => undefined);
        }
      })();
    },
    async stop() {
      stopping.abort();
      await running;
    },
  };
}
