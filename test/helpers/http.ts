// Raw HTTP for tests: node:http with exact header spelling, duplicates and request targets
// (fetch normalises all three, which would hide exactly what the proxy tests look at).
import http from 'node:http';
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface RawRequestOptions {
  method?: string;
  /** Sent exactly as given (node only refuses bytes outside \x21-\xff). */
  path: string;
  /** [name, value] pairs, spelling and duplicates kept. */
  headers?: Array<[string, string]>;
  body?: Buffer | string;
  agent?: http.Agent | false;
}

/** A form-encoded request (a body OAuth 1.0a signs): `headers`, then its Content-Type and Content-Length. */
export const formRequest = (method: string, path: string, headers: Array<[string, string]>, body: string): RawRequestOptions => ({
  method,
  path,
  headers: [...headers, ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', String(Buffer.byteLength(body))]],
  body,
});

export function rawRequest(baseUrl: string, o: RawRequestOptions): Promise<RawResponse> {
  const u = new URL(baseUrl);
  const flat: string[] = [];
  // With a raw header array node does not add Host itself; HTTP/1.1 requires one (RFC 9112 §3.2).
  if (!(o.headers ?? []).some(([k]) => k.toLowerCase() === 'host')) flat.push('Host', u.host);
  for (const [k, v] of o.headers ?? []) flat.push(k, v);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      method: o.method ?? 'GET',
      path: o.path,
      headers: flat as unknown as http.OutgoingHttpHeaders,
      agent: o.agent ?? false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.end(o.body);
  });
}

/** Writes bytes verbatim on a TCP socket and returns everything the server answers until it closes. */
export function rawSocket(baseUrl: string, bytes: Buffer | string): Promise<string> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write(bytes));
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

export const json = <T = any>(r: RawResponse): T => JSON.parse(r.body.toString('utf8')) as T;

/** Polls a condition without asserting how long it took (the machine is shared and slow). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
