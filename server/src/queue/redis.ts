/**
 * Redis connections and key names for the scaled mode. Every key Pushboard writes starts with the
 * deployment's prefix (`<prefix>:…`), so one Redis can hold several deployments or test runs side by
 * side and each can be deleted on its own.
 */
import { Redis } from 'ioredis';

/**
 * Opens a connection to `url` that BullMQ accepts for workers as well as queues: commands wait for a
 * reconnect instead of failing after a few retries (`maxRetriesPerRequest: null`), which BullMQ
 * requires of the connection its blocking fetch is duplicated from. `name` shows in `CLIENT LIST`.
 */
export function openRedis(url: string, name?: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    ...(name ? { connectionName: name } : {}),
  });
}

/** The key `<prefix>:<part>:<part>…`, the one way Pushboard names its own Redis keys. */
export function redisKey(prefix: string, ...parts: string[]): string {
  return [prefix, ...parts].join(':');
}

/** A `SCAN MATCH` pattern for every key of `prefix`, with the prefix's glob characters taken literally. */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
}
