// S3 paths exactly as the API writes them: `s3://bucket/key`, a folder ends with `/`. Keys are
// literal byte strings: nothing here normalises, decodes or trims them.

/** 's3://b/a/b.txt' → { bucket: 'b', key: 'a/b.txt' }, or null. */
export function parse(path) {
  if (typeof path !== 'string' || !path.startsWith('s3://')) return null;
  const rest = path.slice(5);
  const i = rest.indexOf('/');
  const bucket = i < 0 ? rest : rest.slice(0, i);
  const key = i < 0 ? '' : rest.slice(i + 1);
  return bucket ? { bucket, key } : null;
}

export function format(bucket, key) {
  return `s3://${bucket}/${key}`;
}

export function isFolder(path) {
  const p = parse(path);
  return !!p && (p.key === '' || p.key.endsWith('/'));
}

/** The folder form of a path (`s3://b/a` → `s3://b/a/`). */
export function toFolder(path) {
  return isFolder(path) ? path : `${path}/`;
}

/** Whether a grant or deny on `rule` covers `path`: prefix on segment boundaries for a folder
 * rule (`reports/` covers `reports/x`, never `reports-private/x`), equality for an object. */
export function covers(rule, path) {
  const a = parse(rule);
  const b = parse(path);
  if (!a || !b || a.bucket !== b.bucket) return false;
  if (a.key === '' || a.key.endsWith('/')) return b.key.startsWith(a.key);
  return a.key === b.key;
}

/** The last segment: `s3://b/a/c/` → 'c', `s3://b/a/f.txt` → 'f.txt', `s3://b/` → 'b'. */
export function nameOf(path) {
  const p = parse(path);
  if (!p) return String(path);
  const k = p.key.endsWith('/') ? p.key.slice(0, -1) : p.key;
  return k ? k.slice(k.lastIndexOf('/') + 1) : p.bucket;
}

/** The folder holding `path` (`s3://b/a/c/` → `s3://b/a/`), or null at the bucket root. */
export function parentOf(path) {
  const p = parse(path);
  if (!p || p.key === '') return null;
  const k = p.key.endsWith('/') ? p.key.slice(0, -1) : p.key;
  const i = k.lastIndexOf('/');
  return format(p.bucket, i < 0 ? '' : k.slice(0, i + 1));
}

/** Breadcrumbs from the bucket down to `folder`: [{ name, path }]. */
export function crumbs(folder) {
  const p = parse(folder);
  if (!p) return [];
  const out = [{ name: p.bucket, path: format(p.bucket, '') }];
  const segments = p.key.split('/');
  let acc = '';
  for (let i = 0; i < segments.length - 1; i += 1) {
    acc += `${segments[i]}/`;
    out.push({ name: segments[i], path: format(p.bucket, acc) });
  }
  return out;
}

/** The rights in an access string from `/api/me` (`read`, `write`, `read-write`, `read+delete`…). */
export function rights(access) {
  const words = String(access || '').split('+');
  return {
    read: words.includes('read') || words.includes('read-write'),
    write: words.includes('write') || words.includes('read-write'),
  };
}

/**
 * Why a file name cannot become an S3 key here, or null when it can. The API refuses the same
 * names (empty, `.`, `..`, `/`, `\`, control characters); checking first gives a clearer message.
 */
export function badFileName(name) {
  if (!name || name === '.' || name === '..') return 'the name is empty or a dot name';
  if (name.includes('/') || name.includes('\\')) return 'the name contains a slash';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name contains control characters';
  if (new TextEncoder().encode(name).length > 900) return 'the name is too long';
  return null;
}
