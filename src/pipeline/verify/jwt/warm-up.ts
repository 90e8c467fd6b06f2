// Start-up warm-up of the JWT path (http/warm-up.ts): tokens signed in-process with a throw-away key,
// so the warm-up exercises the real verification of a never-seen token (decode, issuer pick, key
// lookup, the node:crypto signature check, jose's claims check, the claims-to-identity mapping, the
// cache of verified tokens) and then the cached path, without asking an identity provider.
//
// The throw-away key is served by a JwksSource of its own whose "fetch" answers from memory. The
// verifier uses that source only for a request the warm-up marked (RequestState.warmup: the
// per-process random marker header, honoured only while the warm-up runs) and whose kid is the
// throw-away key's; every other request is judged with the configured issuer's keys, which never
// hold that key. The private key never leaves this module's caller and is dropped after signing;
// the verifier forgets the source and every cached result when the warm-up ends.
import { randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';
import type { Clock } from '../../../clock.js';
import type { CompiledIssuer } from './issuers.js';
import { JwksSource } from './jwks.js';

/** Algorithms the warm-up can sign for, in order of preference (the issuer's first match is used). */
const SIGNABLE = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export interface WarmupKeys {
  /** kid of the throw-away key (random: a real issuer's JWKS never has it). */
  kid: string;
  source: JwksSource;
  /** Valid tokens, each of its own warm-up user. */
  tokens: string[];
}

/** An iss the issuer accepts (a template with its first allowed tenant), and that tenant. */
function issOf(issuer: CompiledIssuer): { iss: string; tid?: string } | undefined {
  const [exact] = issuer.exact;
  if (exact !== undefined) return { iss: exact };
  const list = Array.isArray(issuer.cfg.issuer) ? issuer.cfg.issuer : [issuer.cfg.issuer];
  const template = list.find((i) => i.includes('{tenantid}'));
  const [tenant] = issuer.allowedTenants;
  if (template && tenant !== undefined) return { iss: template.replace('{tenantid}', tenant), tid: tenant };
  if (issuer.wildcard) return { iss: 'https://warm-up.invalid/' };
  return undefined;
}

/** A pattern that is literal text around one capturing group: ^prefix(group)suffix$, each anchor optional. */
const LITERAL_AROUND_GROUP = /^\^?((?:\\.|[^\\()[\]{}|*+?.^$])*)\((?!\?)(?:\\.|[^\\()])*\)((?:\\.|[^\\()[\]{}|*+?.^$])*)\$?$/;

/**
 * The pattern's literal text with its group replaced by `user`: "^([^@]+)@corp\.example$" ->
 * "warm-up-0@corp.example"; undefined for a pattern that is more than literal text around one group.
 */
function fromPattern(source: string, user: string): string | undefined {
  const m = LITERAL_AROUND_GROUP.exec(source);
  const unescape = (t: string) => t.replace(/\\(.)/g, '$1');
  return m ? unescape(m[1]!) + user + unescape(m[2]!) : undefined;
}

/**
 * A username claim value the issuer maps to a username: the user itself, or (with usernameRegex)
 * the first of a few usual shapes the pattern's group 1 captures (user@domain, DOMAIN\\user, the
 * pattern's own literal text around its group). Undefined when none does.
 */
export function warmupUsernameClaim(issuer: Pick<CompiledIssuer, 'usernameRegex'>, user: string): string | undefined {
  const re = issuer.usernameRegex;
  if (!re) return user;
  const candidates = [user, `${user}@warm-up.invalid`, `WARM-UP\\${user}`, fromPattern(re.source, user)];
  return candidates.find((c) => c !== undefined && !!re.exec(c)?.[1]);
}

/**
 * A throw-away key for the first issuer with an algorithm it can sign for, and `count` tokens that
 * issuer's rules accept as far as the warm-up can tell (its iss, first audience, a username in each
 * username claim that usernameRegex maps, every required claim). undefined when no issuer is configured.
 */
export async function warmupKeys(issuers: readonly CompiledIssuer[], clock: Clock, count: number, group = 'warm-up'): Promise<WarmupKeys | undefined> {
  for (const issuer of issuers) {
    const alg = SIGNABLE.find((a) => (issuer.cfg.algorithms as string[]).includes(a));
    const iss = issOf(issuer);
    if (!alg || !iss) continue;
    const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
    const kid = `warm-up-${randomBytes(12).toString('base64url')}`;
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    const source = new JwksSource({
      url: 'warm-up:in-memory',
      // Answered from memory: the warm-up never reaches an identity provider.
      fetch: async () => new Response(JSON.stringify({ keys: [jwk] }), { status: 200, headers: { 'content-type': 'application/json' } }),
      clock,
      maxAgeSec: 86_400,
      cooldownSec: 0,
      timeoutMs: 1000,
    });
    const now = Math.floor(clock.now() / 1000);
    const tokens: string[] = [];
    for (let i = 0; i < count; i++) {
      const user = `warm-up-${i}`;
      const claims: JWTPayload = { sub: user, iat: now, nbf: now - 1, exp: now + 600 };
      const name = warmupUsernameClaim(issuer, user) ?? user;
      for (const c of issuer.usernameClaims) claims[c] ??= name;
      if (iss.tid !== undefined) claims.tid = iss.tid;
      // Three in four in a group (access.allowedGroups' first, so they are allowed and go on to the
      // stand-in for Jira where that list is set), one in none: both kinds of identity real traffic
      // brings, so code compiled on the warm-up meets no new kind of groups list afterwards.
      claims[issuer.cfg.groupsClaim] = i % 4 === 3 ? [] : [group];
      for (const c of issuer.cfg.requiredClaims) claims[c] ??= 'warm-up';
      tokens.push(
        await new SignJWT(claims)
          .setProtectedHeader({ alg, kid, typ: 'JWT' })
          .setIssuer(iss.iss)
          .setAudience(issuer.audiences?.[0] ?? 'warm-up')
          .sign(privateKey),
      );
    }
    await source.warm();
    return { kid, source, tokens };
  }
  return undefined;
}
