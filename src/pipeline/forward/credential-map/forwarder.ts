// credential-map: the request reaches Jira with a stored Jira credential (a service account's PAT)
// instead of the caller's token. Who called stays in state.identity (and so in the audit row); only
// the credential Jira sees changes. The secret goes into one upstream header and nowhere else.
import { SidecarError } from '../../../errors.js';
import type { RequestState } from '../../state.js';
import type { ForwardTarget, IdentityForwarder, IdentityPlan } from '../identity.js';
import { credentialSubject } from '../identity-mode.js';

/** Where mapped credentials come from (CredentialMap.reveal(); a stub in tests). */
export interface CredentialSource {
  /** undefined: nothing stored for the subject. Rejects when one is stored but cannot be decrypted (or the store cannot be read). */
  reveal(subjectType: 'client' | 'user', subject: string): Promise<{ secret: string; kind: 'jira-pat'; keyId: string } | undefined>;
}

/** Jira's 401 to a mapped credential: the stored PAT is expired, revoked or wrong. */
export function mappedCredentialRejection(status: number, label: string, keyId: string): SidecarError | undefined {
  if (status !== 401) return undefined;
  return new SidecarError('upstream_rejected_identity', {
    rule: 'credential-map:rejected',
    detail: `Jira answered 401 to the stored credential for ${label} (sealed with key ${keyId}): it is expired, revoked or wrong; replace it with \`jira-auth-sidecar credentials set\``,
  });
}

/**
 * The plan for one request: `Authorization: Bearer <PAT>` of the mapped subject, or the fallback
 * (another forwarder, or a 403 credential_not_mapped refusal). A stored credential that cannot be
 * decrypted (key not loaded, row altered) is a 503: the request never goes out another way.
 */
export async function planCredentialMap(st: RequestState, target: ForwardTarget, source: CredentialSource, fallback: IdentityForwarder | 'deny'): Promise<IdentityPlan | undefined> {
  const subject = credentialSubject(st.identity!);
  const label = `${subject.type}:${subject.id}`;
  let found: Awaited<ReturnType<CredentialSource['reveal']>>;
  try {
    found = await source.reveal(subject.type, subject.id);
  } catch (e) {
    throw new SidecarError('auth_unavailable', { rule: 'credential-map:undecryptable', detail: (e as Error).message });
  }
  if (!found) {
    if (fallback === 'deny') throw new SidecarError('credential_not_mapped', { rule: `credential-map:${subject.type}`, detail: `no stored Jira credential for ${label}` });
    return fallback(st, target);
  }
  const { keyId } = found;
  return {
    headers: [['Authorization', `Bearer ${found.secret}`]],
    checkResponse: (status) => mappedCredentialRejection(status, label, keyId),
  };
}

export function credentialMapForwarder(source: CredentialSource, fallback: IdentityForwarder | 'deny'): IdentityForwarder {
  return (st, target) => planCredentialMap(st, target, source, fallback);
}
