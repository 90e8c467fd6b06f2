// Wires the identity modes into a runtime (issue 6): picks per request how the checked identity is
// told to Jira (header | oauth1-impersonation | credential-map), holds the credential store and its
// key ring, and reports on readiness when credential-map is configured without a key.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Runtime } from '../../http/runtime.js';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config/schema.js';
import { perPolicy, type Policy } from '../../config/policy.js';
import { rsaPrivateKeyProblem } from '../../config/identity-schema.js';
import { CredentialMap, type CredentialAdmin } from '../../credential-map/credentials.js';
import { loadKeyRing } from '../../credential-map/secret-keys.js';
import type { RequestState } from '../state.js';
import { recordRefusal } from '../step.js';
import { headerIdentity, isReplacedCredential, type IdentityForwarder } from './identity.js';
import { selectIdentityMode } from './identity-mode.js';
import { oauth1Forwarder, type OAuth1Settings } from './oauth1/forwarder.js';
import { credentialMapForwarder, type CredentialSource } from './credential-map/forwarder.js';

declare module '../deps.js' {
  interface Services {
    /** Stored Jira credentials for credential-map (admin API, CLI): list/set/delete/rotate; never returns a secret. */
    credentialMap?: CredentialAdmin;
  }
}

/** RSA private key from the PEM or the file; a setup mistake throws (at load / reload, never per request). */
function loadPrivateKey(o: Config['upstream']['identity']['oauth1']): KeyObject | undefined {
  let pem = o.privateKeyPem;
  if (o.privateKeyFile !== undefined) {
    try {
      pem = readFileSync(o.privateKeyFile, 'utf8');
    } catch (e) {
      throw new TypeError(`upstream.identity.oauth1.privateKeyFile: cannot read ${o.privateKeyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const problem = rsaPrivateKeyProblem(pem);
    if (problem) throw new TypeError(`upstream.identity.oauth1.privateKeyFile: ${problem}`);
  }
  return pem === undefined ? undefined : createPrivateKey(pem);
}

/** The per-policy view: the parsed signing key and the signature origin (compiled once per config). */
export const compiledIdentity = perPolicy((c: Config): { oauth1?: OAuth1Settings } => {
  const o = c.upstream.identity.oauth1;
  const privateKey = loadPrivateKey(o);
  if (!privateKey || !o.consumerKey) return {};
  return {
    oauth1: {
      consumerKey: o.consumerKey,
      privateKey,
      origin: new URL(o.jiraBaseUrl ?? c.upstream.url).origin,
      maxFormBodyBytes: o.maxFormBodyBytes,
      sendEmptyToken: o.sendEmptyToken,
    },
  };
});

const usesCredentialMap = (c: Config) => {
  const i = c.upstream.identity;
  return [i.mode, ...Object.values(i.issuers), ...Object.values(i.clients)].includes('credential-map');
};

/**
 * A refusal a forwarder makes before anything reaches Jira (no credential mapped, form body too
 * large, stored credential unreadable) is a decision of the forward stage: audited as a deny with
 * its rule, like the refusals of the decision stages.
 */
const asStage =
  (f: IdentityForwarder): IdentityForwarder =>
  async (st, target) => {
    try {
      return await f(st, target);
    } catch (e) {
      throw recordRefusal(st, 'forward', e);
    }
  };

/**
 * The per-request picker (services.identityForwarder). Only identities the sidecar proved
 * (JWT, introspection, API token) get a mode; passthrough kinds keep the client's credential.
 */
export function identityPicker(clock: Clock, credentials: CredentialSource | undefined): (st: RequestState) => IdentityForwarder {
  const oauth1For = (p: Policy): IdentityForwarder => {
    const s = compiledIdentity(p).oauth1;
    // Validation requires the settings whenever the mode is used; this is the belt to that brace.
    if (!s) throw new TypeError('upstream.identity.oauth1 is not configured');
    return oauth1Forwarder(s, clock);
  };
  const noKey: CredentialSource = {
    reveal: async () => {
      throw new Error('credential-map needs SIDECAR_SECRET_KEY or SIDECAR_SECRET_KEY_FILE');
    },
  };
  return (st) => {
    if (!isReplacedCredential(st)) return headerIdentity;
    const cfg = st.policy.config.upstream.identity;
    const choice = selectIdentityMode(st.identity!, cfg);
    st.verdicts.push({ stage: 'forward', rule: `identity.${choice.rule}`, outcome: 'info', detail: choice.mode });
    if (choice.mode === 'oauth1-impersonation') return asStage(oauth1For(st.policy));
    if (choice.mode === 'credential-map') {
      const fb = cfg.credentialMap.fallback;
      const fallback = fb === 'deny' ? 'deny' : fb === 'header' ? headerIdentity : oauth1For(st.policy);
      return asStage(credentialMapForwarder(credentials ?? noKey, fallback));
    }
    return headerIdentity;
  };
}

export function buildIdentityServices(rt: Runtime): void {
  const { deps } = rt;
  const keys = loadKeyRing(process.env);
  const store = new CredentialMap(rt.stores.credentials, keys, deps.clock);
  // The admin surface gets a facade of the admin methods only: reveal() is not reachable from services.
  deps.services.credentialMap = {
    list: () => store.list(),
    get: (t, subject) => store.get(t, subject),
    set: (input) => store.set(input),
    delete: (t, subject) => store.delete(t, subject),
    rotate: () => store.rotate(),
    status: () => store.status(),
  };
  deps.services.identityForwarder = identityPicker(deps.clock, keys ? store : undefined);
  rt.readiness.push({
    name: 'identity-credentials',
    check: () =>
      !keys && usesCredentialMap(deps.getPolicy().config as Config)
        ? { ok: false, detail: 'upstream.identity uses credential-map but no encryption key is set (SIDECAR_SECRET_KEY or SIDECAR_SECRET_KEY_FILE)' }
        : { ok: true },
  });
  if (keys) {
    // A hint for the operator, not a condition of starting: the count arrives when the store answers.
    store.status().then(
      ({ notOnPrimary }) => {
        if (notOnPrimary > 0) deps.logger.warn({ rows: notOnPrimary, primaryKeyId: keys.primary.id }, 'stored Jira credentials sealed with an older key: run `jira-auth-sidecar credentials rotate`');
      },
      (err: unknown) => deps.logger.warn({ err }, 'could not count stored Jira credentials sealed with an older key'),
    );
  }
}
