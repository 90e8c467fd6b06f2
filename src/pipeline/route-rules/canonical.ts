// Request path canonicalisation: the path every rule judges is the one Tomcat (and so Jira) will
// route, not the bytes the client wrote. The upstream still receives the original bytes (forward
// uses facts.rawTarget); only decisions use the canonical form.
//
// Order follows Tomcat's CoyoteAdapter.postParseRequest: path parameters are removed from the
// undecoded URI (parsePathParameters), then it is percent-decoded (UDecoder, encoded "/" refused:
// encodedSolidusHandling=reject), then normalised (normalize(): "\" and NUL refused, "//" collapsed,
// "/./" and "/../" resolved, ".." above the root refused). Decoding before normalising is why
// "%2e%2e" is a dot-segment and "..;x" is one too (CVE-2020-1957-style bypasses).

export type CanonicalPath =
  | {
      ok: true;
      /** Decoded, normalised path; case kept (Tomcat is case-sensitive). */
      path: string;
      /** The path as sent (origin-form, query removed), for rules that must see the spelling (jira-rewrite.ts). */
      rawPath: string;
      /**
       * True when dot-segments had to be resolved or path parameters removed. Such spellings are
       * routed correctly by Tomcat but may be read differently by other parsers (Jersey reads the raw
       * URI), so they never earn a path-based exception (bypass, readSafePosts, token path scope).
       */
      altered: boolean;
      /** What canonicalisation changed, for the verdict ("path parameters removed", ...). */
      notes: string[];
    }
  | { ok: false; reason: string };

const refuse = (reason: string): CanonicalPath => ({ ok: false, reason });

/** Raw request-target characters allowed in the path (RFC 3986 pchar + "/" ; anything else Tomcat refuses or we do not trust). */
function isAllowedRawChar(c: number): boolean {
  // printable ASCII without space, DEL, "\" (Tomcat: ALLOW_BACKSLASH=false) and "#" (a fragment is never sent, RFC 9112 §3.2)
  return c > 0x20 && c < 0x7f && c !== 0x5c && c !== 0x23;
}

const HEX = /^[0-9a-fA-F]{2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Encoded again after one decoding (%252e -> %2e): a second decoder further on could turn it into a separator or dot-segment. */
const DOUBLE_ENCODED = /%(?:2e|2f|5c|00)/i;

/** Percent-decodes one segment, or says why it cannot be decoded safely. */
function decodeSegment(seg: string): { value: string } | { error: string } {
  if (!seg.includes('%')) return { value: seg };
  const bytes: number[] = [];
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c !== 0x25) {
      bytes.push(c);
      continue;
    }
    const hex = seg.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return { error: 'bad percent-encoding' };
    const b = parseInt(hex, 16);
    if (b === 0x2f) return { error: 'encoded "/" (%2F)' };
    if (b === 0x5c) return { error: 'encoded "\\" (%5C)' };
    if (b === 0x00) return { error: 'encoded NUL (%00)' };
    if (b < 0x20 || b === 0x7f) return { error: 'encoded control character' };
    bytes.push(b);
    i += 2;
  }
  let value: string;
  try {
    value = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return { error: 'percent-encoding is not valid UTF-8' };
  }
  if (DOUBLE_ENCODED.test(value)) return { error: 'double percent-encoding of ".", "/", "\\" or NUL' };
  return { value };
}

/** "http://h:1/x?q" -> "/x?q" (RFC 9112 §3.2.2 absolute-form, which Tomcat accepts); undefined if not a usable target. */
function originFormOf(target: string): string | undefined {
  if (target.startsWith('/')) return target;
  const m = /^https?:\/\/[^/?#]*/i.exec(target);
  if (!m) return undefined;
  const rest = target.slice(m[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * The path Tomcat and Jira route for a request target, or a refusal (-> 400 path_invalid).
 *
 *   "/rest/api/2/serverInfo;x/../myself?a=1" -> { path: "/rest/api/2/myself", altered: true }
 *   "/rest/api/2/%2e%2e/%2e%2e/x"             -> { path: "/rest/x", altered: true }
 *   "/rest/api%2F2/myself"                    -> refused (encoded "/")
 */
export function canonicalisePath(rawTarget: string): CanonicalPath {
  const notes: string[] = [];
  const target = originFormOf(rawTarget);
  if (target === undefined) return refuse('request target is neither origin-form nor http(s) absolute-form');
  if (target !== rawTarget) notes.push('absolute-form target');
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  // plain: nothing below would change the path (no "%", no ";", no "//", no segment starting with
  // "."), the common case: the path is the raw path, without splitting and re-joining it.
  let plain = true;
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i);
    if (!isAllowedRawChar(c)) return refuse(`character 0x${c.toString(16)} not allowed in the path`);
    if (c === 0x25 || c === 0x3b || (c === 0x2f && i + 1 < rawPath.length && (rawPath.charCodeAt(i + 1) === 0x2f || rawPath.charCodeAt(i + 1) === 0x2e))) plain = false;
  }
  if (plain && rawPath.charCodeAt(0) === 0x2f) return { ok: true, path: rawPath, rawPath, altered: false, notes };

  const stack: string[] = [];
  let altered = false;
  let collapsed = false;
  let trailingSlash = false;
  const raw = rawPath.split('/');
  for (let i = 1; i < raw.length; i++) {
    let seg = raw[i]!;
    const semi = seg.indexOf(';');
    if (semi >= 0) {
      // Tomcat parsePathParameters: ";..." up to the next "/" is removed from every segment.
      seg = seg.slice(0, semi);
      if (!notes.includes('path parameters removed')) notes.push('path parameters removed');
      altered = true;
    }
    const d = decodeSegment(seg);
    if ('error' in d) return refuse(d.error);
    const s = d.value;
    const last = i === raw.length - 1;
    if (s === '') {
      if (!last) collapsed = true;
      trailingSlash = last;
      continue;
    }
    if (s === '.' || s === '..') {
      altered = true;
      if (!notes.includes('dot-segments resolved')) notes.push('dot-segments resolved');
      if (s === '..') {
        if (stack.length === 0) return refuse('".." goes above the root');
        stack.pop();
      }
      trailingSlash = last;
      continue;
    }
    stack.push(s);
    trailingSlash = false;
  }
  if (collapsed) notes.push('repeated "/" collapsed');
  const path = stack.length === 0 ? '/' : `/${stack.join('/')}${trailingSlash ? '/' : ''}`;
  return { ok: true, path, rawPath, altered, notes };
}
