/**
 * Upload streams with their limits enforced: a raw request body or a multipart file is read as an
 * async iterable of chunks that fails with `PAYLOAD_TOO_LARGE` instead of silently stopping, and
 * with `INSUFFICIENT_STORAGE` when the data folder runs short of free space (disk-space.ts).
 */
import type { Readable } from 'node:stream';
import type { MultipartFile } from '@fastify/multipart';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { withRoomChecks } from './disk-space.ts';

/** The settings an upload is held to: its size, and the free space it must leave. */
export type UploadLimits = Pick<Config, 'uploadLimitBytes' | 'dataDir' | 'minFreeBytes'>;

/** The 413 error of an upload over `limitBytes`. */
export function uploadTooLarge(limitBytes: number): AppError {
  return new AppError(
    'PAYLOAD_TOO_LARGE',
    `The file is larger than the upload limit of ${limitBytes} bytes (PUSHBOARD_UPLOAD_LIMIT_BYTES).`,
  );
}

/** A raw request body that fails with `PAYLOAD_TOO_LARGE` once it passes the upload limit. */
export function limited(body: Readable, limits: UploadLimits): AsyncGenerator<Buffer> {
  return withRoomChecks(upTo(body, limits.uploadLimitBytes), limits);
}

async function* upTo(body: Readable, limitBytes: number): AsyncGenerator<Buffer> {
  let bytes = 0;
  // Not destroyed when reading stops early: the client is still sending, and a destroyed request
  // would cut the connection before the 413 answer reaches it.
  for await (const chunk of body.iterator({ destroyOnReturn: false })) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    bytes += buffer.length;
    if (bytes > limitBytes) throw uploadTooLarge(limitBytes);
    yield buffer;
  }
}

/**
 * A multipart file stream that fails with `PAYLOAD_TOO_LARGE` when the multipart size limit cut it
 * short: the parser then simply ends the stream, which would otherwise pass for the end of the file.
 */
export function untruncated(file: MultipartFile['file'], limits: UploadLimits): AsyncGenerator<Buffer> {
  return withRoomChecks(whole(file, limits.uploadLimitBytes), limits);
}

async function* whole(file: MultipartFile['file'], limitBytes: number): AsyncGenerator<Buffer> {
  for await (const chunk of file) yield chunk as Buffer;
  if (file.truncated) throw uploadTooLarge(limitBytes);
}
