// End to end, in Debian's Chromium driven by playwright-core, against `bucketdrive local up`:
// the web app signs in through the emulator's hosted UI, browses, downloads, uploads, is
// refused, recovers from network and session errors, and an admin finds it all in the audit log.
//
// Input: BD_LOCAL_JSON, the file `bucketdrive local up --output json` printed.
// Output: a screenshot per step in tests/artifacts/browser/ (BD_ARTIFACTS to change).
// Run it with scripts/test-browser, which installs Chromium and starts the stack.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const info = JSON.parse(readFileSync(process.env.BD_LOCAL_JSON || '', 'utf8'));
const ARTIFACTS = process.env.BD_ARTIFACTS || new URL('../artifacts/browser/', import.meta.url).pathname;
const CHROMIUM = process.env.BD_CHROMIUM || '/usr/bin/chromium';
const APP = info.app_url;
const APP_ORIGIN = new URL(APP).origin;
const ENDPOINT = info.endpoint_url.replace(/\/$/, '');
const ENDPOINT_ORIGIN = new URL(ENDPOINT).origin;
const BUCKET = info.outputs.FileBuckets.split(',')[0];
const S3 = (key) => `s3://${BUCKET}/${key}`;
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 844 };
const RUN = new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14);
const STARTED = Date.now();
const TIMEOUT = 20000;

let browser;
let context;
let page;
let failed = false;
let demoSub = '';
const shots = [];
const consoleProblems = [];
const requestOrigins = new Set();
const uploaded = {};
const scratch = join(tmpdir(), `bd-browser-${process.pid}`);

// Steps depend on each other: after the first failure the rest are skipped, not piled up.
function step(name, fn) {
  test(name, { timeout: 120000 }, async (t) => {
    if (failed) {
      t.skip('an earlier step failed');
      return;
    }
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      if (page) await shot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`).catch(() => {});
      throw e;
    }
  });
}

async function shot(name) {
  const file = `${String(shots.length + 1).padStart(2, '0')}-${name}.png`;
  await page.screenshot({ path: join(ARTIFACTS, file), fullPage: true });
  shots.push(file);
}

/** The object's bytes, read straight from the emulator (unsigned GET; MiniStack runs without AUTH). */
async function s3Bytes(key) {
  const url = `${ENDPOINT}/${BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return Buffer.from(await res.arrayBuffer());
}

async function downloadBytes(download) {
  const chunks = [];
  for await (const c of await download.createReadStream()) chunks.push(c);
  return Buffer.concat(chunks);
}

async function go(hash) {
  await page.evaluate((h) => { window.location.hash = h; }, hash);
}

function browseHash(path, extra = '') {
  return `#/browse?path=${encodeURIComponent(path).replace(/%2F/g, '/').replace(/%3A/g, ':')}${extra}`;
}

/** Clicks Sign in (or `trigger`) and signs in on the hosted UI. */
async function signInThroughHostedUi(username, password, { trigger = '#signin', screenshot } = {}) {
  await page.click(trigger);
  await page.waitForURL((u) => u.href.startsWith(`${ENDPOINT}/oauth2/authorize?`), { timeout: TIMEOUT });
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('response_type'), 'code');
  assert.equal(url.searchParams.get('client_id'), info.client_id);
  assert.equal(url.searchParams.get('redirect_uri'), APP);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.match(url.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.ok(url.searchParams.get('state') && url.searchParams.get('nonce'));
  assert.equal(url.searchParams.get('scope'), 'openid email profile');
  await page.fill('#username', username);
  await page.fill('#password', password);
  if (screenshot) await shot(screenshot);
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.origin === APP_ORIGIN, { timeout: TIMEOUT });
  await page.locator('#account').waitFor({ state: 'visible', timeout: TIMEOUT });
  assert.ok(!page.url().includes('code='), `the code stays out of the address bar: ${page.url()}`);
}

async function storage() {
  return page.evaluate(() => ({ session: Object.keys(sessionStorage).sort(), local: Object.keys(localStorage) }));
}

async function noHorizontalScroll(what) {
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
  }));
  assert.ok(scroll <= inner, `${what}: page is ${scroll}px wide in a ${inner}px viewport`);
}

async function tabTo(predicate, what, max = 40) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(predicate)) return;
  }
  assert.fail(`Tab never reached ${what}`);
}

async function signOut() {
  await page.click('#who');
  await page.click('#signout');
  await page.waitForURL((u) => u.origin === APP_ORIGIN, { timeout: TIMEOUT });
  await page.locator('#signin').waitFor({ timeout: TIMEOUT });
  assert.deepEqual(await storage(), { session: [], local: [] }, 'sign-out forgets every token');
}

before(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  mkdirSync(scratch, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  context = await browser.newContext({ viewport: WIDE, acceptDownloads: true, locale: 'en-GB' });
  // Fake timers whose time still flows: lets a step jump to the token refresh.
  await context.clock.install();
  context.setDefaultTimeout(TIMEOUT);
  context.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol === 'http:' || u.protocol === 'https:') requestOrigins.add(u.origin);
  });
  page = await context.newPage();
  page.on('console', (m) => {
    // A refused API call is logged by Chromium as a failed resource; the tests cause those.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleProblems.push(m.text());
  });
  page.on('pageerror', (e) => consoleProblems.push(`page error: ${e.message}`));
});

after(async () => {
  writeFileSync(join(ARTIFACTS, 'screenshots.txt'), `${shots.join('\n')}\n`);
  rmSync(scratch, { recursive: true, force: true });
  if (browser) await browser.close();
});

step('the app asks to sign in, with strict security headers', async () => {
  const res = await page.goto(APP);
  assert.equal(res.status(), 200);
  const headers = res.headers();
  const csp = headers['content-security-policy'];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self';/);
  assert.match(csp, new RegExp(`connect-src 'self' ${ENDPOINT_ORIGIN};`));
  assert.doesNotMatch(csp, /unsafe|\*/);
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  await page.locator('#signin').waitFor();
  assert.equal(await page.locator('h1').textContent(), 'Sign in to BucketDrive');
  await shot('signin');
});

step('sign in as the demo user through the hosted UI (code + PKCE)', async () => {
  await signInThroughHostedUi(info.username, info.password, { screenshot: 'hosted-ui' });
  await page.locator('h1', { hasText: 'Your folders' }).waitFor();
  assert.equal(await page.locator('#who').textContent(), info.username);
  // Tokens: in memory and in this tab's sessionStorage only; nothing in localStorage.
  assert.deepEqual(await storage(), { session: ['bd.access', 'bd.refresh'], local: [] });
  await page.click('#who');
  demoSub = (await page.locator('#user-id').textContent()).trim();
  assert.match(demoSub, /^[0-9a-f-]{36}$/);
  await shot('account');
  await page.keyboard.press('Escape');
});

step('only the granted folders are shown', async () => {
  const entries = await page.locator('.home .entry-name').allTextContents();
  assert.deepEqual(entries, ['reports', 'incoming']);
  assert.deepEqual(await page.locator('.home .entry-badges').allTextContents(), ['Read only', 'Upload only']);
  assert.equal(await page.locator('#nav-audit').isVisible(), false, 'no audit log for the demo user');
  await shot('home');
  // The bucket root shows only the way to the grants, never board/ or reports-private/.
  await go(browseHash(S3('')));
  await page.locator('#listing[aria-busy="false"]').waitFor();
  assert.deepEqual(await page.locator('#listing tbody .folder-link').allTextContents(), ['reports (folder)']);
  assert.equal(await page.locator('#listing tbody .file-row').count(), 0);
  await shot('bucket-root');
});

step('browse with breadcrumbs, paging and the filter', async () => {
  await page.click('#listing .folder-link >> text=reports');
  await page.locator('#listing[aria-busy="false"]').waitFor();
  assert.equal(await page.locator('#folder-title').textContent(), 'reports');
  assert.deepEqual(await page.locator('#listing tbody .folder-link').allTextContents(), ['2026 (folder)']);
  assert.deepEqual(await page.locator('#listing tbody .file-row .file-name').allTextContents(), ['welcome.txt']);
  assert.equal(await page.locator('#upload-button').count(), 0, 'no upload where the caller cannot write');
  await shot('reports');
  // One entry per page: paging through reports/2026/.
  await go(browseHash(S3('reports/2026/'), '&limit=1'));
  await page.locator('#listing[aria-busy="false"]').waitFor();
  assert.equal(await page.locator('#listing tbody tr').count(), 1);
  await page.click('#load-more');
  await page.locator('#listing tbody tr').nth(1).waitFor();
  await page.locator('#listing[aria-busy="false"]').waitFor();
  assert.deepEqual(
    await page.locator('#listing tbody .file-name').allTextContents(),
    ['q3-summary.csv', 'q4-forecast.csv'],
  );
  await page.fill('#filter', 'Q4');
  assert.deepEqual(await page.locator('#listing tbody .file-name').allTextContents(), ['q4-forecast.csv']);
  assert.match(await page.locator('#filter-count').textContent(), /^1 of 2/);
  await shot('filter-and-paging');
  const crumbs = await page.locator('.breadcrumbs li').allTextContents();
  assert.deepEqual(crumbs, ['Home', BUCKET, 'reports', '2026']);
  await page.click('.breadcrumbs a >> text=reports');
  await page.locator('#folder-title', { hasText: 'reports' }).waitFor();
});

step('download a file through its pre-signed URL and compare the bytes', async () => {
  await page.locator('#listing[aria-busy="false"]').waitFor();
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('button[aria-label="Download welcome.txt"]'),
  ]);
  assert.equal(download.suggestedFilename(), 'welcome.txt');
  assert.ok(download.url().startsWith(`${ENDPOINT}/${BUCKET}/reports/welcome.txt?`), download.url());
  assert.match(download.url(), /X-Amz-Signature=/);
  const bytes = await downloadBytes(download);
  assert.deepEqual(bytes, await s3Bytes('reports/welcome.txt'));
  assert.match(bytes.toString('utf8'), /^Welcome to BucketDrive\./);
  await page.locator('#status', { hasText: 'Downloading welcome.txt' }).waitFor({ state: 'attached' });
  await shot('downloaded');
});

step('upload into the drop folder with the button, then by drag and drop', async () => {
  await page.click('.side a.entry >> text=incoming');
  await page.locator('#folder-title', { hasText: 'incoming' }).waitFor();
  assert.equal(await page.locator('#listing').count(), 0, 'an upload-only folder is not listed');
  await page.locator('#dropzone').waitFor();
  await shot('drop-folder');

  const name = `e2e-${RUN}.txt`;
  const content = `uploaded by the browser test ${RUN}\n${'x'.repeat(1000)}\n`;
  const file = join(scratch, name);
  writeFileSync(file, content);
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#choose-files')]);
  await chooser.setFiles(file);
  const item = page.locator(`#upload-list li[data-name="${name}"]`);
  await item.locator('.upload-state', { hasText: /^Uploaded$/ }).waitFor();
  assert.deepEqual(await s3Bytes(`incoming/${name}`), Buffer.from(content));
  uploaded.button = name;

  const dropped = `e2e-${RUN}-dropped.csv`;
  const droppedContent = 'a,b\n1,2\n';
  const dt = await page.evaluateHandle(([n, c]) => {
    const d = new DataTransfer();
    d.items.add(new File([c], n, { type: 'text/csv' }));
    return d;
  }, [dropped, droppedContent]);
  const view = page.locator('.folder-view');
  await view.dispatchEvent('dragenter', { dataTransfer: dt });
  await view.dispatchEvent('dragover', { dataTransfer: dt });
  assert.ok(await view.evaluate((el) => el.classList.contains('dragging')));
  await shot('drag-over');
  await view.dispatchEvent('drop', { dataTransfer: dt });
  await page.locator(`#upload-list li[data-name="${dropped}"] .upload-state`, { hasText: /^Uploaded$/ }).waitFor();
  assert.deepEqual(await s3Bytes(`incoming/${dropped}`), Buffer.from(droppedContent));
  uploaded.dropped = dropped;

  // The same name again: the API says it exists; Replace sends it with overwrite.
  const [chooser2] = await Promise.all([page.waitForEvent('filechooser'), page.click('#choose-files')]);
  writeFileSync(file, `${content}second version\n`);
  await chooser2.setFiles(file);
  const again = item.first(); // the newest attempt is listed first
  await again.locator('.upload-state', { hasText: 'already exists' }).waitFor();
  await shot('upload-conflict');
  await page.click(`button[aria-label="Replace ${name}"]`);
  await again.locator('.upload-state', { hasText: /^Uploaded$/ }).waitFor();
  assert.deepEqual(await s3Bytes(`incoming/${name}`), Buffer.from(`${content}second version\n`));
  await shot('uploaded');
});

step('a large file goes up in parts (multipart)', async () => {
  const threshold = 100 * 1024 * 1024;
  const size = threshold + 3 * 1024 * 1024 + 17;
  const name = `e2e-${RUN}-large.bin`;
  const file = join(scratch, name);
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) buf.writeUInt32BE(i >>> 0, i);
  writeFileSync(file, buf);
  const plan = page.waitForResponse((r) => r.url().endsWith('/api/upload') && r.request().method() === 'POST');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#choose-files')]);
  await chooser.setFiles(file);
  const body = await (await plan).json();
  assert.ok(body.multipart, 'a plan in parts');
  assert.equal(body.multipart.parts.length, 2);
  const item = page.locator(`#upload-list li[data-name="${name}"]`);
  await item.locator('.upload-state', { hasText: /^Uploaded$/ }).waitFor({ timeout: 90000 });
  const stored = await s3Bytes(`incoming/${name}`);
  assert.equal(stored.length, size);
  assert.equal(createHash('sha256').update(stored).digest('hex'), createHash('sha256').update(buf).digest('hex'));
  uploaded.large = name;
  rmSync(file);
});

step("the bucket's CORS rules allow exactly what the browser sends to S3", async () => {
  // MiniStack without AUTH answers every S3 request with `Access-Control-Allow-Origin: *`, so
  // the transfers above prove the flow, not the rules. The rules the stack gave the bucket are
  // what S3 (and MiniStack with AUTH=true) applies: read them and evaluate them here.
  const res = await fetch(`${ENDPOINT}/${BUCKET}?cors`);
  assert.equal(res.status, 200);
  const xml = await res.text();
  const rules = [...xml.matchAll(/<CORSRule>([\s\S]*?)<\/CORSRule>/g)].map(([, r]) => {
    const all = (tag) => [...r.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]);
    return { origins: all('AllowedOrigin'), methods: all('AllowedMethod'), headers: all('AllowedHeader'), expose: all('ExposeHeader') };
  });
  const glob = (pattern, value) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.?+^$()|[\]{}\\]/g, '\\$&')).join('.*')}$`, 'i').test(value);
  // Single PUT (content-type signed), part PUT, completion POST (content-type), abort DELETE.
  for (const [method, header] of [['PUT', 'content-type'], ['PUT', null], ['POST', 'content-type'], ['DELETE', null]]) {
    const rule = rules.find((r) => r.origins.some((o) => glob(o, APP_ORIGIN)) && r.methods.includes(method)
      && (!header || r.headers.some((h) => glob(h, header))));
    assert.ok(rule, `no CORS rule lets ${APP_ORIGIN} send ${method}${header ? ` with ${header}` : ''}: ${xml}`);
    if (method === 'PUT') assert.ok(rule.expose.some((h) => h.toLowerCase() === 'etag'), 'ETag must be exposed');
  }
  assert.ok(!rules.some((r) => r.origins.includes('*')), 'no wildcard origin');
});

step('refused where not allowed: upload into a read-only folder, a folder not granted', async () => {
  await page.click('.side a.entry >> text=reports');
  await page.locator('#listing[aria-busy="false"]').waitFor();
  const dt = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(['nope'], 'nope.txt', { type: 'text/plain' }));
    return d;
  });
  const view = page.locator('.folder-view');
  await view.dispatchEvent('dragenter', { dataTransfer: dt });
  await view.dispatchEvent('drop', { dataTransfer: dt });
  await page.locator('.banner', { hasText: "You can't upload to reports" }).waitFor();
  await shot('upload-refused');

  // A folder none of the demo's groups is granted: the API refuses it (and audits it).
  await go(browseHash(S3('board/')));
  await page.locator('#denied').waitFor();
  assert.match(await page.locator('#denied').textContent(), /You don't have access to this folder/);
  assert.match(await page.locator('#denied .detail').textContent(), /denied: no grant/);
  await shot('folder-denied');
});

step('a reload keeps the session, without a token request', async () => {
  await go(browseHash(S3('reports/')));
  await page.locator('#listing[aria-busy="false"]').waitFor();
  let tokenCalls = 0;
  const count = (r) => { if (r.url() === `${ENDPOINT}/oauth2/token`) tokenCalls += 1; };
  page.on('request', count);
  await page.reload();
  await page.locator('#folder-title', { hasText: 'reports' }).waitFor();
  await page.locator('#listing tbody .file-row').first().waitFor();
  page.off('request', count);
  assert.equal(tokenCalls, 0, 'the access token kept in this tab is still valid');
});

step('network errors say so and offer to try again', async () => {
  await page.route('**/api/ls?**', (route) => route.abort('internetdisconnected'));
  await page.click('#refresh');
  const bannerEl = page.locator('.banner', { hasText: "Can't reach BucketDrive." });
  await bannerEl.waitFor();
  await shot('network-error');
  await page.unroute('**/api/ls?**');
  await page.click('#retry-network');
  await bannerEl.waitFor({ state: 'detached' });
  await page.locator('#listing[aria-busy="false"] tbody .file-row').first().waitFor();
});

step('the access token is refreshed before it expires', async (t) => {
  const before = await page.evaluate(() => JSON.parse(sessionStorage.getItem('bd.access')).token);
  const answer = page.waitForResponse(
    (r) => r.url() === `${ENDPOINT}/oauth2/token` && /grant_type=refresh_token/.test(r.request().postData() || ''),
  );
  // Access tokens live 15 minutes; the app refreshes a minute before.
  await page.clock.fastForward('14:30');
  const res = await answer;
  assert.equal(res.status(), 200);
  const tokens = await res.json();
  assert.ok(tokens.access_token && tokens.access_token !== before);
  await page.waitForFunction((old) => JSON.parse(sessionStorage.getItem('bd.access')).token !== old, before);
  const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString('utf8'));
  // The API accepts the refreshed token.
  const me = await page.evaluate(async () => {
    const r = await fetch('/api/me', { headers: { authorization: `Bearer ${JSON.parse(sessionStorage.getItem('bd.access')).token}` } });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(me.status, 200);
  assert.equal(me.body.sub, demoSub);
  if (claims['cognito:groups']) {
    assert.deepEqual(me.body.groups, ['staff']);
    await page.click('#refresh');
    await page.locator('#listing[aria-busy="false"] tbody .file-row').first().waitFor();
  } else {
    // MiniStack 1.5.33 issues refresh-grant tokens without `cognito:groups` (services/cognito.py,
    // _oauth2_token, grant_type=refresh_token: _fake_token is called without groups), unlike
    // Cognito. Nothing the app can fix; the next step signs in again. See docs/web.md.
    assert.deepEqual(me.body.groups, []);
    t.diagnostic('MiniStack: the refreshed access token has no cognito:groups (emulator bug, see docs/web.md)');
  }
  assert.equal(await page.locator('.banner', { hasText: 'session has expired' }).count(), 0);
});

step('an expired session says so, and signing in again comes back to the same folder', async () => {
  // The API refuses the token and Cognito refuses the refresh token: the session is over.
  await page.route('**/api/**', (route) => route.fulfill({
    status: 401, contentType: 'application/json', body: '{"message":"Unauthorized"}',
  }));
  await page.route(`${ENDPOINT}/oauth2/token`, (route) => route.fulfill({
    status: 400, contentType: 'application/json', body: '{"error":"invalid_grant"}',
  }));
  await page.click('#refresh');
  await page.locator('.banner', { hasText: 'Your session has expired.' }).waitFor();
  assert.deepEqual((await storage()).session, [], 'the dead refresh token is forgotten');
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'signin-again');
  await shot('session-expired');
  await page.unroute('**/api/**');
  await page.unroute(`${ENDPOINT}/oauth2/token`);
  await signInThroughHostedUi(info.username, info.password, { trigger: '#signin-again' });
  await page.locator('#folder-title', { hasText: 'reports' }).waitFor();
  assert.match(page.url(), /#\/browse\?path=s3:\/\/[^/]+\/reports\/$/);
});

step('keyboard only: reach a folder and download a file', async () => {
  await go('#/');
  await page.locator('h1', { hasText: 'Your folders' }).waitFor();
  await page.locator('#main').focus();
  await tabTo(() => document.activeElement && (document.activeElement.getAttribute('href') || '').endsWith('/reports/') && document.activeElement.closest('.home'), 'the reports entry');
  await shot('keyboard-focus-entry');
  await page.keyboard.press('Enter');
  await page.locator('#listing[aria-busy="false"] tbody .file-row').first().waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'folder-title', 'focus moves to the new heading');
  await tabTo(() => document.activeElement && document.activeElement.getAttribute('aria-label') === 'Download welcome.txt', 'the Download button');
  await shot('keyboard-focus-download');
  const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
  assert.deepEqual(await downloadBytes(download), await s3Bytes('reports/welcome.txt'));
});

step('usable at 390×844', async () => {
  await page.setViewportSize(NARROW);
  await go('#/');
  await page.locator('h1', { hasText: 'Your folders' }).waitFor();
  await noHorizontalScroll('home');
  await shot('mobile-home');
  await go(browseHash(S3('reports/2026/')));
  await page.locator('#listing[aria-busy="false"] tbody .file-row').first().waitFor();
  await noHorizontalScroll('folder');
  const button = await page.locator('button[aria-label="Download q3-summary.csv"]').boundingBox();
  assert.ok(button && button.x + button.width <= NARROW.width, 'the Download button is on screen');
  await shot('mobile-folder');
  await go(browseHash(S3('incoming/')));
  await page.locator('#dropzone').waitFor();
  await noHorizontalScroll('drop folder');
  await shot('mobile-drop-folder');
  await page.setViewportSize(WIDE);
  await noHorizontalScroll('wide');
});

step('sign out ends the session', async () => {
  const logout = page.waitForRequest((r) => r.url().startsWith(`${ENDPOINT}/logout?`));
  await signOut();
  const u = new URL((await logout).url());
  assert.equal(u.searchParams.get('client_id'), info.client_id);
  assert.equal(u.searchParams.get('logout_uri'), APP);
  await shot('signed-out');
});

step('an admin finds those actions in the audit log and exports them', async () => {
  await signInThroughHostedUi(info.admin_username, info.admin_password);
  await page.locator('#nav-audit').waitFor({ state: 'visible' });
  assert.equal(await page.locator('.home .entry').count(), 0);
  await page.click('#nav-audit');
  await page.locator('#audit-table[aria-busy="false"]').waitFor();
  const since = await page.evaluate((t) => {
    const d = new Date(t);
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  }, STARTED - 60000);
  await page.fill('#audit-user', demoSub);
  await page.fill('#audit-since', since);
  await page.click('#audit-search');
  const row = (action, path, outcome) => page.locator(
    `#audit-table tbody tr.${outcome}[data-action="${action}"][data-path="${path}"]`,
  );
  await row('download', S3('reports/welcome.txt'), 'allow').first().waitFor();
  await row('upload', S3(`incoming/${uploaded.button}`), 'allow').first().waitFor();
  await row('upload', S3(`incoming/${uploaded.dropped}`), 'allow').first().waitFor();
  await row('upload', S3(`incoming/${uploaded.large}`), 'allow').first().waitFor();
  await row('list', S3('board/'), 'deny').first().waitFor();
  assert.match(await row('list', S3('board/'), 'deny').first().locator('.reason').textContent(), /no grant/);
  await shot('audit-by-user');

  // By object: everything that happened to the uploaded file (the 409 and the overwrite too).
  await page.fill('#audit-user', '');
  await page.fill('#audit-path', S3(`incoming/${uploaded.button}`));
  await page.click('#audit-search');
  await page.locator('#audit-table[aria-busy="false"]').waitFor();
  await row('upload', S3(`incoming/${uploaded.button}`), 'allow').first().waitFor();
  const paths = new Set(await page.locator('#audit-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.path)));
  assert.deepEqual([...paths], [S3(`incoming/${uploaded.button}`)]);
  await shot('audit-by-file');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#audit-export')]);
  assert.match(download.suggestedFilename(), /^bucketdrive-audit-\d{12}\.csv$/);
  const csv = (await downloadBytes(download)).toString('utf8').replace(/^\ufeff/, '');
  const lines = csv.trim().split('\r\n');
  assert.ok(lines[0].startsWith('time,id,user_sub,username,email,groups,action,bucket,key,outcome'));
  assert.ok(lines.length >= 3, `header + the 409 + the uploads: ${lines.length}`);
  assert.ok(lines.slice(1).every((l) => l.includes(`,incoming/${uploaded.button},`)), 'only that file');
  assert.ok(lines.some((l) => l.includes(`,${demoSub},`) && l.includes(',upload,') && l.includes(',allow,')));
  writeFileSync(join(ARTIFACTS, 'audit-export.csv'), csv);

  await page.setViewportSize(NARROW);
  await noHorizontalScroll('audit');
  await shot('mobile-audit');
  await page.setViewportSize(WIDE);
  await signOut();
});

step('no third-party request and no CSP or script error', async () => {
  const allowed = new Set([APP_ORIGIN, ENDPOINT_ORIGIN]);
  const others = [...requestOrigins].filter((o) => !allowed.has(o));
  assert.deepEqual(others, [], 'every request went to the app or to the account\'s own AWS endpoints');
  assert.deepEqual(consoleProblems, []);
});
