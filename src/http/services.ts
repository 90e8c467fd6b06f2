// Builds the stage-owned services for a runtime (verifiers, token store, limiter, audit sink ...).
// Each stage owner adds one line here.
import type { Runtime } from './runtime.js';
import { setupAdmin } from '../admin/setup.js';
import { buildIdentityServices } from '../pipeline/forward/identity-services.js';
import { installAudit } from '../audit/service.js';
import { installAuditShipping } from '../audit/shipping/service.js';
import { buildApiTokenServices } from '../pipeline/verify/api-token/services.js';
import { buildAuthServices } from '../pipeline/verify/auth-services.js';
import { installRateLimiter } from '../pipeline/rate-limit/service.js';
import { installUpstreamPools } from '../pipeline/forward/upstream-pool.js';
import { installTokenLifecycle } from '../api-tokens/lifecycle-service.js';
import { installSelfServicePage } from '../self-service-page/page.js';
import { installTracing } from '../pipeline/trace/service.js';
import { VERSION } from '../version.js';

export async function buildServices(rt: Runtime): Promise<void> {
  await setupAdmin(rt); // first: replays admin config changes (so every service starts on them), ensures an admin account
  installAudit(rt); // queued audit sink on the store's writer (replaces deps.auditSink), retention, services.audit
  installAuditShipping(rt); // audit.shipping: the request log to syslog / HTTP SIEMs, one replica at a time; services.auditShipping
  installSelfServicePage(rt); // the browser page at /_sidecar/tokens/ui (OIDC sign-in); before the JSON API route it feeds
  buildApiTokenServices(rt); // our API tokens: store, verifier, /_sidecar/tokens
  installTokenLifecycle(rt); // token expiry/unused warnings, unused-token revocation, deletion (one replica at a time); services.notifier
  buildAuthServices(rt); // JWT (key sources, Entra) and introspection verifiers, jwt-keys readiness
  await installRateLimiter(rt); // memory or Redis limiter, rebuilt on store changes, rate-limit-store readiness
  installUpstreamPools(rt); // undici keep-alive pool to Jira (forward), closed after the listeners
  installTracing(rt, VERSION); // OpenTelemetry spans per request when tracing.enabled (read at start)
  buildIdentityServices(rt); // how Jira learns the caller: header | oauth1-impersonation | credential-map (key ring, credential store)
}
