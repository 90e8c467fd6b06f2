// The one schema every configuration passes through: the file at start, `config validate FILE`,
// and `PUT /api/config`. Defaults live here next to each setting (see defaults.ts for the docs table).
// Objects are strict so a typo ("rateLimt") is reported instead of silently ignored.
import { z } from 'zod';
import { identitySchema } from './identity-schema.js';
import { ruleKeyProblem } from './enforcement.js';
import { checkSelfServiceIssuer, selfServiceSchema } from './self-service-schema.js';
import { auditShippingSchema } from './audit-shipping-schema.js';
import { parseRatePhrase, RATE_PHRASE_HINT } from './rate-phrase.js';

const durationMs = (def: number) => z.number().int().min(1).max(3_600_000).default(def);
const nonEmpty = z.string().min(1, 'must not be empty');
const absoluteUrl = () => z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL, e.g. https://jira.example.com' });

// TLS (issue 21): the listeners' certificates (server.tls, admin.tls) and the connection to Jira
// (upstream.tls). The files are read and checked by validate.ts (config/tls-files.ts).
const tlsVersion = z.enum(['TLSv1.2', 'TLSv1.3'], { error: 'must be "TLSv1.2" or "TLSv1.3" (older versions are never accepted)' });
const pemFile = (what: string) =>
  z.string({ error: (iss) => (iss.input === undefined ? `required: the path of ${what}` : undefined) }).min(1, 'must not be empty (a path to a PEM file)');

/** A listener's TLS: unset, it speaks plain HTTP/1.1. The files' contents are re-read when they change (http/tls.ts). */
const listenerTls = z
  .strictObject({
    /** The certificate served (PEM; intermediates after it). */
    certFile: pemFile('the PEM certificate to serve (remove the tls block to serve plain HTTP)'),
    keyFile: pemFile('the PEM private key of certFile'),
    /** The CA bundle client certificates must chain to (requestClientCert). */
    caFile: pemFile('a PEM CA bundle').optional(),
    minVersion: tlsVersion.default('TLSv1.2'),
    /** Mutual TLS: a client without a certificate issued by caFile is refused in the handshake. */
    requestClientCert: z.boolean().default(false),
  })
  .superRefine((v, ctx) => {
    if (v.requestClientCert && !v.caFile)
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'required when requestClientCert is true: the CA bundle client certificates must chain to' });
  });

/**
 * TLS to an https:// Jira. Jira's certificate chain and host name are always verified: there is no
 * setting to switch that off (validate.ts answers rejectUnauthorized with why).
 */
const upstreamTls = z
  .strictObject({
    /** The CA bundle Jira's certificate must chain to, instead of the system CAs (a private CA). */
    caFile: pemFile('a PEM CA bundle').optional(),
    /** Client certificate (and its key) presented to Jira: mutual TLS. */
    certFile: pemFile('the PEM client certificate').optional(),
    keyFile: pemFile('the PEM private key of certFile').optional(),
    /** SNI and the host name Jira's certificate is checked against; unset: the host of upstream.url. */
    servername: z
      .string()
      .regex(/^(?=.*[A-Za-z])[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, 'must be a DNS host name such as jira.internal.example (not an IP address: an IP host is checked against the certificate\'s IP addresses)')
      .optional(),
    minVersion: tlsVersion.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.certFile === undefined) !== (v.keyFile === undefined))
      ctx.addIssue({ code: 'custom', path: [v.certFile === undefined ? 'certFile' : 'keyFile'], message: 'set certFile and keyFile together (the client certificate and its key)' });
  });

/** `/exact`, `/prefix/*`, or `METHOD /path` (bypass and lockdown lists). */
export const pathPattern = z
  .string()
  .regex(
    /^(?:[A-Z]+ )?\/[^\s]*$/,
    'use an exact path "/rest/x", a prefix "/rest/x/*", or "METHOD /path" (e.g. "GET /rest/api/2/serverInfo")',
  );

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a valid HTTP header name');

export const cidr = z.string().min(1);

const credentialAction = z.enum(['passthrough', 'deny']);
const ruleMode = z.enum(['enforce', 'report'], { error: 'must be "enforce" or "report"' });
/**
 * Before a window limit's object schema: a string is read as words ("100 per minute", rate-phrase.ts);
 * one that cannot be read is a single issue, RATE_PHRASE_HINT. Anything else goes on unchanged.
 */
const ratePhrase = <S extends z.ZodType>(schema: S) =>
  z.preprocess((v, ctx) => {
    if (typeof v !== 'string') return v;
    const limit = parseRatePhrase(v);
    if (limit) return limit;
    ctx.addIssue({ code: 'custom', message: RATE_PHRASE_HINT, input: v });
    return z.NEVER;
  }, schema);

/**
 * A rateLimit.groups / rateLimit.clients entry: a window limit, a token bucket, or both (checked in
 * rateLimit's superRefine). A window may be written as words: `jira-users: 100 per minute` (rate-phrase.ts).
 */
const rateLimitOverride = ratePhrase(
  z.strictObject({
    points: z.number().int().min(1).optional(),
    durationSec: z.number().int().min(1).optional(),
    maxRequests: z.number().int().min(1).optional(),
    fillRate: z.number().int().min(1).optional(),
    intervalSec: z.number().int().min(1).optional(),
  }),
);
const bearerAction = z.enum(['passthrough', 'deny', 'verify']);

const keySources = z
  .strictObject({
    jwksUri: absoluteUrl().optional(),
    discovery: absoluteUrl().optional(),
    publicKeyPem: z.string().optional(),
    certificatePem: z.string().optional(),
  })
  .superRefine((k, ctx) => {
    const set = ['jwksUri', 'discovery', 'publicKeyPem', 'certificatePem'].filter(
      (n) => k[n as keyof typeof k] !== undefined,
    );
    if (set.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          set.length === 0
            ? 'set one of jwksUri, discovery, publicKeyPem, certificatePem'
            : `set only one of jwksUri, discovery, publicKeyPem, certificatePem (found ${set.join(', ')})`,
      });
    }
  });

const signingAlg = z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'], {
  error: 'must be an asymmetric algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA); "none" and HMAC are never accepted',
});

const stringOrList = z.union([nonEmpty, z.array(nonEmpty).min(1)]);

export const issuerSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'letters, digits, "_", "." or "-" (1-64 characters)'),
  /** Expected `iss`; a list is allowed; `{tenantid}` is a template for multi-tenant Entra ID apps. */
  issuer: stringOrList,
  /** Tenants a `{tenantid}` issuer accepts (Entra `tid`); required when the template is used. */
  allowedTenants: z.array(nonEmpty).default([]),
  audiences: z.array(nonEmpty).min(1, 'list at least one audience (the aud your API is registered with)'),
  keys: keySources,
  keyCache: z
    .strictObject({
      maxAgeSec: z.number().int().min(1).default(600),
      cooldownSec: z.number().int().min(0).default(30),
      timeoutMs: durationMs(5000),
    })
    .prefault({}),
  algorithms: z.array(signingAlg).min(1).default(['RS256']),
  clockToleranceSec: z.number().int().min(0).max(600).default(60),
  requiredClaims: z.array(nonEmpty).default(['exp']),
  usernameClaim: stringOrList.default('preferred_username'),
  usernameRegex: z.string().optional(),
  groupsClaim: nonEmpty.default('groups'),
  rolesClaim: nonEmpty.default('roles'),
  clients: z
    .strictObject({
      claim: nonEmpty.default('azp'),
      allow: z.array(nonEmpty).default([]),
      jiraAccounts: z.record(z.string(), nonEmpty).default({}),
    })
    .optional(),
  groupsOverage: z.enum(['deny', 'jira']).default('deny'),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: nonEmpty.default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(8090),
      adminHost: nonEmpty.default('127.0.0.1'),
      adminPort: z.number().int().min(0).max(65535).default(8091),
      dataDir: nonEmpty.default('./data'),
      /** In-flight requests get this long to finish after SIGTERM before they are cut. */
      shutdownGraceMs: durationMs(10000),
      /** Largest request head accepted (bytes); larger -> 431 before any stage runs. */
      maxHeaderBytes: z.number().int().min(1024).max(1_048_576).default(65536),
      /**
       * Most header fields a request may carry; more -> 431 too_many_headers before any stage runs.
       * 100 is Tomcat's (so Jira's) maxHeaderCount: Jira would refuse more anyway. Node alone would
       * drop every field past its 2,000th silently, so the sidecar counts them itself.
       */
      maxHeaderCount: z.number().int().min(10).max(10_000).default(100),
      /**
       * Requests the sidecar sends itself at start, before /readyz says ready, so the first real
       * requests after a (rolling) restart do not pay for compiling the hot path. 0: none.
       */
      warmupRequests: z.number().int().min(0).max(100_000).default(3000),
      /**
       * This sidecar's name in a shared store (the `replica` of its audit rows). No default here:
       * "<hostname>:<port>" is computed where the stores are built (config/replica.ts).
       */
      replicaName: nonEmpty.max(200).optional(),
      /** HTTPS on the proxy listener (unset: plain HTTP/1.1). The files are re-read when they change; the rest needs a restart. */
      tls: listenerTls.optional(),
      /**
       * Worker processes serving the same ports (node:cluster, http/workers.ts); "auto": one per core
       * (os.availableParallelism()). 1: one process, no cluster. Read at start.
       */
      workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
    })
    .prefault({}),
  /**
   * Where everything is stored (store/stores.ts): SQLite in server.dataDir (one sidecar), or one
   * PostgreSQL database that every replica of a cluster shares. Read at start only.
   */
  store: z
    .strictObject({
      kind: z.enum(['sqlite', 'postgres']).default('sqlite'),
      /** postgres://user:password@host:5432/db?sslmode=verify-full (SIDECAR_DATABASE_URL); a secret: masked, never logged. */
      url: z.string().optional(),
      /** Connections one replica opens at most. */
      poolSize: z.number().int().min(1).max(200).default(10),
      /** The server cancels a statement running longer (statement_timeout). */
      statementTimeoutMs: durationMs(5000),
      connectTimeoutMs: durationMs(5000),
      /** A CA bundle (PEM) the server's certificate must chain to: TLS with hostname verification. */
      caFile: z.string().optional(),
      /** How often a replica checks whether the configuration saved on another replica changed. */
      syncIntervalMs: z.number().int().min(100).max(60_000).default(500),
    })
    .prefault({})
    .superRefine((v, ctx) => {
      if (v.kind !== 'postgres') return;
      if (!v.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when kind is postgres (or set SIDECAR_DATABASE_URL)' });
      else if (!/^postgres(ql)?:\/\//i.test(v.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: 'must be a postgres:// or postgresql:// URL' });
    }),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  upstream: z
    .strictObject({
      url: absoluteUrl().default('http://127.0.0.1:8080'),
      identityHeader: headerName.default('X-Forwarded-User'),
      sharedSecretHeader: headerName.default('X-Sidecar-Secret'),
      sharedSecret: z.string().optional(),
      stripHeaders: z.array(headerName).default([]),
      timeoutMs: durationMs(30000),
      connectTimeoutMs: durationMs(5000),
      maxSockets: z.number().int().min(1).max(10000).default(256),
      /** How the checked identity is told to Jira: header | oauth1-impersonation | credential-map (identity-schema.ts). */
      identity: identitySchema,
      /** TLS to an https:// upstream.url: private CA, client certificate, server name. */
      tls: upstreamTls.optional(),
    })
    .prefault({}),
  enabled: z.boolean().default(true),
  protectedPaths: z.array(z.string().startsWith('/', 'must start with "/"')).default(['/rest/']),
  bypass: z.array(pathPattern).default([]),
  publicApiLockdown: z
    .strictObject({
      enabled: z.boolean().default(false),
      all: z.boolean().default(false),
      paths: z.array(pathPattern).default([]),
      /** Report-only lockdown (the same as enforcement.rules.lockdown; a rules entry wins). */
      mode: ruleMode.optional(),
    })
    .prefault({}),
  credentials: z
    .strictObject({
      basic: credentialAction.default('deny'),
      jiraPat: credentialAction.default('passthrough'),
      oauth1: credentialAction.default('passthrough'),
      jiraOAuth2: credentialAction.default('passthrough'),
      session: credentialAction.default('passthrough'),
      anonymous: credentialAction.default('passthrough'),
      jwt: bearerAction.default('verify'),
      apiToken: bearerAction.default('verify'),
      /** Report-only for every kind's "deny" (the same as enforcement.rules.credentials; a rules entry wins). */
      mode: ruleMode.optional(),
    })
    .prefault({}),
  jwt: z
    .strictObject({
      issuers: z.array(issuerSchema).default([]),
      /** Verified tokens are cached (by SHA-256 of the token) until exp, at most this many. */
      cacheSize: z.number().int().min(0).max(1_000_000).default(10000),
      /** That cache is written to the store on a graceful stop and read back by the next start (verify/handover.ts). */
      cacheHandover: z.boolean().default(true),
    })
    .prefault({}),
  /** Jira service credential used to look up groups when Entra omits them (groups overage). */
  jiraGroupLookup: z
    .strictObject({
      authorization: z.string().optional(),
      cacheSec: z.number().int().min(0).default(300),
      timeoutMs: durationMs(3000),
    })
    .prefault({}),
  introspection: z
    .strictObject({
      enabled: z.boolean().default(false),
      endpoint: absoluteUrl().optional(),
      clientId: z.string().optional(),
      clientSecret: z.string().optional(),
      clientAuth: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).default('client_secret_basic'),
      privateKeyPem: z.string().optional(),
      certificatePem: z.string().optional(),
      usernameField: nonEmpty.default('username'),
      groupsField: nonEmpty.default('groups'),
      cacheSec: z.number().int().min(0).default(60),
      negativeCacheSec: z.number().int().min(0).default(10),
      /** The cache of active answers is written to the store on a graceful stop and read back by the next start (verify/handover.ts). */
      cacheHandover: z.boolean().default(true),
      /** Leeway for the answer's nbf (the IdP's clock may run ahead of ours), as jwt.issuers[].clockToleranceSec. */
      clockToleranceSec: z.number().int().min(0).max(600).default(60),
      timeoutMs: durationMs(3000),
    })
    .prefault({})
    .superRefine((v, ctx) => {
      if (!v.enabled) return;
      if (!v.endpoint) ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'required when introspection is enabled' });
      if (!v.clientId) ctx.addIssue({ code: 'custom', path: ['clientId'], message: 'required when introspection is enabled' });
      if (v.clientAuth === 'private_key_jwt' && !v.privateKeyPem)
        ctx.addIssue({ code: 'custom', path: ['privateKeyPem'], message: 'required for clientAuth private_key_jwt' });
      if (v.clientAuth !== 'private_key_jwt' && !v.clientSecret)
        ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: `required for clientAuth ${v.clientAuth}` });
    }),
  apiTokens: z
    .strictObject({
      enabled: z.boolean().default(true),
      prefix: z.string().regex(/^[a-z][a-z0-9]{1,8}_$/, 'lowercase letters/digits ending in "_", e.g. "jas_"').default('jas_'),
      maxLifetimeDays: z.number().int().min(1).max(3650).default(90),
      creatorGroups: z.array(nonEmpty).default([]),
      /**
       * How long a token row read from the store is reused before it is read again: the bound within
       * which a revocation made elsewhere (another replica, the CLI) is refused. Unset: 0 with SQLite
       * (every request reads its row), 500 with PostgreSQL (a network round trip per request otherwise).
       */
      cacheMs: z.number().int().min(0).max(60_000).optional(),
      /**
       * Where a token's groups and its owner's active state come from (issue 19): "jira" (looked up
       * through Jira's REST API with jiraGroupLookup.authorization, cached identityCacheSec) or
       * "creation" (the groups as they were when the token was minted). Unset: jira when
       * jiraGroupLookup.authorization is set, else creation.
       */
      groupsFrom: z.enum(['jira', 'creation']).optional(),
      /** How long a Jira answer about a token owner is used (refreshed in the background before). */
      identityCacheSec: z.number().int().min(1).max(86_400).default(300),
      /** Token requests: none (users mint directly), required (an admin approves each), write (only read-write tokens need approval). */
      approval: z.enum(['none', 'required', 'write']).default('none'),
      /** Members of these groups mint directly whatever apiTokens.approval says. */
      approvalExemptGroups: z.array(nonEmpty).default([]),
      /** Live tokens one owner may hold at most. */
      maxPerUser: z.number().int().min(1).max(10_000).default(100),
      /** Tokens unused this many days (since their last use, or creation) are revoked, warned first; 0: never. */
      revokeUnusedAfterDays: z.number().int().min(0).max(3650).default(0),
      /** Expired and revoked tokens are deleted this many days after; 0: kept. */
      deleteAfterDays: z.number().int().min(0).max(3650).default(0),
      /** Days before expiry (or before the unused-token revocation) an owner is warned, each once. */
      warnDays: z.array(z.number().int().min(1).max(365)).default([7, 1]),
      /** How often the lifecycle jobs (warnings, revocation of unused tokens, deletion) run. */
      lifecycleIntervalSec: z.number().int().min(10).max(86_400).default(3600),
    })
    .prefault({}),
  /** Telling token owners (expiry and unused-token warnings, request decisions): e-mail and/or a webhook. */
  notifications: z
    .strictObject({
      email: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** smtp://user:password@host:port or smtps://…; the password is a secret (masked). */
          smtpUrl: z.string().optional(),
          from: nonEmpty.default('jira-auth-sidecar <noreply@localhost>'),
          /** The owner's address when Jira does not give one: {user} is replaced by the username. */
          addressTemplate: nonEmpty.default('{user}@localhost'),
          subjectTemplate: nonEmpty.default('Your Jira API token "{name}" {event}'),
          bodyTemplate: nonEmpty.default('Hello {user},\n\nyour API token "{name}" ({id}) {event}.\n\n{detail}\n'),
        })
        .prefault({})
        .superRefine((v, ctx) => {
          if (v.enabled && !v.smtpUrl) ctx.addIssue({ code: 'custom', path: ['smtpUrl'], message: 'required when e-mail is enabled (e.g. smtp://mail.example.com:587)' });
        }),
      webhook: z
        .strictObject({
          enabled: z.boolean().default(false),
          url: absoluteUrl().optional(),
          /** HMAC-SHA256 key: the body is signed in X-Sidecar-Signature (sha256=<hex>); a secret (masked). */
          secret: z.string().optional(),
          maxAttempts: z.number().int().min(1).max(20).default(5),
          timeoutMs: durationMs(5000),
        })
        .prefault({})
        .superRefine((v, ctx) => {
          if (v.enabled && !v.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when the webhook is enabled' });
        }),
    })
    .prefault({}),
  access: z
    .strictObject({
      allowedGroups: z.array(nonEmpty).default([]),
      readOnlyGroups: z.array(nonEmpty).default([]),
      readSafePosts: z.array(pathPattern).default(['/rest/api/2/search', '/rest/api/3/search']),
      ipAllowlist: z.array(cidr).default([]),
      /** Per-group IP allow-lists; a member of a listed group must match its group's list. */
      groupIpAllowlists: z.record(z.string(), z.array(cidr)).default({}),
      /** When true, bypassed paths are also exempt from the IP allow-list. */
      bypassSkipsIpAllowlist: z.boolean().default(false),
      trustedProxies: z.array(cidr).default([]),
      clientIpHeader: headerName.default('X-Forwarded-For'),
    })
    .prefault({}),
  /** Also written as words: `rateLimit: 600 per minute` sets points and durationSec, the rest keeps its defaults. */
  rateLimit: ratePhrase(z
    .strictObject({
      enabled: z.boolean().default(true),
      points: z.number().int().min(1).default(600),
      durationSec: z.number().int().min(1).default(60),
      /** memory: per process; redis or postgres (the store's database, store.kind postgres): shared by the replicas. */
      store: z.enum(['memory', 'redis', 'postgres']).default('memory'),
      redisUrl: z.string().optional(),
      /** When the shared store fails: "insurance" (fall back to a per-process memory limiter) or "deny" (503). */
      onStoreFailure: z.enum(['insurance', 'deny']).default('insurance'),
      /** A Redis command (or PostgreSQL statement) not answered within this long counts as a store failure (onStoreFailure). */
      redisTimeoutMs: durationMs(1000),
      /** Overrides: {points, durationSec} (window) and/or {maxRequests, fillRate, intervalSec} (token bucket; rate-limit/plan.ts). */
      groups: z.record(z.string(), rateLimitOverride).default({}),
      clients: z.record(z.string(), rateLimitOverride).default({}),
      /** Issue 26: "window" (fixed window of points per durationSec) or "token-bucket" (Jira DC's model). */
      algorithm: z.enum(['window', 'token-bucket']).default('window'),
      /** Token bucket: bucket size, tokens added per intervalSec (continuously), interval length. */
      maxRequests: z.number().int().min(1).default(600),
      fillRate: z.number().int().min(1).default(10),
      intervalSec: z.number().int().min(1).default(1),
      /** Never limited (both algorithms): Jira user names and groups. */
      exemptions: z.strictObject({ users: z.array(z.string()).default([]), groups: z.array(z.string()).default([]) }).prefault({}),
      /** What a request costs (first match wins, default 1); path: a path pattern (validate.ts checks it). */
      costs: z
        .array(z.strictObject({ method: z.string().regex(/^[A-Z]+$/, 'an upper-case HTTP method, e.g. POST').optional(), path: z.string(), cost: z.number().int().min(1) }))
        .default([]),
      /** Report-only rate limits (the same as enforcement.rules.rateLimit; a rules entry wins). */
      mode: ruleMode.optional(),
    })
    .prefault({})
    .superRefine((v, ctx) => {
      if (v.store === 'redis' && !v.redisUrl) ctx.addIssue({ code: 'custom', path: ['redisUrl'], message: 'required when store is "redis" (e.g. redis://127.0.0.1:6379)' });
      if (v.maxRequests < v.fillRate) ctx.addIssue({ code: 'custom', path: ['maxRequests'], message: `the bucket (${v.maxRequests}) must hold at least fillRate (${v.fillRate}) tokens` });
      for (const kind of ['groups', 'clients'] as const)
        for (const [name, o] of Object.entries(v[kind])) {
          const at = [kind, name];
          const windowSet = o.points !== undefined && o.durationSec !== undefined;
          const bucket = [o.maxRequests, o.fillRate, o.intervalSec].filter((x) => x !== undefined).length;
          if ((o.points === undefined) !== (o.durationSec === undefined)) ctx.addIssue({ code: 'custom', path: [...at, o.points === undefined ? 'points' : 'durationSec'], message: 'points and durationSec go together' });
          if (bucket !== 0 && bucket !== 3) ctx.addIssue({ code: 'custom', path: at, message: 'maxRequests, fillRate and intervalSec go together' });
          if (bucket === 3 && o.maxRequests! < o.fillRate!) ctx.addIssue({ code: 'custom', path: [...at, 'maxRequests'], message: `the bucket (${o.maxRequests}) must hold at least fillRate (${o.fillRate}) tokens` });
          if (v.algorithm === 'window' && !windowSet) ctx.addIssue({ code: 'custom', path: at, message: 'needs points and durationSec with algorithm "window"' });
          if (v.algorithm === 'token-bucket' && !windowSet && bucket !== 3) ctx.addIssue({ code: 'custom', path: at, message: 'needs maxRequests, fillRate and intervalSec (or points and durationSec) with algorithm "token-bucket"' });
        }
    })),
  audit: z
    .strictObject({
      enabled: z.boolean().default(true),
      retentionDays: z.number().int().min(1).default(90),
      maxEntries: z.number().int().min(1000).default(5_000_000),
      /** When the audit log cannot keep up (queue full, disk full): deny with 503 or allow (counted and logged). */
      onFailure: z.enum(['deny', 'allow']).default('deny'),
      queueMax: z.number().int().min(100).default(50000),
      batchSize: z.number().int().min(1).default(100),
      flushIntervalMs: durationMs(200),
      /**
       * Rows written before their user-index entries are added, sorted, in one go (audit-index.ts).
       * Larger: less writer CPU per row; queries by user then read up to this many newest rows unindexed.
       */
      indexBatchRows: z.number().int().min(1).max(1_000_000).default(10_000),
      /** Request rows written by a worker thread (off the event loop) or inline on the main connection. Read at start. */
      writer: z.enum(['worker', 'inline']).default('worker'),
      retentionIntervalSec: z.number().int().min(10).default(3600),
      /** Sending the request log to a SIEM as it is written (audit-shipping-schema.ts, audit/shipping/). */
      shipping: auditShippingSchema,
    })
    .prefault({}),
  /** OpenTelemetry traces (OTLP over HTTP), off by default; read at start (a restart applies a change). */
  tracing: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** The collector's OTLP/HTTP traces endpoint. */
      endpoint: absoluteUrl().default('http://127.0.0.1:4318/v1/traces'),
      serviceName: nonEmpty.default('jira-auth-sidecar'),
      /** Share of new traces recorded (a caller's sampled trace is always continued). */
      sampleRatio: z.number().min(0).max(1).default(1),
      /** Whose W3C traceparent is continued: never, callers in access.trustedProxies, or anyone. */
      acceptTraceparent: z.enum(['never', 'trusted-proxies', 'always']).default('trusted-proxies'),
      flushIntervalMs: durationMs(5000),
      exportTimeoutMs: durationMs(10000),
    })
    .prefault({}),
  /**
   * Report-only rules (issue 18): a refusing rule in report mode does not refuse; the audit row
   * says what it would have been refused with (wouldDeny). Verification failures always refuse.
   */
  enforcement: z
    .strictObject({
      /** The mode of every rule not named below. */
      mode: ruleMode.default('enforce'),
      /** A rule family ("readOnlyGroups") or one entry of it ("credentials:basic", "readOnlyGroups:contractors") -> its mode. */
      rules: z
        .record(z.string(), ruleMode)
        .default({})
        .superRefine((rules, ctx) => {
          for (const key of Object.keys(rules)) {
            const problem = ruleKeyProblem(key);
            if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
          }
        }),
    })
    .prefault({}),
  admin: z
    .strictObject({
      sessionTtlSec: z.number().int().min(60).default(28800),
      /** HTTPS on the admin listener, as server.tls. */
      tls: listenerTls.optional(),
    })
    .prefault({}),
  /** The API-token page users sign in to with OIDC (self-service-schema.ts). */
  selfService: selfServiceSchema,
}).superRefine(checkSelfServiceIssuer);

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type IssuerConfig = z.output<typeof issuerSchema>;
