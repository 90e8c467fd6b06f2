// Recorded paths grouped into the patterns a person reads (issue 18's "who would break" report):
//   /rest/api/2/issue/PROJ-123/comment/10001 -> /rest/api/2/issue/{key}/comment/{id}
// Pure; a heuristic for display and grouping only, never for a decision.

const ISSUE_KEY = /^[A-Z][A-Z0-9_]{0,49}-\d{1,12}$/;
const NUMBER = /^\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{16,}$/i;
/** A segment with digits and 20 characters or more (an account id, an encoded id). */
const LONG_ID = /^(?=.*\d)[A-Za-z0-9:_=.-]{20,}$/;
const MAX_SEGMENTS = 12;
const VERSION = /^(\d{1,2}(\.\d{1,2})?|latest)$/;

function segmentTemplate(s: string): string {
  if (ISSUE_KEY.test(s)) return '{key}';
  if (NUMBER.test(s)) return '{id}';
  if (UUID.test(s)) return '{uuid}';
  if (HEX.test(s) || LONG_ID.test(s)) return '{id}';
  return s.length > 64 ? '{…}' : s;
}

export function pathTemplate(path: string): string {
  const q = path.indexOf('?');
  const parts = (q < 0 ? path : path.slice(0, q)).split('/');
  // /rest/<plugin>/<version>/…: the version ("2", "latest", "1.0") names an API, not an object.
  const out = parts.slice(0, MAX_SEGMENTS + 1).map((s, i) => (i === 0 || (i === 3 && parts[1] === 'rest' && VERSION.test(s)) ? s : segmentTemplate(s)));
  if (parts.length > MAX_SEGMENTS + 1) out.push('…');
  return out.join('/') || '/';
}
