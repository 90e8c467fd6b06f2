import { describe, expect, it } from 'vitest';
import { AuthenticationError, SidecarError, toErrorResponse } from './errors.js';

const frames = (e: Error) => (e.stack ?? '').split('\n').filter((l) => l.trimStart().startsWith('at ')).length;

describe('SidecarError stacks', () => {
  it('a refusal carries no stack frames (cheap under a flood), keeps code, rule, detail and cause', () => {
    const cause = new Error('underlying');
    const e = new SidecarError('token_invalid', { rule: 'signature', detail: 'd', cause });
    expect(frames(e)).toBe(0);
    expect(e).toBeInstanceOf(Error);
    expect({ code: e.code, status: e.status, rule: e.rule, detail: e.detail, cause: e.cause }).toEqual({ code: 'token_invalid', status: 401, rule: 'signature', detail: 'd', cause });
    expect(frames(new AuthenticationError('token_expired'))).toBe(0);
    expect(toErrorResponse(e, 'r1').body).toEqual({ error: 'token_invalid', message: e.message, requestId: 'r1' });
  });

  it('internal_error keeps its stack; other errors are untouched afterwards', () => {
    expect(frames(new SidecarError('internal_error'))).toBeGreaterThan(0);
    new SidecarError('token_invalid');
    expect(frames(new Error('plain'))).toBeGreaterThan(0);
  });
});

describe("Jira's error shape on the proxy listener (issue 26)", () => {
  it('adds errorMessages naming message, code and request id, and errors {}, keeping our fields', () => {
    const e = new SidecarError('rate_limited');
    expect(toErrorResponse(e, 'r9', { jira: true }).body).toEqual({
      error: 'rate_limited',
      message: e.message,
      requestId: 'r9',
      errorMessages: [`${e.message} (rate_limited, request r9)`],
      errors: {},
    });
  });

  it('names field problems in errors, as Jira does', () => {
    const e = new SidecarError('bad_request', { issues: [{ path: 'name', message: 'must be 1-100 characters' }] });
    expect(toErrorResponse(e, 'r1', { jira: true }).body).toMatchObject({ errors: { name: 'must be 1-100 characters' }, issues: [{ path: 'name', message: 'must be 1-100 characters' }] });
  });

  it('an unexpected error is internal_error in both shapes, with nothing of the cause', () => {
    const body = toErrorResponse(new Error('db password is hunter2'), 'r2', { jira: true }).body;
    expect(body).toMatchObject({ error: 'internal_error', errorMessages: [expect.stringContaining('(internal_error, request r2)')] });
    expect(JSON.stringify(body)).not.toContain('hunter2');
  });
});
