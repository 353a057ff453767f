// BucketDrive's web app: boot, sign-in, the session, the router and the page frame.
// Routes live in the fragment (`#/`, `#/browse?path=…`, `#/audit?…`) so the server serves one
// page, and the hosted UI's only callback URL stays the app's root.

import * as auth from './auth.js';
import { call, describe } from './api.js';
import {
  h, fill, announce, banner, dismissBanner, dismissAllBanners, focusHeading,
} from './dom.js';
import * as paths from './paths.js';
import { renderHome, renderBrowse } from './browse.js';
import { renderAudit } from './audit.js';

const main = document.getElementById('main');
let session = null;
let currentView = null;
let firstRender = true;

// ------------------------------------------------------------------------------ messages

function showSessionExpired() {
  const el = banner({
    key: 'session',
    kind: 'warning',
    title: 'Your session has expired.',
    message: 'Sign in again to continue; you will come back to this page.',
    actions: [{ label: 'Sign in again', primary: true, id: 'signin-again', onclick: () => startSignIn(window.location.hash) }],
  });
  el.querySelector('#signin-again')?.focus();
}

/** Shows an error the way its kind deserves. `retry` adds a Try again button. */
function report(err, retry, message) {
  const kind = err && err.kind;
  if (kind === 'expired') {
    showSessionExpired();
    return;
  }
  if (kind === 'network') {
    banner({
      key: 'network',
      kind: 'error',
      title: "Can't reach BucketDrive.",
      message: 'Check your network connection and try again.',
      actions: retry ? [{ label: 'Try again', id: 'retry-network', onclick: () => { dismissBanner('network'); retry(); } }] : [],
    });
    return;
  }
  const detail = [err && err.detail ? `BucketDrive said: ${err.detail}` : '', err && err.requestId ? `Request ID ${err.requestId}` : '']
    .filter(Boolean).join(' · ');
  banner({
    key: kind === 'denied' ? 'denied' : 'error',
    kind: kind === 'denied' ? 'warning' : 'error',
    title: kind === 'denied' ? 'Access denied.' : 'Something went wrong.',
    message: message || (err && err.message) || describe(err),
    detail,
    actions: retry && kind !== 'denied' ? [{ label: 'Try again', id: 'retry', onclick: () => { dismissBanner('error'); retry(); } }] : [],
  });
}

// ------------------------------------------------------------------------------ sign-in

async function startSignIn(returnTo) {
  try {
    await auth.signIn(returnTo);
  } catch (e) {
    renderSignIn(e.message);
  }
}

function renderSignIn(problem) {
  document.getElementById('topnav').hidden = true;
  document.getElementById('account').hidden = true;
  const button = h('button', { type: 'button', class: 'primary large', id: 'signin' }, 'Sign in');
  button.addEventListener('click', () => {
    button.disabled = true;
    startSignIn(window.location.hash);
  });
  const title = h('h1', { text: 'Sign in to BucketDrive' });
  fill(main, h('section', { class: 'signin' },
    h('div', { class: 'card' },
      title,
      h('p', { text: 'Files shared with you from your organisation\'s own storage. You sign in with your organisation\'s account; BucketDrive never sees your password.' }),
      problem ? h('p', { class: 'problem-text', role: 'alert', id: 'signin-problem', text: problem }) : null,
      button)));
  document.title = 'Sign in · BucketDrive';
  if (!firstRender) focusHeading(title);
  firstRender = false;
}

// ------------------------------------------------------------------------------ session

function buildSession(me, roots) {
  const grants = (me.grants || []).map((g) => ({ ...g, ...paths.rights(g.access) }));
  const access = (path) => ({
    read: grants.some((g) => g.read && paths.covers(g.path, path)),
    write: grants.some((g) => g.write && paths.covers(g.path, path)),
  });
  const leadsToRead = (folder) => grants.some((g) => g.read && g.path !== folder && paths.covers(folder, g.path));
  // Entry points: the readable roots the API lists, then write-only folders (drop boxes),
  // which a listing never shows because they cannot be read.
  const entries = [];
  for (const r of roots) {
    const a = access(r.path);
    const file = r.kind === 'file' || !paths.isFolder(r.path);
    entries.push({ path: r.path, label: paths.nameOf(r.path), read: true, write: !file && a.write, file });
  }
  const writable = grants.filter((g) => g.write && !g.read && paths.isFolder(g.path));
  for (const g of writable) {
    const inside = writable.some((o) => o.path !== g.path && paths.covers(o.path, g.path));
    if (!inside && !entries.some((e) => e.path === g.path)) {
      entries.push({ path: g.path, label: paths.nameOf(g.path), read: access(g.path).read, write: true, file: false });
    }
  }
  let active = 0;
  return {
    me,
    entries,
    access,
    leadsToRead,
    report,
    uploads: {
      started() { active += 1; },
      finished() { active = Math.max(0, active - 1); },
      active() { return active; },
    },
  };
}

async function loadSession() {
  const [me, ls] = await Promise.all([call('GET', '/api/me'), call('GET', '/api/ls')]);
  session = buildSession(me, ls.roots || []);
  const profile = auth.profile() || {};
  const name = profile.email || me.username || me.sub;
  document.getElementById('who').textContent = name;
  document.getElementById('who').setAttribute('aria-label', `Account: ${name}`);
  document.getElementById('account-name').textContent = name;
  document.getElementById('user-id').textContent = me.sub;
  document.getElementById('account-groups').textContent = (me.groups || []).join(', ') || '(none)';
  document.getElementById('account').hidden = false;
  document.getElementById('topnav').hidden = false;
  document.getElementById('nav-audit').hidden = !me.admin;
}

// ------------------------------------------------------------------------------ router

function parseRoute() {
  const hash = window.location.hash || '#/';
  if (!hash.startsWith('#/')) return null;
  const body = hash.slice(2);
  const q = body.indexOf('?');
  const name = q < 0 ? body : body.slice(0, q);
  return { name, params: new URLSearchParams(q < 0 ? '' : body.slice(q + 1)) };
}

function route() {
  const r = parseRoute();
  if (!r || !session) return;
  if (currentView && currentView.dispose) currentView.dispose();
  dismissBanner('denied');
  dismissBanner('error');
  let pageTitle = 'BucketDrive';
  if (r.name === 'browse' && r.params.get('path')) {
    currentView = renderBrowse(main, session, r);
    pageTitle = `${paths.nameOf(r.params.get('path'))} · BucketDrive`;
  } else if (r.name === 'audit') {
    currentView = renderAudit(main, session, r);
    pageTitle = 'Audit log · BucketDrive';
  } else {
    currentView = renderHome(main, session);
    pageTitle = 'Your folders · BucketDrive';
  }
  document.title = pageTitle;
  for (const [id, active] of [['nav-files', r.name !== 'audit'], ['nav-audit', r.name === 'audit']]) {
    const a = document.getElementById(id);
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // After a navigation, move focus to the new page's heading so keyboard and screen-reader
  // users start there (not on the first load: the page starts at the top anyway).
  if (!firstRender) focusHeading(currentView.title);
  firstRender = false;
}

// ------------------------------------------------------------------------------ boot

function wireFrame() {
  document.getElementById('signout').addEventListener('click', async (e) => {
    e.currentTarget.disabled = true;
    announce('Signing out…');
    await auth.signOut();
  });
  document.getElementById('skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  // Close the account panel with Escape, and return focus to its toggle.
  const account = document.getElementById('account');
  account.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && account.open) {
      account.open = false;
      document.getElementById('who').focus();
    }
  });
  // A file dropped outside a drop target must not replace the app with the file.
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (e) => {
      if (e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files')) e.preventDefault();
    });
  }
  window.addEventListener('beforeunload', (e) => {
    if (session && session.uploads.active() > 0) {
      e.preventDefault();
      e.returnValue = '';
    }
  });
  auth.onExpired(showSessionExpired);
}

function fatal(message, retry) {
  fill(main, h('section', { class: 'signin' },
    h('div', { class: 'card' },
      h('h1', { text: 'BucketDrive is not available' }),
      h('p', { class: 'problem-text', role: 'alert', text: message }),
      retry ? h('button', { type: 'button', class: 'primary', id: 'retry-boot', onclick: retry }, 'Try again') : null)));
}

async function boot() {
  wireFrame();
  let config;
  try {
    const res = await fetch('/config.json', { cache: 'no-store', credentials: 'omit' });
    if (!res.ok) throw new Error(String(res.status));
    config = await res.json();
  } catch {
    fatal("Can't reach BucketDrive. Check your network connection and try again.", () => window.location.reload());
    return;
  }
  if (!config.auth_base_url || !config.client_id) {
    fatal('This deployment has no sign-in configured (auth_base_url or client_id is missing).');
    return;
  }
  auth.configure(config);
  let signedIn = false;
  let ended = false;
  try {
    if ((await auth.completeSignIn()) !== null) {
      signedIn = true;
    } else {
      const restored = await auth.restore();
      signedIn = restored === 'ok';
      ended = restored === 'ended';
    }
  } catch (e) {
    if (e.kind === 'network') {
      fatal(describe(e), () => window.location.reload());
    } else {
      renderSignIn(e.message);
    }
    return;
  }
  if (!signedIn) {
    dismissAllBanners();
    renderSignIn(ended ? 'Your previous session has ended. Sign in again to continue.' : undefined);
    return;
  }
  try {
    await loadSession();
  } catch (e) {
    if (e.kind === 'expired') {
      renderSignIn('Your session has expired. Sign in again to continue.');
    } else {
      fatal(`${describe(e)}${e.detail ? ` (${e.detail})` : ''}`, () => window.location.reload());
    }
    return;
  }
  dismissAllBanners();
  window.addEventListener('hashchange', route);
  if (!parseRoute()) window.history.replaceState(null, '', '/#/');
  route();
}

boot();
