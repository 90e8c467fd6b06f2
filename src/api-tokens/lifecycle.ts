// The API-token lifecycle job (issue 19), run every apiTokens.lifecycleIntervalSec on one replica
// at a time (LifecycleStore.withJobLock) and at most once per interval in a cluster (claimRun):
//   - expiry warnings: apiTokens.warnDays (e.g. [7, 1]) days before a token expires, each once per
//     token (LifecycleStore.noteWarning "expiry:<d>"); only the most urgent due one is sent, and a
//     d-day warning only for tokens that live longer than d days (no warning at creation);
//   - with apiTokens.revokeUnusedAfterDays N > 0: a token unused for N days (since its last use,
//     or its creation when never used) is revoked and its owner told; warnDays before that the
//     owner is warned ("unused:<d>:<basis>": a use moves the basis, so the warnings come again
//     before the next deadline). Only when that revocation would come before the token expires;
//   - with apiTokens.deleteAfterDays D > 0: tokens expired or revoked more than D days ago are
//     deleted (their warnings with them);
//   - the delivery log keeps audit.retentionDays of rows.
// A run that did anything is one admin-activity row (actor "lifecycle", action "token.lifecycle",
// the ids it warned, revoked and deleted), and each revocation also a "token.revoke" row, as when
// an admin or the owner revokes. Deletions are recorded before they happen and skipped if they
// cannot be recorded. Time is the injected clock.
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { AdminAction } from '../audit/record-admin.js';
import type { LifecycleStore } from '../store/lifecycle-store.js';
import type { Notice, Notifier } from '../notify/notifier.js';
import type { ApiTokenRecord, ApiTokens } from './api-tokens.js';
import { DAY_MS, effectiveExpiry } from './status.js';

/** The job's name (its lock and its last run). */
export const LIFECYCLE_JOB = 'token-lifecycle';

export interface LifecycleResult {
  ran: true;
  /** Warnings sent: token id and kind ("expiry:7", "unused:1:<basis>"). */
  warned: Array<{ id: string; kind: string }>;
  /** Tokens revoked for being unused. */
  revoked: string[];
  /** Tokens deleted (expired or revoked more than deleteAfterDays ago). */
  deleted: string[];
  /** Delivery-log rows pruned (older than audit.retentionDays). */
  prunedDeliveries: number;
}

export type LifecycleRun = LifecycleResult | { ran: false; why: 'locked' | 'recent' | 'disabled' | 'stopped' | 'failed' };

export interface LifecycleDeps {
  tokens: ApiTokens;
  store: LifecycleStore;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  config: () => Pick<Config, 'apiTokens' | 'audit'>;
  /** Appends to the admin chain (services.audit); absent: the audit log is not installed. */
  record?: () => ((a: AdminAction) => Promise<unknown>) | undefined;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
/** Whole days left, rounded up: 6.2 days -> 7 ("in 7 days"); at least 1. */
const daysLeft = (ms: number) => Math.max(1, Math.ceil(ms / DAY_MS - 1e-9));
const when = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/**
 * The warning due now for something that happens at `deadline`, in a window that opened at `start`:
 * the smallest d of warnDays with deadline - now <= d days, among those with deadline - start > d days.
 * Also every larger due d (noted silently: a 7-day warning is not sent after the 1-day one).
 *   dueWarnings([7, 1], start 0, deadline 30 d, now 23.5 d) -> { send: 7, due: [7] }
 *   dueWarnings([7, 1], start 0, deadline 30 d, now 29.5 d) -> { send: 1, due: [1, 7] }
 *   dueWarnings([7, 1], start 0, deadline 5 d,  now 0)      -> undefined (lives 5 days: no 7-day warning, 1-day later)
 */
export function dueWarnings(warnDays: readonly number[], start: number, deadline: number, now: number): { send: number; due: number[] } | undefined {
  const due = [...new Set(warnDays)].filter((d) => deadline - now <= d * DAY_MS && deadline - start > d * DAY_MS).sort((a, b) => a - b);
  return due.length ? { send: due[0]!, due } : undefined;
}

const noticeToken = (t: ApiTokenRecord, expiresAt: number): Notice['token'] => ({ id: t.id, name: t.name, owner: t.owner, expiresAt, lastUsedAt: t.lastUsedAt ?? null });

export class TokenLifecycle {
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly d: LifecycleDeps) {}

  /**
   * One run, after any run in progress in this process. `force`: now, whenever the cluster last
   * ran it (still on one replica at a time); otherwise (the schedule, the start) only if no replica
   * ran it in the last 90% of apiTokens.lifecycleIntervalSec. Never rejects.
   */
  run(opts: { force?: boolean } = {}): Promise<LifecycleRun> {
    const p = this.chain.then(() => this.pass(opts.force === true));
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** No run starts after this; resolves when the one in progress ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
  }

  private async pass(force: boolean): Promise<LifecycleRun> {
    const { d } = this;
    if (this.stopped) return { ran: false, why: 'stopped' };
    const cfg = d.config();
    if (!cfg.apiTokens.enabled) return { ran: false, why: 'disabled' };
    try {
      const r = await d.store.withJobLock(LIFECYCLE_JOB, async (): Promise<LifecycleRun> => {
        const gap = force ? 0 : Math.floor(cfg.apiTokens.lifecycleIntervalSec * 1000 * 0.9);
        if (!(await d.store.claimRun(LIFECYCLE_JOB, d.clock.now(), gap))) return { ran: false, why: 'recent' };
        return await this.work(d.config());
      });
      if (!r.ran) return { ran: false, why: 'locked' };
      return r.value;
    } catch (e) {
      d.logger.error({ err: e }, 'token lifecycle run failed; will retry on schedule');
      return { ran: false, why: 'failed' };
    }
  }

  private async work(cfg: Pick<Config, 'apiTokens' | 'audit'>): Promise<LifecycleResult> {
    const { d } = this;
    const s = cfg.apiTokens;
    const out: LifecycleResult = { ran: true, warned: [], revoked: [], deleted: [], prunedDeliveries: 0 };
    // This replica's last-used stamps still in memory count as uses (another replica's are at most a minute late).
    await d.tokens.flush().catch((e: unknown) => d.logger.warn({ err: e }, 'api token last-used stamps not written before the lifecycle run'));
    const all = await d.tokens.list();
    const now = d.clock.now();
    const notify = d.notifier.anyChannel();
    const revokeAfter = s.revokeUnusedAfterDays * DAY_MS;

    for (const t of all) {
      if (t.revokedAt !== undefined) continue;
      const expiresAt = effectiveExpiry(t, s.maxLifetimeDays);
      if (expiresAt <= now) continue;

      if (notify) {
        const w = dueWarnings(s.warnDays, t.createdAt, expiresAt, now);
        if (w && (await this.noteAll(t.id, w.due, (x) => `expiry:${x}`, w.send))) {
          out.warned.push({ id: t.id, kind: `expiry:${w.send}` });
          d.notifier.notify({
            event: 'token.expiring',
            phrase: `expires in ${plural(daysLeft(expiresAt - now), 'day')}`,
            detail: `It expires on ${when(expiresAt)}; after that it is refused. Rotate it (POST /_sidecar/tokens/${t.id}/rotate) or create a new one before then.`,
            owner: t.owner,
            token: noticeToken(t, expiresAt),
          });
        }
      }

      if (revokeAfter <= 0) continue;
      const basis = t.lastUsedAt ?? t.createdAt;
      const deadline = basis + revokeAfter;
      if (deadline >= expiresAt) continue; // it expires first: the expiry warnings say enough
      const since = t.lastUsedAt !== undefined ? `It was last used on ${when(t.lastUsedAt)}` : `It has not been used since it was created on ${when(t.createdAt)}`;
      if (deadline <= now) {
        if (!(await d.tokens.store.revoke(t.id, now))) continue; // revoked meanwhile, by someone else
        d.tokens.forgetCached();
        out.revoked.push(t.id);
        d.logger.info({ tokenId: t.id, owner: t.owner, lastUsedAt: t.lastUsedAt ?? null, days: s.revokeUnusedAfterDays }, 'api token revoked: unused');
        await this.record({ actor: 'lifecycle', action: 'token.revoke', target: t.id, after: { owner: t.owner, name: t.name, reason: `unused for ${s.revokeUnusedAfterDays} days`, lastUsed: t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : null } });
        if (notify) {
          d.notifier.notify({
            event: 'token.revoked',
            phrase: `was revoked: not used for ${plural(s.revokeUnusedAfterDays, 'day')}`,
            detail: `${since}. Tokens unused for ${plural(s.revokeUnusedAfterDays, 'day')} are revoked (apiTokens.revokeUnusedAfterDays); it is refused from now on. Create a new token if you still need one.`,
            owner: t.owner,
            token: noticeToken(t, expiresAt),
          });
        }
        continue;
      }
      if (!notify) continue;
      const w = dueWarnings(s.warnDays, basis, deadline, now);
      if (w && (await this.noteAll(t.id, w.due, (x) => `unused:${x}:${basis}`, w.send))) {
        out.warned.push({ id: t.id, kind: `unused:${w.send}:${basis}` });
        d.notifier.notify({
          event: 'token.unused',
          phrase: `will be revoked in ${plural(daysLeft(deadline - now), 'day')} unless it is used`,
          detail: `${since}. Tokens unused for ${plural(s.revokeUnusedAfterDays, 'day')} are revoked (apiTokens.revokeUnusedAfterDays): use it before ${when(deadline)} to keep it, or revoke it if it is no longer needed.`,
          owner: t.owner,
          token: noticeToken(t, expiresAt),
        });
      }
    }

    if (s.deleteAfterDays > 0) {
      const cutoff = now - s.deleteAfterDays * DAY_MS;
      for (const t of all) {
        const ended = t.revokedAt ?? effectiveExpiry(t, s.maxLifetimeDays);
        if (ended <= cutoff && !out.revoked.includes(t.id)) out.deleted.push(t.id);
      }
    }

    out.prunedDeliveries = await d.store.pruneDeliveries(now - cfg.audit.retentionDays * DAY_MS);

    if (out.warned.length || out.revoked.length || out.deleted.length) {
      const summary: AdminAction = {
        actor: 'lifecycle',
        action: 'token.lifecycle',
        target: 'api-tokens',
        after: {
          warned: out.warned,
          revoked: out.revoked,
          deleted: out.deleted,
          policy: { warnDays: s.warnDays, revokeUnusedAfterDays: s.revokeUnusedAfterDays, deleteAfterDays: s.deleteAfterDays },
        },
      };
      // Recorded before the deletions: a deletion that cannot be recorded is not done (the next run tries again).
      if (!(await this.record(summary)) && out.deleted.length) {
        d.logger.warn({ count: out.deleted.length }, 'expired and revoked api tokens not deleted: the admin activity log could not record it');
        out.deleted = [];
      }
      if (out.deleted.length) {
        await d.tokens.store.deleteTokens(out.deleted);
        await d.store.forgetWarnings(out.deleted);
        d.tokens.forgetCached();
      }
      d.logger.info({ warned: out.warned.length, revoked: out.revoked.length, deleted: out.deleted.length }, 'token lifecycle run');
    }
    return out;
  }

  /** Notes every due warning; true when the one to send was noted by this call (so it is sent once in the cluster). */
  private async noteAll(id: string, due: number[], kind: (d: number) => string, send: number): Promise<boolean> {
    let sendIt = false;
    for (const x of due) {
      const fresh = await this.d.store.noteWarning(id, kind(x), this.d.clock.now());
      if (x === send) sendIt = fresh;
    }
    return sendIt;
  }

  /** Appends to the admin chain; false (logged) when it could not. */
  private async record(a: AdminAction): Promise<boolean> {
    const append = this.d.record?.();
    if (!append) return true;
    try {
      await append(a);
      return true;
    } catch (e) {
      this.d.logger.error({ err: e, action: a.action, target: a.target }, 'token lifecycle: admin activity row not written');
      return false;
    }
  }
}
