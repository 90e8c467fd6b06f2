// The introspection calls' HTTP client: undici's request API behind the FetchLike shape the
// verifiers are written (and tested) against. A call to the introspection endpoint is on the path of
// every request whose token is not cached (a caller's first, one every introspection.cacheSec, each
// never-seen token a client sends), and fetch spends most of its CPU on WHATWG objects nobody reads
// here. Measured, one POST over loopback, CPU per call in the calling process (10 at a time,
// test/bench/introspection-client-micro.ts): fetch with AbortSignal.timeout 350–490 µs; fetch with a plain AbortController 280–300 µs;
// this 127–173 µs; undici's request alone 46–55 µs (the rest is the Response the shape asks for).
import { request } from 'undici';
import type { FetchLike } from './jwt/key-source.js';

/** Statuses whose Response has no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * A fetch that follows no redirect, whatever `init.redirect` says: a 3xx answer is an error, as
 * fetch makes it with `redirect: 'error'` (what the introspection call asks, its only caller).
 */
export const requestFetch: FetchLike = async (input, init = {}) => {
  const r = await request(input, {
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers as Record<string, string> | undefined,
    body: init.body as string | undefined,
    signal: init.signal ?? undefined,
  });
  if (r.statusCode >= 300 && r.statusCode < 400) {
    await r.body.dump();
    throw new TypeError(`redirect (HTTP ${r.statusCode}) refused`);
  }
  const text = await r.body.text();
  return new Response(NULL_BODY.has(r.statusCode) ? null : text, { status: r.statusCode });
};

/**
 * An abort signal that fires after ms with a TimeoutError (what AbortSignal.timeout gives, and
 * whyFetchFailed reads), from a plain AbortController: AbortSignal.timeout's signal is made
 * transferable between threads, ≈ 100 µs of CPU per call here. `done` clears the timer.
 */
export function timeoutSignal(ms: number): { signal: AbortSignal; done(): void } {
  const c = new AbortController();
  const timer = setTimeout(() => c.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms);
  return { signal: c.signal, done: () => clearTimeout(timer) };
}
