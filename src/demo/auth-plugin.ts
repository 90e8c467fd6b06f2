// The demo's authentication: a local token issuer (JWKS over HTTP) the sidecar trusts, a sidecar API
// token minted for alice, and ready-to-paste curl lines: a user token, a read-only user, a service
// principal, the API token, and an expired token that is refused. Plugs into src/demo/run.ts.
import { openDb } from '../store/sqlite/db.js';
import { ApiTokens } from '../api-tokens/api-tokens.js';
import { sqliteStores } from '../store/sqlite/stores.js';
import { openPostgresStores } from '../store/postgres/stores.js';
import type { DemoPlugin, DemoPluginFactory } from './run.js';
import { startTokenIssuer } from './token-issuer.js';

export const DEMO_AUDIENCE = 'api://jira-sidecar-demo';
export const DEMO_CLIENT_ID = '6f1c2a3b-demo-4c5d-8e9f-0a1b2c3d4e5f';
const DEMO_TOKEN_NAME = 'demo';
const TWELVE_HOURS = 12 * 3600;

export interface DemoAuthPlugin extends DemoPlugin {
  tokens: { alice: string; bob: string; servicePrincipal: string; apiToken: string; expired: string };
  issuerUrl: string;
}

/** Mints alice's demo API token in the sidecar database (previous demo tokens are revoked first). */
async function mintApiToken(dataDir: string, databaseUrl: string | undefined): Promise<string> {
  const stores = databaseUrl ? (await openPostgresStores({ url: databaseUrl, poolSize: 1 })).stores : sqliteStores(openDb(dataDir).db, { ownsDb: true });
  const store = new ApiTokens(stores.tokens);
  try {
    for (const t of await store.list({ owner: 'alice' })) if (t.name === DEMO_TOKEN_NAME && !t.revokedAt) await store.revoke(t.id);
    const created = await store.create({ owner: 'alice', name: DEMO_TOKEN_NAME, access: 'write', groups: ['jira-users', 'jira-developers'], days: 7, createdBy: 'cli' }, { prefix: 'jas_', maxLifetimeDays: 90 });
    return created.token;
  } finally {
    await store.close();
    await stores.close();
  }
}

export const demoAuthPlugin: DemoPluginFactory = async ({ dataDir, databaseUrl }) => {
  const issuer = await startTokenIssuer();
  const user = (name: string, groups: string[]) =>
    issuer.sign({ aud: DEMO_AUDIENCE, sub: `demo-${name}`, azp: 'demo-cli', scp: 'jira.access', preferred_username: `${name}@demo.example`, groups }, { expiresInSec: TWELVE_HOURS });
  const tokens = {
    alice: user('alice', ['jira-users', 'jira-developers']),
    bob: user('bob', ['jira-users', 'auditors']),
    servicePrincipal: issuer.sign({ aud: DEMO_AUDIENCE, sub: 'demo-sp', azp: DEMO_CLIENT_ID, idtyp: 'app', roles: ['Jira.ReadWrite'] }, { expiresInSec: TWELVE_HOURS }),
    apiToken: await mintApiToken(dataDir, databaseUrl),
    expired: issuer.sign({ aud: DEMO_AUDIENCE, sub: 'demo-alice', preferred_username: 'alice@demo.example', exp: Math.floor(Date.now() / 1000) - 60 }),
  };
  const plugin: DemoAuthPlugin = {
    name: 'auth',
    tokens,
    issuerUrl: issuer.url,
    config: {
      jwt: {
        issuers: [
          {
            name: 'demo-idp',
            issuer: issuer.url,
            audiences: [DEMO_AUDIENCE],
            keys: { jwksUri: issuer.jwksUrl },
            usernameClaim: ['preferred_username'],
            usernameRegex: '^([^@]+)@',
            clients: { claim: 'azp', allow: [DEMO_CLIENT_ID], jiraAccounts: { [DEMO_CLIENT_ID]: 'svc-integration' } },
          },
        ],
      },
      access: { readOnlyGroups: ['auditors'] },
      apiTokens: { creatorGroups: ['jira-developers'] },
    },
    describe: ({ proxy: p }) => [
      '',
      `Authentication (demo token issuer ${issuer.url}, JWKS ${issuer.jwksUrl}):`,
      '  # alice, a user token (JWT): Jira sees X-Forwarded-User: alice, never the token',
      `  curl -s -H 'Authorization: Bearer ${tokens.alice}' ${p}/rest/api/2/myself`,
      '  # bob is read-only (group auditors): reading works, creating an issue is refused 403 read_only',
      `  curl -s -H 'Authorization: Bearer ${tokens.bob}' -H 'Content-Type: application/json' -d '{"fields":{}}' ${p}/rest/api/2/issue`,
      '  # a service principal (app-only token of an allowed client) acts as svc-integration',
      `  curl -s -H 'Authorization: Bearer ${tokens.servicePrincipal}' ${p}/rest/api/2/myself`,
      '  # a sidecar API token (alice, created at demo start; more: npx jira-auth-sidecar token create)',
      `  curl -s -H 'Authorization: Bearer ${tokens.apiToken}' ${p}/rest/api/2/myself`,
      '  # an expired token is refused with 401 token_expired and never reaches Jira',
      `  curl -i -H 'Authorization: Bearer ${tokens.expired}' ${p}/rest/api/2/myself`,
    ],
    close: () => issuer.close(),
  };
  return plugin;
};
