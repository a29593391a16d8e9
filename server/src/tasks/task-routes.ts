import type { Api, RouteDeps } from '../app.ts';

/** Placeholder until this capability lands. */
export function registerTaskRoutes(_app: Api, _deps: RouteDeps): void {}
