// upstream.preconnect: connections to Jira opened ahead (the start-up warm-up), nothing sent on them,
// then used by the pool for its first requests instead of new connects. One that Jira closes
// meanwhile is dropped (the request still succeeds on a new connection); a pool rebuilt by a reload
// does not get the old pool's spares; close() closes the spares.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamPools } from '../../src/pipeline/forward/upstream-pool.js';
import { policyFrom } from '../helpers/policy.js';
import { until } from '../helpers/http.js';

/** A Jira stand-in that counts connections (and keeps them) and requests. */
async function countingServer() {
  const sockets = new Set<Socket>();
  let connections = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    res.end('{}');
  });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    requests: () => requests,
    open: () => sockets.size,
    /** Closes one of the connections from Jira's side (an idle timeout). */
    closeOne: () => [...sockets][0]!.destroy(),
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function get(pools: UpstreamPools, policy: ReturnType<typeof policyFrom>) {
  const r = await pools.get(policy).request({ method: 'GET', path: '/rest/api/2/myself' });
  await r.body.text();
  return r.statusCode;
}

describe('upstream.preconnect', () => {
  it('opens the connections ahead without sending anything, and the first requests use them', async () => {
    const jira = await countingServer();
    cleanups.push(jira.close);
    const pools = new UpstreamPools({ watch: false });
    cleanups.push(() => pools.close());
    const policy = policyFrom({ upstream: { url: jira.url } });
    expect(await pools.preconnect(policy, 4)).toEqual({ opened: 4, failed: 0 });
    await until(() => jira.connections() === 4, 'four connections at Jira');
    expect(jira.requests()).toBe(0);
    expect(pools.spares).toBe(4);
    // Four requests at once: the pool takes the four spares, and opens nothing new.
    expect(await Promise.all(Array.from({ length: 4 }, () => get(pools, policy)))).toEqual([200, 200, 200, 200]);
    expect(jira.requests()).toBe(4);
    expect(jira.connections()).toBe(4);
    expect(pools.spares).toBe(0);
  });

  it('at most upstream.maxSockets', async () => {
    const jira = await countingServer();
    cleanups.push(jira.close);
    const pools = new UpstreamPools({ watch: false });
    cleanups.push(() => pools.close());
    expect(await pools.preconnect(policyFrom({ upstream: { url: jira.url, maxSockets: 2 } }), 10)).toEqual({ opened: 2, failed: 0 });
  });

  it('drops a spare Jira closed meanwhile; the request goes on a new connection', async () => {
    const jira = await countingServer();
    cleanups.push(jira.close);
    const pools = new UpstreamPools({ watch: false });
    cleanups.push(() => pools.close());
    const policy = policyFrom({ upstream: { url: jira.url } });
    await pools.preconnect(policy, 1);
    await until(() => jira.open() === 1, 'the spare at Jira');
    jira.closeOne();
    await until(() => pools.spares === 0, 'the closed spare dropped');
    expect(await get(pools, policy)).toBe(200);
    expect(jira.connections()).toBe(2);
  });

  it('a pool rebuilt by a reload does not take the old pool’s spares, and close() closes them', async () => {
    const jira = await countingServer();
    cleanups.push(jira.close);
    const pools = new UpstreamPools({ watch: false });
    const before = policyFrom({ upstream: { url: jira.url } });
    await pools.preconnect(before, 3);
    await until(() => jira.open() === 3, 'three spares at Jira');
    const after = policyFrom({ upstream: { url: jira.url, maxSockets: 100 } }); // another pool key
    expect(await get(pools, after)).toBe(200);
    expect(pools.spares).toBe(0);
    await until(() => jira.open() <= 1, 'the old spares closed');
    await pools.preconnect(after, 2);
    await until(() => jira.open() === 3, 'two new spares');
    await pools.close();
    await until(() => jira.open() === 0, 'close() closes the spares');
  });

  it('Jira unreachable: nothing opened, failures counted, nothing thrown', async () => {
    const jira = await countingServer();
    const url = jira.url;
    await jira.close();
    const pools = new UpstreamPools({ watch: false });
    cleanups.push(() => pools.close());
    expect(await pools.preconnect(policyFrom({ upstream: { url } }), 3)).toEqual({ opened: 0, failed: 3 });
  });
});
