// Sign-in through the Cognito hosted UI: authorization code + PKCE (S256), a public client.
//
// Where things live (docs/web.md explains why):
// - During the redirect only: the PKCE verifier, `state`, `nonce` and the page to come back to,
//   in sessionStorage under `bd.signin`; removed as soon as the app is back.
// - The tokens: in memory, mirrored to this tab's sessionStorage (`bd.refresh`: the refresh
//   token; `bd.access`: the access token, its expiry and the e-mail to display), so a reload
//   of the tab neither goes through the hosted UI again nor needs a token request. Nothing is
//   in localStorage or cookies: other tabs and other sessions never see them, they are gone
//   when the tab closes, and sign-out removes them (and revokes the refresh token at Cognito).
// The access token is refreshed a minute before it expires, and again on demand if the API
// answers 401.

const SIGNIN_KEY = 'bd.signin';
const REFRESH_KEY = 'bd.refresh';
const ACCESS_KEY = 'bd.access';
const REFRESH_MARGIN_MS = 60 * 1000;
/** A sign-in redirect older than this is not completed (Cognito's codes live 5 minutes). */
const SIGNIN_MAX_AGE_MS = 10 * 60 * 1000;

let cfg = null;
let accessToken = null;
let accessExpiresAt = 0;
let idClaims = null;
let refreshTimer = 0;
let refreshing = null;
const expiredListeners = [];

export class AuthError extends Error {
  /** kind: 'expired' (sign in again), 'network' (try again), 'failed' (sign-in went wrong). */
  constructor(kind, message) {
    super(message);
    this.name = 'AuthError';
    this.kind = kind;
  }
}

export function configure(config) {
  cfg = config;
}

/** The app's own URL: the only callback and sign-out URL of the app client. */
export function appUrl() {
  return `${window.location.origin}/`;
}

export function signedIn() {
  return accessToken !== null;
}

/** Claims of the last ID token (for display only: the API verifies the access token). */
export function profile() {
  return idClaims;
}

/** Called when the session cannot be renewed any more. */
export function onExpired(fn) {
  expiredListeners.push(fn);
}

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return b64url(a);
}

async function s256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return b64url(new Uint8Array(digest));
}

/** The payload of a JWT, unverified (display and bookkeeping only), or null. */
export function decodeJwt(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bin = atob(b64);
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

function query(params) {
  // Cognito reads `+` as a space too, but %20 is unambiguous everywhere.
  return new URLSearchParams(params).toString().replace(/\+/g, '%20');
}

/** Goes to the hosted UI. `returnTo` is the app route (`#/…`) to open after signing in. */
export async function signIn(returnTo) {
  if (!window.crypto || !crypto.subtle) {
    throw new AuthError('failed', 'Signing in needs a secure (HTTPS) connection to BucketDrive.');
  }
  const verifier = randomString(48);
  const state = randomString(24);
  const nonce = randomString(24);
  sessionStorage.setItem(SIGNIN_KEY, JSON.stringify({
    verifier, state, nonce, returnTo: safeRoute(returnTo), at: Date.now(),
  }));
  const params = {
    response_type: 'code',
    client_id: cfg.client_id,
    redirect_uri: appUrl(),
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: await s256(verifier),
    code_challenge_method: 'S256',
  };
  window.location.assign(`${cfg.auth_base_url}/oauth2/authorize?${query(params)}`);
}

function safeRoute(route) {
  return typeof route === 'string' && route.startsWith('#/') ? route : '#/';
}

/**
 * Completes a sign-in when the page was opened by the hosted UI's redirect (`?code=…&state=…`
 * or `?error=…`). Returns the route to open, or null when this is not such a redirect.
 * The code never stays in the address bar or the history.
 */
export async function completeSignIn() {
  const url = new URL(window.location.href);
  const code = url.searchParams.get('code');
  const error = url.searchParams.get('error');
  if (!code && !error) return null;
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(SIGNIN_KEY) || 'null');
  } catch {
    saved = null;
  }
  sessionStorage.removeItem(SIGNIN_KEY);
  const route = safeRoute(saved && saved.returnTo);
  window.history.replaceState(null, '', `/${route}`);
  if (error) {
    const why = url.searchParams.get('error_description') || error;
    throw new AuthError('failed', `Sign-in did not complete: ${why}.`);
  }
  if (!saved || saved.state !== url.searchParams.get('state')) {
    throw new AuthError('failed', 'This sign-in was not started here, or it was started in another tab. Sign in again.');
  }
  if (Date.now() - saved.at > SIGNIN_MAX_AGE_MS) {
    throw new AuthError('failed', 'The sign-in took too long. Sign in again.');
  }
  const tokens = await tokenRequest({
    grant_type: 'authorization_code',
    client_id: cfg.client_id,
    code,
    redirect_uri: appUrl(),
    code_verifier: saved.verifier,
  });
  const claims = decodeJwt(tokens.id_token);
  if (!claims || claims.nonce !== saved.nonce) {
    throw new AuthError('failed', 'The sign-in answer did not match this request (nonce). Sign in again.');
  }
  accept(tokens);
  return route;
}

/**
 * Signs in again from the refresh token kept for this tab. Returns 'ok', 'none' (nothing
 * kept) or 'ended' (the kept session could not be renewed).
 */
export async function restore() {
  if (!sessionStorage.getItem(REFRESH_KEY)) return 'none';
  let kept = null;
  try {
    kept = JSON.parse(sessionStorage.getItem(ACCESS_KEY) || 'null');
  } catch {
    kept = null;
  }
  if (kept && typeof kept.token === 'string' && Number(kept.expiresAt) - REFRESH_MARGIN_MS > Date.now()) {
    accessToken = kept.token;
    accessExpiresAt = Number(kept.expiresAt);
    idClaims = kept.email ? { email: kept.email } : null;
    schedule();
    return 'ok';
  }
  try {
    await refresh();
    return 'ok';
  } catch (e) {
    if (e.kind === 'network') throw e;
    return 'ended';
  }
}

async function tokenRequest(params) {
  let res;
  try {
    res = await fetch(`${cfg.auth_base_url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: query(params),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new AuthError('network', 'Cannot reach the sign-in service. Check your network connection and try again.');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.access_token) {
    // invalid_grant: the code or the refresh token is used up, expired or revoked.
    const kind = body.error === 'invalid_grant' || res.status === 400 || res.status === 401 ? 'expired' : 'failed';
    throw new AuthError(kind, body.error_description || body.error || `The sign-in service answered ${res.status}.`);
  }
  return body;
}

function accept(tokens) {
  accessToken = tokens.access_token;
  const claims = decodeJwt(tokens.access_token) || {};
  // Lifetime from the answer (relative, so the local clock's offset does not matter).
  const lifetime = Number(tokens.expires_in) || (claims.exp && claims.iat ? claims.exp - claims.iat : 300);
  accessExpiresAt = Date.now() + lifetime * 1000;
  if (tokens.id_token) idClaims = decodeJwt(tokens.id_token);
  if (tokens.refresh_token) sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  sessionStorage.setItem(ACCESS_KEY, JSON.stringify({
    token: accessToken,
    expiresAt: accessExpiresAt,
    email: (idClaims && idClaims.email) || '',
  }));
  schedule();
}

function schedule() {
  window.clearTimeout(refreshTimer);
  const wait = Math.max(5000, accessExpiresAt - Date.now() - REFRESH_MARGIN_MS);
  refreshTimer = window.setTimeout(() => { refresh().catch(() => {}); }, wait);
}

/** Gets a new access token with the refresh token. One request at a time. */
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const token = sessionStorage.getItem(REFRESH_KEY);
      if (!token) {
        expire();
        throw new AuthError('expired', 'Your session has ended.');
      }
      try {
        accept(await tokenRequest({ grant_type: 'refresh_token', client_id: cfg.client_id, refresh_token: token }));
      } catch (e) {
        if (e.kind !== 'network') expire();
        throw e;
      }
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** A valid access token, refreshed first when it expires within the margin. */
export async function token() {
  if (accessToken && Date.now() < accessExpiresAt - REFRESH_MARGIN_MS) return accessToken;
  await refresh();
  return accessToken;
}

function forget() {
  accessToken = null;
  accessExpiresAt = 0;
  idClaims = null;
  window.clearTimeout(refreshTimer);
  sessionStorage.removeItem(REFRESH_KEY);
  sessionStorage.removeItem(ACCESS_KEY);
  sessionStorage.removeItem(SIGNIN_KEY);
}

/** The session is over (refresh refused, or the API refused a fresh token): forget it, tell. */
export function expire() {
  const was = accessToken !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
  forget();
  if (was) for (const fn of expiredListeners) fn();
}

/**
 * Signs out: revokes the refresh token (best effort, a few seconds at most), forgets every
 * token, then ends the hosted UI's session, which sends the browser back to the app.
 */
export async function signOut() {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  forget();
  if (refreshToken && cfg) {
    const abort = new AbortController();
    const timer = window.setTimeout(() => abort.abort(), 3000);
    try {
      await fetch(`${cfg.auth_base_url}/oauth2/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: query({ token: refreshToken, client_id: cfg.client_id }),
        credentials: 'omit',
        signal: abort.signal,
      });
    } catch {
      // Revocation is best effort: the token is forgotten here either way.
    } finally {
      window.clearTimeout(timer);
    }
  }
  window.location.assign(`${cfg.auth_base_url}/logout?${query({ client_id: cfg.client_id, logout_uri: appUrl() })}`);
}

