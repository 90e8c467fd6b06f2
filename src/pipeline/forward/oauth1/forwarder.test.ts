import { describe, expect, it } from 'vitest';
import { oauthRejection, parseOAuthChallenge, stripReserved } from './forwarder.js';

describe('stripReserved', () => {
  it.each([
    ['plain query kept byte for byte', 'jql=a%20b+c&x=%C3%BC', 'jql=a%20b+c&x=%C3%BC', 0],
    ['client requestor id removed', 'a=1&xoauth_requestor_id=admin', 'a=1', 1],
    ['percent-encoded spelling removed', 'xoauth%5Frequestor%5Fid=admin&a=1', 'a=1', 1],
    ['any case of oauth_* removed', 'OAuth_Token=x&oauth_signature=y&b=2', 'b=2', 2],
    ['other xoauth_* removed', 'xoauth_displayname=x', '', 1],
    ['empty pairs dropped', 'a=1&&b=2&', 'a=1&b=2', 0],
    ['a look-alike is kept', 'myoauth_token=1', 'myoauth_token=1', 0],
  ])('%s', (_n, input, kept, removed) => expect(stripReserved(input)).toEqual({ kept, removed }));
});

describe("Jira's refusal", () => {
  it('parses an OAuth challenge', () => {
    expect(parseOAuthChallenge('OAuth realm="https%3A%2F%2Fjira", oauth_problem="timestamp_refused", oauth_acceptable_timestamps="1-2"')).toEqual({
      realm: 'https://jira',
      oauth_problem: 'timestamp_refused',
      oauth_acceptable_timestamps: '1-2',
    });
  });

  it('turns a 401 into upstream_rejected_identity with the problem and a hint in the detail', () => {
    const e = oauthRejection(401, ['WWW-Authenticate', 'OAuth realm="x", oauth_problem="signature_invalid"', 'X-Seraph-LoginReason', 'AUTHENTICATION_DENIED'], 'alice');
    expect(e?.code).toBe('upstream_rejected_identity');
    expect(e?.status).toBe(502);
    expect(e?.rule).toBe('oauth1:signature_invalid');
    expect(e?.detail).toContain('oauth_problem=signature_invalid');
    expect(e?.detail).toContain('X-Seraph-LoginReason: AUTHENTICATION_DENIED');
    expect(e?.detail).toContain('jiraBaseUrl');
  });

  it('a 401 without an OAuth challenge is still a rejection of our identity', () => {
    expect(oauthRejection(401, ['WWW-Authenticate', 'Basic realm="x"'], 'alice')?.rule).toBe('oauth1:none');
  });

  it.each([200, 403, 404, 500])('%i is relayed as Jira sent it', (status) => expect(oauthRejection(status, [], 'alice')).toBeUndefined());
});
