/**
 * The shapes of a task's device-details routes (docs/statistics.md#device-results, docs/api.md): the device filter, the device list,
 * Generate Audience and the breakdown, as TypeBox schemas. The routes validate and serialise with
 * them, and the console takes its types from them (`web/src/api/types.ts`, type-only imports).
 */
import { type TSchema, Type } from 'typebox';
import { Name } from '../http/schemas.ts';
import { MAX_TIMELINE_BUCKETS } from './breakdown-store.ts';
import { RECEIPT_FILTERS, SEND_RESULT_FILTERS } from './device-result-store.ts';

/** Most devices one page of `…/devices` returns. */
export const MAX_DEVICE_PAGE = 1_000;

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** The device filter of docs/api.md#shapes, as query parameters or body fields; each part is optional. */
const filterFields = {
  sendResult: Type.Optional(
    Type.Enum(SEND_RESULT_FILTERS, {
      description:
        'success, failure, no_feedback, or pending: audience devices not handed to the provider yet ' +
        '(only while the task is sending).',
    }),
  ),
  receipt: Type.Optional(
    Type.Enum(RECEIPT_FILTERS, {
      description: 'Only devices with this receipt (impression, open, dismissal).',
    }),
  ),
  without: Type.Optional(
    Type.Enum(RECEIPT_FILTERS, {
      description:
        'Only devices without this receipt; with sendResult=success, e.g. "delivered but not opened".',
    }),
  ),
  deviceId: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      description:
        'Only devices whose ID starts with this text (exact, case-sensitive): the device-ID search.',
    }),
  ),
};

/** The query of the CSV export: the device filter. */
export const FilterQuery = Type.Object(filterFields);

/** The query of the device list: the device filter, a keyset cursor and a page size. */
export const ListQuery = Type.Object({
  ...filterFields,
  cursor: Type.Optional(
    Type.String({
      maxLength: 2048,
      description: 'The `nextCursor` of the previous page, unchanged; left out for the first page.',
    }),
  ),
  limit: Type.Integer({ minimum: 1, maximum: MAX_DEVICE_PAGE, default: 50 }),
});

/** The device filter as a body field. */
const FilterBody = Type.Object(filterFields, {
  additionalProperties: false,
  description: 'The device filter; left out or {} saves every device the task was sent to.',
});

/** The body of Generate Audience: the new audience's name and the filter to save. */
export const GenerateBody = Type.Object(
  { name: Name, filter: Type.Optional(FilterBody) },
  { additionalProperties: false },
);

/** One device's result in one task, as listed and exported. */
export const DeviceItem = Type.Object({
  deviceId: Type.String(),
  batchId: Nullable(
    Type.String({ description: 'The provider request the device was sent in; null when pending.' }),
  ),
  platform: Type.Enum(['ios', 'android']),
  channel: Type.String({
    description: 'Channel the device was reached through (umeng, huawei, xiaomi, apns…); empty when unknown.',
  }),
  sendResult: Type.Enum(SEND_RESULT_FILTERS),
  failureReason: Nullable(
    Type.String({ description: 'Why the provider rejected the device; failures only.' }),
  ),
  deliveredAt: Nullable(Type.String()),
  impressionAt: Nullable(Type.String()),
  openAt: Nullable(Type.String()),
  dismissalAt: Nullable(Type.String({ description: 'Always null on iOS (no dismissal receipts).' })),
});

/** One keyset page of a task's devices. */
export const DevicePage = Type.Object({
  items: Type.Array(DeviceItem),
  total: Type.Integer({
    description:
      'Exact number of devices matching the filter, counted on the first page and kept by the cursor.',
  }),
  nextCursor: Nullable(
    Type.String({ description: 'Pass back as `cursor` for the next page; null on the last.' }),
  ),
});

/** The audience Generate Audience created. */
export const GeneratedAudience = Type.Object({
  id: Type.String(),
  name: Type.String(),
  size: Type.Integer({
    description: 'Devices saved; at least 1 (nothing matching is refused with 409 GENERATED_AUDIENCE_EMPTY).',
  }),
  source: Type.Literal('task_result'),
  sourceTaskId: Type.String(),
  sourceFilter: Type.Record(Type.String(), Type.String()),
  createdAt: Type.String(),
});

/** A count of devices, with what it counts. */
const count = (description: string) => Type.Integer({ minimum: 0, description });

/** The counts of one channel in a task's breakdown, in the words of the task statistics. */
export const ChannelItem = Type.Object({
  channel: Type.String({
    description:
      "The channel the devices were reached through: the provider's own (umeng, simulator), an OEM " +
      "vendor's (huawei, xiaomi, oppo, vivo, honor) or apns; empty when the app did not know it.",
  }),
  totalSent: count('Devices of this channel handed to the provider.'),
  deliveries: count('Devices with send result success.'),
  failures: count('Devices the provider rejected.'),
  noFeedback: count('Android: accepted, no delivery receipt (yet). iOS: always 0.'),
  impressions: count('Devices with an impression receipt.'),
  opens: count('Devices with an open receipt.'),
  dismissals: count('Devices with a dismissal receipt. iOS: always 0.'),
});

/** The receipts whose time falls in one bucket of a task's timeline. */
export const TimelineBucketItem = Type.Object({
  at: Type.String({
    description: "Start of the bucket: the task's startedAt plus a whole number of buckets.",
  }),
  deliveries: count('Devices whose delivery receipt time falls in the bucket (iOS: accepted at send).'),
  impressions: count('Devices whose impression receipt time falls in the bucket.'),
  opens: count('Devices whose open receipt time falls in the bucket.'),
  dismissals: count('Devices whose dismissal receipt time falls in the bucket. iOS: always 0.'),
});

/** Failure reasons a breakdown lists. */
export const FAILURE_REASONS_SHOWN = 10;

/** A task's device results per channel, its receipts over time and its top failure reasons. */
export const Breakdown = Type.Object({
  channels: Type.Array(ChannelItem, {
    description:
      'One item per channel, most devices first. Summed over the channels, every count equals the ' +
      "task's statistic of the same name (pending devices have no channel yet and are in none).",
  }),
  timeline: Type.Object({
    bucketMinutes: Type.Integer({
      minimum: 1,
      description:
        'Minutes per bucket: the finest of 1, 5, 15, 30 or 60 that covers the time since the send ' +
        `started (up to the end of the statistics window) in at most ${MAX_TIMELINE_BUCKETS} buckets.`,
    }),
    buckets: Type.Array(TimelineBucketItem, {
      description:
        'Consecutive buckets from startedAt to now (or to the end of the statistics window once it has ' +
        'closed), empty ones included; empty before the task starts.',
    }),
  }),
  failureReasons: Type.Array(
    Type.Object({
      reason: Type.String({ description: "The failure reason as recorded, in the provider's words." }),
      devices: Type.Integer(),
    }),
    {
      description: `The ${FAILURE_REASONS_SHOWN} most frequent failure reasons of the task's devices, most devices first.`,
    },
  ),
});
