// JWT settings as an operator meets them: the SIDECAR_JWKS_URL environment shortcut (issuer and
// audience "*" = not checked unless SIDECAR_ISSUER / SIDECAR_AUDIENCE are set), and a config reload
// that must not let a cached verification outlive the config it was judged by.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { loadConfig } from '../../src/config/load.js';
import { validate } from '../../src/config/validate.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { startTestSidecar, tempDir } from '../helpers/sidecar.js';
import { rawRequest, type RawResponse } from '../helpers/http.js';
import { nowSec, startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';

let upstream: JiraUpstream;
let idp: TokenIssuer;

const bodyOf = (r: RawResponse) => JSON.parse(r.body.toString()) as Record<string, any>;
const outcome = (r: RawResponse) => (r.status === 200 ? `200 ${bodyOf(r).headers['x-forwarded-user']}` : `${r.status} ${bodyOf(r).error}`);
const call = (url: string, token: string) => rawRequest(url, { path: '/rest/test/echo', headers: [['Authorization', `Bearer ${token}`]] });

beforeAll(async () => {
  upstream = await startJiraUpstream();
  idp = await startTestIssuer();
});
afterAll(async () => {
  await Promise.all([upstream?.close(), idp?.close()]);
});

async function fromEnv(env: Record<string, string>): Promise<RunningSidecar & { dir: string }> {
  const dir = tempDir();
  const loaded = loadConfig(undefined, {
    SIDECAR_UPSTREAM: upstream.url,
    SIDECAR_HOST: '127.0.0.1',
    SIDECAR_PORT: '0',
    SIDECAR_ADMIN_PORT: '0',
    SIDECAR_DATA_DIR: dir,
    SIDECAR_LOG_LEVEL: 'silent',
    ...env,
  });
  if (!loaded.result.ok) throw new Error(JSON.stringify(loaded.result.issues));
  const s = await startSidecar({ config: loaded.result.config, logger: createLogger('silent') });
  return { ...s, dir };
}

describe('SIDECAR_JWKS_URL shortcut', () => {
  it('without SIDECAR_ISSUER / SIDECAR_AUDIENCE: any iss and aud, but the signature is still checked', async () => {
    const s = await fromEnv({ SIDECAR_JWKS_URL: idp.jwksUrl });
    try {
      expect(outcome(await call(s.proxyUrl, idp.sign({ iss: 'https://whatever', aud: 'anything', preferred_username: 'alice' })))).toBe('200 alice');
      expect(outcome(await call(s.proxyUrl, idp.sign({ preferred_username: 'bob' })))).toBe('200 bob');
      expect(outcome(await call(s.proxyUrl, idp.sign({ preferred_username: 'eve' }, { key: idp.newKey(idp.current.kid) })))).toBe('401 token_invalid');
      expect(outcome(await call(s.proxyUrl, idp.sign({ preferred_username: 'eve', exp: nowSec() - 3600 })))).toBe('401 token_expired');
    } finally {
      await s.close();
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  it('with SIDECAR_ISSUER and SIDECAR_AUDIENCE both are enforced', async () => {
    const s = await fromEnv({ SIDECAR_JWKS_URL: idp.jwksUrl, SIDECAR_ISSUER: idp.url, SIDECAR_AUDIENCE: 'api://jira' });
    try {
      expect(outcome(await call(s.proxyUrl, idp.sign({ aud: 'api://jira', preferred_username: 'alice' })))).toBe('200 alice');
      expect(outcome(await call(s.proxyUrl, idp.sign({ aud: 'api://other', preferred_username: 'alice' })))).toBe('401 token_invalid');
      expect(outcome(await call(s.proxyUrl, idp.sign({ iss: 'https://other', aud: 'api://jira', preferred_username: 'alice' })))).toBe('401 issuer_unknown');
    } finally {
      await s.close();
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
});

describe('config reload', () => {
  it('a token accepted (and cached) before a reload is judged again by the new config', async () => {
    const issuer = (audiences: string[]) => ({ name: 'idp', issuer: idp.url, audiences, keys: { jwksUri: idp.jwksUrl } });
    const s = await startTestSidecar(upstream.url, { jwt: { issuers: [issuer(['api://a'])] } });
    try {
      const t = idp.sign({ aud: 'api://a', preferred_username: 'alice' });
      expect(outcome(await call(s.proxyUrl, t))).toBe('200 alice');
      expect(outcome(await call(s.proxyUrl, t))).toBe('200 alice');
      const v = validate({ ...structuredClone(s.runtime.deps.getPolicy().config), jwt: { issuers: [issuer(['api://b'])] } });
      if (!v.ok) throw new Error(JSON.stringify(v.issues));
      s.runtime.applyConfig(v.config);
      expect(outcome(await call(s.proxyUrl, t))).toBe('401 token_invalid');
      expect(outcome(await call(s.proxyUrl, idp.sign({ aud: 'api://b', preferred_username: 'bob' })))).toBe('200 bob');
    } finally {
      await s.close();
    }
  });
});
