// Authentication: JWT issuers (with "fetch discovery" and an Entra ID preset), introspection,
// our API tokens, and what each kind of credential gets.
import { html, nothing, type TemplateResult } from 'lit';
import { api } from '../api.js';
import { ConfigPage, errorText, statusLine, type Status } from '../base.js';
import { MODE_OPTIONS, type Form, type Path } from '../fields.js';
import { regexProblem } from '../regex.js';
import { SectionNav } from '../toc.js';

const KEY_KINDS = [
  ['jwksUri', 'JWKS URL'],
  ['discovery', 'OpenID discovery URL'],
  ['publicKeyPem', 'Public key (PEM)'],
  ['certificatePem', 'Certificate (PEM)'],
] as const;
const ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const TENANT = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9-]+(\.[a-z0-9-]+)+)$/i;

/** The Entra ID (Azure AD) v2.0 endpoints for a tenant (Microsoft identity platform docs). */
export function entraPreset(tenant: string) {
  const base = `https://login.microsoftonline.com/${tenant}`;
  return { issuer: [`${base}/v2.0`], jwksUri: `${base}/discovery/v2.0/keys` };
}

export class AuthenticationPage extends ConfigPage {
  readonly heading = 'Authentication';
  tenant = new Map<number, string>();
  issuerStatus = new Map<number, Status>();
  private readonly nav = new SectionNav(this, 'authentication', [
    { id: 'auth-kinds', title: 'Credential kinds' },
    { id: 'auth-jwt', title: 'JWT issuers' },
    { id: 'auth-introspection', title: 'Token introspection (RFC 7662)', short: 'Token introspection' },
    { id: 'auth-api-tokens', title: 'Sidecar API tokens' },
    { id: 'auth-self-service', title: 'Self-service token page (sign-in with OIDC)', short: 'Self-service page' },
    { id: 'auth-lookup', title: 'Jira user lookup (Entra groups overage, live API-token identity)', short: 'Jira user lookup' },
  ]);
  /** The section asked for in the address was shown once (the form appears after the first load). */
  private jumped = false;

  override connectedCallback(): void {
    super.connectedCallback();
    this.nav.attach();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.nav.detach();
  }

  override updated(): void {
    super.updated();
    if (this.jumped || !this.meta) return;
    this.jumped = true;
    const id = this.nav.requested();
    if (id) this.nav.jump(id);
    else this.nav.track();
  }

  private section(id: string, body: TemplateResult): TemplateResult {
    return this.nav.section(id, body);
  }

  private issuers(): any[] {
    return (this.draft.jwt ??= {}).issuers ??= [];
  }

  private structural(change: () => void) {
    change();
    // Indexes moved: cached textarea text and per-issuer state no longer line up.
    this.rawText.clear();
    this.localIssues.clear();
    this.tenant.clear();
    this.issuerStatus.clear();
    this.dirty = true;
    this.requestUpdate();
  }

  private applyEntra(i: number) {
    const tid = (this.tenant.get(i) ?? '').trim();
    if (!TENANT.test(tid)) {
      this.issuerStatus.set(i, { kind: 'error', text: 'Enter the tenant ID (a GUID) or the tenant domain, e.g. contoso.onmicrosoft.com.' });
      this.requestUpdate();
      return;
    }
    const iss = this.issuers()[i];
    const p = entraPreset(tid);
    iss.issuer = p.issuer;
    iss.keys = { jwksUri: p.jwksUri };
    iss.usernameClaim = ['preferred_username', 'upn'];
    iss.groupsClaim = 'groups';
    iss.algorithms = ['RS256'];
    iss.clients = { claim: 'azp', allow: [], jiraAccounts: {}, ...(iss.clients ?? {}) };
    for (const k of [...this.rawText.keys()]) if (k.startsWith(`jwt.issuers[${i}]`)) this.rawText.delete(k);
    this.issuerStatus.set(i, { kind: 'ok', text: 'Entra ID preset applied: issuer and JWKS filled in. Set the audience (your API\'s Application ID URI) and save.' });
    this.dirty = true;
    this.requestUpdate();
  }

  private async fetchDiscovery(i: number) {
    const iss = this.issuers()[i];
    const first = Array.isArray(iss.issuer) ? iss.issuer[0] : iss.issuer;
    const url = iss.keys?.discovery ?? first;
    if (!url) {
      this.issuerStatus.set(i, { kind: 'error', text: 'Enter the issuer URL (or a discovery URL) first.' });
      this.requestUpdate();
      return;
    }
    this.issuerStatus.set(i, { kind: 'info', text: `Fetching ${url}…` });
    this.requestUpdate();
    try {
      const d = await api<{ issuer: string; jwksUri: string; algorithms: string[] }>('POST', '/api/discovery', { url });
      iss.issuer = [d.issuer];
      iss.keys = { jwksUri: d.jwksUri };
      const algs = d.algorithms.filter((a) => ALGS.includes(a));
      if (algs.length) iss.algorithms = algs;
      for (const k of [...this.rawText.keys()]) if (k.startsWith(`jwt.issuers[${i}]`)) this.rawText.delete(k);
      this.issuerStatus.set(i, { kind: 'ok', text: `Discovery read: issuer ${d.issuer}, JWKS ${d.jwksUri}.` });
      this.dirty = true;
    } catch (e) {
      this.issuerStatus.set(i, { kind: 'error', text: `Discovery failed: ${errorText(e)}` });
    }
    this.requestUpdate();
  }

  private keySource(f: Form, i: number, iss: any): TemplateResult {
    const kind = KEY_KINDS.find(([k]) => iss.keys?.[k] !== undefined)?.[0] ?? 'jwksUri';
    const id = `keykind-${i}`;
    const path: Path = ['jwt', 'issuers', i, 'keys', kind];
    return html`<div class="field">
        <label for=${id}>Key source</label>
        <select
          id=${id}
          @change=${(e: Event) => {
            const next = (e.target as HTMLSelectElement).value;
            iss.keys = { [next]: '' };
            this.dirty = true;
            this.requestUpdate();
          }}
        >
          ${KEY_KINDS.map(([k, label]) => html`<option value=${k} ?selected=${k === kind}>${label}</option>`)}
        </select>
        ${f.groupIssues(['jwt', 'issuers', i, 'keys'])}
      </div>
      ${kind.endsWith('Pem') ? f.area(path, KEY_KINDS.find(([k]) => k === kind)![1], { help: 'Paste the PEM block.' }) : f.text(path, KEY_KINDS.find(([k]) => k === kind)![1], { type: 'url' })}`;
  }

  private issuerCard(f: Form, iss: any, i: number): TemplateResult {
    const at = (...p: Path): Path => ['jwt', 'issuers', i, ...p];
    const envOwned = iss.name === 'env' && this.meta?.envOverrides.some((o) => o.path.startsWith('jwt.issuers'));
    const tid = `tenant-${i}`;
    return html`<fieldset class="card issuer">
      <legend>Issuer ${iss.name ? html`<code>${iss.name}</code>` : i + 1}</legend>
      ${envOwned ? html`<p class="help"><strong>Set by SIDECAR_JWKS_URL</strong>: changes here are replaced by the environment at save.</p>` : nothing}
      <div class="preset">
        <div class="field"><label for=${tid}>Entra ID tenant</label>
          <input id=${tid} placeholder="tenant GUID or contoso.onmicrosoft.com" .value=${this.tenant.get(i) ?? ''}
            @input=${(e: Event) => this.tenant.set(i, (e.target as HTMLInputElement).value)} /></div>
        <button type="button" @click=${() => this.applyEntra(i)}>Apply Entra ID preset</button>
        <button type="button" @click=${() => void this.fetchDiscovery(i)}>Fetch discovery</button>
      </div>
      ${statusLine(this.issuerStatus.get(i) ?? null)}
      <div class="grid">
        ${f.text(at('name'), 'Name', { help: 'Letters, digits, "_", "." or "-".' })}
        ${f.list(at('issuer'), 'Issuer (iss)', { help: 'One per line; "{tenantid}" is a template for multi-tenant apps.' })}
        ${f.list(at('allowedTenants'), 'Allowed tenants', { help: 'Required with a {tenantid} issuer.' })}
        ${f.list(at('audiences'), 'Audiences (aud)', { help: 'e.g. api://jira-sidecar' })}
        ${this.keySource(f, i, iss)}
        ${f.checks(at('algorithms'), 'Signature algorithms', ALGS, { min: 1, help: 'Tokens signed with another algorithm are refused. "none" and HMAC are never accepted.' })}
        ${f.num(at('clockToleranceSec'), 'Clock tolerance (s)', { min: 0, max: 600 })}
        ${f.list(at('requiredClaims'), 'Required claims')}
        ${f.list(at('usernameClaim'), 'Username claim(s)', { help: 'The first one present is used.' })}
        ${f.text(at('usernameRegex'), 'Username regex', { check: regexProblem, help: 'Optional; capture group 1 becomes the Jira username, e.g. ^([^@]+)@' })}
        ${f.text(at('groupsClaim'), 'Groups claim')}
        ${f.text(at('rolesClaim'), 'Roles claim')}
        ${f.select(at('groupsOverage'), 'Groups overage', [
          ['deny', 'deny'],
          ['jira', 'jira (look groups up in Jira)'],
        ])}
        ${f.num(at('keyCache', 'maxAgeSec'), 'Key cache max age (s)', { min: 1 })}
        ${f.num(at('keyCache', 'cooldownSec'), 'Key refetch cooldown (s)', { min: 0 })}
        ${f.num(at('keyCache', 'timeoutMs'), 'Key fetch timeout (ms)', { min: 1 })}
      </div>
      <div class="field check">
        <input id=${`clients-${i}`} type="checkbox" .checked=${!!iss.clients}
          @change=${(e: Event) => {
            iss.clients = (e.target as HTMLInputElement).checked ? { claim: 'azp', allow: [], jiraAccounts: {} } : undefined;
            this.dirty = true;
            this.requestUpdate();
          }} />
        <label for=${`clients-${i}`}>Accept service principals (client-credentials tokens)</label>
      </div>
      ${iss.clients
        ? html`<div class="grid">
            ${f.text(at('clients', 'claim'), 'Client id claim', { help: 'azp (Entra v2), appid (Entra v1), client_id.' })}
            ${f.list(at('clients', 'allow'), 'Allowed client ids')}
            ${f.map(at('clients', 'jiraAccounts'), 'Jira account per client', { placeholder: 'app id = jira-user', help: 'An app-only token acts as this Jira user.' })}
          </div>`
        : nothing}
      <button type="button" class="danger" @click=${() => this.structural(() => this.issuers().splice(i, 1))}>Remove issuer</button>
    </fieldset>`;
  }

  renderForm(f: Form): TemplateResult {
    const kinds: Array<[string, string, boolean]> = [
      ['basic', 'Basic authentication', false],
      ['jiraPat', 'Jira personal access tokens', false],
      ['oauth1', 'OAuth 1.0a (application links)', false],
      ['jiraOAuth2', 'Jira OAuth 2.0 tokens', false],
      ['session', 'Jira session cookies', false],
      ['anonymous', 'Anonymous (no credential)', false],
      ['jwt', 'JWTs from the issuers below', true],
      ['apiToken', 'Sidecar API tokens', true],
    ];
    return html`<div class="sectioned">
      ${this.nav.renderToc()}
      <div class="sections">
      ${this.section('auth-kinds', html`
        <p class="help">passthrough: Jira decides; deny: refused with 401; verify: the sidecar checks it.</p>
        <div class="grid">${kinds.map(([k, label, bearer]) => f.select(['credentials', k], label, bearer ? ['verify', 'passthrough', 'deny'] : ['passthrough', 'deny']))}</div>
        ${f.select(['credentials', 'mode'], 'Mode of the "deny" settings', MODE_OPTIONS, {
          optional: true,
          help: 'Report only: a kind set to deny still passes and each use is recorded as "would deny" (see the Readiness page). Not set: enforcement.mode on the Access rules page. An enforcement.rules entry such as credentials:basic wins.',
        })}`)}
      ${this.section('auth-jwt', html`<div data-path="jwt.issuers">
        ${this.issuers().map((iss, i) => this.issuerCard(f, iss, i))}
        <button type="button" @click=${() => this.structural(() => this.issuers().push({ name: `issuer${this.issuers().length + 1}`, issuer: [], audiences: [], keys: { jwksUri: '' } }))}>Add issuer</button>
        ${f.num(['jwt', 'cacheSize'], 'Verified-token cache size', { min: 0 })}
        ${f.bool(['jwt', 'cacheHandover'], 'Keep verified tokens across a restart', {
          help: 'On a graceful stop the cache is written to the store (token hashes and identities, no token, no raw claims) and the next start reads it back before it reports ready, so a rolling restart does not verify every token again. Each entry keeps its own expiry; a change to the JWT or enforcement settings, or an upgrade, discards them.',
        })}
      </div>`)}
      ${this.section('auth-introspection', html`
        ${f.bool(['introspection', 'enabled'], 'Introspection enabled', { help: 'Opaque bearer tokens are checked at this endpoint. Its settings show while it is on.' })}
        ${this.draft.introspection?.enabled !== true
          ? nothing
          : html`<div class="grid" data-introspection-fields>
          ${f.text(['introspection', 'endpoint'], 'Endpoint', { type: 'url' })}
          ${f.text(['introspection', 'clientId'], 'Client id')}
          ${f.select(['introspection', 'clientAuth'], 'Client authentication', ['client_secret_basic', 'client_secret_post', 'private_key_jwt'])}
          ${f.secret(['introspection', 'clientSecret'], 'Client secret')}
          ${f.secret(['introspection', 'privateKeyPem'], 'Private key (private_key_jwt)', { multiline: true })}
          ${f.area(['introspection', 'certificatePem'], 'Certificate (PEM)', { rows: 3, help: 'Optional, for private_key_jwt.' })}
          ${f.text(['introspection', 'usernameField'], 'Username field')}
          ${f.text(['introspection', 'groupsField'], 'Groups field')}
          ${f.num(['introspection', 'cacheSec'], 'Cache (s)', { min: 0 })}
          ${f.num(['introspection', 'negativeCacheSec'], 'Negative cache (s)', { min: 0 })}
          ${f.num(['introspection', 'clockToleranceSec'], 'nbf clock tolerance (s)', { min: 0, max: 600 })}
          ${f.num(['introspection', 'timeoutMs'], 'Timeout (ms)', { min: 1 })}
          ${f.bool(['introspection', 'cacheHandover'], 'Keep answers across a restart', {
            help: 'On a graceful stop the active answers cached are written to the store (token hashes and identities, no token, no answer, no secret) and the next start reads them back before it reports ready, so a rolling restart does not ask the endpoint again for every caller. Each keeps its own expiry; refusals are asked again; a change to these settings (other than the secret or key), to enforcement, or an upgrade discards them.',
          })}
        </div>`}`)}
      ${this.section('auth-api-tokens', html`
        ${f.bool(['apiTokens', 'enabled'], 'API tokens enabled')}
        <div class="grid">
          ${f.text(['apiTokens', 'prefix'], 'Prefix', { help: 'Lowercase letters/digits ending in "_".' })}
          ${f.num(['apiTokens', 'maxLifetimeDays'], 'Maximum lifetime (days)', { min: 1 })}
          ${f.num(['apiTokens', 'cacheMs'], 'Row reuse (ms)', { min: 0, max: 60000, help: 'Bound on a revocation made on another replica. Empty: 0 with SQLite, 500 with PostgreSQL.' })}
          ${f.list(['apiTokens', 'creatorGroups'], 'Groups that may create their own tokens')}
          ${f.select(
            ['apiTokens', 'approval'],
            'Approval of self-service tokens',
            [
              ['none', 'none (users mint directly)'],
              ['required', 'required (an admin approves every token)'],
              ['write', 'write (read-write tokens need approval)'],
            ],
            { help: 'Tokens waiting for approval are listed on the Tokens page; once approved, the user claims the secret.' },
          )}
          ${f.list(['apiTokens', 'approvalExemptGroups'], 'Groups exempt from approval', { help: 'Members mint directly whatever the approval setting says.' })}
          ${f.select(
            ['apiTokens', 'groupsFrom'],
            'Token groups come from',
            [
              ['jira', "jira (the owner's groups and active state, looked up live)"],
              ['creation', 'creation (the groups when the token was minted)'],
            ],
            { optional: true, help: 'jira uses the Jira service credential below; a group removed or a user deactivated in Jira stops counting within the identity cache time. Not set: jira when that credential is set, else creation.' },
          )}
          ${f.num(['apiTokens', 'identityCacheSec'], 'Identity cache (s)', { min: 1, max: 86400, help: 'How long a Jira answer about a token owner is used (refreshed in the background after half of it).' })}
        </div>`)}
      ${this.section('auth-self-service', html`
        <p class="help">Users in the groups that may create their own tokens sign in at <code>/_sidecar/tokens/ui</code> on the proxy listener (authorization code + PKCE) and list, create, rotate and revoke their tokens. Register a client at the IdP with the redirect URI below.</p>
        ${f.bool(['selfService', 'enabled'], 'Self-service page enabled')}
        <div class="grid">
          ${f.select(['selfService', 'issuer'], 'Sign-in provider (a JWT issuer above)', this.issuers().map((i) => String(i.name ?? '')).filter(Boolean), { optional: true, help: 'Its keys.discovery (or its issuer URL) is the OIDC provider; the access token users get must be a JWT this issuer accepts.' })}
          ${f.text(['selfService', 'clientId'], 'Page client id', { help: 'The client registered at the IdP for this page.' })}
          ${f.secret(['selfService', 'clientSecret'], 'Page client secret', { help: 'Confidential clients (client_secret_basic). Empty: a public client, PKCE alone.' })}
          ${f.text(['selfService', 'redirectUrl'], 'Redirect URL', { type: 'url', placeholder: 'https://jira-api.example.com/_sidecar/tokens/callback', help: 'Register it at the IdP. Empty: derived from each request (scheme and host).' })}
          ${f.list(['selfService', 'scopes'], 'Scopes', { help: 'openid asks for an ID token (checked with a nonce). Entra ID: add your API\'s scope, e.g. api://jira-sidecar/access_as_user.' })}
          ${f.text(['selfService', 'resource'], 'Resource indicator (RFC 8707)', { placeholder: 'https://jira-sidecar.example/api', help: 'Sent with the sign-in so the IdP issues a JWT access token for this audience. Empty: not sent.' })}
          ${f.num(['selfService', 'sessionTtlSec'], 'Page session lifetime (s)', { min: 60, max: 86400, help: 'Never longer than the access token.' })}
        </div>`)}
      ${this.section('auth-lookup', html`
        <div class="grid">
          ${f.secret(['jiraGroupLookup', 'authorization'], 'Jira service Authorization header', { help: 'e.g. "Bearer <PAT>" of a Jira service account.' })}
          ${f.num(['jiraGroupLookup', 'cacheSec'], 'Cache (s)', { min: 0 })}
          ${f.num(['jiraGroupLookup', 'timeoutMs'], 'Timeout (ms)', { min: 1 })}
        </div>`)}
      </div>
    </div>`;
  }
}
customElements.define('page-authentication', AuthenticationPage);
