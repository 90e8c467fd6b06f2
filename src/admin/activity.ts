// Admin activity: every admin change (and login) goes to the admin chain of the audit log through
// services.audit (src/audit/service.ts), which masks secrets again before storing.
import type { Runtime } from '../http/runtime.js';
import { maskSecrets } from './config-doc.js';

export interface AdminActivity {
  actor: string;
  /** Dotted name: admin.login, config.update, token.create ... */
  action: string;
  target?: string | null;
  before?: unknown;
  after?: unknown;
}

/**
 * Records one admin action. Rejects when it cannot be stored: a change whose record cannot be
 * stored is refused (the caller awaits this before it commits the change).
 */
export async function recordAdminAction(rt: Runtime, a: AdminActivity): Promise<void> {
  const audit = rt.deps.services.audit;
  const entry = { ...a, before: maskSecrets(a.before), after: maskSecrets(a.after) };
  if (!audit) {
    rt.deps.logger.info({ adminAction: { actor: entry.actor, action: entry.action, target: entry.target } }, 'admin action (audit log not installed)');
    return;
  }
  await audit.recordAdminAction(entry);
}
