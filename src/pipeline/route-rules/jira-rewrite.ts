// Jira's own URL rewrites, so that a path is judged where Jira finally routes it.
//
// Jira DC's WEB-INF/urlrewrite.xml (Tuckey UrlRewriteFilter) forwards its static-resource prefix:
//
//   <rule><from>^/s/(.*)/_/(.*)</from> … <to type="forward">/$2</to></rule>
//
// so "/s/<anything>/_/rest/api/2/myself" is served by the REST servlet as "/rest/api/2/myself".
// This is the route behind CVE-2019-8442 and CVE-2021-26086 ("/s/x/_/;/WEB-INF/web.xml"). Tuckey
// matches the context-relative URI, case-insensitively (its `casesensitive` default is false), and
// the greedy first group means the path after the LAST "/_/" is the one served.
//
// It is the one rule of that file whose target the caller chooses ($2); the others forward fixed
// UI URLs (issue navigator, icons, avatars) to fixed actions outside /rest/. Plugins can add routes
// of their own (atlassian-pretty-urls `<routing>`); those are the site's to list in protectedPaths.
//
// What we do:
// - a plain spelling is judged at every place Jira could apply the rule: at the root and after any
//   leading segments (the context path when clients send it themselves, "/jira/s/x/_/rest/…");
//   the route kept is the strictest of the candidates, and it is marked altered so that it never
//   earns a path-based exception (bypass, readSafePosts, token path scopes);
// - a spelling that parsers could read differently is refused (400 path_invalid): the marker
//   segments percent-encoded ("%5F", "%73") or with ";parameters", and any marker path that needed
//   dot-segment resolution or had ";parameters" removed anywhere. Jira itself never writes these.

export type JiraRewrite =
  /** The paths Jira may route this request to (each canonical), most likely first. */
  | { ok: true; candidates: string[]; note: string }
  | { ok: false; reason: string };

const isS = (seg: string) => seg === 's' || seg === 'S';

/** Decoded, parameter-free view of one raw segment, for spotting the markers; undefined if not decodable. */
function markerView(raw: string): string | undefined {
  const semi = raw.indexOf(';');
  const seg = semi >= 0 ? raw.slice(0, semi) : raw;
  if (!seg.includes('%')) return seg;
  try {
    return decodeURIComponent(seg);
  } catch {
    return undefined;
  }
}

/** Indexes of "s" segments that come before the last "_" segment, and that last "_" index. */
function markers(segs: readonly (string | undefined)[]): { starts: number[]; end: number } | undefined {
  const end = segs.lastIndexOf('_');
  if (end < 0) return undefined;
  const starts: number[] = [];
  for (let k = 0; k < end; k++) if (segs[k] !== undefined && isS(segs[k]!)) starts.push(k);
  return starts.length ? { starts, end } : undefined;
}

/**
 * The paths Jira may route to after its "/s/…/_/" rewrite, or undefined when the rule cannot apply.
 * `rawPath` is the origin-form path as sent (no query), `canonical` what canonicalisePath made of it,
 * `altered` whether that needed ";parameters" removed or dot-segments resolved.
 *
 *   ("/s/x/_/rest/api/2/myself", …)       -> candidates ["/rest/api/2/myself"]
 *   ("/jira/s/1/_/rest/a", …)              -> candidates ["/jira/rest/a"]
 *   ("/s/x/%5F/rest/a", …)                 -> refused (encoded marker)
 *   ("/s/x/_/;/WEB-INF/web.xml", …)        -> refused (";parameters" in a rewritten path)
 */
export function jiraRewrite(rawPath: string, canonical: string, altered: boolean): JiraRewrite | undefined {
  // Cheap exit for the common path: no "_" segment in either spelling and nothing encoded.
  if (!canonical.includes('/_') && !rawPath.includes('/_') && !rawPath.includes('%')) return undefined;
  const rawSegs = rawPath.split('/').slice(1);
  const seen = rawSegs.map(markerView);
  const canonSegs = canonical.split('/').slice(1);
  const inRaw = markers(seen);
  const m = markers(canonSegs);
  if (!inRaw && !m) return undefined;
  const refuse = (why: string): JiraRewrite => ({ ok: false, reason: `Jira static-resource path (/s/…/_/) ${why}` });
  if (altered) return refuse('with ";parameters" or dot-segments');
  for (let i = 0; i < rawSegs.length; i++) {
    const v = seen[i];
    if ((v === '_' || (v !== undefined && isS(v))) && rawSegs[i] !== v) return refuse('with a percent-encoded "s" or "_" segment');
  }
  // Not altered and no marker encoded: the raw and canonical segments carry the same markers.
  if (!m || !inRaw) return refuse('spelled so that its parts cannot be told apart');
  const tail = canonSegs.slice(m.end + 1);
  const candidates = m.starts.map((k) => `/${[...canonSegs.slice(0, k), ...tail].join('/')}`);
  return { ok: true, candidates, note: `Jira forwards /s/…/_/ to ${candidates[0]}` };
}
