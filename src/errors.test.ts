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
