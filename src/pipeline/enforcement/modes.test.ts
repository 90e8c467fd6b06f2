import { describe, expect, it } from 'vitest';
import { validate } from '../../config/validate.js';
import { modeView } from './modes.js';

const config = (over: Record<string, unknown>) => {
  const v = validate(over);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return v.config;
};

describe('enforcement modes', () => {
  it('everything enforces by default, and allEnforced says so', () => {
    const m = modeView(config({}));
    expect(m.allEnforced).toBe(true);
    expect(m.modeOf('credentials', 'basic')).toBe('enforce');
    expect(m.modeOf('readOnlyGroups', 'auditors')).toBe('enforce');
  });

  it('an entry wins over its family, the family over a settings object mode, that over enforcement.mode', () => {
    const m = modeView(
      config({
        enforcement: { mode: 'report', rules: { readOnlyGroups: 'enforce', 'readOnlyGroups:contractors': 'report', 'credentials:basic': 'enforce' } },
        credentials: { mode: 'report' },
        publicApiLockdown: { mode: 'enforce' },
        rateLimit: { mode: 'report' },
      }),
    );
    expect(m.allEnforced).toBe(false);
    expect(m.modeOf('readOnlyGroups', 'auditors')).toBe('enforce');
    expect(m.modeOf('readOnlyGroups', 'contractors')).toBe('report');
    expect(m.modeOf('credentials', 'basic')).toBe('enforce');
    expect(m.modeOf('credentials', 'session')).toBe('report');
    expect(m.modeOf('lockdown')).toBe('enforce');
    expect(m.modeOf('rateLimit', 'default')).toBe('report');
    expect(m.modeOf('allowedGroups')).toBe('report');
  });

  it('rules that all say enforce still count as all enforced', () => {
    expect(modeView(config({ enforcement: { rules: { lockdown: 'enforce' } } })).allEnforced).toBe(true);
  });

  it.each([
    [{ rules: { readonlyGroups: 'report' } }, 'enforcement.rules.readonlyGroups', 'is not a rule family'],
    [{ rules: { 'credentials:password': 'report' } }, 'enforcement.rules.credentials:password', 'is not a credential kind'],
    [{ rules: { 'lockdown:/rest/x': 'report' } }, 'enforcement.rules.lockdown:/rest/x', 'switched as a whole'],
    [{ rules: { 'readOnlyGroups:': 'report' } }, 'enforcement.rules.readOnlyGroups:', 'write the entry'],
    [{ rules: { readOnlyGroups: 'dry-run' } }, 'enforcement.rules.readOnlyGroups', 'must be "enforce" or "report"'],
    [{ mode: 'off' }, 'enforcement.mode', 'must be "enforce" or "report"'],
  ])('refuses %j naming the field', (enforcement, path, message) => {
    const v = validate({ enforcement });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.issues).toEqual([expect.objectContaining({ path, message: expect.stringContaining(message) })]);
  });
});
