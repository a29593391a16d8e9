/**
 * What every route module is registered with: the typed Fastify instance and the dependencies the
 * composition root (`buildApp`) builds once and passes in — never built by a route module itself.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import type { DueSignal } from '../dispatch/due-signal.ts';
import type { Db } from '../storage/database.ts';
import type { Stores } from '../stores.ts';

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
  /** The stores over `db`, built once by the composition root. */
  stores: Stores;
  /** The hint raised when a task may have become due. */
  dueSignal: DueSignal;
}
