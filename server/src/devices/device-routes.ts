import type { Api, RouteDeps } from '../app.ts';

/** Placeholder until this capability lands. */
export function registerDeviceRoutes(_app: Api, _deps: RouteDeps): void {}
