import type { IncomingMessage, ServerResponse } from 'node:http';

// The proxy listener handles Expect: 100-continue itself (a 'checkContinue' listener): node then
// sends no interim 100 on its own, so the request is judged before the client sends its body and a
// refusal is the final answer (node closes such a connection after it, as the body was not read).
// Whoever first needs the body (the forward stage, a JSON reader) calls this (RFC 9110 §10.1.1).

/** Sends "100 Continue" once, when the client asked for it and no answer (interim or final) went out. */
export function continueIfExpected(req: IncomingMessage, res: ServerResponse): void {
  const expect = req.headers.expect;
  // _sent100: node's own flag, set by writeContinue (also when node continued by itself, as on the admin listener).
  if (expect === undefined || res.headersSent || (res as { _sent100?: boolean })._sent100 || !/^\s*100-continue\s*$/i.test(expect)) return;
  res.writeContinue();
}
