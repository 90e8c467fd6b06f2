// A fixed key as a key source: a PEM public key (SPKI) or an X.509 certificate (the seed customers
// validate with their IdP's signing certificate). The kid is ignored: there is exactly one key. The
// key is imported per allowed algorithm, since a WebCrypto key is bound to one algorithm.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { importSPKI, importX509, type JWSHeaderParameters } from 'jose';
import { SidecarError } from '../../../errors.js';
import type { KeySource, KeySourceStatus, VerificationKey } from './key-source.js';

export class PemSource implements KeySource {
  readonly description: string;
  private readonly imported = new Map<string, Promise<VerificationKey>>();
  private readonly problem?: string;

  constructor(
    private readonly pem: string,
    private readonly kind: 'publicKey' | 'certificate',
  ) {
    this.description = kind === 'certificate' ? 'X.509 certificate' : 'PEM public key';
    try {
      if (kind === 'certificate') {
        const cert = new X509Certificate(pem);
        this.description = `X.509 certificate ${cert.subject.replace(/\n/g, ', ')} (valid to ${cert.validTo})`;
      } else if (createPublicKey(pem).type !== 'public') throw new Error('not a public key');
    } catch (e) {
      this.problem = `${this.description} cannot be read: ${(e as Error).message}`;
    }
  }

  async getKey(header: JWSHeaderParameters): Promise<VerificationKey> {
    if (this.problem) throw new SidecarError('auth_unavailable', { rule: 'keys', detail: this.problem });
    const alg = String(header.alg);
    let p = this.imported.get(alg);
    if (!p) {
      p = this.kind === 'certificate' ? importX509(this.pem, alg) : importSPKI(this.pem, alg);
      this.imported.set(alg, p);
    }
    try {
      return await p;
    } catch (e) {
      // The algorithm does not fit the key type (e.g. ES256 header on an RSA key).
      throw new SidecarError('token_invalid', { rule: 'keys', detail: `alg ${alg} does not match the configured key: ${(e as Error).message}` });
    }
  }

  status(): KeySourceStatus {
    return this.problem ? { ok: false, detail: this.problem } : { ok: true, detail: this.description };
  }

  async warm(): Promise<void> {}

  async prime(algorithms: readonly string[], use?: (key: VerificationKey, alg: string) => void): Promise<void> {
    for (const alg of algorithms) {
      try {
        use?.(await this.getKey({ alg }), alg);
      } catch {
        /* the alg does not fit the key */
      }
    }
  }
}
