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
// App versions are printable ASCII, spaces allowed inside ("5.2.0 (1234)").
const PRINTABLE_WITH_SPACES = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;
const CHANNEL = /^[a-z0-9_-]{1,32}$/;

/** Longest app version, in characters. */
export const MAX_APP_VERSION_LENGTH = 64;
/** Longest locale tag, in characters (BCP 47 tags in use are far shorter). */
export const MAX_LOCALE_LENGTH = 35;

/**
 * What a device says about itself besides its token (docs/devices.md#device-profile): its IANA time zone, its locale and
 * the version of the app it runs. Each is optional; one left out keeps what the device said before.
 */
export interface DeviceProfile {
  /** IANA time zone, e.g. `Asia/Shanghai`, as the device's runtime names it. */
  timeZone?: string;
  /** BCP 47 language tag in its canonical form, e.g. `zh-CN`. */
  locale?: string;
  /** The app's version string, e.g. `5.2.0 (1234)`. */
  appVersion?: string;
}

/** A checked device, its channel resolved. */
export interface DeviceInput extends DeviceProfile {
  deviceId: string;
  pushToken: string;
  channel: string;
}

/** Why a device was refused: a stable code and a message saying what to fix. */
export interface DeviceProblem {
  code:
    | 'DEVICE_ID_INVALID'
    | 'PUSH_TOKEN_INVALID'
    | 'CHANNEL_INVALID'
    | 'TIME_ZONE_INVALID'
    | 'LOCALE_INVALID'
    | 'APP_VERSION_INVALID'
    | 'DEVICE_INVALID';
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

/**
 * Checks what a device says about itself; an absent, null or empty field is left out. Answers the
 * profile, or the first problem found. A time zone must be one this runtime knows (the IANA database
 * of Node's ICU); a locale must be a well-formed BCP 47 tag and is kept in its canonical form.
 */
export function checkProfile(
  timeZone: unknown,
  locale: unknown,
  appVersion: unknown,
): DeviceProfile | DeviceProblem {
  const profile: DeviceProfile = {};
  if (!isAbsent(timeZone)) {
    const zone = typeof timeZone === 'string' && timeZone.length <= 64 ? canonicalTimeZone(timeZone) : null;
    if (zone === null) {
      return {
        code: 'TIME_ZONE_INVALID',
        message: `timeZone ${describe(timeZone)} is not an IANA time zone: send one such as Asia/Shanghai or Europe/Berlin`,
      };
    }
    profile.timeZone = zone;
  }
  if (!isAbsent(locale)) {
    const tag =
      typeof locale === 'string' && locale.length <= MAX_LOCALE_LENGTH ? canonicalLocale(locale) : null;
    if (tag === null) {
      return {
        code: 'LOCALE_INVALID',
        message: `locale ${describe(locale)} is not a BCP 47 language tag: send one such as zh-CN or en-US`,
      };
    }
    profile.locale = tag;
  }
  if (!isAbsent(appVersion)) {
    const problem = printableProblem('appVersion', appVersion, MAX_APP_VERSION_LENGTH, PRINTABLE_WITH_SPACES);
    if (problem) return { code: 'APP_VERSION_INVALID', message: problem };
    profile.appVersion = appVersion as string;
  }
  return profile;
}

/** The fields a device item of a JSON batch or an SDK registration may have. */
const DEVICE_FIELDS = 'deviceId, pushToken, channel, timeZone, locale and appVersion';

/** A device's checked fields, or the problem, for an item of a JSON batch (any JSON value). */
export function checkDeviceItem(item: unknown, fallbackChannel: string): DeviceInput | DeviceProblem {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return { code: 'DEVICE_INVALID', message: `must be an object with ${DEVICE_FIELDS}` };
  }
  const { deviceId, pushToken, channel, timeZone, locale, appVersion, ...unknown } = item as Record<
    string,
    unknown
  >;
  const extra = Object.keys(unknown);
  if (extra.length > 0) {
    return {
      code: 'DEVICE_INVALID',
      message: `${extra.join(', ')} is not a known field; a device has ${DEVICE_FIELDS}`,
    };
  }
  const device = checkDevice(deviceId, pushToken, channel, fallbackChannel);
  if (isProblem(device)) return device;
  const profile = checkProfile(timeZone, locale, appVersion);
  if ('code' in profile) return profile;
  return { ...device, ...profile };
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

// A fixed offset as Java names it when a device has no zone ID (`GMT+08:00`, `GMT-5`).
const GMT_OFFSET = /^(?:GMT|UTC)([+-])(\d{1,2})(?::?(\d{2}))?$/;

/**
 * The runtime's name for an IANA time zone (`utc` → `UTC`), or null when it knows no such zone. A
 * whole-hour offset becomes its IANA zone (`GMT+08:00` → `Etc/GMT-8`: the Etc names count the other
 * way round), so that an Android device with a custom zone still registers.
 */
function canonicalTimeZone(zone: string): string | null {
  const offset = GMT_OFFSET.exec(zone);
  if (offset) {
    const [, sign, hours, minutes = '00'] = offset;
    const h = Number(hours);
    if (minutes !== '00' || h > (sign === '+' ? 14 : 12)) return null;
    if (h === 0) return 'UTC';
    zone = `Etc/GMT${sign === '+' ? '-' : '+'}${h}`;
  }
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** The canonical form of a BCP 47 tag (`zh-cn` → `zh-CN`), or null when it is not one. */
function canonicalLocale(tag: string): string | null {
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? null;
  } catch {
    return null;
  }
}

function printableProblem(
  field: string,
  value: unknown,
  maxLength: number,
  allowed: RegExp = PRINTABLE,
): string | undefined {
  if (value === undefined || value === null || value === '') return `${field} is missing`;
  if (typeof value !== 'string') return `${field} must be a string`;
  if (value.length > maxLength) {
    return `${field} is ${value.length} characters long; at most ${maxLength} are allowed`;
  }
  if (!allowed.test(value)) {
    return allowed === PRINTABLE
      ? `${field} ${describe(value)} must be printable ASCII characters without spaces`
      : `${field} ${describe(value)} must be printable ASCII characters, without leading or trailing spaces`;
  }
  return undefined;
}

/** A value quoted for a message, cut short so that a huge value cannot flood the error. */
function describe(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
