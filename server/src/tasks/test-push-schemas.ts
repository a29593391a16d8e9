/**
 * The shapes of the test push routes (docs/api.md#test-push): the device list, the unsaved content
 * (a task's own content fields, taken from the task schemas so the two never differ) and the answer.
 */
import { Type } from 'typebox';
import { MAX_DEVICE_ID_LENGTH } from '../devices/device-input.ts';
import { Nullable } from '../http/schemas.ts';
import { ClickActionSchema, CreateBody } from './task-schemas.ts';
import { MAX_TEST_PUSH_DEVICES } from './test-push.ts';

/** The devices a test push goes to: 1 to 20 device IDs of the app; a repeated ID is sent once. */
const DeviceIds = Type.Array(Type.String({ minLength: 1, maxLength: MAX_DEVICE_ID_LENGTH }), {
  minItems: 1,
  maxItems: MAX_TEST_PUSH_DEVICES,
  description: `1–${MAX_TEST_PUSH_DEVICES} device IDs registered for the app; a repeated ID is sent once.`,
});

/** The body of `POST /tasks/{id}/test`: the devices to send the task's content to. */
export const TaskTestBody = Type.Object({ deviceIds: DeviceIds }, { additionalProperties: false });

/** The body of `POST /test-pushes`: content not saved yet (the create form's), checked as a task's, and the devices. */
export const TestPushBody = Type.Object(
  {
    appId: CreateBody.properties.appId,
    title: CreateBody.properties.title,
    content: CreateBody.properties.content,
    clickAction: Type.Optional(ClickActionSchema),
    ttlSeconds: CreateBody.properties.ttlSeconds,
    category: CreateBody.properties.category,
    deviceIds: DeviceIds,
  },
  { additionalProperties: false },
);

/** What a test push came to for one device. */
export const TestPushResultSchema = Type.Object({
  deviceId: Type.String(),
  sendResult: Type.Enum(['success', 'failure', 'no_feedback'], {
    description:
      'success / no_feedback: accepted by the provider (no_feedback on Android, whose delivery is confirmed ' +
      'later); failure: not sent or refused, see failureReason.',
  }),
  failureReason: Nullable(Type.String(), { description: 'Why the device failed; null otherwise.' }),
});

/** The answer of both test push routes: one result per distinct device, in the order asked. */
export const TestPushAnswer = Type.Object({ results: Type.Array(TestPushResultSchema) });
