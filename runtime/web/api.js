// The BucketDrive API (same origin, `/api/…`), with the access token, one retry after a
// refresh on 401, and errors turned into sentences people can act on.

import * as auth from './auth.js';

export class ApiError extends Error {
  /**
   * kind: 'network' | 'expired' | 'denied' | 'notfound' | 'conflict' | 'toolarge' |
   * 'unavailable' | 'bad' | 'failed'. `detail` is the server's own message.
   */
  constructor(kind, message, { status = 0, detail = '', requestId = '' } = {}) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = status;
    this.detail = detail;
    this.requestId = requestId;
  }
}

const KINDS = {
  400: 'bad', 401: 'expired', 403: 'denied', 404: 'notfound', 405: 'bad',
  409: 'conflict', 413: 'toolarge', 503: 'unavailable',
};

const SENTENCES = {
  network: "Can't reach BucketDrive. Check your network connection and try again.",
  expired: 'Your session has expired. Sign in again to continue.',
  denied: "You don't have access to this.",
  notfound: 'It does not exist (any more).',
  conflict: 'A file with this name already exists.',
  toolarge: 'This is larger than this deployment accepts.',
  unavailable: 'BucketDrive is briefly unavailable. Nothing was changed; try again in a moment.',
  bad: 'BucketDrive could not accept this request.',
  failed: 'Something went wrong.',
};

/** The sentence for an error of any kind (ApiError, AuthError or other). */
export function describe(err) {
  if (err && err.name === 'AuthError') {
    return err.kind === 'network' ? SENTENCES.network : err.kind === 'expired' ? SENTENCES.expired : err.message;
  }
  if (err && err.name === 'ApiError') return err.message;
  return SENTENCES.failed;
}

function toApiError(err) {
  if (err && err.name === 'AuthError') {
    return new ApiError(err.kind === 'network' ? 'network' : 'expired', describe(err), { detail: err.message });
  }
  return err;
}

/**
 * call('GET', '/api/ls', { query: { path } }) or call('POST', '/api/download', { body: {…} }).
 * Resolves to the parsed JSON; rejects with an ApiError.
 */
export async function call(method, path, { query, body, signal } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const text = q.toString();
    if (text) url += `?${text}`;
  }
  for (let attempt = 0; ; attempt += 1) {
    let token;
    try {
      token = attempt === 0 ? await auth.token() : (await auth.refresh(), await auth.token());
    } catch (e) {
      throw toApiError(e);
    }
    let res;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        signal,
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError('network', SENTENCES.network);
    }
    // A 401 may be a token that expired on the way: refresh once and retry.
    if (res.status === 401 && attempt === 0) continue;
    const data = await res.json().catch(() => null);
    if (res.ok && data !== null) return data;
    if (res.status === 401) {
      auth.expire();
      throw new ApiError('expired', SENTENCES.expired, { status: 401 });
    }
    const kind = KINDS[res.status] || (res.status >= 500 ? 'unavailable' : 'failed');
    const detail = (data && (data.message || data.error)) || '';
    throw new ApiError(kind, SENTENCES[kind], {
      status: res.status,
      detail,
      requestId: (data && data.request_id) || res.headers.get('apigw-requestid') || '',
    });
  }
}
