// approvalRequired: which self-service mints wait for an admin (apiTokens.approval, approvalExemptGroups).
import { describe, expect, it } from 'vitest';
import { approvalRequired, checkNote, type ApprovalSettings } from './token-requests.js';
import { TokenInputError } from './api-tokens.js';

const s = (approval: ApprovalSettings['approval'], approvalExemptGroups: string[] = []): ApprovalSettings => ({ approval, approvalExemptGroups });

describe('approvalRequired', () => {
  it.each([
    ['none: never, write included', s('none'), 'write', ['dev'], false],
    ['required: a read token', s('required'), 'read', ['dev'], true],
    ['required: a write token', s('required'), 'write', ['dev'], true],
    ['write: a read token goes through', s('write'), 'read', ['dev'], false],
    ['write: a write token waits', s('write'), 'write', ['dev'], true],
    ['required: a member of an exempt group mints directly', s('required', ['leads']), 'write', ['dev', 'leads'], false],
    ['write: an exempt member mints write tokens directly', s('write', ['leads']), 'write', ['leads'], false],
    ['required: exempt groups of others do not help', s('required', ['leads']), 'read', ['dev'], true],
    ['required: no groups at all', s('required', ['leads']), 'read', [], true],
    ['exempt groups match exactly (case matters, as group rules do)', s('required', ['leads']), 'read', ['Leads'], true],
  ] as const)('%s', (_name, settings, access, groups, expected) => {
    expect(approvalRequired(settings, access, groups)).toBe(expected);
  });
});

describe('checkNote', () => {
  it('trims and keeps line breaks', () => {
    expect(checkNote('justification', '  nightly sync\n  of issues \t')).toBe('nightly sync\n  of issues');
  });
  it.each([
    ['missing', undefined],
    ['blank', '   '],
    ['not a string', 42],
    ['control characters', 'a\x00b'],
    ['too long', 'x'.repeat(2001)],
  ])('refuses %s, naming the field', (_name, v) => {
    const e = (() => {
      try {
        checkNote('comment', v);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(TokenInputError);
    expect((e as TokenInputError).field).toBe('comment');
  });
});
