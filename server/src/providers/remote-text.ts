/**
 * What of a provider's answer may be copied into a batch error, a device result or a task's failure
 * reason. Whatever answers at an app's address may be hostile: it must not be able to read the request
 * back through the task, nor garble the console with control characters or kilobytes of text.
 */

/** Most characters of a provider's own error message copied into a batch or task error. */
export const REMOTE_MESSAGE_MAX_CHARS = 200;

/** An error code taken from an answer as it is; anything else is `UNKNOWN` (see `remoteCode`). */
const REMOTE_CODE = /^[A-Za-z0-9_.-]{1,32}$/;

/** A provider's error code as it may be kept: a short word, else `fallback`. */
export function remoteCode(given: string | undefined, fallback = 'UNKNOWN'): string {
  return given !== undefined && REMOTE_CODE.test(given) ? given : fallback;
}

/**
 * A provider's error message as it may be copied into a batch or task error: control characters
 * removed, then every text of the request (`requestTexts`: keys, signatures, tokens, the receipt URL
 * and its secret…) replaced by "…" in the whole text, and only then cut to `REMOTE_MESSAGE_MAX_CHARS`.
 * In this order, a request text split by control characters is joined again before it is looked for,
 * and no cut can leave a part of one.
 */
export function remoteMessage(raw: string, requestTexts: readonly string[]): string {
  // \p{Cc}: control characters (line breaks, escapes) that would garble a task's failure reason.
  let message = raw.replace(/\p{Cc}+/gu, '');
  for (const part of requestTexts) if (part !== '') message = message.split(part).join('…');
  message = message.trim();
  return message.length > REMOTE_MESSAGE_MAX_CHARS
    ? `${message.slice(0, REMOTE_MESSAGE_MAX_CHARS)}…`
    : message;
}
