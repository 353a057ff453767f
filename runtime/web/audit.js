// The audit log, for members of an admin group: filter by user, path and time range, page
// through the records, export them as CSV. The filter lives in the address (`#/audit?…`), so a
// filtered view can be bookmarked or shared with another admin.

import {
  h, fill, formatTime, announce, download,
} from './dom.js';
import { call } from './api.js';

const PAGE = 100;
const EXPORT_PAGE = 1000;
const EXPORT_MAX = 50000;
const DAY_MS = 24 * 60 * 60 * 1000;

export function auditHref(filter) {
  const q = new URLSearchParams();
  for (const k of ['user', 'path', 'since', 'until']) if (filter[k]) q.set(k, filter[k]);
  const text = q.toString();
  return text ? `#/audit?${text}` : '#/audit';
}

/** ISO (UTC) → the value of a datetime-local input (local time, minutes). */
function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

/** A datetime-local value (local time) → ISO UTC, or '' when empty or invalid. */
function fromLocalInput(value, endOfMinute) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  if (endOfMinute) d.setSeconds(59, 999);
  return d.toISOString();
}

function recordPath(r) {
  if (!r.bucket) return '';
  return `s3://${r.bucket}/${r.key || ''}`;
}

/** E-mail, else a user name that is not just the ID, else the ID's first block. */
function userLabel(u) {
  if (!u) return '(unknown)';
  if (u.email) return u.email;
  if (u.username && u.username !== u.sub) return u.username;
  if (u.sub) return u.sub.length > 12 ? `${u.sub.slice(0, 8)}…` : u.sub;
  return '(unknown)';
}

const COLUMNS = [
  ['time', (r) => r.time],
  ['id', (r) => r.id],
  ['user_sub', (r) => r.user && r.user.sub],
  ['username', (r) => r.user && r.user.username],
  ['email', (r) => r.user && r.user.email],
  ['groups', (r) => (r.groups || []).join(' ')],
  ['action', (r) => r.action],
  ['bucket', (r) => r.bucket],
  ['key', (r) => r.key],
  ['outcome', (r) => r.outcome],
  ['basis', (r) => r.basis],
  ['rule_group', (r) => r.rule && r.rule.group],
  ['rule_kind', (r) => r.rule && r.rule.kind],
  ['rule_path', (r) => r.rule && r.rule.path],
  ['rule_access', (r) => r.rule && r.rule.access],
  ['reason', (r) => r.reason],
  ['status', (r) => r.status],
  ['source_ip', (r) => r.source_ip],
  ['user_agent', (r) => r.user_agent],
  ['request_id', (r) => r.request_id],
  ['detail', (r) => r.detail],
];

/**
 * One CSV field (RFC 4180). A value a spreadsheet would run as a formula (starting with
 * = + - @ or a tab/CR) is prefixed with an apostrophe: an audit export must not execute.
 */
export function csvField(value) {
  let s = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(records) {
  const lines = [COLUMNS.map(([name]) => name).join(',')];
  for (const r of records) lines.push(COLUMNS.map(([, get]) => csvField(get(r))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function renderAudit(main, session, route) {
  const title = h('h1', { id: 'audit-title', text: 'Audit log' });
  if (!session.me.admin) {
    fill(main, h('section', { class: 'audit' }, title,
      h('div', { class: 'problem denied', role: 'alert' },
        h('p', { text: 'Only members of an admin group can read the audit log.' }),
        h('p', {}, h('a', { href: '#/' }, 'Back to your folders')))));
    return { title };
  }
  const aborter = new AbortController();
  const p = route.params;
  const filter = {
    user: p.get('user') || '',
    path: p.get('path') || '',
    since: p.get('since') || new Date(Date.now() - DAY_MS).toISOString(),
    until: p.get('until') || '',
  };

  const field = (id, label, input, hint) => h('div', { class: 'field' },
    h('label', { for: id, text: label }), input,
    hint ? h('span', { class: 'hint', id: `${id}-hint`, text: hint }) : null);
  const userInput = h('input', {
    id: 'audit-user', name: 'user', value: filter.user, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'audit-user-hint',
  });
  const pathInput = h('input', {
    id: 'audit-path', name: 'path', value: filter.path, autocomplete: 'off', spellcheck: 'false',
    placeholder: 's3://bucket/folder/', 'aria-describedby': 'audit-path-hint',
  });
  const sinceInput = h('input', { id: 'audit-since', name: 'since', type: 'datetime-local', value: toLocalInput(filter.since) });
  const untilInput = h('input', {
    id: 'audit-until', name: 'until', type: 'datetime-local', value: filter.until ? toLocalInput(filter.until) : '',
    'aria-describedby': 'audit-until-hint',
  });
  const searchButton = h('button', { type: 'submit', class: 'primary', id: 'audit-search' }, 'Search');
  const exportButton = h('button', { type: 'button', class: 'secondary', id: 'audit-export' }, 'Export CSV');
  const form = h('form', { class: 'audit-filter', id: 'audit-form', 'aria-label': 'Filter the audit log' },
    field('audit-user', 'User ID', userInput, 'The person\'s user ID (sub). Select a user in the results to fill it in.'),
    field('audit-path', 'File or folder', pathInput, 'One file, or a folder ending in / for everything below it.'),
    field('audit-since', 'From', sinceInput),
    field('audit-until', 'To', untilInput, 'Empty: until now.'),
    h('div', { class: 'form-buttons' }, searchButton, exportButton));

  const tbody = h('tbody', {});
  const table = h('table', { class: 'audit-table', id: 'audit-table', 'aria-busy': 'true' },
    h('caption', { class: 'visually-hidden', text: 'Audit records, newest first' }),
    h('thead', {}, h('tr', {},
      ['Time', 'User', 'Action', 'File or folder', 'Result', 'Reason'].map((t) => h('th', { scope: 'col', text: t })))),
    tbody);
  const countLine = h('p', { class: 'muted', id: 'audit-count' });
  const moreButton = h('button', { type: 'button', class: 'secondary', id: 'audit-more', hidden: true }, 'Load more');
  const message = h('div', { class: 'listing-message', id: 'audit-message' });

  fill(main, h('section', { class: 'audit' },
    title,
    h('p', { class: 'lede', text: 'Every request to BucketDrive, allowed or denied, newest first. Reading this log is itself recorded.' }),
    form, countLine, h('div', { class: 'table-wrap' }, table), message, h('div', { class: 'more' }, moreButton)));

  let records = [];
  let cursor = null;

  function current() {
    return {
      user: userInput.value.trim(),
      path: pathInput.value.trim(),
      since: fromLocalInput(sinceInput.value, false),
      until: fromLocalInput(untilInput.value, true),
    };
  }

  function row(r) {
    const when = h('time', { datetime: r.time, text: formatTime(r.time) });
    const who = r.user && r.user.sub
      ? h('button', {
        type: 'button', class: 'link', title: `User ID ${r.user.sub}: show only this user`,
        'aria-label': `Show only user ${userLabel(r.user)} (ID ${r.user.sub})`,
        onclick: () => { userInput.value = r.user.sub; form.requestSubmit(); },
      }, userLabel(r.user))
      : h('span', { text: userLabel(r.user) });
    const allowed = r.outcome === 'allow';
    return h('tr', { class: allowed ? 'allow' : 'deny', 'data-action': r.action, 'data-path': recordPath(r) },
      h('td', { class: 'time' }, when),
      h('td', { class: 'who' }, who,
        (r.groups || []).length ? h('span', { class: 'groups', text: r.groups.join(', ') }) : null),
      h('td', { class: 'action', text: r.action }),
      h('td', { class: 'path mono', text: recordPath(r) }),
      h('td', { class: 'result' }, h('span', { class: `badge ${allowed ? 'ok' : 'no'}`, text: `${allowed ? 'Allowed' : 'Denied'} ${r.status || ''}`.trim() })),
      h('td', { class: 'reason', text: r.reason || '' }));
  }

  function render() {
    fill(tbody, records.map(row));
    countLine.textContent = `${records.length} record${records.length === 1 ? '' : 's'}${cursor ? ' loaded, more available' : ''}`;
    fill(message, records.length === 0 ? h('p', { class: 'empty', text: 'No records match this filter.' }) : null);
    moreButton.hidden = !cursor;
  }

  async function load(reset) {
    table.setAttribute('aria-busy', 'true');
    searchButton.disabled = true;
    moreButton.disabled = true;
    try {
      const r = await call('GET', '/api/audit', {
        query: { ...filter, limit: PAGE, cursor: reset ? null : cursor },
        signal: aborter.signal,
      });
      records = reset ? r.records || [] : records.concat(r.records || []);
      cursor = r.cursor || null;
      render();
      announce(`${records.length} audit record${records.length === 1 ? '' : 's'}${cursor ? ', more available' : ''}.`);
    } catch (e) {
      if (e.name === 'AbortError') return;
      session.report(e, () => load(reset));
    } finally {
      table.setAttribute('aria-busy', 'false');
      searchButton.disabled = false;
      moreButton.disabled = false;
    }
  }

  async function exportCsv() {
    exportButton.disabled = true;
    const all = [];
    let next = null;
    try {
      do {
        // eslint-disable-next-line no-await-in-loop
        const r = await call('GET', '/api/audit', {
          query: { ...filter, limit: EXPORT_PAGE, cursor: next },
          signal: aborter.signal,
        });
        all.push(...(r.records || []));
        next = r.cursor || null;
        if (next) announce(`Exporting… ${all.length} records so far.`);
      } while (next && all.length < EXPORT_MAX);
      const blob = new Blob(['\ufeff', toCsv(all)], { type: 'text/csv;charset=utf-8' });
      const url = URL.createObjectURL(blob);
      const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
      download(url, `bucketdrive-audit-${stamp}.csv`);
      window.setTimeout(() => URL.revokeObjectURL(url), 60000);
      announce(`Exported ${all.length} record${all.length === 1 ? '' : 's'} as CSV${next ? ` (stopped at ${EXPORT_MAX})` : ''}.`);
    } catch (e) {
      if (e.name === 'AbortError') return;
      session.report(e, exportCsv);
    } finally {
      exportButton.disabled = false;
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = current();
    const href = auditHref(f);
    if (window.location.hash === href) {
      Object.assign(filter, f, { since: f.since || filter.since });
      load(true);
    } else {
      window.location.hash = href;
    }
  });
  exportButton.addEventListener('click', exportCsv);
  moreButton.addEventListener('click', () => load(false));
  load(true);
  return { title, dispose: () => aborter.abort() };
}
