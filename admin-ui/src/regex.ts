// Client-side check of a username regex while it is typed (as cidr.ts does for addresses); the
// server's validate() is the authority and says the same things.

/**
 * Why `value` is not a usable username regex, in words, or null when it is one: it must compile
 * (JavaScript syntax, as the sidecar builds it) and have a capture group, whose group 1 becomes the
 * Jira username.
 */
export function regexProblem(value: string): string | null {
  let re: RegExp;
  try {
    re = new RegExp(value);
  } catch (e) {
    // "Invalid regular expression: /(/: Unterminated group" -> "unterminated group"
    const why = ((e as Error).message.split(': ').pop() ?? '').replace(/^./, (c) => c.toLowerCase());
    return `This is not a valid regular expression${why ? ` (${why})` : ''}. Check the brackets and escape special characters such as "." or "(" with "\\".`;
  }
  if (!/\((?!\?)/.test(re.source.replace(/\\./g, ''))) return 'Add a capture group: the part in ( ) becomes the Jira username, e.g. ^([^@]+)@';
  return null;
}
