// Stored Jira credentials (credential-map) at rest: the interface both backends implement
// (sqlite/credentials.ts, postgres/credentials.ts), its records, and nothing else. The store only
// ever sees sealed bytes: encryption, the AAD that binds a ciphertext to its row, validation and the
// admin view sit above it, in credential-map/credentials.ts. Behaviour is pinned once, for both, by
// the conformance suite (test/store/conformance/credentials.ts). Times are ms since the epoch.

export type CredentialSubjectType = 'client' | 'user';
export type CredentialKind = 'jira-pat';

/** An AES-256-GCM seal as stored: the key that made it, the 96-bit IV, the ciphertext and the tag. */
export interface CredentialSeal {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/** One stored credential: whose it is, its seal, and who set it when. */
export interface CredentialRecord extends CredentialSeal {
  subjectType: CredentialSubjectType;
  subject: string;
  kind: CredentialKind;
  /** The first upsert of this subject. */
  createdAt: number;
  /** The last upsert (a reseal by rotation leaves it as it is). */
  updatedAt: number;
  /** Who made the last upsert: "cli", "admin:<user>". */
  createdBy: string;
  note?: string;
}

/** What upsert writes: the record without its times, and the time of the write. */
export interface CredentialWrite extends Omit<CredentialRecord, 'createdAt' | 'updatedAt'> {
  at: number;
}

export interface CredentialStore {
  /** Every credential, by subject type then subject (byte order). */
  list(): Promise<CredentialRecord[]>;
  get(subjectType: CredentialSubjectType, subject: string): Promise<CredentialRecord | undefined>;
  /**
   * Stores the subject's credential: a new row (createdAt = updatedAt = at), or the existing row
   * replaced in everything but createdAt. Returns the row as stored.
   */
  upsert(c: CredentialWrite): Promise<CredentialRecord>;
  /** True when there was a row to delete. */
  delete(subjectType: CredentialSubjectType, subject: string): Promise<boolean>;
  /** How many rows each key id sealed (absent: none). */
  countByKey(): Promise<Map<string, number>>;
  /** The rows rotation re-encrypts: every one not sealed with `keyId`, in list() order. */
  listNotSealedWith(keyId: string): Promise<CredentialRecord[]>;
  /**
   * Compare-and-set of one row's seal: replaced by `next` only while the row still holds the seal
   * that was read (`expected`: its key id and IV, the IV being fresh for every seal), so a set() that
   * replaced the row meanwhile, on any replica, is never overwritten. Nothing else in the row
   * changes. True when this call replaced it.
   */
  reseal(subjectType: CredentialSubjectType, subject: string, expected: Pick<CredentialSeal, 'keyId' | 'iv'>, next: CredentialSeal): Promise<boolean>;

  // ---- copying a store (store/copy.ts); list() is the dump: every row, seal and times included
  /**
   * Stores rows as list() returned them, in one transaction: both times and the seal byte for byte
   * (it still opens with the same key ring: the AAD is the subject and kind, which are kept). A
   * subject already stored is an error.
   */
  restore(rows: readonly CredentialRecord[]): Promise<void>;
}
