/**
 * The device ranges a batch is read from and recorded by (README "Write-ahead, hand-over, record"):
 * a batch is the audience members between its first and last device ID, matched to the app's devices
 * whose push token is active. Shared by writing batches ahead (`prepare-store.ts`) and recording
 * them (`record-store.ts`), so that both read the very same rows.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/database.ts';
import type { TaskSend } from './dispatch-store.ts';

/**
 * The matched devices of an audience range: the audience's device IDs (its primary key, in order)
 * joined to the app's devices (their primary key), read in one pass of both B-trees. A device whose
 * token a provider called invalid has no token to send to: it is not matched (docs/devices.md#push-token-lifecycle).
 */
export const matchedInRange = (executor: Kysely<Database>, send: TaskSend, first: string, last: string) =>
  executor
    .selectFrom('audience_members as m')
    .innerJoin('devices as d', (join) =>
      join
        .on('d.app_id', '=', send.app.id)
        .onRef('d.device_id', '=', 'm.device_id')
        .on('d.token_status', '=', 'active'),
    )
    .where('m.audience_id', '=', send.audienceId)
    .where('m.device_id', '>=', first)
    .where('m.device_id', '<=', last);

/**
 * The app's devices with an active token in a range, without the audience: a plain scan of the
 * devices' primary key.
 */
export const devicesInRange = (executor: Kysely<Database>, send: TaskSend, first: string, last: string) =>
  executor
    .selectFrom('devices as d')
    .where('d.app_id', '=', send.app.id)
    .where('d.device_id', '>=', first)
    .where('d.device_id', '<=', last)
    .where('d.token_status', '=', 'active');

/** How many of the app's devices with an active token a range holds (a batch's range is dense if all are its). */
export async function countDevicesInRange(
  executor: Kysely<Database>,
  send: TaskSend,
  first: string,
  last: string,
): Promise<number> {
  const row = await devicesInRange(executor, send, first, last)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
