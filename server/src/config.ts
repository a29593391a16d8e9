/**
 * Pushboard's settings: one schema, parsed once from environment variables and command-line flags
 * (flags win). This is the only module that reads `process.env`; everything else receives a `Config`.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { urlPrefix } from './providers/endpoints.ts';

/** Every setting the server and the CLI understand, already parsed and checked. */
export interface Config {
  /** TCP port the HTTP server listens on. */
  port: number;
  /** Interface the HTTP server binds to. */
  host: string;
  /** Folder holding the SQLite file (`pushboard.db`) and other local state. */
  dataDir: string;
  /** Path of the SQLite database file; derived from `dataDir` unless set. Unused with `databaseUrl`. */
  sqliteFile: string;
  /**
   * PostgreSQL connection URL (`DATABASE_URL`): the scaled store, shared by every process of a
   * deployment. Absent: the embedded SQLite file.
   */
  databaseUrl: string | undefined;
  /**
   * Redis URL (`REDIS_URL`): work is distributed through BullMQ queues there, so that any number of
   * worker processes share it. Absent: jobs run in this process. Needs `databaseUrl`.
   */
  redisUrl: string | undefined;
  /** Prefix of every Redis key of this deployment (`PUSHBOARD_REDIS_PREFIX`), so deployments can share a Redis. */
  redisPrefix: string;
  /** Milliseconds a worker's job lock lasts without renewal: a worker that died is replaced after this. */
  jobLockMs: number;
  /** Password for the `admin` user created on first start; generated and printed when absent. */
  adminPassword: string | undefined;
  /** Whether the first start creates the simulator apps, their virtual fleet and the demo audience. */
  seedDemo: boolean;
  /** Number of Android devices in the first-start virtual fleet (iOS gets half as many). */
  demoFleetSize: number;
  /** pino log level (`fatal` … `trace`, or `silent`). */
  logLevel: string;
  /**
   * How `pushboard serve` writes its log (`PUSHBOARD_LOG_FORMAT`): `json` lines for machines, `pretty`
   * lines for people (pino-pretty), or `auto` (the default): pretty when stdout is a terminal.
   */
  logFormat: LogFormat;
  /** Largest accepted JSON request body, in bytes (file uploads are streamed and limited separately). */
  bodyLimitBytes: number;
  /** Largest accepted uploaded file (device CSV, audience file), in bytes. */
  uploadLimitBytes: number;
  /** Hours after a task starts sending during which receipts count; later ones are `late` (docs/statistics.md#windows). */
  statisticsWindowHours: number;
  /** Hours after a task starts sending that its device results are kept (docs/statistics.md#windows). */
  retentionHours: number;
  /** Milliseconds between two runs of the retention job that deletes expired device results. */
  retentionIntervalMs: number;
  /**
   * Base URL at which providers and devices reach this server (no trailing slash); receipt URLs
   * handed to providers start with it. Defaults to `http://localhost:<port>`.
   */
  publicUrl: string;
  /** Dispatch settings: how tasks are started and sent (server/src/dispatch/README.md). */
  dispatch: DispatchSettings;
  /**
   * URL prefixes (`PUSHBOARD_PROVIDER_URL_ALLOWLIST`, comma-separated, normalised by `urlPrefix`) an
   * app's provider endpoint (`baseUrl`…) may start with besides the provider's real one (docs/providers.md#endpoints-and-credentials).
   * Empty by default: every provider request goes to the provider's real endpoint.
   */
  providerUrlAllowlist: string[];
  /**
   * The 32-byte key app secrets and provider credentials are encrypted with (`PUSHBOARD_SECRET_KEY`,
   * base64 or 64 hex digits). Absent: the embedded mode keeps a key file in the data folder; the
   * scaled mode refuses to start (every process needs the same key).
   */
  secretKey: Buffer | undefined;
  /**
   * Milliseconds a request's headers and JSON body have to arrive in (`PUSHBOARD_REQUEST_TIMEOUT_MS`);
   * an upload may take longer while it keeps coming, but may not stall for longer. A client that
   * stalls is cut off instead of holding a connection (and an upload) open forever.
   */
  requestTimeoutMs: number;
  /**
   * Bytes that must stay free in the data folder (`PUSHBOARD_MIN_FREE_BYTES`): an upload or import
   * that would leave less is refused with 507, and health reports `degraded` below it.
   */
  minFreeBytes: number;
  /**
   * Addresses or CIDR ranges of the reverse proxies in front (`PUSHBOARD_TRUST_PROXY`, comma-separated):
   * a request from one of them is taken to come from the client its `X-Forwarded-For` names, so login
   * throttling counts clients, not the proxy. Empty by default: the TCP peer is the client.
   */
  trustedProxies: string[];
  /**
   * Device registrations through the SDK (`POST /api/v1/sdk/devices`) each app may make per second
   * in one API process (`PUSHBOARD_SDK_REGISTRATION_RATE`), with bursts of up to ten seconds' worth;
   * beyond, `429 TOO_MANY_REGISTRATIONS` with `Retry-After` (the SDK keeps the registration and
   * retries). 0 lifts the limit.
   */
  sdkRegistrationsPerSecond: number;
}

/** The values of `PUSHBOARD_LOG_FORMAT`. */
export type LogFormat = 'auto' | 'json' | 'pretty';

const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];

/** How the dispatcher starts and sends tasks. */
export interface DispatchSettings {
  /** Milliseconds between two looks for due tasks; at most 1,000 so a task starts within 1 s of its time. */
  pollIntervalMs: number;
  /** Audience devices taken per batch (one provider request); a provider may ask for fewer. */
  batchSize: number;
  /** Devices per second handed to the provider, per app; 0 means no limit. */
  rateLimitPerSecond: number;
  /** Calls of one batch to the provider before a retryable error stops the send. */
  maxAttempts: number;
  /** Delay before the first retry of a batch, in milliseconds; it doubles with every attempt. */
  retryBaseMs: number;
  /** Tasks sent at the same time by this process. */
  concurrentTasks: number;
}

/** Settings given on the command line; names match the long flags (`--data-dir` → `dataDir`). */
export type ConfigFlags = Partial<Pick<Config, 'port' | 'host' | 'dataDir' | 'logLevel'>>;

/** A setting that could not be parsed; the message names the variable or flag and what it expects. */
export class ConfigError extends Error {}

const MIB = 1024 * 1024;
const HOURS_PER_YEAR = 365 * 24;

/** Reads the environment (and optional flags) into a checked `Config`, throwing `ConfigError` on bad values. */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(flags.dataDir ?? env.PUSHBOARD_DATA_DIR ?? './data');
  const port = flags.port ?? integer(env, 'PORT', 3000, 0, 65535);
  return {
    port,
    host: flags.host ?? env.HOST ?? '0.0.0.0',
    dataDir,
    sqliteFile: env.PUSHBOARD_SQLITE_FILE
      ? path.resolve(env.PUSHBOARD_SQLITE_FILE)
      : path.join(dataDir, 'pushboard.db'),
    ...scaleOut(env),
    adminPassword: nonEmpty(env.PUSHBOARD_ADMIN_PASSWORD),
    seedDemo: boolean(env, 'PUSHBOARD_SEED_DEMO', true),
    demoFleetSize: integer(env, 'PUSHBOARD_DEMO_FLEET_SIZE', 100_000, 0, 10_000_000),
    logLevel: flags.logLevel ?? env.LOG_LEVEL ?? 'info',
    logFormat: logFormat(env),
    bodyLimitBytes: integer(env, 'PUSHBOARD_BODY_LIMIT_BYTES', 1 * MIB, 1024, 1024 * MIB),
    uploadLimitBytes: integer(env, 'PUSHBOARD_UPLOAD_LIMIT_BYTES', 4096 * MIB, 1024, Number.MAX_SAFE_INTEGER),
    statisticsWindowHours: integer(env, 'PUSHBOARD_STATISTICS_WINDOW_HOURS', 72, 1, HOURS_PER_YEAR),
    retentionHours: integer(env, 'PUSHBOARD_RETENTION_HOURS', 72, 1, HOURS_PER_YEAR),
    retentionIntervalMs: integer(env, 'PUSHBOARD_RETENTION_INTERVAL_MS', 600_000, 1000, 86_400_000),
    publicUrl: publicUrl(env, port),
    dispatch: {
      pollIntervalMs: integer(env, 'PUSHBOARD_DISPATCH_POLL_MS', 250, 10, 1000),
      batchSize: integer(env, 'PUSHBOARD_DISPATCH_BATCH_SIZE', 2000, 1, 100_000),
      rateLimitPerSecond: integer(env, 'PUSHBOARD_DISPATCH_RATE_LIMIT', 0, 0, 100_000_000),
      maxAttempts: integer(env, 'PUSHBOARD_DISPATCH_MAX_ATTEMPTS', 5, 1, 100),
      retryBaseMs: integer(env, 'PUSHBOARD_DISPATCH_RETRY_BASE_MS', 1000, 1, 3_600_000),
      concurrentTasks: integer(env, 'PUSHBOARD_DISPATCH_CONCURRENT_TASKS', 4, 1, 1000),
    },
    providerUrlAllowlist: providerUrlAllowlist(env),
    secretKey: secretKey(env),
    requestTimeoutMs: integer(env, 'PUSHBOARD_REQUEST_TIMEOUT_MS', 60_000, 100, 86_400_000),
    minFreeBytes: integer(env, 'PUSHBOARD_MIN_FREE_BYTES', 1024 * MIB, 0, Number.MAX_SAFE_INTEGER),
    sdkRegistrationsPerSecond: integer(env, 'PUSHBOARD_SDK_REGISTRATION_RATE', 200, 0, 1_000_000),
    trustedProxies: trustedProxies(env),
  };
}

function providerUrlAllowlist(env: NodeJS.ProcessEnv): string[] {
  const entries = (env.PUSHBOARD_PROVIDER_URL_ALLOWLIST ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  return entries.map((entry) => {
    const prefix = urlPrefix(entry);
    if (prefix === undefined) {
      throw new ConfigError(
        `PUSHBOARD_PROVIDER_URL_ALLOWLIST: "${entry}" is not an http(s) URL prefix without user, query or fragment, ` +
          'such as https://umeng-proxy.example.com/ or https://127.0.0.1: (any port of that host)',
      );
    }
    return prefix;
  });
}

/** Bytes of a secret key (AES-256), `PUSHBOARD_SECRET_KEY` or the key file (security/secret-box.ts). */
export const SECRET_KEY_BYTES = 32;

/** How to make a `PUSHBOARD_SECRET_KEY`, for every error that asks for one. */
export const MAKE_SECRET_KEY = `make one with: node -e "console.log(require('crypto').randomBytes(${SECRET_KEY_BYTES}).toString('base64'))"`;

function secretKey(env: NodeJS.ProcessEnv): Buffer | undefined {
  const raw = nonEmpty(env.PUSHBOARD_SECRET_KEY?.trim());
  if (raw === undefined) return undefined;
  const key = /^[0-9a-fA-F]{64}$/.test(raw)
    ? Buffer.from(raw, 'hex')
    : /^[A-Za-z0-9+/]{43}=?$/.test(raw)
      ? Buffer.from(raw, 'base64')
      : undefined;
  if (key?.length !== SECRET_KEY_BYTES) {
    throw new ConfigError(
      `PUSHBOARD_SECRET_KEY must be ${SECRET_KEY_BYTES} random bytes as base64 (44 characters) or as 64 hex digits; ${MAKE_SECRET_KEY}`,
    );
  }
  return key;
}

/** The scaled-mode settings: PostgreSQL and Redis URLs, checked together. */
function scaleOut(
  env: NodeJS.ProcessEnv,
): Pick<Config, 'databaseUrl' | 'redisUrl' | 'redisPrefix' | 'jobLockMs'> {
  const databaseUrl = nonEmpty(env.DATABASE_URL);
  const redisUrl = nonEmpty(env.REDIS_URL);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      `DATABASE_URL must be a PostgreSQL URL such as postgres://user@host:5432/pushboard, got "${maskPassword(databaseUrl)}"`,
    );
  }
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError(
      `REDIS_URL must be a Redis URL such as redis://host:6379, got "${maskPassword(redisUrl)}"`,
    );
  }
  if (redisUrl !== undefined && databaseUrl === undefined) {
    // Workers on other machines cannot reach this machine's SQLite file.
    throw new ConfigError('REDIS_URL needs DATABASE_URL: the scaled mode keeps its state in PostgreSQL');
  }
  const redisPrefix = nonEmpty(env.PUSHBOARD_REDIS_PREFIX) ?? 'pushboard';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(redisPrefix)) {
    throw new ConfigError(
      `PUSHBOARD_REDIS_PREFIX must be 1 to 64 letters, digits, "_" or "-", got "${redisPrefix}"`,
    );
  }
  return {
    databaseUrl,
    redisUrl,
    redisPrefix,
    jobLockMs: integer(env, 'PUSHBOARD_JOB_LOCK_MS', 30_000, 1000, 600_000),
  };
}

/**
 * `url` with the password of its user part replaced by `***` (`postgres://user:***@host/db`), for
 * messages and logs: a connection URL carries the database password.
 */
export function maskPassword(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
  if (!scheme) return url;
  // The user part ends at the authority's last "@" (a password may hold more of them).
  const authorityEnd = url.slice(scheme.length).search(/[/?#]|$/) + scheme.length;
  const at = url.lastIndexOf('@', authorityEnd);
  const colon = url.indexOf(':', scheme.length);
  if (at < scheme.length || colon === -1 || colon > at) return url;
  return `${url.slice(0, colon)}:***${url.slice(at)}`;
}

/** The reverse proxies to trust: IPv4/IPv6 addresses, optionally with a `/prefix` length. */
function trustedProxies(env: NodeJS.ProcessEnv): string[] {
  const entries = (nonEmpty(env.PUSHBOARD_TRUST_PROXY) ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address);
    const maxPrefix = family === 6 ? 128 : 32;
    if (family === 0 || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= maxPrefix))) {
      throw new ConfigError(
        `PUSHBOARD_TRUST_PROXY must list proxy addresses or CIDR ranges such as 10.0.0.1,192.168.0.0/16, got "${entry}"`,
      );
    }
  }
  return entries;
}

/** Parses a port given as a command-line flag, for the CLI. */
export function parsePortFlag(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`--port must be an integer between 0 and 65535, got "${value}"`);
  }
  return port;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function publicUrl(env: NodeJS.ProcessEnv, port: number): string {
  const raw = nonEmpty(env.PUSHBOARD_PUBLIC_URL);
  if (raw === undefined) return `http://localhost:${port}`;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new ConfigError(
      `PUSHBOARD_PUBLIC_URL must be an http(s) URL without query, such as https://push.example.com, got "${raw}"`,
    );
  }
  return raw.replace(/\/+$/, '');
}

function logFormat(env: NodeJS.ProcessEnv): LogFormat {
  const raw = nonEmpty(env.PUSHBOARD_LOG_FORMAT)?.toLowerCase() ?? 'auto';
  const format = LOG_FORMATS.find((f) => f === raw);
  if (!format) {
    throw new ConfigError(
      `PUSHBOARD_LOG_FORMAT must be auto, json or pretty, got "${env.PUSHBOARD_LOG_FORMAT}"`,
    );
  }
  return format;
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = nonEmpty(env[name])?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}
