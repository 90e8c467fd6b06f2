import { describe, expect, it } from 'vitest';
import { hashPassword, passwordProblem, verifyPassword } from './password.js';

describe('admin password hashing', () => {
  it('verifies the right password only, with a fresh salt each time', async () => {
    const h = await hashPassword('correct horse battery');
    expect(h).toMatch(/^scrypt\$32768\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('correct horse battery', h)).toBe(true);
    expect(await verifyPassword('correct horse batterY', h)).toBe(false);
    expect(await hashPassword('correct horse battery')).not.toBe(h);
  });

  it.each(['', 'plain', 'scrypt$1$8$1$AAAA$AAAA', 'scrypt$99999999$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAA', 'md5$x$y$z$a$b'])('never verifies a malformed hash %j', async (stored) => {
    expect(await verifyPassword('x', stored)).toBe(false);
  });

  it.each([
    ['short', 'must be at least 12 characters'],
    [42, 'must be a string'],
    ['twelve-chars', undefined],
  ])('passwordProblem(%j)', (pw, expected) => {
    expect(passwordProblem(pw)).toBe(expected);
  });
});
