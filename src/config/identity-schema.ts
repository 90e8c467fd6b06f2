// `upstream.identity`: how the checked identity is told to Jira (issue 6). Part of the one config
// schema (schema.ts imports it under `upstream`); kept in its own file because its checks are long.
import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';

export const identityModes = ['header', 'oauth1-impersonation', 'credential-map'] as const;
export type IdentityMode = (typeof identityModes)[number];

const identityMode = z.enum(identityModes, { error: 'must be one of header, oauth1-impersonation, credential-map' });

const keyHint = 'the RSA private key whose public key is registered in Jira (create one with `jira-auth-sidecar applink keygen`)';

export const identitySchema = z
  .strictObject({
    /** Default for every identity the sidecar checked (JWT, introspection, API token). */
    mode: identityMode.default('header'),
    /** Per JWT issuer name (`jwt.issuers[].name`): overrides `mode`. */
    issuers: z.record(z.string(), identityMode).default({}),
    /** Per client application id (azp / appid / client_id): overrides the issuer and `mode`. */
    clients: z.record(z.string(), identityMode).default({}),
    oauth1: z
      .strictObject({
        /** The consumer key of the application link's incoming authentication in Jira. */
        consumerKey: z.string().min(1, 'must not be empty').optional(),
        privateKeyPem: z.string().optional(),
        privateKeyFile: z.string().min(1, 'must not be empty').optional(),
        /**
         * The origin Jira believes it is reached at, used in the signature base string
         * (RFC 5849 §3.4.1.2). Default: upstream.url. Set it when Jira's connector rewrites the
         * scheme/host (proxyName, proxyPort, scheme="https"), e.g. https://jira.example.com.
         */
        jiraBaseUrl: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL, e.g. https://jira.example.com' }).optional(),
        /** application/x-www-form-urlencoded bodies are read (to be signed) up to this size; larger -> 413. */
        maxFormBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1_048_576),
        /** Send `oauth_token=""` (how Atlassian's own 2-legged requests look). */
        sendEmptyToken: z.boolean().default(true),
      })
      .prefault({}),
    credentialMap: z
      .strictObject({
        /** A caller without a stored Jira credential: refused (deny, 403 credential_not_mapped) or sent another way. */
        fallback: z.enum(['deny', 'header', 'oauth1-impersonation'], { error: 'must be one of deny, header, oauth1-impersonation' }).default('deny'),
      })
      .prefault({}),
  })
  .prefault({})
  .superRefine((v, ctx) => {
    const used = new Set<string>([v.mode, ...Object.values(v.issuers), ...Object.values(v.clients)]);
    if (used.has('credential-map')) used.add(v.credentialMap.fallback);
    const o = v.oauth1;
    const needsOAuth1 = used.has('oauth1-impersonation');
    if (needsOAuth1 && !o.consumerKey)
      ctx.addIssue({ code: 'custom', path: ['oauth1', 'consumerKey'], message: 'required for mode oauth1-impersonation: the consumer key of the Jira application link' });
    if (o.privateKeyPem !== undefined && o.privateKeyFile !== undefined)
      ctx.addIssue({ code: 'custom', path: ['oauth1'], message: 'set only one of privateKeyPem, privateKeyFile' });
    else if (needsOAuth1 && o.privateKeyPem === undefined && o.privateKeyFile === undefined)
      ctx.addIssue({ code: 'custom', path: ['oauth1'], message: `set one of privateKeyPem, privateKeyFile: ${keyHint}` });
    if (o.privateKeyPem !== undefined) {
      const problem = rsaPrivateKeyProblem(o.privateKeyPem);
      if (problem) ctx.addIssue({ code: 'custom', path: ['oauth1', 'privateKeyPem'], message: problem });
    }
  });

export type IdentityConfig = z.output<typeof identitySchema>;

/** Why a PEM is not a usable RSA private key (RSA-SHA1 needs RSA), or undefined when it is. */
export function rsaPrivateKeyProblem(pem: string): string | undefined {
  try {
    const k = createPrivateKey(pem);
    if (k.asymmetricKeyType !== 'rsa') return `must be an RSA private key (found ${k.asymmetricKeyType}); RSA-SHA1 is the only method Jira application links verify`;
    if ((k.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return 'the RSA key must be at least 2048 bits';
    return undefined;
  } catch {
    return `not a PEM private key: ${keyHint}`;
  }
}
