// The bare baseline: node:http passthrough with a keep-alive agent and nothing else
// (the same shape as ../shared/bench-peers/proxy-node-bare.mjs).
import http from 'node:http';

const port = Number(process.env.PORT ?? 0);
const up = new URL(process.env.UPSTREAM ?? 'http://127.0.0.1:8080');
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);
const strip = (h: http.IncomingHttpHeaders) => {
  const o: http.OutgoingHttpHeaders = {};
  for (const k in h) if (!HOP.has(k)) o[k] = h[k];
  return o;
};

const server = http.createServer((req, res) => {
  const headers = strip(req.headers);
  headers.host = up.host;
  const preq = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers, agent }, (pres) => {
    res.writeHead(pres.statusCode ?? 502, strip(pres.headers));
    pres.pipe(res);
  });
  preq.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  res.on('close', () => {
    if (!res.writableFinished) preq.destroy();
  });
  req.pipe(preq);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ ready: true, port: a.port })}\n`);
});
for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => process.exit(0));
