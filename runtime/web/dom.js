// Small DOM helpers. Everything is built with createElement and textContent: the page never
// parses HTML from a string (the CSP enforces that with Trusted Types).

/**
 * h('button', { class: 'x', type: 'button', onclick: fn, 'aria-label': '…' }, 'text', child…)
 * Props starting with `on` are listeners; `class`, `text`, `hidden`, `disabled`, `value` and
 * `checked` are set as properties; everything else is an attribute. `null`/`false` are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'hidden' || k === 'disabled' || k === 'value' || k === 'checked') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

const UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'];

/** 1536 → "1.5 KB" (powers of 1024, as file managers show them). */
export function formatSize(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  if (n === 1) return '1 byte';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${v} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});

/** An ISO time as local date and time, or '' when missing. */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFormat.format(d);
}

let statusTimer = 0;

/** Says something to screen-reader users (the polite live region) and shows it briefly. */
export function announce(message) {
  const el = document.getElementById('status');
  if (!el) return;
  // Re-setting the same text would not be read again: clear first.
  el.textContent = '';
  window.clearTimeout(statusTimer);
  statusTimer = window.setTimeout(() => { el.textContent = message; }, 30);
}

/**
 * Shows a banner at the top of the page (role=alert, so it is read at once).
 * kind: 'error' | 'warning' | 'info'. actions: [{ label, onclick, id }].
 * Returns the banner element; a banner with the same `key` replaces the previous one.
 */
export function banner({ key, kind = 'error', title, message, detail, actions = [] }) {
  const slot = document.getElementById('banner-slot');
  const old = slot.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (old) old.remove();
  const el = h('div', { class: `banner ${kind}`, role: 'alert', 'data-key': key },
    h('div', { class: 'banner-text' },
      title ? h('strong', { text: title }) : null,
      message ? h('span', { text: ` ${message}` }) : null,
      detail ? h('span', { class: 'detail', text: detail }) : null),
    h('div', { class: 'banner-actions' },
      actions.map((a) => h('button', { type: 'button', id: a.id, class: a.primary ? 'primary' : 'secondary', onclick: a.onclick }, a.label)),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Dismiss message', onclick: () => el.remove() }, '×')));
  slot.append(el);
  return el;
}

export function dismissBanner(key) {
  document.querySelector(`#banner-slot [data-key="${CSS.escape(key)}"]`)?.remove();
}

export function dismissAllBanners() {
  clear(document.getElementById('banner-slot'));
}

/** Moves focus to a heading (or any element) without scrolling surprises. */
export function focusHeading(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
  el.focus({ preventScroll: false });
}

/** Starts a download of `href` (a pre-signed URL or a blob: URL) through an anchor. */
export function download(href, filename) {
  const a = h('a', { href, download: filename || '', rel: 'noopener', hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}
