// Start-up warm-up for rolling restarts: before /readyz says ready, the sidecar sends itself
// server.warmupRequests requests over loopback, through its real proxy listener and pipeline, so
// the hot path (node:http, Koa, the stages, JSON refusals) is compiled before a load balancer sends
// real traffic. The requests carry a random per-process marker (X-Sidecar-Warmup): they are judged
// like any request, then answered 204 by the forward stage instead of going to Jira, and are
// neither audited nor counted. The marker means nothing before or after the warm-up.
//
// The mix: an anonymous request (a passthrough, or a refusal where anonymous is denied), an unsigned
// JWT (alg none: decoded and refused before any key is looked up, whatever issuers are configured),
// and a malformed bearer. Nothing reaches Jira or an identity provider.
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { buildConnector, Pool } from 'undici';
import type { Deps } from '../pipeline/deps.js';

const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const CONNECTIONS = 8;

/**
 * How the warm-up reaches its own HTTPS listener: on loopback, trusting exactly the certificate that
 * listener serves (its SHA-256 fingerprint), whatever CA issued it and whichever names it carries.
 */
function pinnedConnector(servedFingerprint: () => string | undefined): buildConnector.connector {
  // Chain and name checks cannot apply to a loopback address the certificate does not name; the
  // pin below is stricter: a connection presenting any other certificate is closed before use.
  const connect = buildConnector({ rejectUnauthorized: false });
  return (opts, cb) =>
    connect(opts, (err, socket) => {
      if (err || !socket) return cb(err ?? new Error('no socket'), null);
      const seen = (socket as TLSSocket).getPeerCertificate?.().fingerprint256;
      if (!seen || seen !== servedFingerprint()) {
        socket.destroy();
        return cb(new Error('warm-up: the listener presented another certificate than the one it serves'), null);
      }
      cb(null, socket);
    });
}

export async function warmUp(proxyUrl: string, deps: Deps, requests: number, o: { servedFingerprint?: () => string | undefined } = {}): Promise<{ ms: number; sent: number }> {
  const started = performance.now();
  if (requests <= 0) return { ms: 0, sent: 0 };
  const secret = randomBytes(24).toString('base64url');
  deps.warmupSecret = secret;
  const now = Math.floor(Date.now() / 1000);
  const jwt = `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u({ iss: 'https://warm-up.invalid/', sub: 'warm-up', aud: 'warm-up', exp: now + 60 })}.`;
  const kinds: Array<Record<string, string>> = [{}, { authorization: `Bearer ${jwt}` }, { authorization: 'Bearer not-a-credential' }];
  const pool = new Pool(proxyUrl, { connections: CONNECTIONS, ...(o.servedFingerprint ? { connect: pinnedConnector(o.servedFingerprint) } : {}) });
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < requests) {
      const i = next++;
      try {
        const r = await pool.request({ method: 'GET', path: '/rest/api/2/myself', headers: { 'x-sidecar-warmup': secret, ...kinds[i % kinds.length] } });
        await r.body.dump();
        sent++;
      } catch {
        /* a warm-up request that fails warms less; it never fails the start */
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  } finally {
    deps.warmupSecret = undefined;
    await pool.close();
  }
  return { ms: Math.round(performance.now() - started), sent };
}
