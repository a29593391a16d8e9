/**
 * What the console knows about each provider: which platforms it serves, its colour in lists, and
 * typed access to an app's provider config (the API answers one config shape per provider).
 */
import type {
  ApnsConfig,
  App,
  FcmConfig,
  Platform,
  ProviderName,
  SimulatorConfig,
  UmengConfig,
} from '../../api/types.ts';

/** The providers an app of each platform may send through, in the order they are offered. */
export const PROVIDERS_OF_PLATFORM: Record<Platform, readonly ProviderName[]> = {
  android: ['simulator', 'umeng', 'fcm'],
  ios: ['simulator', 'umeng', 'apns'],
};

/** The colour of each provider's tag in lists. */
export const PROVIDER_COLOR: Record<ProviderName, string> = {
  simulator: 'cyan',
  umeng: 'orange',
  fcm: 'gold',
  apns: 'geekblue',
};

/** The provider configs, by provider. */
interface ConfigOf {
  simulator: SimulatorConfig;
  umeng: UmengConfig;
  fcm: FcmConfig;
  apns: ApnsConfig;
}

/** The app's provider config when it uses `provider`, else null. */
export function configOf<P extends ProviderName>(
  app: App | null | undefined,
  provider: P,
): ConfigOf[P] | null {
  // The API answers the config of the app's own provider, so the provider tells its shape.
  return app?.provider === provider ? (app.providerConfig as ConfigOf[P]) : null;
}
