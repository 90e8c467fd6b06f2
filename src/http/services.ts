// Builds the stage-owned services for a runtime (verifiers, token store, limiter, audit sink ...).
// Each stage owner adds one line here.
import type { Runtime } from './runtime.js';
import { setupAdmin } from '../admin/setup.js';
import { installAudit } from '../store/audit-service.js';
import { buildApiTokenServices } from '../pipeline/verify/api-token/services.js';
import { installRateLimiter } from '../pipeline/rate-limit/service.js';

export async function buildServices(rt: Runtime): Promise<void> {
  await setupAdmin(rt); // first: replays admin config changes (so every service starts on them), ensures an admin account
  installAudit(rt); // SQLite audit sink (replaces deps.auditSink), retention, services.audit
  buildApiTokenServices(rt); // our API tokens: store, verifier, /_sidecar/tokens
  await installRateLimiter(rt); // memory or Redis limiter, rebuilt on store changes, rate-limit-store readiness
}
