/**
 * The built-in `simulator` provider (docs/providers.md#simulator): behaves like a real push service, so the whole
 * pipeline runs on a fresh machine with no account anywhere. Every answer about a device is a pure
 * function of (seed, task, device) — a hash, not a random generator's state — so a restart, a repeat
 * or a test gets the same answers:
 *
 * - at send time: accepted (`success` on iOS, where acceptance is delivery; `no_feedback` on Android,
 *   whose delivery receipt comes later) or rejected with a reason a real service gives (invalid token,
 *   unregistered token, token of another app, vendor quota);
 * - the channel: Android devices keep their registered OEM channel (Huawei, Xiaomi, OPPO, vivo,
 *   Honor) or the simulator's own, except a few that fall back to the own channel;
 * - later: the funnel of receipts (delivered, impression, open, dismissal — none on iOS) with
 *   realistic delays that `timeScale` compresses, planned by `simulateDevice` and written to the
 *   outbox that `simulator-outbox.ts` posts to the public receipt endpoints.
 *
 * Like a real service, it remembers the batches it accepted (`simulator_batches`): a batch sent again
 * with the same ID — after a restart — is recognised and not handed over a second time.
 */

import {
  buildPushPayload,
  PAYLOAD_LIMIT_BYTES,
  type Platform,
  payloadBytes,
} from '../domain/task-content.ts';
import type { Db } from '../storage/database.ts';
import {
  type BatchDevice,
  type DeviceSendOutcome,
  type ParsedReceipt,
  type ParsedReceipts,
  ProviderError,
  type ReceiptPostingProvider,
  readReceiptList,
  type SendBatchResult,
} from './provider.ts';
import type { SimulatorConfig } from './simulator-config.ts';
import type { PlannedRow, SimulatorOutbox } from './simulator-outbox.ts';

/** The simulator's own delivery channel (the persistent connection of its SDK). */
export const SIMULATOR_CHANNEL = 'simulator';

/** The simulated push service's behaviour: the config without the dispatcher's rate limit, all fields set. */
export type SimulatorBehaviour = Required<Omit<SimulatorConfig, 'rateLimitPerSecond'>>;

/** Behaviour of an app whose config leaves a field out. */
export const SIMULATOR_DEFAULTS: Readonly<SimulatorBehaviour> = Object.freeze({
  seed: 0,
  acceptRate: 0.97,
  deliveryRate: 0.9,
  impressionRate: 0.8,
  openRate: 0.1,
  dismissalRate: 0.3,
  timeScale: 1,
});

/** A receipt the simulated funnel will produce for one device. */
export interface PlannedReceipt {
  kind: 'delivered' | 'impression' | 'open' | 'dismissal';
  /** Who reports it: the provider's callback (delivered, open) or the app's SDK (impression, dismissal). */
  source: 'provider' | 'sdk';
  /** When it happens, in milliseconds after the send, already divided by `timeScale`. */
  afterMs: number;
}

/** Everything the simulator will do with one device of one task. */
export interface SimulatedDevice {
  sendResult: 'success' | 'failure' | 'no_feedback';
  failureReason: string | null;
  /** Channel the device is reached through. */
  channel: string;
  /** Receipts in the order they happen (empty for a rejected device). */
  receipts: PlannedReceipt[];
}

/** The device a simulation needs: its ID and registered channel. */
export type SimulatedInput = Pick<BatchDevice, 'deviceId' | 'channel'>;

// OEM vendor channels of Android devices (CONTEXT.md "Channel").
const VENDOR_CHANNELS = new Set(['huawei', 'xiaomi', 'oppo', 'vivo', 'honor']);
// Vendors that cap operational pushes per device per day.
const QUOTA_VENDORS = new Set(['xiaomi', 'oppo', 'vivo']);
// Share of vendor-channel devices whose vendor token is stale, reached through the own channel instead.
const VENDOR_FALLBACK_RATE = 0.05;

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;

// Rejection reasons with their share of rejections, as push services word them.
const ANDROID_REASONS: readonly (readonly [reason: string, share: number])[] = [
  ['device token expired or unregistered: the app was uninstalled or its token refreshed', 0.45],
  ['invalid device token', 0.3],
  ['vendor channel daily quota reached for this device', 0.15],
  ['device token belongs to another app', 0.1],
];
const IOS_REASONS: readonly (readonly [reason: string, share: number])[] = [
  ['Unregistered: the app was uninstalled or notifications are turned off', 0.6],
  ['BadDeviceToken: invalid device token', 0.3],
  ['DeviceTokenNotForTopic: device token belongs to another app', 0.1],
];
// Used instead of the quota reason for devices whose channel has no daily quota.
const NO_QUOTA_REASON = ANDROID_REASONS[0]![0];

/** The app's config with every default filled in. */
export function simulatorSettings(config: SimulatorConfig): SimulatorBehaviour {
  return { ...SIMULATOR_DEFAULTS, ...config };
}

// Positions of the uniform draws of one device. Each decision has its own draw, whatever the earlier
// ones decided, so raising one rate only adds outcomes at that step and changes nothing else.
const DRAW = {
  accept: 0,
  reason: 1,
  channel: 2,
  deliver: 3,
  deliverDelayKind: 4,
  deliverDelay: 5,
  impression: 6,
  impressionDelay: 7,
  open: 8,
  openDelay: 9,
  dismissal: 10,
  dismissalDelay: 11,
} as const;
const DRAWS = 12;

/** The uniform draws in [0, 1) of one device of one task: a pure function of seed, task and device. */
function draws(seed: number, taskId: string, deviceId: string, count: number): number[] {
  // FNV-1a over the three parts, then mulberry32 seeded with the hash.
  let hash = 0x811c9dc5 ^ (seed | 0);
  const text = `${seed}\u0000${taskId}\u0000${deviceId}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  let state = hash >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out.push(((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/** A value between `min` and `max` spread evenly on a log scale: many short delays, a long tail. */
function logUniform(u: number, min: number, max: number): number {
  return min * (max / min) ** u;
}

function pick(u: number, options: readonly (readonly [string, number])[]): string {
  let sum = 0;
  for (const [value, share] of options) {
    sum += share;
    if (u < sum) return value;
  }
  return options[options.length - 1]![0];
}

/** The send-time part of a simulation: accepted or not, why not, and the channel. */
function sendOutcome(
  config: SimulatorBehaviour,
  platform: Platform,
  u: readonly number[],
  device: SimulatedInput,
): Omit<SimulatedDevice, 'receipts'> {
  const ios = platform === 'ios';
  let channel = ios ? 'apns' : device.channel;
  if (!ios && VENDOR_CHANNELS.has(channel) && u[DRAW.channel]! < VENDOR_FALLBACK_RATE) {
    channel = SIMULATOR_CHANNEL;
  }
  if (u[DRAW.accept]! < config.acceptRate) {
    return { sendResult: ios ? 'success' : 'no_feedback', failureReason: null, channel };
  }
  let reason = pick(u[DRAW.reason]!, ios ? IOS_REASONS : ANDROID_REASONS);
  if (reason === ANDROID_REASONS[2]![0] && !QUOTA_VENDORS.has(channel)) reason = NO_QUOTA_REASON;
  return { sendResult: 'failure', failureReason: reason, channel };
}

/**
 * What the simulator does with `device` when `taskId` is sent to it on an app with `config`: the
 * send result and the receipts that follow, with their delays. Rates apply in funnel order —
 * accepted → delivered (Android; on iOS acceptance is delivery) → impression → open, or dismissal of
 * an impression that was not opened (Android only).
 */
export function simulateDevice(
  config: SimulatorConfig,
  platform: Platform,
  taskId: string,
  device: SimulatedInput,
): SimulatedDevice {
  return simulateWith(simulatorSettings(config), platform, taskId, device);
}

/** Whether a behaviour produces no receipt at all (nothing delivered on Android, nothing shown). */
function reportsNothing(settings: SimulatorBehaviour, platform: Platform): boolean {
  return settings.impressionRate === 0 && (platform === 'ios' || settings.deliveryRate === 0);
}

/** `simulateDevice` with the behaviour already resolved (a batch resolves it once, not per device). */
function simulateWith(
  settings: SimulatorBehaviour,
  platform: Platform,
  taskId: string,
  device: SimulatedInput,
): SimulatedDevice {
  const u = draws(settings.seed, taskId, device.deviceId, DRAWS);
  const sent = sendOutcome(settings, platform, u, device);
  const receipts: PlannedReceipt[] = [];
  const scaled = (ms: number) => ms / settings.timeScale;
  if (sent.sendResult === 'failure') return { ...sent, receipts };

  let deliveredAfter = 0;
  if (platform === 'android') {
    if (u[DRAW.deliver]! >= settings.deliveryRate) return { ...sent, receipts };
    // Most devices are online and get it within seconds; some wake up minutes or hours later.
    const kind = u[DRAW.deliverDelayKind]!;
    const delay = u[DRAW.deliverDelay]!;
    deliveredAfter =
      kind < 0.8
        ? logUniform(delay, 300, 5 * SECOND_MS)
        : kind < 0.95
          ? logUniform(delay, MINUTE_MS, 30 * MINUTE_MS)
          : logUniform(delay, HOUR_MS, 24 * HOUR_MS);
    receipts.push({ kind: 'delivered', source: 'provider', afterMs: scaled(deliveredAfter) });
  }
  if (u[DRAW.impression]! >= settings.impressionRate) return { ...sent, receipts };
  // The notification is shown as it arrives; the SDK notices within seconds.
  const shownAfter = deliveredAfter + logUniform(u[DRAW.impressionDelay]!, 200, 3 * SECOND_MS);
  receipts.push({ kind: 'impression', source: 'sdk', afterMs: scaled(shownAfter) });
  if (u[DRAW.open]! < settings.openRate) {
    // Opens cluster in the first minutes and trail off over hours (squared draw: skewed early).
    const after = shownAfter + logUniform(u[DRAW.openDelay]! ** 2, 3 * SECOND_MS, 12 * HOUR_MS);
    receipts.push({ kind: 'open', source: 'provider', afterMs: scaled(after) });
  } else if (platform === 'android' && u[DRAW.dismissal]! < settings.dismissalRate) {
    const after = shownAfter + logUniform(u[DRAW.dismissalDelay]!, 2 * SECOND_MS, 4 * HOUR_MS);
    receipts.push({ kind: 'dismissal', source: 'sdk', afterMs: scaled(after) });
  }
  return { ...sent, receipts };
}

/** The simulator's memory of accepted batches. */
export interface SimulatorLedger {
  /** Notes that `batchId` was sent; answers whether this was its first hand-over. */
  handOver(
    batch: { batchId: string; taskId: string; appId: string; deviceCount: number },
    at: Date,
  ): Promise<boolean>;
}

/** The ledger over the `simulator_batches` table. */
export function createSimulatorLedger(db: Db): SimulatorLedger {
  return {
    async handOver(batch, at) {
      // The primary key decides: a repeat only counts one more send of the batch already accepted.
      const row = await db
        .insertInto('simulator_batches')
        .values({
          batch_id: batch.batchId,
          task_id: batch.taskId,
          app_id: batch.appId,
          device_count: batch.deviceCount,
          sends: 1,
          accepted_at: at.toISOString(),
        })
        .onConflict((oc) =>
          oc.column('batch_id').doUpdateSet((eb) => ({ sends: eb('simulator_batches.sends', '+', 1) })),
        )
        .returning('sends')
        .executeTakeFirstOrThrow();
      return Number(row.sends) === 1;
    },
  };
}

/** What the simulator is built from. */
export interface SimulatorOptions {
  ledger: SimulatorLedger;
  /** Where accepted batches leave their planned receipts; without one the simulator reports nothing. */
  outbox?: SimulatorOutbox;
  clock?: () => Date;
}

/** Creates the simulator provider. */
export function createSimulatorProvider(options: SimulatorOptions): ReceiptPostingProvider {
  const clock = options.clock ?? (() => new Date());
  return {
    async sendBatch(request): Promise<SendBatchResult> {
      const { app } = request;
      if (app.provider !== 'simulator') {
        throw new ProviderError(
          'WRONG_PROVIDER',
          `app ${app.id} sends through ${app.provider}, not the simulator`,
          false,
        );
      }
      const bytes = payloadBytes(buildPushPayload(app.platform, request.content, request.taskId));
      if (bytes > PAYLOAD_LIMIT_BYTES[app.platform]) {
        throw new ProviderError(
          'PAYLOAD_TOO_LARGE',
          `the ${app.platform} push payload is ${bytes} bytes and at most ${PAYLOAD_LIMIT_BYTES[app.platform]} are accepted`,
          false,
        );
      }
      const sentAt = clock();
      const first = await options.ledger.handOver(
        {
          batchId: request.batchId,
          taskId: request.taskId,
          appId: app.id,
          deviceCount: request.devices.length,
        },
        sentAt,
      );
      // A repeat answers exactly as the first send did (the answers are a function of the device),
      // and plans no receipts: only the first hand-over reaches devices.
      const settings = simulatorSettings(app.config);
      const planning = first && options.outbox !== undefined && !reportsNothing(settings, app.platform);
      const accepted = app.platform === 'ios' ? 'success' : 'no_feedback';
      const outcomes: DeviceSendOutcome[] = [];
      const planned: PlannedRow[] = [];
      for (const device of request.devices) {
        let sent: Omit<SimulatedDevice, 'receipts'>;
        if (planning) {
          const simulated = simulateWith(settings, app.platform, request.taskId, device);
          const sentMs = sentAt.getTime();
          for (const receipt of simulated.receipts) {
            planned.push([
              device.deviceId,
              receipt.kind,
              simulated.channel,
              new Date(sentMs + receipt.afterMs).toISOString(),
            ]);
          }
          sent = simulated;
        } else {
          // The send outcome needs only the first draws: cheaper than the whole funnel.
          const u = draws(settings.seed, request.taskId, device.deviceId, DRAW.channel + 1);
          sent = sendOutcome(settings, app.platform, u, device);
        }
        // Only the exceptions are listed; every other device was accepted on its registered channel.
        if (sent.sendResult !== accepted || sent.channel !== device.channel) {
          outcomes.push({
            deviceId: device.deviceId,
            sendResult: sent.sendResult,
            ...(sent.failureReason !== null && { failureReason: sent.failureReason }),
            channel: sent.channel,
          });
        }
      }
      if (planned.length > 0) await options.outbox?.plan(request.taskId, app.id, planned);
      return { providerRef: `sim-${request.batchId}`, outcomes };
    },

    async cancel() {
      // The simulator never holds a send for later: the dispatcher starts tasks at their time.
    },

    parseReceipts(body: unknown): ParsedReceipts {
      return parseSimulatorReceipts(body);
    },
  };
}

/** What a push service sees, and so what the simulator reports: deliveries and opens (docs/api.md#shapes). */
const RECEIPT_KINDS = new Set<ParsedReceipt['kind']>(['delivered', 'open']);

/**
 * Reads a simulator callback body (docs/api.md#shapes): `{receipts: [{taskId, deviceId, kind, at}]}`. Items
 * that cannot be read, or report a kind the simulator does not, are refused by position, never thrown.
 */
export function parseSimulatorReceipts(body: unknown): ParsedReceipts {
  return readReceiptList(body, RECEIPT_KINDS);
}
