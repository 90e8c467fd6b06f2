// Telling token owners about their tokens (issue 19): one Notice goes out on every enabled channel
// (notifications.email, notifications.webhook), each message a row of the delivery log
// (LifecycleStore) that follows it from pending to sent or failed, every attempt counted. Sending
// never throws and never blocks its caller for longer than writing the log row: failures are logged
// (pino) and kept in the delivery log. No secret is in any message: a token is named by its id and
// name (its secret is not stored, so it cannot be passed here), and the log shows the webhook URL
// without credentials.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { DeliveryChannel, DeliveryRecord, LifecycleStore } from '../store/lifecycle-store.js';
import { OwnerAddresses } from './address.js';
import { EmailSender } from './email.js';
import { render, type TemplateVars } from './templates.js';
import { backoffMs, DELIVERY_HEADER, postOnce, SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER, webhookTarget, type FetchFn, type WebhookBody } from './webhook.js';

/** A token as a message names it: never its secret or hash. */
export interface NoticeToken {
  id: string;
  name: string;
  owner: string;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

export interface Notice {
  /** Machine name: token.expiring, token.unused, token.revoked, test. */
  event: string;
  /** What {event} becomes in the templates: "expires in 7 days". */
  phrase: string;
  detail: string;
  /** Whom the e-mail goes to (the token's owner; for a test, the admin). */
  owner: string;
  token: NoticeToken | null;
}

export interface DispatchOptions {
  /** Only these channels (default: every enabled one). */
  channels?: DeliveryChannel[];
  /** Webhook attempts (default notifications.webhook.maxAttempts). */
  maxAttempts?: number;
  /** The e-mail address to use instead of the owner's (a test message). */
  to?: string;
}

export type NotificationSettings = Pick<Config, 'notifications' | 'upstream' | 'jiraGroupLookup'>;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Whether a channel is enabled and configured well enough to send (e-mail needs smtpUrl, the webhook a url). */
export function channelReady(c: NotificationSettings['notifications'], ch: DeliveryChannel): boolean {
  return ch === 'email' ? c.email.enabled && !!c.email.smtpUrl : c.webhook.enabled && !!c.webhook.url;
}

export interface NotifierOptions {
  store: LifecycleStore;
  clock: Clock;
  logger: Logger;
  /** The settings in force (read at each message). */
  settings: () => NotificationSettings;
  fetch?: FetchFn;
}

export class Notifier {
  /** The first wait between webhook attempts (then doubled each time, at most a minute). Tests shorten it. */
  retryBaseMs = 1000;
  private readonly email = new EmailSender();
  private readonly addresses: OwnerAddresses;
  private readonly fetchFn: FetchFn;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly stop = new AbortController();

  constructor(private readonly o: NotifierOptions) {
    this.fetchFn = o.fetch ?? ((url, init) => fetch(url, init));
    this.addresses = new OwnerAddresses(this.fetchFn, o.logger);
  }

  /** True when at least one channel would send. */
  anyChannel(): boolean {
    const n = this.o.settings().notifications;
    return channelReady(n, 'email') || channelReady(n, 'webhook');
  }

  /** Sends in the background (tracked: idle() and close() wait for it); the caller goes on at once. */
  notify(n: Notice, opts: DispatchOptions = {}): void {
    void this.dispatch(n, opts);
  }

  /** Sends on every enabled channel (or `opts.channels`) and resolves with the final delivery rows. Never rejects. */
  dispatch(n: Notice, opts: DispatchOptions = {}): Promise<DeliveryRecord[]> {
    const s = this.o.settings();
    const channels = (opts.channels ?? (['email', 'webhook'] as const)).filter((c) => channelReady(s.notifications, c));
    const p = Promise.all(channels.map((c) => (c === 'email' ? this.sendEmail(n, s, opts) : this.sendWebhook(n, s, opts)))).then((r) => r.filter((d): d is DeliveryRecord => d !== undefined));
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  /** Resolves when every message sent so far is delivered or given up. */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  /** Stops waiting between webhook attempts (a message still waiting is logged failed), then closes the SMTP transport. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.idle();
    this.email.close();
  }

  private newDelivery(channel: DeliveryChannel, n: Notice, target: string): DeliveryRecord {
    return {
      id: `dlv_${randomBytes(12).toString('base64url')}`,
      time: this.o.clock.now(),
      channel,
      event: n.event,
      tokenId: n.token?.id ?? null,
      owner: n.owner,
      target,
      status: 'pending',
      attempts: 0,
      lastError: null,
      sentAt: null,
    };
  }

  /** Writes the row's new state; a store failure is logged (the message itself went or did not). */
  private async save(d: DeliveryRecord, first = false): Promise<void> {
    try {
      if (first) await this.o.store.recordDelivery(d);
      else await this.o.store.updateDelivery(d.id, { status: d.status, attempts: d.attempts, lastError: d.lastError, sentAt: d.sentAt });
    } catch (e) {
      this.o.logger.error({ err: e, delivery: d.id }, 'notification delivery log not written');
    }
  }

  private vars(n: Notice): TemplateVars {
    return {
      user: n.owner,
      // A message about no token (a test): the templates still read naturally.
      name: n.token?.name ?? 'test',
      id: n.token?.id ?? 'no token',
      event: n.phrase,
      detail: n.detail,
      expiresAt: iso(n.token?.expiresAt ?? null) ?? '',
    };
  }

  private async sendEmail(n: Notice, s: NotificationSettings, opts: DispatchOptions): Promise<DeliveryRecord | undefined> {
    const cfg = s.notifications.email;
    let d: DeliveryRecord | undefined;
    try {
      let to = opts.to;
      let toError: string | undefined;
      if (to === undefined) {
        try {
          to = (await this.addresses.of(n.owner, s)).address;
        } catch (e) {
          toError = (e as Error).message;
        }
      }
      d = this.newDelivery('email', n, to ?? `(no address for ${n.owner})`);
      await this.save(d, true);
      if (toError !== undefined || to === undefined) throw new Error(toError ?? 'no address');
      d.attempts = 1;
      const v = this.vars(n);
      await this.email.send(cfg.smtpUrl!, {
        from: cfg.from,
        to,
        subject: render(cfg.subjectTemplate, v),
        text: render(cfg.bodyTemplate, v),
        headers: { 'X-Sidecar-Event': n.event, ...(n.token ? { 'X-Sidecar-Token-Id': n.token.id } : {}) },
      });
      d.status = 'sent';
      d.sentAt = this.o.clock.now();
      this.o.logger.info({ delivery: d.id, event: n.event, tokenId: d.tokenId, to }, 'notification e-mail sent');
    } catch (e) {
      const why = (e as Error).message;
      if (!d) {
        this.o.logger.error({ err: e, event: n.event, tokenId: n.token?.id }, 'notification e-mail not sent');
        return undefined;
      }
      d.status = 'failed';
      d.lastError = why;
      this.o.logger.warn({ delivery: d.id, event: n.event, tokenId: d.tokenId, error: why }, 'notification e-mail not sent');
    }
    await this.save(d);
    return d;
  }

  private async sendWebhook(n: Notice, s: NotificationSettings, opts: DispatchOptions): Promise<DeliveryRecord | undefined> {
    const cfg = s.notifications.webhook;
    const url = cfg.url!;
    const d = this.newDelivery('webhook', n, webhookTarget(url));
    try {
      await this.save(d, true);
      const body: WebhookBody = {
        event: n.event,
        token: n.token ? { id: n.token.id, name: n.token.name, owner: n.token.owner, expiresAt: iso(n.token.expiresAt), lastUsedAt: iso(n.token.lastUsedAt) } : null,
        detail: n.detail,
        time: new Date(d.time).toISOString(),
      };
      const raw = JSON.stringify(body);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'jira-auth-sidecar',
        [TIMESTAMP_HEADER]: String(Math.floor(d.time / 1000)),
        [DELIVERY_HEADER]: d.id,
      };
      if (cfg.secret) headers[SIGNATURE_HEADER] = signBody(cfg.secret, raw);
      const max = Math.max(1, opts.maxAttempts ?? cfg.maxAttempts);
      for (;;) {
        d.attempts++;
        const r = await postOnce(this.fetchFn, url, raw, headers, cfg.timeoutMs);
        if (r.ok) {
          d.status = 'sent';
          d.sentAt = this.o.clock.now();
          this.o.logger.info({ delivery: d.id, event: n.event, tokenId: d.tokenId, attempts: d.attempts }, 'notification webhook delivered');
          break;
        }
        d.lastError = r.error;
        if (!r.retry || d.attempts >= max) {
          d.status = 'failed';
          this.o.logger.warn({ delivery: d.id, event: n.event, tokenId: d.tokenId, attempts: d.attempts, error: r.error, target: d.target }, 'notification webhook not delivered; giving up');
          break;
        }
        this.o.logger.info({ delivery: d.id, attempts: d.attempts, error: r.error }, 'notification webhook attempt failed; trying again');
        await this.save(d);
        if (!(await this.sleep(backoffMs(d.attempts, this.retryBaseMs)))) {
          d.status = 'failed';
          d.lastError = `${r.error}; not tried again: the sidecar stopped`;
          break;
        }
      }
    } catch (e) {
      d.status = 'failed';
      d.lastError = (e as Error).message;
      this.o.logger.error({ err: e, delivery: d.id }, 'notification webhook failed');
    }
    await this.save(d);
    return d;
  }

  /** Waits `ms`; false when close() cut the wait short. */
  private sleep(ms: number): Promise<boolean> {
    if (this.stop.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(t);
        this.stop.signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = () => done(false);
      const t = setTimeout(() => done(true), ms);
      this.stop.signal.addEventListener('abort', onAbort);
    });
  }
}
