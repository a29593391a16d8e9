/**
 * `buildApp(deps)` assembles the HTTP API as a Fastify instance and never listens: `main.ts` calls
 * `listen`, tests call `inject()`. Cross-cutting concerns live here — authentication and workspace
 * access (onRequest hooks), the error envelope, OpenAPI — and each capability adds its own routes.
 */
import fs from 'node:fs';
import path from 'node:path';
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
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { registerAppRoutes } from './apps/app-routes.ts';
import { registerAudienceRoutes } from './audiences/audience-routes.ts';
import { registerCampaignRoutes } from './campaigns/campaign-routes.ts';
import type { Config } from './config.ts';
import { registerDeviceRoutes } from './devices/device-routes.ts';
import { AppError } from './errors.ts';
import { ErrorEnvelope } from './http/schemas.ts';
import { schemaError } from './http/validation.ts';
import type { ProviderRegistry } from './providers/provider.ts';
import { createProviders } from './providers/registry.ts';
import { registerReceiptRoutes } from './receipts/receipt-routes.ts';
import {
  EVENT_STREAM_LIMITS,
  type EventStreamLimits,
  registerDeviceResultRoutes,
} from './results/device-result-routes.ts';
import type { Db, Role } from './storage/database.ts';
import { registerTaskRoutes } from './tasks/task-routes.ts';
import {
  assertRole,
  authenticate,
  type Principal,
  requiredRole,
  resolveWorkspace,
  type WorkspaceContext,
} from './tenancy/access.ts';
import { registerAuthRoutes } from './tenancy/auth-routes.ts';
import { createTenancyStore } from './tenancy/tenancy-store.ts';
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
  /** The providers whose receipt callbacks the API reads; the built-in ones by default. */
  providers?: ProviderRegistry;
  /** Limits of the live-statistics streams, over `EVENT_STREAM_LIMITS` (tests shorten the intervals). */
  eventStreams?: Partial<EventStreamLimits>;
}

/** The Fastify instance type every route module registers on (TypeBox-typed schemas). */
export type Api = FastifyInstance<
  // biome-ignore lint/suspicious/noExplicitAny: Fastify's default server generics.
  any,
  // biome-ignore lint/suspicious/noExplicitAny: Fastify's default server generics.
  any,
  // biome-ignore lint/suspicious/noExplicitAny: Fastify's default server generics.
  any,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What route modules receive besides the Fastify instance. */
export interface RouteDeps {
  config: Config;
  db: Db;
  clock: () => Date;
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
  const app = Fastify({
    loggerInstance: typeof deps.logger === 'object' ? deps.logger : undefined,
    logger: typeof deps.logger === 'boolean' ? deps.logger : undefined,
    bodyLimit: deps.config.bodyLimitBytes,
  }).withTypeProvider<TypeBoxTypeProvider>();
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

  const tenancy = createTenancyStore(deps.db);
  app.decorateRequest('principal', null as never);
  app.decorateRequest('workspace', null as never);
  app.addHook('onRequest', async (request) => {
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

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply
      .status(appError.status)
      .headers(appError.headers)
      .send({ error: { code: appError.code, message: appError.message, details: appError.details } });
  });
  const consoleIndex = deps.webRoot ? await registerConsole(app, deps.webRoot) : undefined;
  app.setNotFoundHandler((request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    if (consoleIndex && isConsoleRoute(request.method, pathname)) return sendConsole(reply, consoleIndex);
    return reply.status(404).send({
      error: { code: 'NOT_FOUND', message: `No route ${request.method} ${pathname}.` },
    });
  });

  app.get(
    '/api/v1/health',
    {
      config: { public: true },
      schema: {
        tags: ['system'],
        summary: 'Liveness: answers once the server accepts work.',
        security: [],
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
      },
    },
    async () => ({ status: 'ok' }),
  );
  app.get('/api/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  const routeDeps: RouteDeps = { config: deps.config, db: deps.db, clock };
  await app.register(
    async (api) => {
      registerAuthRoutes(api, routeDeps, tenancy);
      registerWorkspaceRoutes(api, routeDeps, tenancy);
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
      registerDeviceResultRoutes(scoped, routeDeps, { ...EVENT_STREAM_LIMITS, ...deps.eventStreams });
    },
    { prefix: '/api/v1/workspaces/:workspaceId' },
  );
  const providers = deps.providers ?? createProviders(deps.db, clock);
  await app.register(async (receipts) => registerReceiptRoutes(receipts, { ...routeDeps, providers }), {
    prefix: '/api/v1/receipts',
  });
  return app;
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
