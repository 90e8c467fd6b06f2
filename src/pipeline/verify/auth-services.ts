// Wires the JWT verifier ('jwt') and token introspection ('opaque-bearer') into a runtime: verifier
// registry, readiness ("every issuer has usable keys"), cache clearing on reload, background key
// warm-up at start. `fetch` is injectable so tests can count or break calls.
import type { Runtime } from '../../http/runtime.js';
import { JwtVerifier } from './jwt/verifier.js';
import { INTROSPECTION_HANDOVER, JWT_HANDOVER, VerdictHandover } from './handover.js';
import type { FetchLike } from './jwt/key-source.js';
import { IntrospectionVerifier } from './introspection/verifier.js';
import { requestFetch } from './outbound.js';
import './verifier.js';

declare module '../deps.js' {
  interface Services {
    /** JWT verification (also used by /_sidecar/tokens through verifiers.jwt). */
    jwtVerifier?: JwtVerifier;
    introspectionVerifier?: IntrospectionVerifier;
    /** The verdict handovers, one per kind (the Status page reads what each took over). */
    verdictHandovers?: VerdictHandover[];
  }
}

export function buildAuthServices(rt: Runtime, opts: { fetch?: FetchLike } = {}): void {
  const { deps } = rt;
  const fetchImpl: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const jwt = new JwtVerifier({ clock: deps.clock, logger: deps.logger, fetch: fetchImpl, getPolicy: deps.getPolicy, metrics: deps.metrics });
  // The introspection call on undici's request API (outbound.ts: a third of fetch's CPU per call).
  const introspection = new IntrospectionVerifier({ clock: deps.clock, logger: deps.logger, fetch: opts.fetch ?? requestFetch, metrics: deps.metrics });
  const verifiers = (deps.services.verifiers ??= {});
  verifiers.jwt = jwt;
  verifiers['opaque-bearer'] = introspection;
  deps.services.jwtVerifier = jwt;
  deps.services.introspectionVerifier = introspection;
  rt.readiness.push({ name: 'jwt-keys', check: () => jwt.readiness(deps.getPolicy()) });
  // jwt.cacheHandover, introspection.cacheHandover: the verified tokens survive a graceful restart (handover.ts).
  const handovers = [new VerdictHandover(JWT_HANDOVER, jwt, rt.stores.verdicts, deps), new VerdictHandover(INTROSPECTION_HANDOVER, introspection, rt.stores.verdicts, deps)];
  deps.services.verdictHandovers = handovers;
  rt.onReload.push((p) => {
    jwt.onReload(p);
    introspection.onReload();
    for (const h of handovers) h.onReload();
  });
  jwt.warmAll(deps.getPolicy());
  for (const h of handovers) {
    rt.beforeReady.push(() => h.load());
    rt.onClose.push(() => h.save());
  }
}
