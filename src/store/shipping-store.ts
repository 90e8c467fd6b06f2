// Where audit shipping (audit/shipping/) stands: per destination and per audit chain, the id of the
// last row the destination has confirmed, and the lock that lets one replica at a time ship.
// Implemented by sqlite/shipping.ts and postgres/shipping.ts, pinned by
// test/store/conformance/shipping.ts. Imports nothing from admin/, pipeline/ or http/.
//
// Rows are shipped at least once: a batch is sent, then its cursor advances, so a restart or a
// lost connection between the two sends the batch again. Ids are consecutive within a chain, so
// "rows after the cursor" is everything not yet shipped, whatever happened in between.
import type { ChainId } from './audit-store.js';
import type { Locked } from './lifecycle-store.js';

/** A destination's position in one chain. */
export interface ShippingCursor {
  /** The destination's name ('syslog', 'http'). */
  destination: string;
  chain: ChainId;
  /** The last row id shipped (and confirmed) from the chain. */
  lastId: number;
  /** When it last advanced, ms since the epoch. */
  updatedAt: number;
}

export interface ShippingCursorStore {
  /** The last id shipped to the destination from the chain; 0 when nothing was. */
  cursor(destination: string, chain: ChainId): Promise<number>;
  /** Every cursor of the destination, request chains first, then by replica. */
  cursors(destination: string): Promise<ShippingCursor[]>;
  /**
   * Records that the rows up to `lastId` were shipped. Never moves a cursor back: a `lastId` at or
   * below the stored one changes nothing (false). On SQLite, which holds one replica, the chain must
   * be this store's replica.
   */
  advance(destination: string, chain: ChainId, lastId: number, at: number): Promise<boolean>;
  /**
   * Runs fn while holding the destination's shipping lock: on PostgreSQL a session advisory lock,
   * so one replica of the cluster ships to a destination at a time and a replica that does not get
   * the lock skips ({ran: false}); on SQLite (one process per database) fn always runs.
   */
  withShipperLock<T>(destination: string, fn: () => Promise<T>): Promise<Locked<T>>;
}
