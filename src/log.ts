// Structured JSON logs (pino). Secrets never reach a log line: headers and URLs pass redact*().
import pino, { type Logger } from 'pino';

export type { Logger };

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-sidecar-secret']);
const SECRET_PARAMS = /^(access_token|id_token|refresh_token|token|os_password|os_username|password|client_secret|jwt|api_key|apikey|code)$/i;

/** "/x;jsessionid=s?access_token=abc&a=1" -> "/x;jsessionid=REDACTED?access_token=REDACTED&a=1" */
export function redactUrl(target: string): string {
  // ";jsessionid=..." in the path is a Jira session (Tomcat URL rewriting): as secret as the cookie.
  target = target.replace(/(;jsessionid=)[^;/?#]*/gi, '$1REDACTED');
  const q = target.indexOf('?');
  if (q < 0) return target;
  const parts = target
    .slice(q + 1)
    .split('&')
    .map((kv) => {
      const eq = kv.indexOf('=');
      const rawName = eq < 0 ? kv : kv.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        /* keep raw */
      }
      return SECRET_PARAMS.test(name) && eq >= 0 ? `${rawName}=REDACTED` : kv;
    });
  return `${target.slice(0, q)}?${parts.join('&')}`;
}

/** Header map with every credential-bearing value replaced. extra: more names to mask (lower-case). */
export function redactHeaders(headers: Record<string, unknown>, extra: Iterable<string> = []): Record<string, unknown> {
  const mask = new Set([...SECRET_HEADERS, ...[...extra].map((s) => s.toLowerCase())]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = mask.has(k.toLowerCase()) ? 'REDACTED' : v;
  return out;
}

let stdoutBroken = false;

/**
 * Log lines go to process.stdout (asynchronous for pipes). If whoever reads our stdout goes away
 * (EPIPE), logging stops quietly: pino's default sonic-boom destination retries a failing write in a
 * blocking loop at exit, which kept the process from ever honouring SIGTERM.
 */
export function stdoutDestination(): pino.DestinationStream {
  if (process.stdout.listenerCount('error') === 0) {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') stdoutBroken = true;
    });
  }
  return {
    write(line: string) {
      if (!stdoutBroken) process.stdout.write(line);
    },
  };
}

export function createLogger(level: string, destination: pino.DestinationStream = stdoutDestination()): Logger {
  return pino(
    {
      level,
      base: { name: 'jira-auth-sidecar' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['headers.authorization', 'headers.cookie', 'req.headers.authorization', 'req.headers.cookie', '*.sharedSecret', '*.clientSecret', 'password', 'token', 'secret'],
        censor: 'REDACTED',
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
