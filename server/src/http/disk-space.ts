/**
 * Free space in the data folder (docs/operations.md#disk): an upload or import that would leave less than
 * `PUSHBOARD_MIN_FREE_BYTES` free is refused with `507 INSUFFICIENT_STORAGE` — before anything is
 * read when its size is announced, and while it streams otherwise — so that the disk never fills
 * and reading, logging in and health keep working.
 */
import fs from 'node:fs';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

/** Where room is measured and how much must stay free. */
export type DiskRoom = Pick<Config, 'dataDir' | 'minFreeBytes'>;

/** Bytes an upload may take between two looks at the free space. */
export const DISK_CHECK_EVERY_BYTES = 1024 * 1024;

/** Bytes free for this process in the file system of `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const stats = await fs.promises.statfs(dir);
  return stats.bavail * stats.bsize;
}

/** Refuses with 507 when writing `incomingBytes` more would leave less than the minimum free. */
export async function assertRoom(room: DiskRoom, incomingBytes: number): Promise<void> {
  const free = await freeBytes(room.dataDir);
  if (free - incomingBytes < room.minFreeBytes) {
    throw new AppError(
      'INSUFFICIENT_STORAGE',
      `Not enough free disk space: ${free} bytes are free in the data folder and at least ` +
        `${room.minFreeBytes} must stay free (PUSHBOARD_MIN_FREE_BYTES)` +
        (incomingBytes > 0 ? ` after this upload of ${incomingBytes} bytes.` : '.') +
        ' Free some space and try again.',
      { freeBytes: free, minFreeBytes: room.minFreeBytes, uploadBytes: incomingBytes },
      // The rest of the upload is not read: closing the connection spares receiving it.
      { connection: 'close' },
    );
  }
}

/**
 * `source` with the free space checked before the first chunk and again after every
 * `DISK_CHECK_EVERY_BYTES`: fails with 507 once less than the minimum is free.
 */
export async function* withRoomChecks<T extends Buffer | string>(
  source: AsyncIterable<T>,
  room: DiskRoom,
): AsyncGenerator<T> {
  await assertRoom(room, 0);
  let sinceCheck = 0;
  for await (const chunk of source) {
    sinceCheck += chunk.length;
    if (sinceCheck >= DISK_CHECK_EVERY_BYTES) {
      sinceCheck = 0;
      await assertRoom(room, 0);
    }
    yield chunk;
  }
}
