// Uploads: ask the API for a pre-signed plan, then send the bytes straight to S3.
//
// - A single PUT sends exactly the headers the API signed (content-type) and the file itself,
//   so the browser's content-length is the exact size the API signed.
// - Above the API's threshold the plan is multipart: parts go up three at a time, each part's
//   ETag (exposed by the bucket's CORS rules) goes into the completion request, and a failed
//   upload is aborted so no parts linger.
// XMLHttpRequest rather than fetch: only it reports upload progress.

import { call, ApiError } from './api.js';

const PART_CONCURRENCY = 3;

export class UploadError extends Error {
  constructor(kind, message, detail = '') {
    super(message);
    this.name = 'UploadError';
    this.kind = kind;
    this.detail = detail;
  }
}

/** The S3 error code and message in an XML error body, if any. */
function s3Error(text) {
  const code = /<Code>([^<]*)<\/Code>/.exec(text || '');
  const msg = /<Message>([^<]*)<\/Message>/.exec(text || '');
  return code ? `${code[1]}${msg ? `: ${msg[1]}` : ''}` : '';
}

function send(method, url, body, headers, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
    if (onProgress) xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(xhr);
        return;
      }
      const detail = s3Error(xhr.responseText) || `S3 answered ${xhr.status}`;
      const kind = xhr.status === 403 ? 'refused' : 'failed';
      const message = xhr.status === 403
        ? 'Storage refused the upload (the upload link may have expired). Try again.'
        : 'Storage did not accept the upload. Try again.';
      reject(new UploadError(kind, message, detail));
    });
    xhr.addEventListener('error', () => reject(new UploadError('network', "The upload could not reach storage. Check your network connection and try again.")));
    xhr.addEventListener('abort', () => reject(new UploadError('aborted', 'The upload was cancelled.')));
    if (signal) {
      if (signal.aborted) {
        reject(new UploadError('aborted', 'The upload was cancelled.'));
        return;
      }
      signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(body);
  });
}

function xmlEscape(s) {
  return String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]));
}

async function multipart(file, plan, onProgress, signal) {
  const { part_size: partSize, parts } = plan;
  const loaded = new Array(parts.length).fill(0);
  const done = new Array(parts.length);
  const report = () => onProgress && onProgress(loaded.reduce((a, b) => a + b, 0));
  let next = 0;
  const worker = async () => {
    while (next < parts.length) {
      const i = next;
      next += 1;
      const part = parts[i];
      const start = (part.part_number - 1) * partSize;
      const blob = file.slice(start, Math.min(start + partSize, file.size));
      const xhr = await send('PUT', part.url, blob, {}, (n) => { loaded[i] = n; report(); }, signal);
      const etag = xhr.getResponseHeader('ETag');
      if (!etag) {
        throw new UploadError('failed', 'Storage did not return the part checksum (ETag); the bucket\'s CORS rules must expose ETag.');
      }
      loaded[i] = blob.size;
      report();
      done[i] = { n: part.part_number, etag };
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, parts.length) }, worker));
    const xml = '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
      + done.map((p) => `<Part><PartNumber>${p.n}</PartNumber><ETag>${xmlEscape(p.etag)}</ETag></Part>`).join('')
      + '</CompleteMultipartUpload>';
    const xhr = await send(plan.complete.method, plan.complete.url, xml, { 'content-type': 'application/xml' }, null, signal);
    // CompleteMultipartUpload can fail with 200 and an <Error> body.
    if (/<Error>/.test(xhr.responseText || '')) {
      throw new UploadError('failed', 'Storage could not assemble the uploaded parts. Try again.', s3Error(xhr.responseText));
    }
  } catch (e) {
    send(plan.abort.method, plan.abort.url, null, {}, null, null).catch(() => {});
    throw e;
  }
}

/**
 * Uploads `file` into `folder` (an s3://…/ path). onProgress(bytesSent, total).
 * Rejects with an ApiError (refused, exists, too large…) or an UploadError (the transfer).
 */
export async function uploadFile(file, folder, { overwrite = false, onProgress, signal } = {}) {
  const path = `${folder}${file.name}`;
  const contentType = file.type || 'application/octet-stream';
  const plan = await call('POST', '/api/upload', {
    body: { path, size: file.size, content_type: contentType, overwrite },
    signal,
  });
  const progress = onProgress ? (n) => onProgress(Math.min(n, file.size), file.size) : null;
  if (plan.multipart) {
    await multipart(file, plan.multipart, progress, signal);
  } else if (plan.url) {
    await send(plan.method || 'PUT', plan.url, file, plan.headers || {}, progress, signal);
  } else {
    throw new ApiError('failed', 'The upload plan was not understood.');
  }
  if (progress) progress(file.size);
  return plan.path || path;
}
