// The sign-in of the self-service page: OIDC authorization code flow with PKCE (S256), state and
// nonce, with panva's openid-client (v6). The provider is the OIDC discovery document of a configured
// JWT issuer, read once per setting and kept an hour (a failed read is retried after 10 s).
import * as client from 'openid-client';
import type { Logger } from '../log.js';
import { discoveryDocumentUrl } from '../pipeline/verify/jwt/discovery.js';
import { insecureAllowed } from '../config/self-service-schema.js';

export interface ProviderSettings {
  /** The issuer's discovery URL (keys.discovery, else its issuer URL). */
  discoveryUrl: string;
  clientId: string;
  clientSecret?: string;
}

const KEEP_MS = 3_600_000;
const RETRY_AFTER_FAILURE_MS = 10_000;
const TIMEOUT_SEC = 10;

/** The provider could not be read (discovery failed): the page answers 502 and says so. */
export class ProviderUnavailable extends Error {}

export class OidcProviders {
  private entry?: { key: string; at: number; config?: Promise<client.Configuration>; failedAt?: number; error?: string };

  constructor(
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  /** The openid-client Configuration for these settings (discovered on first use, one setting at a time). */
  async get(s: ProviderSettings): Promise<client.Configuration> {
    const key = JSON.stringify([s.discoveryUrl, s.clientId, s.clientSecret ?? null]);
    const now = this.now();
    let e = this.entry;
    if (e && e.key === key && e.failedAt !== undefined && now - e.failedAt < RETRY_AFTER_FAILURE_MS) {
      throw new ProviderUnavailable(e.error ?? 'discovery failed');
    }
    if (!e || e.key !== key || e.failedAt !== undefined || now - e.at > KEEP_MS) {
      const url = new URL(discoveryDocumentUrl(s.discoveryUrl));
      // Plain http only for a provider on this machine (the configuration check refuses any other).
      const insecure = url.protocol === 'http:' && insecureAllowed(url.href);
      const config = client.discovery(
        url,
        s.clientId,
        s.clientSecret ? { client_secret: s.clientSecret } : undefined,
        s.clientSecret ? client.ClientSecretBasic(s.clientSecret) : client.None(),
        { timeout: TIMEOUT_SEC, execute: insecure ? [client.allowInsecureRequests] : [] },
      );
      e = this.entry = { key, at: now, config };
      const mine = e;
      config.catch((err: unknown) => {
        mine.failedAt = this.now();
        mine.error = describe(err);
        this.logger.warn({ discovery: url.href, err: mine.error }, 'self-service page: OIDC discovery failed');
      });
    }
    try {
      return await e.config!;
    } catch (err) {
      throw new ProviderUnavailable(describe(err));
    }
  }
}

/** An openid-client / oauth4webapi error in one line (code, the provider's error, the message). */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: string; error?: string; error_description?: string; cause?: unknown };
  const parts = [e.code, e.error, e.error_description ?? e.message].filter((p): p is string => typeof p === 'string' && p !== '');
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${[...new Set(parts)].join(': ')}${cause}`.slice(0, 500);
}

export interface StartedLogin {
  url: URL;
  state: string;
  pkceVerifier: string;
  nonce?: string;
}

/** The authorization request: PKCE S256, a fresh state, a nonce when an ID token is asked for. */
export async function startLogin(config: client.Configuration, o: { redirectUri: string; scopes: string[]; resource?: string }): Promise<StartedLogin> {
  const pkceVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = o.scopes.includes('openid') ? client.randomNonce() : undefined;
  const params: Record<string, string> = {
    redirect_uri: o.redirectUri,
    scope: o.scopes.join(' '),
    code_challenge: await client.calculatePKCECodeChallenge(pkceVerifier),
    code_challenge_method: 'S256',
    state,
  };
  if (nonce) params.nonce = nonce;
  if (o.resource) params.resource = o.resource;
  return { url: client.buildAuthorizationUrl(config, params), state, pkceVerifier, nonce };
}

export interface FinishedLogin {
  accessToken: string;
  /** Seconds the access token lives, when the provider said. */
  expiresIn?: number;
  /** ID token claims, when there was one. */
  claims?: Record<string, unknown>;
}

/**
 * The authorization response at our callback: its state, iss (RFC 9207, when the provider
 * announces it) and code are checked, the code is exchanged with the PKCE verifier, and the ID
 * token's nonce must match.
 */
export async function finishLogin(
  config: client.Configuration,
  callbackUrl: URL,
  o: { state: string; pkceVerifier: string; nonce?: string; resource?: string },
): Promise<FinishedLogin> {
  const tokens = await client.authorizationCodeGrant(
    config,
    callbackUrl,
    { pkceCodeVerifier: o.pkceVerifier, expectedState: o.state, ...(o.nonce ? { expectedNonce: o.nonce, idTokenExpected: true } : {}) },
    o.resource ? { resource: o.resource } : undefined,
  );
  if (!tokens.access_token) throw new Error('the token endpoint answered without an access_token');
  const claims = tokens.claims() as Record<string, unknown> | undefined;
  return { accessToken: tokens.access_token, expiresIn: tokens.expiresIn(), claims };
}
