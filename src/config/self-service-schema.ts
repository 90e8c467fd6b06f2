// selfService: the API-token page on the proxy listener (/_sidecar/tokens/ui, issue 19). Users sign
// in with an OIDC provider (authorization code + PKCE) that is one of the configured JWT issuers, and
// the access token they get is judged by the proxy's own stages on every call the page makes.
import { z } from 'zod';

/** Where the IdP sends the browser back: the page's cookies and links live under /_sidecar/tokens. */
export const SELF_SERVICE_CALLBACK_PATH = '/_sidecar/tokens/callback';

const nonEmpty = z.string().min(1, 'must not be empty');

export const selfServiceSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** The jwt.issuers[].name whose OIDC discovery document (keys.discovery, else its issuer URL) is the sign-in provider. */
    issuer: nonEmpty.optional(),
    /** The client registered at the IdP for this page. */
    clientId: nonEmpty.optional(),
    /** A confidential client's secret (client_secret_basic); unset: a public client, PKCE alone. A secret: masked. */
    clientSecret: z.string().optional(),
    /** The redirect URI registered at the IdP; unset: derived from the request (scheme, host) + /_sidecar/tokens/callback. */
    redirectUrl: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL, e.g. https://jira-api.example.com/_sidecar/tokens/callback' }).optional(),
    scopes: z.array(nonEmpty).min(1).default(['openid', 'profile']),
    /** RFC 8707 resource indicator sent with the sign-in, so the IdP issues a JWT access token for our audience. */
    resource: nonEmpty.optional(),
    /** A page session lasts this long at most (and never longer than its access token). */
    sessionTtlSec: z.number().int().min(60).max(86_400).default(3600),
  })
  .prefault({})
  .superRefine((v, ctx) => {
    if (v.redirectUrl !== undefined) {
      try {
        const u = new URL(v.redirectUrl);
        if (u.pathname !== SELF_SERVICE_CALLBACK_PATH || u.search || u.hash)
          ctx.addIssue({ code: 'custom', path: ['redirectUrl'], message: `must end with ${SELF_SERVICE_CALLBACK_PATH} (no query): the page's cookies and links live under /_sidecar/tokens` });
      } catch {
        /* reported by the url check */
      }
    }
    if (v.resource !== undefined) {
      let ok = false;
      try {
        ok = !new URL(v.resource).hash && !v.resource.includes('#');
      } catch {
        ok = false;
      }
      if (!ok) ctx.addIssue({ code: 'custom', path: ['resource'], message: 'must be an absolute URI without a fragment (RFC 8707), e.g. https://jira-sidecar.example/api' });
    }
    if (!v.enabled) return;
    if (!v.issuer) ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'required when selfService is enabled: the name of a jwt.issuers[] entry (the OIDC provider users sign in with)' });
    if (!v.clientId) ctx.addIssue({ code: 'custom', path: ['clientId'], message: 'required when selfService is enabled: the client id registered at the OIDC provider' });
  });

export type SelfServiceConfig = z.output<typeof selfServiceSchema>;

interface IssuerLike {
  name: string;
  issuer: string | string[];
  keys: { discovery?: string };
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * The OIDC discovery URL of an issuer entry: keys.discovery, else its single issuer URL (a list of
 * several, "*" or a {tenantid} template names no one provider). Undefined when there is none.
 */
export function discoveryUrlOf(iss: IssuerLike): string | undefined {
  if (iss.keys.discovery) return iss.keys.discovery;
  const list = Array.isArray(iss.issuer) ? iss.issuer : [iss.issuer];
  const only = list.length === 1 ? list[0]! : undefined;
  if (!only || only.includes('{tenantid}') || !/^https?:\/\//i.test(only)) return undefined;
  return only;
}

/** Plain http is accepted for a provider on this machine only (tests, a local IdP). */
export function insecureAllowed(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || LOOPBACK.test(u.hostname);
  } catch {
    return false;
  }
}

/** Cross-section rule (run on the whole config): selfService.issuer names a usable jwt.issuers[] entry. */
export function checkSelfServiceIssuer(c: { selfService: SelfServiceConfig; jwt: { issuers: IssuerLike[] } }, ctx: z.RefinementCtx): void {
  const s = c.selfService;
  if (!s.enabled || !s.issuer) return;
  const names = c.jwt.issuers.map((i) => i.name);
  const iss = c.jwt.issuers.find((i) => i.name === s.issuer);
  if (!iss) {
    ctx.addIssue({
      code: 'custom',
      path: ['selfService', 'issuer'],
      message: `no jwt.issuers[] entry is named "${s.issuer}"${names.length ? ` (configured: ${names.join(', ')})` : ' (none is configured)'}`,
    });
    return;
  }
  const url = discoveryUrlOf(iss);
  if (!url) {
    ctx.addIssue({
      code: 'custom',
      path: ['selfService', 'issuer'],
      message: `issuer "${iss.name}" names no single OIDC provider: set its keys.discovery (or one issuer URL) to the provider's discovery URL`,
    });
  } else if (!insecureAllowed(url)) {
    ctx.addIssue({ code: 'custom', path: ['selfService', 'issuer'], message: `the sign-in provider of issuer "${iss.name}" must be reached over https (${url}); plain http only on a loopback address` });
  }
}
