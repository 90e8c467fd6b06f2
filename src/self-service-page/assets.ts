// The self-service page: one HTML document per answer plus a stylesheet and a script served as files
// (the CSP allows no inline script or style). The script builds every row with textContent: nothing
// a token name or an IdP claim contains is ever parsed as markup.

export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function layout(o: { title: string; base: string; body: string; head?: string; script?: boolean }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(o.title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${o.base}/ui/app.css">
${o.head ?? ''}${o.script ? `<script src="${o.base}/ui/app.js" defer></script>\n` : ''}</head>
<body>
${o.body}
</body>
</html>
`;
}

/** The signed-in page: the script fills it from the JSON API. */
export function tokensPage(o: { base: string; csrfToken: string; displayName: string; maxLifetimeDays: number; approval: 'none' | 'required' | 'write' }): string {
  const head = `<meta name="csrf-token" content="${esc(o.csrfToken)}">\n<meta name="max-lifetime-days" content="${o.maxLifetimeDays}">\n<meta name="approval" content="${o.approval}">\n`;
  const approvalHelp =
    o.approval === 'required'
      ? 'An administrator approves each new token: say what it is for. Once approved, claim it below.'
      : 'Read-and-write tokens need an administrator\'s approval: say what it is for. Once approved, claim it below.';
  const justification =
    o.approval === 'none'
      ? ''
      : `<div class="field"><label for="justification">Why you need it</label>
              <textarea id="justification" name="justification" rows="2" maxlength="2000" placeholder="e.g. nightly export to the reporting server"></textarea>
              <p class="help">${esc(approvalHelp)}</p></div>`;
  const body = `<header class="top">
  <div class="wrap top-row">
    <p class="brand">Jira API tokens</p>
    <div class="who"><span>Signed in as <strong id="who">${esc(o.displayName)}</strong></span>
      <button type="button" id="logout" class="link">Sign out</button></div>
  </div>
</header>
<main class="wrap" id="main">
  <h1>Your API tokens</h1>
  <p class="lead">A token lets a script or tool call Jira's REST API as you, with the groups you have now. Keep it as secret as a password; revoke it when you no longer need it.</p>
  <div id="notice" class="notice" role="status" aria-live="polite" hidden></div>
  <div id="error" class="notice error" role="alert" hidden></div>
  <section id="refused" class="panel refused" hidden aria-labelledby="refused-h">
    <h2 id="refused-h">You cannot manage API tokens here</h2>
    <p id="refused-text"></p>
    <p>If you need a token, ask your Jira administrator to add you to one of the groups allowed to create API tokens.</p>
  </section>
  <section id="expired" class="panel refused" hidden aria-labelledby="expired-h">
    <h2 id="expired-h">Your sign-in has ended</h2>
    <p><a href="${o.base}/ui">Sign in again</a> to go on.</p>
  </section>
  <section id="secret" class="panel secret" hidden aria-labelledby="secret-h">
    <h2 id="secret-h">Copy your new token now</h2>
    <p id="secret-text">It is shown only this once: the sidecar keeps only a hash of it.</p>
    <div class="secret-row">
      <label for="secret-value" class="sr-only">New token</label>
      <input id="secret-value" readonly spellcheck="false" autocomplete="off">
      <button type="button" id="copy" class="primary">Copy</button>
    </div>
    <p><button type="button" id="secret-done">I have stored it, hide it</button></p>
  </section>
  <div id="content">
    <section class="panel" aria-labelledby="create-h">
      <h2 id="create-h">New token</h2>
      <form id="create-form" novalidate>
        <div class="grid">
          <div class="field"><label for="name">Name</label>
            <input id="name" name="name" required maxlength="100" placeholder="e.g. laptop scripts" autocomplete="off"></div>
          <div class="field"><label for="access">Access</label>
            <select id="access" name="access"><option value="read">Read only</option><option value="write">Read and write</option></select></div>
          <div class="field"><label for="days">Lifetime (days)</label>
            <input id="days" name="days" type="number" min="1" max="${o.maxLifetimeDays}" placeholder="${o.maxLifetimeDays} (the most allowed)"></div>
        </div>
        ${justification}
        <details>
          <summary>Narrow it further (optional)</summary>
          <div class="grid">
            <div class="field"><label for="paths">Only these paths</label>
              <textarea id="paths" name="paths" rows="3" placeholder="/rest/api/2/issue/*"></textarea>
              <p class="help">One per line: an exact path, or a prefix ending in /*. Empty: every path.</p></div>
            <div class="field"><label for="ips">Only from these addresses</label>
              <textarea id="ips" name="ips" rows="3" placeholder="10.0.0.0/8"></textarea>
              <p class="help">One IP address or CIDR per line. Empty: from anywhere you may call from.</p></div>
          </div>
        </details>
        <p class="field-error" id="create-error" role="alert" hidden></p>
        <button type="submit" class="primary" id="create">Create token</button>
      </form>
    </section>
    <section id="requests" class="panel" hidden aria-labelledby="requests-h">
      <h2 id="requests-h">Your token requests</h2>
      <p class="help">Tokens that need an administrator's approval. Claim an approved one here: its secret is shown once.</p>
      <p id="requests-empty" class="help" hidden>You have no token requests.</p>
      <div class="table-wrap" id="requests-table"><table class="list">
        <thead><tr><th scope="col">Name</th><th scope="col">Access</th><th scope="col">Requested</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody id="request-rows"></tbody>
      </table></div>
    </section>
    <section class="panel" aria-labelledby="tokens-h">
      <h2 id="tokens-h">Your tokens</h2>
      <p id="empty" class="help" hidden>You have no API tokens yet.</p>
      <div class="table-wrap"><table class="list" id="tokens">
        <thead><tr><th scope="col">Name</th><th scope="col">Scope</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">Last IP</th><th scope="col" class="num">Requests (30 days)</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody id="token-rows"></tbody>
      </table></div>
    </section>
  </div>
  <dialog id="confirm" aria-labelledby="confirm-h">
    <h2 id="confirm-h"></h2>
    <p id="confirm-text"></p>
    <div class="field" id="overlap-field" hidden><label for="overlap">Keep the old secret working for</label>
      <select id="overlap"><option value="0">no time: refuse it at once</option><option value="1">1 hour</option><option value="24" selected>24 hours</option><option value="72">3 days</option><option value="168">7 days</option></select></div>
    <div class="actions"><button type="button" id="confirm-cancel">Cancel</button><button type="button" id="confirm-ok" class="primary"></button></div>
  </dialog>
</main>`;
  return layout({ title: 'Your Jira API tokens', base: o.base, head, body, script: true });
}

/** A page with a message and one link (sign-in problems, signed out, the step after the callback). */
export function messagePage(o: { base: string; title: string; text: string; link?: { href: string; label: string }; refreshTo?: string }): string {
  const head = o.refreshTo ? `<meta http-equiv="refresh" content="0;url=${esc(o.refreshTo)}">\n` : '';
  const link = o.link ? `<p><a class="button primary" href="${esc(o.link.href)}">${esc(o.link.label)}</a></p>` : '';
  const body = `<main class="wrap narrow">
  <section class="panel">
    <h1>${esc(o.title)}</h1>
    <p>${esc(o.text)}</p>
    ${link}
  </section>
</main>`;
  return layout({ title: o.title, base: o.base, head, body });
}

export const APP_CSS = String.raw`
:root { --fg: #172b4d; --muted: #5e6c84; --line: #dfe1e6; --bg: #f4f5f7; --panel: #fff; --accent: #0052cc; --accent-dark: #0747a6; --danger: #de350b; --ok: #006644; --warn-bg: #fffae6; --err-bg: #ffebe6; --ok-bg: #e3fcef; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
.wrap { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
.wrap.narrow { max-width: 560px; padding-top: 48px; }
.top { background: #fff; border-bottom: 1px solid var(--line); }
.top-row { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; justify-content: space-between; min-height: 56px; }
.brand { margin: 0; font-weight: 700; }
.who { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: center; color: var(--muted); overflow-wrap: anywhere; }
h1 { font-size: 1.6rem; margin: 24px 0 4px; }
h2 { font-size: 1.15rem; margin: 0 0 12px; }
.panel h1 { margin-top: 0; }
.lead { color: var(--muted); margin: 0 0 20px; max-width: 75ch; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 20px; margin: 0 0 20px; }
.panel.secret { border-color: #57d9a3; background: var(--ok-bg); }
.panel.refused { border-color: #ff8f73; background: var(--err-bg); }
.notice { border-radius: 6px; padding: 10px 14px; margin: 0 0 16px; background: var(--ok-bg); border: 1px solid #abf5d1; }
.notice.error, .field-error { background: var(--err-bg); border: 1px solid #ffbdad; color: #bf2600; }
.field-error { border-radius: 4px; padding: 8px 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px 20px; }
.field { display: flex; flex-direction: column; gap: 4px; margin-bottom: 8px; }
label { font-weight: 600; font-size: 0.9rem; }
input, select, textarea { font: inherit; color: inherit; padding: 7px 10px; border: 1px solid #c1c7d0; border-radius: 4px; background: #fff; width: 100%; min-width: 0; }
input:focus, select:focus, textarea:focus, button:focus-visible, a:focus-visible, summary:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
textarea { resize: vertical; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9rem; }
.help { color: var(--muted); font-size: 0.85rem; margin: 0; }
details { margin: 8px 0 12px; }
summary { cursor: pointer; color: var(--accent); margin-bottom: 8px; }
button, .button { font: inherit; font-weight: 600; padding: 7px 14px; border-radius: 4px; border: 1px solid #c1c7d0; background: #fff; color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button:hover { background: #ebecf0; }
button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover { background: var(--accent-dark); }
button.danger { color: var(--danger); border-color: #ffbdad; }
button.danger:hover { background: var(--err-bg); }
button.link { border: 0; background: none; color: var(--accent); padding: 0; font-weight: 600; }
button[disabled] { opacity: 0.6; cursor: default; }
.secret-row { display: flex; gap: 8px; margin: 8px 0 12px; }
.secret-row input { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.95rem; background: #fff; }
.table-wrap { overflow-x: auto; }
table.list { width: 100%; border-collapse: collapse; font-size: 0.92rem; }
table.list th { text-align: left; font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); border-bottom: 2px solid var(--line); padding: 6px 8px; white-space: nowrap; }
table.list td { border-bottom: 1px solid var(--line); padding: 10px 8px; vertical-align: top; }
table.list td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.list th.num { text-align: right; }
.cell-name { font-weight: 600; overflow-wrap: anywhere; min-width: 10rem; }
.cell-name .mono { white-space: nowrap; }
.sub { display: block; color: var(--muted); font-size: 0.82rem; font-weight: 400; overflow-wrap: anywhere; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85rem; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.78rem; font-weight: 700; text-transform: uppercase; background: #dfe1e6; color: #42526e; }
.badge.active, .badge.approved { background: var(--ok-bg); color: var(--ok); }
.badge.revoked, .badge.denied { background: var(--err-bg); color: #bf2600; }
.badge.expired, .badge.pending { background: var(--warn-bg); color: #974f0c; }
.badge.issued { background: #deebff; color: #0747a6; }
.row-actions { display: flex; gap: 6px; flex-wrap: nowrap; justify-content: flex-end; }
.row-actions button { padding: 4px 10px; font-size: 0.85rem; }
dialog { border: 1px solid var(--line); border-radius: 8px; padding: 20px; max-width: min(480px, calc(100vw - 32px)); width: 100%; color: var(--fg); }
dialog::backdrop { background: rgba(9, 30, 66, 0.54); }
dialog .actions { display: flex; gap: 8px; justify-content: flex-end; margin-top: 16px; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
[hidden] { display: none !important; }
@media (max-width: 720px) {
  .wrap { padding: 0 12px; }
  h1 { font-size: 1.35rem; margin-top: 16px; }
  .panel { padding: 14px; }
  .secret-row { flex-direction: column; }
  table.list thead { display: none; }
  table.list, table.list tbody, table.list tr, table.list td { display: block; width: 100%; }
  table.list tr { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin-bottom: 12px; }
  table.list td { border: 0; padding: 3px 0; display: flex; gap: 12px; justify-content: space-between; text-align: right; }
  table.list td.num { text-align: right; }
  table.list td::before { content: attr(data-label); font: 600 0.9rem system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--muted); text-align: left; flex: 0 0 auto; }
  .cell-name .mono { white-space: normal; }
  .row-actions { flex-wrap: wrap; }
  table.list td.cell-name { display: block; text-align: left; font-size: 1rem; }
  table.list td.cell-name::before { content: none; }
  table.list td.actions-cell::before { content: none; }
  .row-actions { justify-content: flex-start; padding-top: 6px; }
}
`;

// Plain browser script (no build step, no template literals: it lives in a TS template string).
export const APP_JS = String.raw`
(function () {
  'use strict';
  var BASE = '/_sidecar/tokens';
  var meta = function (name) { var m = document.querySelector('meta[name="' + name + '"]'); return m ? m.getAttribute('content') : ''; };
  var csrf = meta('csrf-token');
  var maxDays = Number(meta('max-lifetime-days')) || 0;
  var $ = function (id) { return document.getElementById(id); };
  var tokensById = {};

  function el(tag, props, children) {
    var e = document.createElement(tag);
    if (props) Object.keys(props).forEach(function (k) {
      if (k === 'text') e.textContent = props[k];
      else if (k === 'class') e.className = props[k];
      else if (k === 'onclick') e.addEventListener('click', props[k]);
      else e.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }

  function fmtDate(iso) {
    if (!iso) return 'never';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  function ApiError(status, body) {
    this.status = status;
    this.code = body && body.error;
    this.message = (body && body.message) || ('HTTP ' + status);
    this.issues = (body && body.issues) || [];
  }

  async function api(method, path, body) {
    var headers = { 'X-CSRF-Token': csrf, 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    var res = await fetch(BASE + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
    var data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  function say(text) {
    var n = $('notice');
    n.textContent = text;
    n.hidden = !text;
    $('error').hidden = true;
  }

  function fail(err) {
    if (err && err.status === 401) { showExpired(); return; }
    var e = $('error');
    var text = err && err.message ? err.message : String(err);
    if (err && err.issues && err.issues.length) text += ' ' + err.issues.map(function (i) { return i.path + ': ' + i.message; }).join('; ');
    e.textContent = text;
    e.hidden = false;
    $('notice').hidden = true;
  }

  function showExpired() {
    $('content').hidden = true;
    $('secret').hidden = true;
    $('expired').hidden = false;
  }

  function showRefusal(err) {
    $('content').hidden = true;
    $('refused-text').textContent = err.message;
    $('refused').hidden = false;
  }

  function showSecret(token, text) {
    $('secret-value').value = token;
    $('secret-text').textContent = text;
    $('copy').textContent = 'Copy';
    $('secret').hidden = false;
    $('secret-value').focus();
    $('secret-value').select();
  }

  function hideSecret() {
    $('secret-value').value = '';
    $('secret').hidden = true;
  }

  async function copySecret() {
    var input = $('secret-value');
    var ok = false;
    try {
      await navigator.clipboard.writeText(input.value);
      ok = true;
    } catch (e) {
      input.focus();
      input.select();
      try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
    }
    $('copy').textContent = ok ? 'Copied' : 'Select and copy it';
  }

  function scopeCell(t) {
    var td = el('td', { 'data-label': 'Scope' });
    td.appendChild(el('span', { text: t.access === 'read' ? 'Read only' : 'Read and write' }));
    if (t.paths && t.paths.length) td.appendChild(el('span', { class: 'sub mono', text: t.paths.join(', ') }));
    if (t.ipAllowlist && t.ipAllowlist.length) td.appendChild(el('span', { class: 'sub mono', text: 'from ' + t.ipAllowlist.join(', ') }));
    return td;
  }

  function tokenRow(t) {
    var active = t.status === 'active';
    var actions = el('div', { class: 'row-actions' });
    if (active) {
      actions.appendChild(el('button', { type: 'button', 'data-action': 'rotate', 'aria-label': 'Rotate ' + t.name, text: 'Rotate', onclick: function () { rotate(t); } }));
      actions.appendChild(el('button', { type: 'button', class: 'danger', 'data-action': 'revoke', 'aria-label': 'Revoke ' + t.name, text: 'Revoke', onclick: function () { revoke(t); } }));
    }
    var uses = t.requests30d === null || t.requests30d === undefined ? '?' : String(t.requests30d);
    return el('tr', { 'data-id': t.id }, [
      el('td', { class: 'cell-name', 'data-label': 'Name' }, [t.name, el('span', { class: 'sub mono', text: t.id })]),
      scopeCell(t),
      el('td', { 'data-label': 'Created', text: fmtDate(t.createdAt) }),
      el('td', { 'data-label': 'Expires', text: t.revokedAt ? 'revoked ' + fmtDate(t.revokedAt) : fmtDate(t.expiresAt) }),
      el('td', { 'data-label': 'Last used', text: fmtDate(t.lastUsedAt) }),
      el('td', { class: 'mono', 'data-label': 'Last IP', text: t.lastUsedIp || '-' }),
      el('td', { class: 'num', 'data-label': 'Requests (30 days)', text: uses }),
      el('td', { 'data-label': 'Status' }, [el('span', { class: 'badge ' + t.status, text: t.status })]),
      el('td', { class: 'actions-cell' }, [actions]),
    ]);
  }

  async function load() {
    var data;
    try {
      data = await api('GET', '');
    } catch (err) {
      if (err.status === 403) { showRefusal(err); return; }
      fail(err);
      return;
    }
    var rows = $('token-rows');
    rows.textContent = '';
    tokensById = {};
    var order = { active: 0, expired: 1, revoked: 2 };
    data.tokens.slice().sort(function (a, b) {
      var s = (order[a.status] || 0) - (order[b.status] || 0);
      return s !== 0 ? s : (a.createdAt < b.createdAt ? 1 : -1);
    }).forEach(function (t) { tokensById[t.id] = t; rows.appendChild(tokenRow(t)); });
    $('empty').hidden = data.tokens.length > 0;
    $('tokens').hidden = data.tokens.length === 0;
    await loadRequests();
  }

  // Token requests (apiTokens.approval): what the user asked for, and a claim button once approved.
  async function loadRequests() {
    var data;
    try {
      data = await api('GET', '/requests');
    } catch (err) {
      $('requests').hidden = true;
      return;
    }
    var list = (data && data.requests) || [];
    var rows = $('request-rows');
    rows.textContent = '';
    list.forEach(function (r) {
      var actions = el('div', { class: 'row-actions' });
      if (r.status === 'approved') {
        actions.appendChild(el('button', { type: 'button', class: 'primary', 'data-action': 'claim', 'aria-label': 'Claim ' + r.name, text: 'Claim', onclick: function () { claim(r); } }));
      }
      if (r.status === 'pending') {
        actions.appendChild(el('button', { type: 'button', 'data-action': 'withdraw', 'aria-label': 'Withdraw ' + r.name, text: 'Withdraw', onclick: function () { withdraw(r); } }));
      }
      var state = el('td', { 'data-label': 'State' }, [el('span', { class: 'badge ' + r.status, text: r.status })]);
      if (r.comment) state.appendChild(el('span', { class: 'sub', text: (r.decidedBy ? r.decidedBy + ': ' : '') + r.comment }));
      if (r.tokenId) state.appendChild(el('span', { class: 'sub mono', text: r.tokenId }));
      rows.appendChild(el('tr', { 'data-id': r.id }, [
        el('td', { class: 'cell-name', 'data-label': 'Name' }, [r.name, r.justification ? el('span', { class: 'sub', text: r.justification }) : null]),
        el('td', { 'data-label': 'Access', text: r.access === 'read' ? 'Read only' : 'Read and write' }),
        el('td', { 'data-label': 'Requested', text: fmtDate(r.createdAt) }),
        state,
        el('td', { class: 'actions-cell' }, [actions]),
      ]));
    });
    $('requests').hidden = list.length === 0 && meta('approval') === 'none';
    $('requests-empty').hidden = list.length > 0;
    $('requests-table').hidden = list.length === 0;
  }

  async function claim(r) {
    try {
      var res = await api('POST', '/requests/' + encodeURIComponent(r.id) + '/claim');
      showSecret(res.token, 'Your approved token "' + res.name + '" is shown only this once: the sidecar keeps only a hash of it.' + (res.notice ? ' (' + res.notice + ')' : ''));
      say('Token "' + res.name + '" claimed.');
      await load();
    } catch (err) { fail(err); }
  }

  async function withdraw(r) {
    var ok = await confirmDialog({ title: 'Withdraw the request "' + r.name + '"?', text: 'An administrator will no longer be asked to approve it.', ok: 'Withdraw' });
    if (!ok) return;
    try {
      await api('DELETE', '/requests/' + encodeURIComponent(r.id));
      say('Request "' + r.name + '" withdrawn.');
      await load();
    } catch (err) { fail(err); }
  }

  function confirmDialog(o) {
    return new Promise(function (resolve) {
      var d = $('confirm');
      $('confirm-h').textContent = o.title;
      $('confirm-text').textContent = o.text;
      $('confirm-ok').textContent = o.ok;
      $('confirm-ok').className = o.danger ? 'danger' : 'primary';
      $('overlap-field').hidden = !o.overlap;
      var done = function (v) {
        $('confirm-ok').removeEventListener('click', onOk);
        $('confirm-cancel').removeEventListener('click', onCancel);
        d.removeEventListener('cancel', onCancel);
        if (d.open) d.close();
        resolve(v);
      };
      var onOk = function () { done(true); };
      var onCancel = function (e) { if (e) e.preventDefault(); done(false); };
      $('confirm-ok').addEventListener('click', onOk);
      $('confirm-cancel').addEventListener('click', onCancel);
      d.addEventListener('cancel', onCancel);
      d.showModal();
      $('confirm-cancel').focus();
    });
  }

  async function rotate(t) {
    var ok = await confirmDialog({ title: 'Rotate "' + t.name + '"?', text: 'A new secret with the same access replaces this one. Clients switch to the new secret within the time you choose below.', ok: 'Rotate', overlap: true });
    if (!ok) return;
    try {
      var res = await api('POST', '/' + encodeURIComponent(t.id) + '/rotate', { overlapHours: Number($('overlap').value) });
      var until = res.rotatedFrom && res.rotatedFrom.expiresAt ? ' The old secret works until ' + fmtDate(res.rotatedFrom.expiresAt) + '.' : '';
      showSecret(res.token, 'The new secret of "' + res.name + '" is shown only this once.' + until);
      say('Token "' + res.name + '" rotated.');
      await load();
    } catch (err) { fail(err); }
  }

  async function revoke(t) {
    var ok = await confirmDialog({ title: 'Revoke "' + t.name + '"?', text: 'Every client using it is refused from the next request on. This cannot be undone.', ok: 'Revoke', danger: true });
    if (!ok) return;
    try {
      await api('DELETE', '/' + encodeURIComponent(t.id));
      say('Token "' + t.name + '" revoked.');
      await load();
    } catch (err) { fail(err); }
  }

  var lines = function (v) { return v.split(/\r?\n/).map(function (s) { return s.trim(); }).filter(Boolean); };

  async function create(ev) {
    ev.preventDefault();
    var err = $('create-error');
    err.hidden = true;
    var name = $('name').value.trim();
    if (!name) { err.textContent = 'Give the token a name, so you know later what uses it.'; err.hidden = false; $('name').focus(); return; }
    var body = { name: name, access: $('access').value };
    var days = $('days').value.trim();
    if (days) {
      var n = Number(days);
      if (!(n >= 1) || (maxDays && n > maxDays)) { err.textContent = 'Lifetime: a number of days from 1 to ' + maxDays + '.'; err.hidden = false; $('days').focus(); return; }
      body.days = n;
    }
    var paths = lines($('paths').value);
    if (paths.length) body.paths = paths;
    var ips = lines($('ips').value);
    if (ips.length) body.ipAllowlist = ips;
    var why = $('justification') ? $('justification').value.trim() : '';
    if (why) body.justification = why;
    var button = $('create');
    button.disabled = true;
    try {
      var res = await api('POST', '', body);
      if (res.token) {
        showSecret(res.token, 'Token "' + res.name + '" is shown only this once: the sidecar keeps only a hash of it.' + (res.notice ? ' (' + res.notice + ')' : ''));
        say('Token "' + res.name + '" created.');
      } else {
        hideSecret();
        say('Your request for "' + res.name + '" was sent to an administrator. Once it is approved, claim the token under "Your token requests".');
      }
      $('create-form').reset();
      await load();
    } catch (e) {
      if (e.status === 401) { showExpired(); return; }
      err.textContent = e.message + (e.issues.length ? ' ' + e.issues.map(function (i) { return i.path + ': ' + i.message; }).join('; ') : '');
      err.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async function logout() {
    try {
      await fetch(BASE + '/ui/logout', { method: 'POST', headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin' });
    } finally {
      window.location.assign(BASE + '/ui/signed-out');
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('create-form').addEventListener('submit', create);
    $('copy').addEventListener('click', copySecret);
    $('secret-done').addEventListener('click', hideSecret);
    $('logout').addEventListener('click', logout);
    load();
  });
})();
`;
