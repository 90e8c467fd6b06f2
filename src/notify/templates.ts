// Message templates (notifications.email.subjectTemplate / bodyTemplate, addressTemplate): each
// {user} {name} {id} {event} {detail} {expiresAt} is replaced; any other {word} stays as written.
// Only what the caller passes can appear: a token's secret is never stored, so never passed.

export const TEMPLATE_KEYS = ['user', 'name', 'id', 'event', 'detail', 'expiresAt'] as const;
export type TemplateVars = Record<(typeof TEMPLATE_KEYS)[number], string>;

const KNOWN = new Set<string>(TEMPLATE_KEYS);

/**
 *   render('Hello {user}, {name} {event} {x}', {user: 'al', name: '"ci"', event: 'expires in 7 days', ...})
 *     -> 'Hello al, "ci" expires in 7 days {x}'
 * One pass: a value that contains "{id}" is not expanded again.
 */
export function render(template: string, vars: TemplateVars): string {
  return template.replace(/\{([A-Za-z]+)\}/g, (whole, key: string) => (KNOWN.has(key) ? vars[key as keyof TemplateVars] : whole));
}

/** A single plain address (local@domain): nothing that could make a header name two recipients. */
const ADDRESS = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+$/;

export function isSingleAddress(s: string): boolean {
  return s.length <= 254 && ADDRESS.test(s);
}
