/**
 * The config of an app on the built-in simulator provider: its fields, its schema and how a client's
 * config is checked. It takes no credentials. `apps/provider-config.ts` composes it with the others.
 */
import { Type } from 'typebox';
import {
  type CredentialFields,
  type FieldRule,
  fraction,
  integer,
  positive,
  rate,
  rateLimitSchema,
} from './config-checks.ts';

/** Behaviour of the built-in simulator provider; every field falls back to the simulator's default. */
export interface SimulatorConfig {
  /** Seed of the simulator's random choices; the same seed gives the same results. */
  seed?: number;
  /** Fractions in [0, 1], applied in funnel order: accepted → delivered → impression → open / dismissal. */
  acceptRate?: number;
  deliveryRate?: number;
  impressionRate?: number;
  openRate?: number;
  dismissalRate?: number;
  /** Divides the simulated receipt delays: 1 is real time, 60 makes an hour pass in a minute. */
  timeScale?: number;
  /** Devices per second handed to the simulator for this app; the deployment default when absent, 0 = no limit. */
  rateLimitPerSecond?: number;
}

/** The simulator's config, for the OpenAPI document. */
export const SimulatorConfigSchema = Type.Object(
  {
    seed: Type.Optional(Type.Integer()),
    acceptRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    deliveryRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    impressionRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    openRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    dismissalRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    timeScale: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    rateLimitPerSecond: rateLimitSchema,
  },
  { additionalProperties: false, title: 'SimulatorConfig' },
);

/** How each field of a simulator config is checked. */
export const SIMULATOR_CONFIG_RULES: Record<keyof SimulatorConfig, FieldRule> = {
  seed: { required: false, check: integer },
  acceptRate: { required: false, check: fraction },
  deliveryRate: { required: false, check: fraction },
  impressionRate: { required: false, check: fraction },
  openRate: { required: false, check: fraction },
  dismissalRate: { required: false, check: fraction },
  timeScale: { required: false, check: positive },
  rateLimitPerSecond: { required: false, check: rate },
};

/** The simulator takes no credentials. */
export const SIMULATOR_CREDENTIAL_FIELDS: CredentialFields = { secrets: [], identity: [], endpoints: [] };
