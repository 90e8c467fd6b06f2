// One admin action onto this replica's admin chain: masked, serialized and appended by the store.
// Used alike by the admin API (through services.audit), self-service tokens and the CLI.
import type { Clock } from '../clock.js';
import type { AuditStore, NewAdminRow } from '../store/audit-store.js';
import { stored } from './encode.js';
import { maskSecrets } from './mask.js';

/** One admin change, as the admin API records it. before/after are masked here, whatever the caller passes. */
export interface AdminAction {
  actor: string;
  action: string;
  target?: string | null;
  before?: unknown;
  after?: unknown;
}

const toJson = (v: unknown) => (v === undefined ? null : JSON.stringify(maskSecrets(v)));

/** The row the store appends: masked JSON texts, strings as the database will give them back. */
export function adminRowOf(a: AdminAction, now: number): NewAdminRow {
  return {
    time: Math.trunc(now),
    actor: stored(a.actor)!,
    action: stored(a.action)!,
    target: stored(a.target ?? null),
    beforeJson: toJson(a.before),
    afterJson: toJson(a.after),
  };
}

/**
 * Appends one admin action to the admin chain; its row id. Rejects when it cannot be stored: the
 * change should not be confirmed unless its record is stored, so the caller records before it
 * commits the change (or undoes it) and lets the failure fail the request.
 */
export async function recordAdminAction(store: AuditStore, clock: Clock, a: AdminAction): Promise<number> {
  return await store.appendAdmin(adminRowOf(a, clock.now()));
}
