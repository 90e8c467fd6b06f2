// Rate limits in words (issue 22): the phrases a person writes, read as {points, durationSec}, and
// accepted by the one schema wherever a window limit is configured.
import { describe, expect, it } from 'vitest';
import { formatRatePhrase, parseRatePhrase, RATE_PHRASE_HINT } from './rate-phrase.js';
import { validate } from './validate.js';

describe('parseRatePhrase', () => {
  it.each([
    ['100 per minute', { points: 100, durationSec: 60 }],
    ['5 per second', { points: 5, durationSec: 1 }],
    ['1000 per hour', { points: 1000, durationSec: 3600 }],
    ['10 per 30 seconds', { points: 10, durationSec: 30 }],
    ['50000 per day', { points: 50000, durationSec: 86400 }],
    ['  100  Per  Minute ', { points: 100, durationSec: 60 }],
    ['100 requests per 5 minutes', { points: 100, durationSec: 300 }],
    ['100 per 30s', { points: 100, durationSec: 30 }],
    ['100/min', { points: 100, durationSec: 60 }],
    ['2 per 1 hour', { points: 2, durationSec: 3600 }],
  ])('%s', (text, want) => expect(parseRatePhrase(text)).toEqual(want));

  it.each([[''], ['lots'], ['100'], ['100 per'], ['100 per fortnight'], ['0 per minute'], ['10 per 0 seconds'], ['-1 per minute'], ['1.5 per minute'], ['100/60'], ['per minute']])(
    'refuses %j',
    (text) => expect(parseRatePhrase(text)).toBeUndefined(),
  );

  it('formats back into the same words', () => {
    for (const text of ['100 per minute', '5 per second', '1000 per hour', '10 per 30 seconds', '7 per 2 hours', '1 per day', '3 per 90 seconds'])
      expect(formatRatePhrase(parseRatePhrase(text)!)).toBe(text);
  });
});

describe('the schema takes rate limits in words', () => {
  it('per group, per client and for the default limit', () => {
    const r = validate({ rateLimit: { groups: { 'jira-users': '100 per minute' }, clients: { reports: '10 per 30 seconds' } } });
    expect(r.ok && r.config.rateLimit.groups).toEqual({ 'jira-users': { points: 100, durationSec: 60 } });
    expect(r.ok && r.config.rateLimit.clients).toEqual({ reports: { points: 10, durationSec: 30 } });
    const whole = validate({ rateLimit: '5 per second' });
    expect(whole.ok && [whole.config.rateLimit.points, whole.config.rateLimit.durationSec, whole.config.rateLimit.enabled]).toEqual([5, 1, true]);
  });

  it('a phrase that cannot be read is one plain message at its entry', () => {
    const r = validate({ rateLimit: { groups: { 'jira-users': 'a hundred a minute' } } });
    expect(r.ok ? [] : r.issues).toEqual([{ path: 'rateLimit.groups.jira-users', message: RATE_PHRASE_HINT }]);
    const whole = validate({ rateLimit: 'fast' });
    expect(whole.ok ? [] : whole.issues).toEqual([{ path: 'rateLimit', message: RATE_PHRASE_HINT }]);
  });

  it('the object forms still work, and a misspelt key still gets its suggestion', () => {
    expect(validate({ rateLimit: { groups: { a: { points: 1, durationSec: 1 } } } }).ok).toBe(true);
    const r = validate({ rateLimit: { pointz: 3 } });
    expect(r.ok ? [] : r.issues).toEqual([{ path: 'rateLimit.pointz', message: 'unknown setting (did you mean "points"?)' }]);
  });
});
