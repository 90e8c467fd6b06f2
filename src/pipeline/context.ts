// What a proxy stage may use of a request context: the subset of Koa's Context the pipeline needs.
// Koa's Context satisfies it (the self-service routes run the stages inside Koa), and so does the
// proxy listener's own lean context (http/proxy-app.ts), which serves every other request without
// Koa's per-request objects. Typing the stages on this subset keeps them runnable by both.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ProxyContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The request's RequestState (request-id creates it). */
  state: unknown;
  /** false: the stage wrote the answer itself (forward); the runner writes nothing. */
  respond?: boolean;
  /** The response status (res.statusCode); setting it marks it explicit. */
  status: number;
  /** An object is answered as JSON; null/undefined with an empty status as no body. */
  body: unknown;
  set(field: string, value: string): void;
  readonly method: string;
}

export type ProxyMiddleware = (ctx: ProxyContext, next: () => Promise<unknown>) => unknown;
