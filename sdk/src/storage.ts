/**
 * Where the SDK keeps what it has not delivered yet. The interface is the shape of React Native's
 * AsyncStorage, so that it can be passed as is; `localStorageAdapter` wraps a browser's synchronous
 * `localStorage` in it, and `memoryStorage` is the default (nothing survives a restart).
 */

/** An async key-value store the SDK persists its queue and pending registration in. */
export interface PushboardStorage {
  /** The value stored under `key`, or null when there is none. */
  getItem(key: string): Promise<string | null>;
  /** Stores `value` under `key`; resolves once it is written. */
  setItem(key: string, value: string): Promise<void>;
  /** Deletes `key` (nothing happens when it is absent). */
  removeItem(key: string): Promise<void>;
}

/** The synchronous Web Storage methods `localStorageAdapter` needs (`window.localStorage` has them). */
export interface SyncKeyValueStore {
  /** The value under `key`, or null. */
  getItem(key: string): string | null;
  /** Stores `value` under `key` (may throw when the quota is exceeded). */
  setItem(key: string, value: string): void;
  /** Deletes `key`. */
  removeItem(key: string): void;
}

/** An in-memory storage: the default, for tests and for apps that accept losing the queue on restart. */
export function memoryStorage(): PushboardStorage & { readonly size: number } {
  const values = new Map<string, string>();
  return {
    get size() {
      return values.size;
    },
    async getItem(key) {
      return values.get(key) ?? null;
    },
    async setItem(key, value) {
      values.set(key, value);
    },
    async removeItem(key) {
      values.delete(key);
    },
  };
}

/**
 * Wraps a synchronous Web Storage (`window.localStorage`) as a `PushboardStorage`; a quota error
 * becomes a rejected promise, which the SDK reports through `onError`.
 */
export function localStorageAdapter(store: SyncKeyValueStore): PushboardStorage {
  return {
    async getItem(key) {
      return store.getItem(key);
    },
    async setItem(key, value) {
      store.setItem(key, value);
    },
    async removeItem(key) {
      store.removeItem(key);
    },
  };
}
