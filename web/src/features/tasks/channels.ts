/**
 * Channels in words (CONTEXT.md "Channel"): the push service's own channel, an OEM vendor channel
 * or APNs. The API speaks in channel codes (`huawei`); people read names (Huawei, 华为).
 */
import type { MessageKey } from '../../i18n/en.ts';
import type { Translate } from '../../i18n/i18n.tsx';

const NAMED = {
  umeng: 'channel.umeng',
  simulator: 'channel.simulator',
  huawei: 'channel.huawei',
  xiaomi: 'channel.xiaomi',
  oppo: 'channel.oppo',
  vivo: 'channel.vivo',
  honor: 'channel.honor',
  meizu: 'channel.meizu',
  apns: 'channel.apns',
  fcm: 'channel.fcm',
} as const satisfies Record<string, MessageKey>;

/** The OEM vendor channels of Android devices. */
const VENDORS = new Set(['huawei', 'xiaomi', 'oppo', 'vivo', 'honor', 'meizu']);

/** Push services with an own channel (their SDK's persistent connection) that reaches devices directly. */
const OWN = new Set(['umeng', 'simulator']);

/** A channel's readable name: known codes translated, others as they are, '' as "Unknown". */
export function channelLabel(channel: string | null, t: Translate): string {
  if (!channel) return t('channel.unknown');
  return channel in NAMED ? t(NAMED[channel as keyof typeof NAMED]) : channel;
}

/** What kind of route a channel is ("OEM vendor channel"…), or null when that says nothing more. */
export function channelKind(channel: string, t: Translate): string | null {
  if (VENDORS.has(channel)) return t('channel.vendor');
  if (OWN.has(channel)) return t('channel.own');
  return null;
}
