// Rate limits in the words a person writes ("100 per minute", "10 per 30 seconds"), read into the
// {points, durationSec} the limiter takes. schema.ts accepts them wherever a window limit is
// configured (rateLimit itself, rateLimit.groups.*, rateLimit.clients.*), so the file, the
// environment and PUT /api/config all take them; a malformed phrase gets RATE_PHRASE_HINT.
// No zod here: the admin UI imports the same parser to check a phrase while it is typed.
export type WindowLimit = { points: number; durationSec: number };

/** The one message for a phrase that cannot be read. */
export const RATE_PHRASE_HINT = 'write a rate limit like "100 per minute" (or "5 per second", "1000 per hour", "10 per 30 seconds")';

const UNIT_SEC: ReadonlyArray<readonly [RegExp, number]> = [
  [/^(s|secs?|seconds?)$/, 1],
  [/^(m|mins?|minutes?)$/, 60],
  [/^(h|hrs?|hours?)$/, 3600],
  [/^(d|days?)$/, 86_400],
];

// "100 per minute", "100 requests per 30 seconds", "100 / 5 min", "100 per 30s".
const PHRASE = /^(\d+)\s*(?:requests?\s+)?(?:per|\/|every|a|an)\s*(\d+)?\s*([a-z]+)$/;

/**
 * "100 per minute" -> {points: 100, durationSec: 60}; "10 per 30 seconds" -> {points: 10, durationSec: 30}.
 * undefined when the text is not such a phrase (or a number in it is 0 or not a safe integer).
 */
export function parseRatePhrase(text: string): WindowLimit | undefined {
  const m = PHRASE.exec(text.trim().toLowerCase().replace(/\s+/g, ' '));
  if (!m) return undefined;
  const unit = UNIT_SEC.find(([re]) => re.test(m[3]!))?.[1];
  if (unit === undefined) return undefined;
  const points = Number(m[1]);
  const durationSec = (m[2] === undefined ? 1 : Number(m[2])) * unit;
  if (!Number.isSafeInteger(points) || points < 1 || !Number.isSafeInteger(durationSec) || durationSec < 1) return undefined;
  return { points, durationSec };
}

/** {points: 100, durationSec: 60} -> "100 per minute"; {points: 10, durationSec: 30} -> "10 per 30 seconds". */
export function formatRatePhrase(l: WindowLimit): string {
  for (const [name, sec] of [['day', 86_400], ['hour', 3600], ['minute', 60]] as const) {
    if (l.durationSec === sec) return `${l.points} per ${name}`;
    if (l.durationSec % sec === 0 && l.durationSec > sec) return `${l.points} per ${l.durationSec / sec} ${name}s`;
  }
  return l.durationSec === 1 ? `${l.points} per second` : `${l.points} per ${l.durationSec} seconds`;
}
