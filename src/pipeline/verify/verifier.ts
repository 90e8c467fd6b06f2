// A Verifier proves one credential kind and returns an Identity, or throws a SidecarError
// (401 for a bad credential, 503 auth_unavailable when a key source / endpoint cannot answer:
// never a silent allow). Verifiers register per credential kind in Services.verifiers.
import type { Credential, CredentialKind, Identity, RequestState } from '../state.js';
import type { EvalMode } from '../step.js';

export interface Verifier {
  readonly kind: CredentialKind;
  /**
   * May answer synchronously when nothing has to be awaited (a cached JWT): no promise and no
   * microtask hop on the hot path. Refusals are thrown or rejected, as the verifier likes.
   */
  verify(credential: Credential, state: RequestState, mode: EvalMode): Identity | Promise<Identity>;
}

declare module '../deps.js' {
  interface Services {
    verifiers?: Partial<Record<CredentialKind, Verifier>>;
  }
}
