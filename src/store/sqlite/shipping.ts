// ShippingCursorStore on SQLite: one process owns the file, so the shipping lock is always this
// process's. Like the audit tables, the cursors have no replica column: the file holds one
// replica's chains, and a renamed replica (server.replicaName, or a new host name) keeps them.
import type { ChainId, ChainKind } from '../audit-store.js';
import type { Locked } from '../lifecycle-store.js';
import type { ShippingCursor, ShippingCursorStore } from '../shipping-store.js';
import type { Db } from './db.js';

export class SqliteShippingCursorStore implements ShippingCursorStore {
  constructor(
    private readonly db: Db,
    private readonly replica: string,
  ) {}

  async cursor(destination: string, chain: ChainId): Promise<number> {
    if (chain.replica !== this.replica) return 0;
    const r = this.db.prepare('SELECT last_id FROM audit_shipping_cursor WHERE destination = ? AND chain = ?').get(destination, chain.kind) as { last_id: number } | undefined;
    return r?.last_id ?? 0;
  }

  async cursors(destination: string): Promise<ShippingCursor[]> {
    const rows = this.db
      .prepare("SELECT chain, last_id, updated_at FROM audit_shipping_cursor WHERE destination = ? ORDER BY chain = 'admin', chain")
      .all(destination) as Array<{ chain: ChainKind; last_id: number; updated_at: number }>;
    return rows.map((r) => ({ destination, chain: { kind: r.chain, replica: this.replica }, lastId: r.last_id, updatedAt: r.updated_at }));
  }

  async advance(destination: string, chain: ChainId, lastId: number, at: number): Promise<boolean> {
    if (chain.replica !== this.replica) throw new Error(`this SQLite store holds the chains of replica "${this.replica}" only, not "${chain.replica}"`);
    const r = this.db
      .prepare(
        `INSERT INTO audit_shipping_cursor (destination, chain, last_id, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (destination, chain) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at
          WHERE audit_shipping_cursor.last_id < excluded.last_id`,
      )
      .run(destination, chain.kind, Math.trunc(lastId), Math.trunc(at));
    return r.changes > 0;
  }

  async withShipperLock<T>(_destination: string, fn: () => Promise<T>): Promise<Locked<T>> {
    return { ran: true, value: await fn() };
  }
}
