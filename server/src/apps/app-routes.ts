import type { Api, RouteDeps } from '../app.ts';

/** Placeholder until this capability lands. */
export function registerAppRoutes(_app: Api, _deps: RouteDeps): void {}
