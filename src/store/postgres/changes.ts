// Change notifications between replicas: PostgreSQL LISTEN/NOTIFY on one channel. A store that
// changes something others cache (the saved configuration, a token revocation) sends
// pg_notify(CHANNEL, kind) in the same transaction, so it is delivered at commit; every replica
// listens on a dedicated connection (a pooled one cannot keep a LISTEN) and reconnects after a drop.
// Notifications are a hint: one sent while a replica is reconnecting is lost, which is why the
// periodic checks (store.syncIntervalMs, apiTokens.cacheMs) stay the bound.
import pg from 'pg';
import type { StoreChange } from '../stores.js';
import { tlsOf, type PostgresOptions } from './pool.js';

export const CHANGES_CHANNEL = 'jas_changes';
const KINDS = new Set<StoreChange>(['config', 'tokens']);

/** SQL that announces a change at commit (run inside the changing transaction). */
export const notifySql = `SELECT pg_notify('${CHANGES_CHANNEL}', $1)`;

export class ChangeListener {
  private readonly handlers: Array<(c: StoreChange) => void> = [];
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private backoffMs = 500;

  constructor(private readonly o: PostgresOptions) {}

  /** Adds a handler; the first one opens the listening connection (the CLI, which adds none, opens none). */
  on(fn: (c: StoreChange) => void): void {
    this.handlers.push(fn);
    if (this.handlers.length === 1) this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const { url, ssl } = tlsOf(this.o);
    const client = new pg.Client({ connectionString: url, ssl, connectionTimeoutMillis: this.o.connectTimeoutMs ?? 5000 });
    this.client = client;
    const retry = () => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => {});
      if (this.closed) return;
      this.timer = setTimeout(() => this.connect(), this.backoffMs);
      this.timer.unref();
      this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (n) => {
      const kind = n.payload as StoreChange;
      if (n.channel !== CHANGES_CHANNEL || !KINDS.has(kind)) return;
      for (const h of this.handlers) {
        try {
          h(kind);
        } catch {
          /* a handler's failure is its own; the others still run */
        }
      }
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${CHANGES_CHANNEL}`))
      .then(() => {
        this.backoffMs = 500;
        // Something may have changed while this replica was not listening: the handlers look now.
        for (const kind of KINDS) for (const h of this.handlers) h(kind);
      })
      .catch(retry);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
