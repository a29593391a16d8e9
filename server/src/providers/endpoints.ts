/**
 * Where provider requests may go (docs/providers.md#endpoints-and-credentials): each provider's real endpoint, or a URL that starts with
 * one of the deployment's `PUSHBOARD_PROVIDER_URL_ALLOWLIST` prefixes. Both sides are compared as
 * parsed, normalised URLs, never as the text a client typed, so that userinfo (`https://127.0.0.1:@evil`),
 * a query or fragment (which would change the path the request really goes to) or a look-alike host
 * (`https://127.0.0.1.evil`) cannot pass for an allowed address.
 */

/** FCM HTTP v1's real endpoint (docs/providers.md#fcm). */
export const FCM_BASE_URL = 'https://fcm.googleapis.com';

/** Google's OAuth 2.0 token endpoint, a service-account key's usual `token_uri`. */
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

/** APNs' real endpoints per environment (docs/providers.md#apns). */
export const APNS_BASE_URLS = Object.freeze({
  production: 'https://api.push.apple.com',
  sandbox: 'https://api.sandbox.push.apple.com',
});

/**
 * A prefix of the allowlist in its normalised form, or undefined when `raw` is not one: an http(s) URL
 * without userinfo, query or fragment. `https://host:` (ending in a colon) allows any port of that
 * host; any other prefix ends at a path boundary (`https://proxy.example/umeng` allows
 * `…/umeng/…`, not `…/umeng-other`).
 */
export function urlPrefix(raw: string): string | undefined {
  const openPort = /^(https?:\/\/[^/?#@]+):$/i.exec(raw);
  const url = parseEndpoint(openPort ? openPort[1]! : raw);
  if (!url) return undefined;
  if (openPort) return url.port === '' ? `${url.protocol}//${url.hostname}:` : undefined;
  return withSlash(url.href);
}

/**
 * Whether requests may go to `value`: it parses as a plain http(s) URL (no userinfo, query or
 * fragment) that starts with `realEndpoint` (or one of them) or with one of the normalised `allowlist` prefixes.
 */
export function endpointAllowed(
  value: string,
  allowlist: readonly string[],
  realEndpoint: string | readonly string[],
): boolean {
  const url = parseEndpoint(value);
  if (!url) return false;
  const href = withSlash(url.href);
  const real = (typeof realEndpoint === 'string' ? [realEndpoint] : realEndpoint).flatMap(
    (endpoint) => urlPrefix(endpoint) ?? [],
  );
  return [...real, ...allowlist].some((prefix) => href.startsWith(prefix));
}

/** `raw` as a URL when it is a plain http(s) address: no userinfo, query or fragment (not even empty). */
function parseEndpoint(raw: string): URL | undefined {
  if (raw.includes('?') || raw.includes('#')) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || raw.includes('@')) return undefined;
  return url;
}

function withSlash(href: string): string {
  return href.endsWith('/') ? href : `${href}/`;
}
