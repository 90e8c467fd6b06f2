// The lean baseline: node:http + undici's dispatch API, a response with Content-Length up to 64 KiB
// written with one res.end, anything else streamed (the same shape as
// ../shared/bench-peers/proxy-node-undici.mjs: the leanest Node passthrough we know). No auth.
import http from 'node:http';
import { Pool } from 'undici';

const port = Number(process.env.PORT ?? 0);
const up = new URL(process.env.UPSTREAM ?? 'http://127.0.0.1:8080');
const pool = new Pool(up.origin, { connections: 256, keepAliveTimeout: 60_000 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);
const SMALL = 64 * 1024;

function forward(req: http.IncomingMessage, res: http.ServerResponse): void {
  const headers: Record<string, string | string[]> = {};
  for (const k in req.headers) if (!HOP.has(k)) headers[k] = req.headers[k]!;
  headers.host = up.host;
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  let chunks: Buffer[] | null = null; // the buffered body of a small response; null while streaming
  pool.dispatch(
    { path: req.url ?? '/', method: req.method ?? 'GET', headers, body: hasBody ? req : null },
    {
      onConnect(abort) {
        res.on('close', () => {
          if (!res.writableFinished) abort();
        });
      },
      onError() {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      },
      onHeaders(status, raw, resume) {
        const out: Record<string, string> = {};
        let len = -1;
        for (let i = 0; i < raw.length; i += 2) {
          const k = raw[i]!.toString('latin1').toLowerCase();
          if (HOP.has(k)) continue;
          out[k] = raw[i + 1]!.toString('latin1');
          if (k === 'content-length') len = Number(out[k]);
        }
        if (len >= 0 && len <= SMALL) {
          chunks = [];
          res.statusCode = status;
          for (const k in out) res.setHeader(k, out[k]!);
        } else {
          res.writeHead(status, out);
          res.flushHeaders();
          res.on('drain', resume);
        }
        return true;
      },
      onData(c) {
        if (chunks) {
          chunks.push(c);
          return true;
        }
        return res.write(c);
      },
      onComplete() {
        if (chunks) res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
        else res.end();
      },
    },
  );
}

const server = http.createServer(forward);
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ ready: true, port: a.port })}\n`);
});
for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => process.exit(0));
