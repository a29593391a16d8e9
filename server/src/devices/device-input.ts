/**
 * The rules a device must follow, shared by every way devices arrive (single upsert, batch, CSV
 * import), so that each one accepts and refuses exactly the same devices with the same reasons.
 */
import type { AppRow } from '../storage/database.ts';

/** Longest device ID, in characters. */
export const MAX_DEVICE_ID_LENGTH = 128;
/** Longest push token, in characters. */
export const MAX_PUSH_TOKEN_LENGTH = 512;

// Device IDs and push tokens are printable ASCII without spaces: every real ID (OAID, IDFA, custom)
// and token (Umeng, FCM, APNs hex) is, and it keeps their order the same in every database.
const PRINTABLE = /^[\x21-\x7e]+$/;
const CHANNEL = /^[a-z0-9_-]{1,32}$/;

/** A checked device, its channel resolved. */
export interface DeviceInput {
  deviceId: string;
  pushToken: string;
  channel: string;
}

/** Why a device was refused: a stable code and a message saying what to fix. */
export interface DeviceProblem {
  code: 'DEVICE_ID_INVALID' | 'PUSH_TOKEN_INVALID' | 'CHANNEL_INVALID' | 'DEVICE_INVALID';
  message: string;
}

/** The channel of a device registered without one: APNs on iOS, the provider's own channel on Android. */
export function defaultChannel(app: Pick<AppRow, 'platform' | 'provider'>): string {
  return app.platform === 'ios' ? 'apns' : app.provider;
}

/**
 * Checks one device's fields; an absent or empty `channel` becomes `fallbackChannel`. Answers the
 * checked device, or the first problem found.
 */
export function checkDevice(
  deviceId: unknown,
  pushToken: unknown,
  channel: unknown,
  fallbackChannel: string,
): DeviceInput | DeviceProblem {
  const idProblem = printableProblem('deviceId', deviceId, MAX_DEVICE_ID_LENGTH);
  if (idProblem) return { code: 'DEVICE_ID_INVALID', message: idProblem };
  const tokenProblem = printableProblem('pushToken', pushToken, MAX_PUSH_TOKEN_LENGTH);
  if (tokenProblem) return { code: 'PUSH_TOKEN_INVALID', message: tokenProblem };
  if (channel === undefined || channel === null || channel === '') {
    return { deviceId: deviceId as string, pushToken: pushToken as string, channel: fallbackChannel };
  }
  if (typeof channel !== 'string' || !CHANNEL.test(channel)) {
    return {
      code: 'CHANNEL_INVALID',
      message: `channel ${describe(channel)} is invalid: use 1 to 32 lowercase letters, digits, _ or - (e.g. huawei)`,
    };
  }
  return { deviceId: deviceId as string, pushToken: pushToken as string, channel };
}

/** Whether `checkDevice` refused the device. */
export function isProblem(result: DeviceInput | DeviceProblem): result is DeviceProblem {
  return 'code' in result;
}

/** A device's checked fields, or the problem, for an item of a JSON batch (any JSON value). */
export function checkDeviceItem(item: unknown, fallbackChannel: string): DeviceInput | DeviceProblem {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return { code: 'DEVICE_INVALID', message: 'must be an object {deviceId, pushToken, channel?}' };
  }
  const { deviceId, pushToken, channel, ...unknown } = item as Record<string, unknown>;
  const extra = Object.keys(unknown);
  if (extra.length > 0) {
    return {
      code: 'DEVICE_INVALID',
      message: `${extra.join(', ')} is not a known field; a device has deviceId, pushToken and channel`,
    };
  }
  return checkDevice(deviceId, pushToken, channel, fallbackChannel);
}

function printableProblem(field: string, value: unknown, maxLength: number): string | undefined {
  if (value === undefined || value === null || value === '') return `${field} is missing`;
  if (typeof value !== 'string') return `${field} must be a string`;
  if (value.length > maxLength) {
    return `${field} is ${value.length} characters long; at most ${maxLength} are allowed`;
  }
  if (!PRINTABLE.test(value)) {
    return `${field} ${describe(value)} must be printable ASCII characters without spaces`;
  }
  return undefined;
}

/** A value quoted for a message, cut short so that a huge value cannot flood the error. */
function describe(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
