// The introspection call's client, in process: CPU per POST over loopback (the server in a child
// process, so only the client's CPU is counted; 10 calls at a time), for fetch with
// AbortSignal.timeout, fetch with a plain AbortController, undici's request with the Response the
// verifier reads (pipeline/verify/outbound.ts), and undici's request alone.
//   node --import tsx test/bench/introspection-client-micro.ts
import http from 'node:http';
import { request } from 'undici';
import { fork } from 'node:child_process';
if (process.argv[2] === 'server') {
  const s = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"active":true,"username":"x","groups":["g"],"exp":9999999999}'); }); });
  s.keepAliveTimeout = 60000;
  s.listen(0, '127.0.0.1', () => process.send!((s.address() as any).port));
} else {
  const child = fork(new URL(import.meta.url).pathname, ['server'], { execArgv: ['--import', 'tsx'] });
  const port: number = await new Promise((r) => child.once('message', r as any));
  const url = `http://127.0.0.1:${port}/introspect`;
  const body = new URLSearchParams({ token: 'abc', token_type_hint: 'access_token' }).toString();
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: 'Basic eDp5' };
  const variants: Record<string, () => Promise<string>> = {
    fetchTimeout: async () => (await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(3000), redirect: 'error' })).text(),
    fetchController: async () => { const c = new AbortController(); const t = setTimeout(() => c.abort(), 3000); try { return await (await fetch(url, { method: 'POST', headers, body, signal: c.signal, redirect: 'error' })).text(); } finally { clearTimeout(t); } },
    undiciResponse: async () => { const r = await request(url, { method: 'POST', headers, body, headersTimeout: 3000, bodyTimeout: 3000 }); const t = await r.body.text(); return new Response(t, { status: r.statusCode }).text(); },
    undiciRaw: async () => { const r = await request(url, { method: 'POST', headers, body, headersTimeout: 3000, bodyTimeout: 3000 }); return r.body.text(); },
  };
  const N = 4000;
  for (let round = 0; round < 2; round++)
    for (const [name, f] of Object.entries(variants)) {
      for (let i = 0; i < 500; i++) await f();
      const t = process.cpuUsage();
      // 10 concurrent
      let i = 0;
      await Promise.all(Array.from({ length: 10 }, async () => { while (i++ < N) await f(); }));
      const c = process.cpuUsage(t);
      console.log(round, name, ((c.user + c.system) / N).toFixed(1), 'µs/call (client process)');
    }
  child.kill();
}
