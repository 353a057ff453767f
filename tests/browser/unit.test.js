// Unit tests of the web app's pure modules (no browser): S3 path handling and the CSV export.
// The modules are the very files the runtime embeds.

import { test } from 'node:test';
import assert from 'node:assert/strict';

const paths = await import('../../runtime/web/paths.js');
const audit = await import('../../runtime/web/audit.js');

test('paths: coverage is prefix on segment boundaries, equality for objects', () => {
  assert.equal(paths.covers('s3://b/reports/', 's3://b/reports/x.pdf'), true);
  assert.equal(paths.covers('s3://b/reports/', 's3://b/reports/'), true);
  assert.equal(paths.covers('s3://b/reports/', 's3://b/reports-private/x'), false);
  assert.equal(paths.covers('s3://b/reports/', 's3://other/reports/x'), false);
  assert.equal(paths.covers('s3://b/a.pdf', 's3://b/a.pdf'), true);
  assert.equal(paths.covers('s3://b/a.pdf', 's3://b/a.pdf/x'), false);
  assert.equal(paths.covers('s3://b/', 's3://b/anything'), true);
});

test('paths: keys stay literal (no decoding, no normalisation)', () => {
  assert.deepEqual(paths.parse('s3://b/a%2e%2e/x'), { bucket: 'b', key: 'a%2e%2e/x' });
  const nfd = 's3://b/cafe\u0301.pdf';
  const nfc = 's3://b/caf\u00e9.pdf';
  assert.equal(paths.covers(nfc, nfd), false);
  assert.equal(paths.nameOf(nfd), 'cafe\u0301.pdf');
  assert.equal(paths.parse('https://b/x'), null);
  assert.equal(paths.parse('s3:///x'), null);
});

test('paths: names, parents, folders and breadcrumbs', () => {
  assert.equal(paths.nameOf('s3://b/a/c/'), 'c');
  assert.equal(paths.nameOf('s3://b/a/f.txt'), 'f.txt');
  assert.equal(paths.nameOf('s3://b/'), 'b');
  assert.equal(paths.parentOf('s3://b/a/c/'), 's3://b/a/');
  assert.equal(paths.parentOf('s3://b/a/'), 's3://b/');
  assert.equal(paths.parentOf('s3://b/'), null);
  assert.equal(paths.toFolder('s3://b/a'), 's3://b/a/');
  assert.equal(paths.isFolder('s3://b/'), true);
  assert.deepEqual(paths.crumbs('s3://b/a/c/'), [
    { name: 'b', path: 's3://b/' },
    { name: 'a', path: 's3://b/a/' },
    { name: 'c', path: 's3://b/a/c/' },
  ]);
});

test('paths: rights of access strings', () => {
  assert.deepEqual(paths.rights('read'), { read: true, write: false });
  assert.deepEqual(paths.rights('write'), { read: false, write: true });
  assert.deepEqual(paths.rights('read-write'), { read: true, write: true });
  assert.deepEqual(paths.rights('read-write+delete'), { read: true, write: true });
  assert.deepEqual(paths.rights('delete'), { read: false, write: false });
});

test('paths: file names the API would refuse are caught first', () => {
  for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'x\u0000y', 'tab\there', 'x'.repeat(901)]) {
    assert.notEqual(paths.badFileName(bad), null, JSON.stringify(bad));
  }
  for (const good of ['report.pdf', 'café.pdf', 'a b (1).txt', '..hidden', '%2e%2e']) {
    assert.equal(paths.badFileName(good), null, good);
  }
});

test('csv: RFC 4180 quoting and no formula execution in spreadsheets', () => {
  assert.equal(audit.csvField('plain'), 'plain');
  assert.equal(audit.csvField('a,b'), '"a,b"');
  assert.equal(audit.csvField('say "hi"'), '"say ""hi"""');
  assert.equal(audit.csvField('two\nlines'), '"two\nlines"');
  assert.equal(audit.csvField(null), '');
  assert.equal(audit.csvField(403), '403');
  for (const f of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) {
    assert.ok(audit.csvField(f).replace(/^"/, '').startsWith("'"), f);
  }
  const csv = audit.toCsv([{
    time: '2026-12-04T10:00:00.000Z', id: '01J', user: { sub: 's-1', username: 'u' }, groups: ['staff', 'x'],
    action: 'download', bucket: 'b', key: 'reports/a,b.txt', outcome: 'allow', basis: 'grant',
    rule: { group: 'staff', kind: 'grant', path: 's3://b/reports/', access: 'read' },
    reason: 'allowed: read', status: 200, request_id: 'r-1',
  }]);
  const [head, row, end] = csv.split('\r\n');
  assert.equal(head.split(',')[0], 'time');
  assert.equal(end, '');
  assert.match(row, /^2026-12-04T10:00:00.000Z,01J,s-1,u,,staff x,download,b,"reports\/a,b.txt",allow,grant,staff,grant,s3:\/\/b\/reports\/,read,allowed: read,200,,,r-1,$/);
});
