// The save preview of the configuration pages: what the edited document would have done to the
// requests recorded in the last days (POST /api/replay), as one sentence and, on demand, the codes,
// the users and the first changed requests.
import { html, nothing, type TemplateResult } from 'lit';
import { num, periodText, plural, when } from './format.js';
import type { ReplayResult } from '../../src/admin/wire.js';

/** The period a save is previewed over. */
export const PREVIEW_SINCE = '7d';
/** Changed requests listed in the details (the API sends up to 200). */
const MAX_ROWS = 20;

/** Users the change would newly refuse ("at least" when the top list is cut off). */
function refusedUsers(r: ReplayResult): string {
  if (r.deniedToAllowed === 0) return plural(r.users, 'user');
  const n = r.byUser.filter((u) => u.allowedToDenied > 0).length;
  return `${r.byUser.length < r.users ? 'at least ' : ''}${plural(n, 'user')}`;
}

const letThrough = (n: number) => `${plural(n, 'request')} that ${n === 1 ? 'was' : 'were'} refused`;

/** "This change would have refused 1,204 requests from 9 users in the last 7 days." and the like. */
export function previewSentence(r: ReplayResult, since = PREVIEW_SINCE): string {
  const period = periodText(since);
  const parts: string[] = [];
  if (r.allowedToDenied > 0) {
    parts.push(`This change would have refused ${plural(r.allowedToDenied, 'request')} from ${refusedUsers(r)} in ${period}`);
    if (r.deniedToAllowed > 0) parts.push(`, and let through ${letThrough(r.deniedToAllowed)}`);
    parts.push('.');
  } else if (r.deniedToAllowed > 0) {
    parts.push(`This change would have refused nothing more in ${period}; it would have let through ${letThrough(r.deniedToAllowed)}.`);
  } else {
    parts.push(`This change would have changed nothing in ${period} (${plural(r.replayed, 'request')} replayed).`);
  }
  if (r.codeChanged > 0) parts.push(` ${plural(r.codeChanged, 'refused request')} would get another error code.`);
  if (r.wouldDeny > 0) parts.push(` ${plural(r.wouldDeny, 'request')} would be recorded as "would deny" by report-only rules.`);
  if (r.undetermined > 0) parts.push(` ${plural(r.undetermined, 'request')} could not be judged.`);
  return parts.join('');
}

/** The outcome as a class: a change that refuses recorded requests is marked. */
export const previewKind = (r: ReplayResult): 'refuses' | 'harmless' => (r.allowedToDenied > 0 ? 'refuses' : 'harmless');

export function previewCodes(r: ReplayResult): TemplateResult | typeof nothing {
  const codes = Object.entries(r.byCode).sort(([, a], [, b]) => b.allowedToDenied + b.deniedToAllowed - (a.allowedToDenied + a.deniedToAllowed));
  if (!codes.length) return nothing;
  // Each table scrolls sideways on a phone inside its box: focusable, so a keyboard can scroll it too.
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="By error code"><table class="by-code">
    <caption>By error code</caption>
    <thead><tr><th scope="col">Code</th><th scope="col">Would be refused</th><th scope="col">Would be let through</th></tr></thead>
    <tbody>${codes.map(([code, c]) => html`<tr><td><code>${code}</code></td><td>${num(c.allowedToDenied)}</td><td>${num(c.deniedToAllowed)}</td></tr>`)}</tbody>
  </table></div>`;
}

/** Codes, users, paths, the first changed requests and what replay cannot tell, in a <details>. */
export function previewDetails(r: ReplayResult): TemplateResult {
  const rows = r.changes.slice(0, MAX_ROWS);
  const undetermined = Object.entries(r.undeterminedBy);
  return html`<details class="preview-details">
    <summary>Details: codes, users and the first ${plural(rows.length, 'changed request')}</summary>
    <p class="help">Recorded requests from ${when(r.from)} to ${when(r.to)}: ${num(r.scanned)} read, ${num(r.replayed)} replayed, ${num(r.unchanged)} unchanged.</p>
    ${previewCodes(r)}
    ${r.byUser.length
      ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="By user"><table>
          <caption>By user</caption>
          <thead><tr><th scope="col">User</th><th scope="col">Would be refused</th><th scope="col">Would be let through</th><th scope="col">Last seen</th></tr></thead>
          <tbody>${r.byUser.map((u) => html`<tr><td>${u.name}</td><td>${num(u.allowedToDenied)}</td><td>${num(u.deniedToAllowed)}</td><td>${when(u.lastSeen)}</td></tr>`)}</tbody>
        </table></div>`
      : nothing}
    ${rows.length
      ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="First changed requests"><table class="changes">
          <caption>First changed requests${r.changes.length > rows.length ? ` (${rows.length} of ${r.changes.length} listed)` : ''}</caption>
          <thead><tr><th scope="col">Time</th><th scope="col">Method</th><th scope="col">Path</th><th scope="col">User</th><th scope="col">Client</th><th scope="col">Client IP</th><th scope="col">Was</th><th scope="col">Would be</th></tr></thead>
          <tbody>
            ${rows.map(
              (c) => html`<tr><td>${when(c.time)}</td><td>${c.method}</td><td class="path">${c.path}</td><td>${c.user ?? '—'}</td><td>${c.client ?? '—'}</td><td>${c.clientIp}</td>
                <td><code>${c.was}</code></td><td><code>${c.now}</code>${c.rule ? html` <span class="help">(${c.rule})</span>` : nothing}</td></tr>`,
            )}
          </tbody>
        </table></div>`
      : nothing}
    ${undetermined.length ? html`<p>Not judged: ${undetermined.map(([why, n], i) => html`${i ? '; ' : ''}${why} (${num(n)})`)}.</p>` : nothing}
    ${r.notes.length ? html`<ul class="notes">${r.notes.map((n) => html`<li>${n}</li>`)}</ul>` : nothing}
  </details>`;
}

/** The preview shown beside the Save button. */
export function renderPreview(r: ReplayResult): TemplateResult {
  return html`<section class="preview ${previewKind(r)}" aria-label="What this change would have done">
    <p class="preview-sentence">${previewSentence(r)}</p>
    ${r.allowedToDenied + r.deniedToAllowed + r.codeChanged + r.undetermined > 0 ? previewDetails(r) : nothing}
  </section>`;
}
