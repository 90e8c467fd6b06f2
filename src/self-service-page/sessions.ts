// Server-side records of the self-service page, in this process's memory:
//   - sign-in attempts (state -> PKCE verifier, nonce, browser binding), single use, 10 minutes;
//   - page sessions (SHA-256 of the cookie value -> the access token and the CSRF token).
// Nothing here is shared between replicas: a browser that reaches another replica simply signs in
// again there (a silent round trip while its IdP session lives). Both maps are bounded (oldest out).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export const hashOf = (s: string) => createHash('sha256').update(s).digest('base64url');
/** 256 random bits, base64url (43 characters). */
export const randomId = () => randomBytes(32).toString('base64url');
/** What randomId makes: cookie values of any other shape are ignored without a lookup. */
export const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface LoginAttempt {
  state: string;
  pkceVerifier: string;
  /** Sent when the scopes ask for an ID token (openid). */
  nonce?: string;
  /** SHA-256 of the login cookie that started it: only that browser may finish it. */
  bindingHash: string;
  redirectUri: string;
  expiresAt: number;
}

export interface PageSession {
  idHash: string;
  accessToken: string;
  /** The per-session CSRF token every call of the page echoes in X-CSRF-Token. */
  csrfToken: string;
  /** Who the IdP says signed in (ID token name), for "Signed in as"; the API judges the access token. */
  displayName: string;
  createdAt: number;
  expiresAt: number;
}

export const LOGIN_TTL_MS = 10 * 60_000;
const MAX_ATTEMPTS = 10_000;
const MAX_SESSIONS = 10_000;

export class PageRecords {
  private readonly attempts = new LRUCache<string, LoginAttempt>({ max: MAX_ATTEMPTS });
  private readonly sessions = new LRUCache<string, PageSession>({ max: MAX_SESSIONS });

  constructor(private readonly now: () => number) {}

  addAttempt(a: Omit<LoginAttempt, 'expiresAt'>): void {
    this.attempts.set(a.state, { ...a, expiresAt: this.now() + LOGIN_TTL_MS });
  }

  /** The attempt for `state`, removed whatever happens next: a state (and its verifier) works once. */
  takeAttempt(state: string): LoginAttempt | undefined {
    const a = this.attempts.get(state);
    if (!a) return undefined;
    this.attempts.delete(state);
    return a.expiresAt > this.now() ? a : undefined;
  }

  /** A new session; the cookie value is returned once and only its hash is kept. */
  createSession(s: { accessToken: string; displayName: string; expiresAt: number }): { cookie: string; session: PageSession } {
    const cookie = randomId();
    const session: PageSession = { idHash: hashOf(cookie), accessToken: s.accessToken, csrfToken: randomId(), displayName: s.displayName, createdAt: this.now(), expiresAt: s.expiresAt };
    this.sessions.set(session.idHash, session);
    return { cookie, session };
  }

  findSession(cookie: string | undefined): PageSession | undefined {
    if (!cookie || !ID_SHAPE.test(cookie)) return undefined;
    const key = hashOf(cookie);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return s;
  }

  endSession(idHash: string): void {
    this.sessions.delete(idHash);
  }

  get sizes() {
    return { attempts: this.attempts.size, sessions: this.sessions.size };
  }
}
