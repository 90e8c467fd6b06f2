// Wires the JWT verifier ('jwt') and token introspection ('opaque-bearer') into a runtime: verifier
// registry, readiness ("every issuer has usable keys"), cache clearing on reload, background key
// warm-up at start. `fetch` is injectable so tests can count or break calls.
import type { Runtime } from '../../http/runtime.js';
import { JwtVerifier } from './jwt/verifier.js';
import { loadHandover, saveHandover } from './jwt/handover.js';
import type { FetchLike } from './jwt/key-source.js';
import { IntrospectionVerifier } from './introspection/verifier.js';
import './verifier.js';

declare module '../deps.js' {
  interface Services {
    /** JWT verification (also used by /_sidecar/tokens through verifiers.jwt). */
    jwtVerifier?: JwtVerifier;
    introspectionVerifier?: IntrospectionVerifier;
  }
}

export function buildAuthServices(rt: Runtime, opts: { fetch?: FetchLike } = {}): void {
  const { deps } = rt;
  const fetchImpl: FetchLike = opts.fetch ?? ((input, init) => fetch(input, init));
  const jwt = new JwtVerifier({ clock: deps.clock, logger: deps.logger, fetch: fetchImpl, getPolicy: deps.getPolicy, metrics: deps.metrics });
  const introspection = new IntrospectionVerifier({ clock: deps.clock, logger: deps.logger, fetch: fetchImpl, metrics: deps.metrics });
  const verifiers = (deps.services.verifiers ??= {});
  verifiers.jwt = jwt;
  verifiers['opaque-bearer'] = introspection;
  deps.services.jwtVerifier = jwt;
  deps.services.introspectionVerifier = introspection;
  rt.readiness.push({ name: 'jwt-keys', check: () => jwt.readiness(deps.getPolicy()) });
  // jwt.cacheHandover: the verified tokens survive a graceful restart (jwt/handover.ts). Turned off,
  // a stop removes what an earlier one left. A reload once this start has read them (what an admin
  // does to drop every cached verdict: SIGHUP, POST /api/reload, a saved config) drops the stored
  // ones too, so the next start cannot bring back what the reload dropped from memory.
  let handoverRead = false;
  let storedCleared: Promise<void> | undefined;
  rt.onReload.push((p) => {
    jwt.onReload(p);
    introspection.onReload();
    if (handoverRead)
      storedCleared = rt.stores.verdicts.clear().then(
        (removed) => void (removed && deps.logger.info({ removed }, 'JWT verdicts handed over earlier removed from the store (configuration reloaded)')),
        (e: unknown) => deps.logger.warn({ err: e }, 'JWT verdicts handed over earlier could not be removed from the store'),
      );
  });
  jwt.warmAll(deps.getPolicy());
  rt.beforeReady.push(async () => {
    const policy = deps.getPolicy();
    try {
      if (!policy.config.jwt.cacheHandover || policy.config.jwt.cacheSize === 0 || policy.config.jwt.issuers.length === 0) return;
      const started = performance.now();
      const r = await loadHandover(jwt, rt.stores.verdicts, policy, deps.clock.now());
      deps.logger.info({ ...r, ms: Math.round(performance.now() - started) }, 'JWT verdicts taken over from the last stop');
    } finally {
      handoverRead = true;
    }
  });
  rt.onClose.push(async () => {
    await storedCleared;
    const policy = deps.getPolicy();
    try {
      if (!policy.config.jwt.cacheHandover || policy.config.jwt.cacheSize === 0) {
        const removed = await rt.stores.verdicts.clear();
        if (removed) deps.logger.info({ removed }, 'JWT verdicts of an earlier stop removed (jwt.cacheHandover is off)');
        return;
      }
      const started = performance.now();
      const saved = await saveHandover(jwt, rt.stores.verdicts, policy, deps.clock.now());
      deps.logger.info({ saved, ms: Math.round(performance.now() - started) }, 'JWT verdicts handed over to the next start');
    } catch (e) {
      deps.logger.warn({ err: e }, 'JWT verdicts not handed over; the next start verifies every token again');
    }
  });
}
