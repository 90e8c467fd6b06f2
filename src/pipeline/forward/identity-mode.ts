// Which way a checked identity is told to Jira (pure). The admin "test a request" page can call it
// to show the mode a caller would be forwarded with.
import type { IdentityConfig, IdentityMode } from '../../config/identity-schema.js';
import type { Identity } from '../state.js';

export interface ModeChoice {
  mode: IdentityMode;
  /** Which setting chose it: "clients.<id>", "issuers.<name>" or "mode". */
  rule: string;
}

/**
 * The most specific setting wins: the client id (one application), then the issuer, then the default.
 *   selectIdentityMode({clientId: 'app1', issuer: 'entra', …}, {mode: 'header', issuers: {entra: 'oauth1-impersonation'}, clients: {app1: 'credential-map'}})
 *     -> { mode: 'credential-map', rule: 'clients.app1' }
 */
export function selectIdentityMode(identity: Pick<Identity, 'clientId' | 'issuer'>, cfg: Pick<IdentityConfig, 'mode' | 'issuers' | 'clients'>): ModeChoice {
  const own = (rec: Record<string, IdentityMode>, key: string | undefined) => (key !== undefined && Object.hasOwn(rec, key) ? rec[key] : undefined);
  const byClient = own(cfg.clients, identity.clientId);
  if (byClient) return { mode: byClient, rule: `clients.${identity.clientId}` };
  const byIssuer = own(cfg.issuers, identity.issuer);
  if (byIssuer) return { mode: byIssuer, rule: `issuers.${identity.issuer}` };
  return { mode: cfg.mode, rule: 'mode' };
}

/** The stored-credential subject a credential-map forward looks up: service principals by client id, everyone else by username. */
export function credentialSubject(identity: Pick<Identity, 'clientId' | 'isServicePrincipal' | 'username'>): { type: 'client' | 'user'; id: string } {
  return identity.isServicePrincipal && identity.clientId ? { type: 'client', id: identity.clientId } : { type: 'user', id: identity.username };
}
