// ShippingCursorStore on PostgreSQL: the same statements as sqlite/shipping.ts with the replica in
// the key (every replica's chains are in the database), and the shipping lock a session advisory
// lock per destination, so one replica of the cluster ships to a destination at a time.
import type pg from 'pg';
import type { ChainId, ChainKind } from '../audit-store.js';
import type { Locked } from '../lifecycle-store.js';
import type { ShippingCursor, ShippingCursorStore } from '../shipping-store.js';

/** The advisory-lock key of a destination's shipper: a 64-bit hash of its name, in a space of its own ("ship:"). */
export const SHIP_LOCK_KEY_SQL = `hashtextextended('ship:' || $1, 0)`;

export class PgShippingCursorStore implements ShippingCursorStore {
  constructor(private readonly pool: pg.Pool) {}

  async cursor(destination: string, chain: ChainId): Promise<number> {
    const r = await this.pool.query<{ last_id: number }>('SELECT last_id FROM audit_shipping_cursor WHERE destination = $1 AND kind = $2 AND replica = $3', [
      destination,
      chain.kind,
      chain.replica,
    ]);
    return r.rows[0]?.last_id ?? 0;
  }

  async cursors(destination: string): Promise<ShippingCursor[]> {
    const r = await this.pool.query<{ kind: ChainKind; replica: string; last_id: number; updated_at: number }>(
      `SELECT kind, replica, last_id, updated_at FROM audit_shipping_cursor WHERE destination = $1 ORDER BY kind = 'admin', replica COLLATE "C"`,
      [destination],
    );
    return r.rows.map((x) => ({ destination, chain: { kind: x.kind, replica: x.replica }, lastId: x.last_id, updatedAt: x.updated_at }));
  }

  async advance(destination: string, chain: ChainId, lastId: number, at: number): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO audit_shipping_cursor (destination, kind, replica, last_id, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (destination, kind, replica) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at
        WHERE audit_shipping_cursor.last_id < excluded.last_id`,
      [destination, chain.kind, chain.replica, Math.trunc(lastId), Math.trunc(at)],
    );
    return (r.rowCount ?? 0) > 0;
  }

  /**
   * As the token lifecycle's job lock (postgres/lifecycle.ts): a session lock on a connection of its
   * own, released before the connection goes back to the pool, or with the connection when the
   * unlock fails (a connection whose unlock failed is closed, not pooled).
   */
  async withShipperLock<T>(destination: string, fn: () => Promise<T>): Promise<Locked<T>> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const locked = (await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${SHIP_LOCK_KEY_SQL}) AS ok`, [destination])).rows[0]!.ok;
      if (!locked) return { ran: false };
      try {
        return { ran: true, value: await fn() };
      } finally {
        await c.query(`SELECT pg_advisory_unlock(${SHIP_LOCK_KEY_SQL})`, [destination]).catch((e: Error) => (broken = e));
      }
    } finally {
      c.release(broken);
    }
  }
}
