/**
 * `buildApp(deps)` assembles the HTTP API as a Fastify instance and never listens: `main.ts` calls
 * `listen`, tests call `inject()`. Cross-cutting concerns live here — authentication and workspace
 * access (onRequest hooks), the error envelope, OpenAPI — and each capability adds its own routes.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import formatsPlugin from 'ajv-formats';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { sql } from 'kysely';
import { registerAppRoutes } from './apps/app-routes.ts';
import { registerAudienceRoutes } from './audiences/audience-routes.ts';
import { registerCampaignRoutes } from './campaigns/campaign-routes.ts';
import type { Config } from './config.ts';
import { registerDeviceRoutes } from './devices/device-routes.ts';
import { type DueSignal, PROCESS_DUE_SIGNAL } from './dispatch/due-signal.ts';
import { AppError } from './errors.ts';
import { watchBodyArrival } from './http/body-deadline.ts';
import { assertRoom, freeBytes } from './http/disk-space.ts';
import { createLogger, withoutQuery } from './http/logging.ts';
import type { Api, RouteDeps } from './http/route-deps.ts';
import { ErrorEnvelope } from './http/schemas.ts';
import { assertNoNulCharacter, schemaError } from './http/validation.ts';
import type { ProviderRegistry } from './providers/provider.ts';
import { createProviders } from './providers/registry.ts';
import type { ReceiptIngest } from './receipts/receipt-ingest.ts';
import { registerReceiptRoutes } from './receipts/receipt-routes.ts';
import {
  EVENT_STREAM_LIMITS,
  type EventStreamLimits,
  registerDeviceResultRoutes,
} from './results/device-result-routes.ts';
import { registerSdkDeviceRoutes } from './sdk/sdk-device-routes.ts';
import type { Db, Role } from './storage/database.ts';
import { createStores, type Stores } from './stores.ts';
import { registerTaskRoutes } from './tasks/task-routes.ts';
import { registerTestPushRoutes } from './tasks/test-push-routes.ts';
import {
  assertRole,
  authenticate,
  type Principal,
  requiredRole,
  resolveWorkspace,
  type WorkspaceContext,
} from './tenancy/access.ts';
import { registerAuthRoutes } from './tenancy/auth-routes.ts';
import { registerWorkspaceRoutes } from './tenancy/workspace-routes.ts';

/** What the HTTP API is built from; `main.ts` and the tests supply it. */
export interface AppDeps {
  config: Config;
  db: Db;
  /** The current time; tests inject a fixed clock. */
  clock?: () => Date;
  /** A pino logger, or false for silence (tests). */
  logger?: FastifyBaseLogger | boolean;
  /** Folder of the built web console (`web/dist`): served at `/`, with `index.html` for its routes. */
  webRoot?: string;
  /** The providers whose receipt callbacks the API reads and test pushes go through; the built-in ones by default. */
  providers?: ProviderRegistry;
  /** Limits of the live-statistics streams, over `EVENT_STREAM_LIMITS` (tests shorten the intervals). */
  eventStreams?: Partial<EventStreamLimits>;
  /** The stores over `db`; built from it when absent (tests). */
  stores?: Stores;
  /** The "a task may be due" hint; the process's own by default. */
  dueSignal?: DueSignal;
  /** Where receipt requests are stored: the embedded mode's writer thread; on this thread when absent. */
  receiptIngest?: ReceiptIngest;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (absent on public routes). */
    principal: Principal;
    /** The addressed workspace and the caller's role in it (workspace-scoped routes only). */
    workspace: WorkspaceContext;
  }
  interface FastifyContextConfig {
    /** The route needs no bearer token (login, health, receipts…). */
    public?: boolean;
    /** The least role the route needs; defaults to viewer for reads and operator for writes. */
    minRole?: Role;
  }
}

/** Builds the API without listening. */
export async function buildApp(deps: AppDeps): Promise<Api> {
  const clock = deps.clock ?? (() => new Date());
  const headers = securityHeaders(deps.config);
  const requestTimeout = deps.config.requestTimeoutMs;
  const app = Fastify({
    // `true` gets the same redacting logger as the server, never Fastify's own (which logs query strings).
    loggerInstance:
      typeof deps.logger === 'object' ? deps.logger : deps.logger === true ? createLogger('info') : undefined,
    logger: deps.logger === false ? false : undefined,
    bodyLimit: deps.config.bodyLimitBytes,
    // `request.ip` (login throttling, logs) is the client behind a trusted proxy, else the TCP peer.
    trustProxy: deps.config.trustedProxies.length > 0 ? deps.config.trustedProxies : false,
    // Headers must arrive within the timeout; bodies are timed by watchBodyArrival (an upload may
    // take longer as long as it keeps coming), so Node's whole-request timer is off.
    requestTimeout: 0,
    http: {
      headersTimeout: requestTimeout,
      // Node looks for expired requests this often (30 s by default, which would stretch the timeout).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(requestTimeout / 10))),
    },
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // No idle-socket timeout: a long import's apply phase sends nothing for a while and must not
    // be cut; stalled bodies are what watchBodyArrival ends.
    connectionTimeout: 0,
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const appError =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new AppError(
              'URL_TOO_LONG',
              'A part of the URL path is too long: IDs have at most 100 characters.',
            )
          : new AppError('REQUEST_INVALID', 'The URL is malformed: check its percent-encoding.');
      return reply.status(appError.status).headers(headers).send(envelope(appError));
    },
    clientErrorHandler: (error, socket) => answerClientError(error, socket, headers),
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Every answer carries the security headers, errors and unknown routes included.
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(headers);
    watchBodyArrival(request.raw, reply.raw, requestTimeout, isUpload(request) ? 'idle' : 'whole', (socket) =>
      answerClientError(REQUEST_TIMED_OUT, socket, headers),
    );
  });
  // The routes by method, for telling an unknown path (404) from a known one with another method (405).
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = ([] as string[]).concat(route.method);
    routes.push({ pattern: routePattern(route.url), methods });
  });
  // Query strings and path parameters arrive as text and are coerced to their schema types; JSON
  // bodies are not, so `{"name": 42}` is an error rather than the name "42".
  const coercing = createAjv('array');
  const strict = createAjv(false);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema),
  );

  app.addSchema(ErrorEnvelope);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Pushboard API',
        version: '1',
        description:
          'Push tasks, audiences, devices and statistics. Errors use the envelope `ErrorEnvelope`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(multipart, {
    limits: { fileSize: deps.config.uploadLimitBytes, files: 1, fields: 50, fieldSize: 1024 * 1024 },
  });
  // CSV and text uploads reach their handlers as a stream: they are imported line by line, never buffered.
  app.addContentTypeParser(
    ['text/csv', 'text/plain', 'application/octet-stream'],
    (_request, payload, done) => {
      done(null, payload);
    },
  );

  const stores = deps.stores ?? createStores(deps.db);
  const tenancy = stores.tenancy;
  app.decorateRequest('principal', null as never);
  app.decorateRequest('workspace', null as never);
  app.addHook('onRequest', async (request) => {
    assertNoNulCharacter(request.params, 'params');
    assertNoNulCharacter(request.query, 'querystring');
    const config = request.routeOptions.config;
    // Only API routes are authenticated; the docs UI and the console's static files are public.
    if (!request.routeOptions.url?.startsWith('/api/') || config.public) return;
    request.principal = await authenticate(tenancy, request, clock());
    const workspaceId = (request.params as { workspaceId?: string }).workspaceId;
    if (workspaceId !== undefined) {
      request.workspace = await resolveWorkspace(tenancy, request.principal, workspaceId);
      assertRole(request.workspace.role, requiredRole(request.method, config.minRole));
    }
  });

  app.addHook('preValidation', async (request) => {
    assertNoNulCharacter(request.body, 'body');
  });

  // An upload that announces its size is refused before it is read when it would not leave the
  // minimum free space; while it streams, uploads.ts looks again (http/disk-space.ts).
  app.addHook('preHandler', async (request) => {
    if (!isUpload(request)) return;
    const declared = Number(request.headers['content-length'] ?? 0);
    await assertRoom(deps.config, Number.isFinite(declared) ? declared : 0);
  });

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.status(appError.status).headers(appError.headers).send(envelope(appError));
  });
  const consoleIndex = deps.webRoot ? await registerConsole(app, deps.webRoot) : undefined;
  app.setNotFoundHandler((request, reply) => {
    const pathname = withoutQuery(request.url) || '/';
    if (consoleIndex && isConsoleRoute(request.method, pathname)) return sendConsole(reply, consoleIndex);
    const allowed = routes.filter((r) => r.pattern.test(pathname)).flatMap((r) => r.methods);
    if (allowed.length > 0) {
      const allow = [...new Set(allowed)].join(', ');
      return reply
        .status(405)
        .header('allow', allow)
        .send(
          envelope(
            new AppError(
              'METHOD_NOT_ALLOWED',
              `${request.method} is not allowed on ${pathname}; use ${allow}.`,
            ),
          ),
        );
    }
    return reply
      .status(404)
      .send(envelope(new AppError('NOT_FOUND', `No route ${request.method} ${pathname}.`)));
  });

  const HealthAnswer = {
    type: 'object',
    properties: {
      status: { type: 'string', enum: ['ok', 'degraded'] },
      checks: {
        type: 'object',
        properties: {
          store: { type: 'string', enum: ['ok', 'not_writable'] },
          disk: { type: 'string', enum: ['ok', 'low'] },
        },
      },
    },
  } as const;
  app.get(
    '/api/v1/health',
    {
      config: { public: true },
      schema: {
        tags: ['system'],
        summary:
          'Health: 200 `ok` once the server accepts work, 503 `degraded` while the store cannot write.',
        description:
          '`checks.store` is `not_writable` when a write to the store fails (a read-only or full database); ' +
          '`checks.disk` is `low` when the data folder has less than PUSHBOARD_MIN_FREE_BYTES free.',
        security: [],
        response: { 200: HealthAnswer, 503: HealthAnswer },
      },
    },
    async (request, reply) => {
      const [store, disk] = await Promise.all([
        storeWritable(deps.db).then(
          () => 'ok' as const,
          (error: unknown) => {
            request.log.warn({ err: error }, 'health: the store cannot write');
            return 'not_writable' as const;
          },
        ),
        freeBytes(deps.config.dataDir).then(
          (free) => (free >= deps.config.minFreeBytes ? ('ok' as const) : ('low' as const)),
          () => 'low' as const,
        ),
      ]);
      const healthy = store === 'ok' && disk === 'ok';
      return reply
        .status(healthy ? 200 : 503)
        .send({ status: healthy ? 'ok' : 'degraded', checks: { store, disk } });
    },
  );
  app.get('/api/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  const providers = deps.providers ?? createProviders(deps.db, clock, deps.config.providerUrlAllowlist);
  const routeDeps: RouteDeps = {
    config: deps.config,
    db: deps.db,
    clock,
    stores,
    dueSignal: deps.dueSignal ?? PROCESS_DUE_SIGNAL,
  };
  await app.register(
    async (api) => {
      registerAuthRoutes(api, routeDeps);
      registerWorkspaceRoutes(api, routeDeps);
    },
    { prefix: '/api/v1' },
  );
  await app.register(
    async (scoped) => {
      registerAppRoutes(scoped, routeDeps);
      registerDeviceRoutes(scoped, routeDeps);
      registerAudienceRoutes(scoped, routeDeps);
      registerCampaignRoutes(scoped, routeDeps);
      registerTaskRoutes(scoped, routeDeps);
      registerTestPushRoutes(scoped, { ...routeDeps, providers });
      registerDeviceResultRoutes(scoped, routeDeps, { ...EVENT_STREAM_LIMITS, ...deps.eventStreams });
    },
    { prefix: '/api/v1/workspaces/:workspaceId' },
  );
  await app.register(
    async (receipts) =>
      registerReceiptRoutes(receipts, {
        ...routeDeps,
        providers,
        ...(deps.receiptIngest && { ingest: deps.receiptIngest }),
      }),
    {
      prefix: '/api/v1/receipts',
    },
  );
  await app.register(async (sdk) => registerSdkDeviceRoutes(sdk, routeDeps), { prefix: '/api/v1/sdk' });
  return app;
}

/**
 * Milliseconds an idle keep-alive connection stays open: longer than the 60 s idle timeout of common
 * load balancers, so that none reuses a connection the server has just closed.
 */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** The error a body that did not arrive in time is answered as, like Node's own request timeout. */
const REQUEST_TIMED_OUT = Object.assign(new Error('request body timeout'), {
  code: 'ERR_HTTP_REQUEST_TIMEOUT',
});

/**
 * The Content-Security-Policy of every answer. Scripts only from this origin; inline styles are
 * allowed because the console's component library (Ant Design) injects its CSS at run time, and
 * `data:` images and fonts because the console and the docs UI embed their icons.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The security headers of every answer (docs/operations.md#http); HSTS only when the public URL is https. */
function securityHeaders(config: Config): Record<string, string> {
  return {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    ...(config.publicUrl.startsWith('https://') && {
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
    }),
  };
}

/** The docs/api.md#errors envelope of `error`. */
function envelope(error: AppError) {
  return { error: { code: error.code, message: error.message, details: error.details } };
}

/**
 * Answers an HTTP-level error of a connection (a malformed request, headers too large, a request
 * that did not arrive in time) with the envelope, then closes it. Node calls this outside Fastify's
 * routing, so the answer is written to the socket directly.
 */
function answerClientError(
  error: Error & { code?: string },
  socket: Duplex,
  headers: Record<string, string>,
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const appError =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new AppError('REQUEST_TIMEOUT', 'The request did not arrive in time (PUSHBOARD_REQUEST_TIMEOUT_MS).')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? new AppError('HEADERS_TOO_LARGE', 'The request headers are too large.')
        : new AppError('REQUEST_INVALID', 'The request is not valid HTTP.');
  const body = JSON.stringify(envelope(appError));
  // Only when no answer has begun on this connection: one cannot be cut into.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(
      `HTTP/1.1 ${appError.status} ${appError.code}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${lines.join('')}\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** A regular expression matching the concrete paths of a route URL (`/tasks/:id`, `/docs/*`). */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/** Media types whose bodies are uploads: streamed to an import, so held to the free-space minimum. */
const UPLOAD_MEDIA_TYPES = ['multipart/form-data', 'text/csv', 'text/plain', 'application/octet-stream'];

/** Whether `request` carries an upload (a file body of an API route other than the receipts). */
function isUpload(request: FastifyRequest): boolean {
  const url = request.routeOptions.url ?? '';
  if (!url.startsWith('/api/') || url.startsWith('/api/v1/receipts/')) return false;
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return UPLOAD_MEDIA_TYPES.includes(mediaType);
}

/**
 * Resolves when the store accepts a write, rejects with the store's error otherwise (read-only,
 * disk full). The write changes nothing: the migration lock's one row is set to its own value, and
 * committed, so that a full disk fails it as it would fail any other write.
 */
async function storeWritable(db: Db): Promise<void> {
  await sql`update kysely_migration_lock set is_locked = is_locked where id = 'migration_lock'`.execute(db);
}

/** Files under this folder of the built console have content hashes in their names. */
const HASHED_ASSETS = `${path.sep}assets${path.sep}`;

/**
 * Serves the built web console from `webRoot`: its files (hashed assets cached for a year, the rest
 * revalidated) and `index.html` at `/`. Answers the index file to send for the console's own routes,
 * or undefined when the console has not been built (then `/` says how to build it).
 */
async function registerConsole(app: Api, webRoot: string): Promise<string | undefined> {
  const indexFile = path.join(webRoot, 'index.html');
  if (!fs.existsSync(indexFile)) {
    app.get('/', { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send(
          '<p>The Pushboard console is not built: run <code>npm run build</code>. API: <a href="/docs">/docs</a></p>',
        ),
    );
    return undefined;
  }
  await app.register(fastifyStatic, {
    root: webRoot,
    wildcard: false,
    index: false,
    cacheControl: false,
    setHeaders: (res, filePath) => {
      res.setHeader(
        'cache-control',
        filePath.includes(HASHED_ASSETS) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  app.get('/', { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
    sendConsole(reply, indexFile),
  );
  return indexFile;
}

/** A page of the console (`/w/default/tasks/…`): a GET outside the API and docs, not for a file. */
function isConsoleRoute(method: string, pathname: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (pathname.startsWith('/api/') || pathname === '/api' || pathname.startsWith('/docs')) return false;
  return !(pathname.split('/').pop() ?? '').includes('.');
}

function sendConsole(reply: FastifyReply, indexFile: string) {
  return reply
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-cache')
    .send(fs.createReadStream(indexFile));
}

/** Maps anything thrown while handling a request to a catalogue error. */
function toAppError(error: FastifyError | AppError): AppError {
  if (error instanceof AppError) return error;
  if (error.validation) return schemaError(error.validation, error.validationContext);
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new AppError('PAYLOAD_TOO_LARGE', `The request body is too large: ${error.message}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        `${error.message}. Send application/json (or text/csv / multipart/form-data for uploads).`,
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('INVALID_JSON', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new AppError('INVALID_JSON', error.message);
  }
  // Busboy reports a broken multipart body (no boundary, cut short, bad part headers) as a plain Error.
  if (/^(Multipart: |Unexpected end of|Malformed part header)/.test(error.message)) {
    return new AppError(
      'REQUEST_INVALID',
      `The multipart body is malformed (${error.message}): send multipart/form-data with its boundary, or a raw text/csv body.`,
    );
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return new AppError('INVALID_JSON', `The request body is not valid JSON: ${error.message}`);
  }
  if (error.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', error.message);
  if (error.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', error.message);
  return new AppError('INTERNAL', 'Something went wrong on the server; it has been logged.');
}

/** An Ajv instance that reports every error at once and fills in schema defaults. */
function createAjv(coerceTypes: false | 'array'): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    removeAdditional: false,
    useDefaults: true,
    coerceTypes,
    strict: false,
  });
  // ajv-formats is CommonJS: under NodeNext its callable is the `default` property.
  formatsPlugin.default(ajv);
  return ajv;
}
