// Helpers for the identity-mode tests (issue 6): a sidecar whose pino output is captured, and a tiny
// 'jwt' Verifier that trusts a JWS-shaped token's payload (the identity modes are under test here,
// not JWT verification, which has its own tests).
import { validate } from '../../src/config/validate.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import type { Clock } from '../../src/clock.js';
import type { Verifier } from '../../src/pipeline/verify/verifier.js';
import type { Identity } from '../../src/pipeline/state.js';
import { SidecarError } from '../../src/errors.js';
import { baseConfig, merge, tempDir } from './sidecar.js';

export interface TestCaller {
  username: string;
  issuer?: string;
  clientId?: string;
  isServicePrincipal?: boolean;
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A compact-JWS-shaped token naming the caller (only the test verifier below accepts it). */
export const testToken = (c: TestCaller) => `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(c)}.${Buffer.from('test-signature').toString('base64url')}`;

export const testJwtVerifier: Verifier = {
  kind: 'jwt',
  async verify(cred) {
    const parts = (cred.secret ?? '').split('.');
    if (parts.length !== 3 || Buffer.from(parts[2]!, 'base64url').toString() !== 'test-signature') throw new SidecarError('token_invalid', { rule: 'test-jwt' });
    const c = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString()) as TestCaller;
    const id: Identity = { username: c.username, source: 'jwt', groups: [], roles: [], isServicePrincipal: c.isServicePrincipal ?? false };
    if (c.issuer) id.issuer = c.issuer;
    if (c.clientId) id.clientId = c.clientId;
    return id;
  },
};

export interface IdentitySidecar extends RunningSidecar {
  dataDir: string;
  /** Every log line the sidecar wrote (debug level). */
  logs: string[];
}

/** startSidecar (what `serve` calls) with a log capture and the test jwt verifier installed. */
export async function startIdentitySidecar(upstreamUrl: string, overrides: unknown, opts: { clock?: Clock; dataDir?: string } = {}): Promise<IdentitySidecar> {
  const dataDir = opts.dataDir ?? tempDir('sidecar-identity-');
  const v = validate(merge(baseConfig(upstreamUrl, dataDir), merge({ log: { level: 'debug' } }, overrides)));
  if (!v.ok) throw new Error(`test config invalid: ${JSON.stringify(v.issues)}`);
  const logs: string[] = [];
  const logger = createLogger('debug', { write: (s: string) => void logs.push(s) });
  const s = await startSidecar({ config: v.config, logger, clock: opts.clock });
  (s.runtime.deps.services.verifiers ??= {}).jwt = testJwtVerifier;
  return { ...s, dataDir, logs };
}
