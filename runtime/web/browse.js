// The file browser: entry points, breadcrumbs, a folder's folders and files with paging and a
// filter, downloads through pre-signed URLs, uploads (button and drag-and-drop) where the caller
// holds a write grant.

import {
  h, fill, formatSize, formatTime, announce, download,
} from './dom.js';
import { call } from './api.js';
import * as paths from './paths.js';
import { uploadFile } from './upload.js';

const PAGE_SIZE = 200;

/** `#/browse?path=s3://b/a/` (slashes and colons kept readable; everything else encoded). */
export function browseHref(path, extra = {}) {
  const enc = (v) => encodeURIComponent(v).replace(/%2F/g, '/').replace(/%3A/g, ':');
  const parts = [`path=${enc(path)}`];
  for (const [k, v] of Object.entries(extra)) if (v) parts.push(`${k}=${enc(String(v))}`);
  return `#/browse?${parts.join('&')}`;
}

function badges(entry) {
  const out = [];
  if (entry.read && entry.write) out.push(h('span', { class: 'badge rw', text: 'Read & upload' }));
  else if (entry.read) out.push(h('span', { class: 'badge r', text: 'Read only' }));
  else if (entry.write) out.push(h('span', { class: 'badge w', text: 'Upload only' }));
  return out;
}

/** The list of entry points (home page and the side navigation). */
function entryList(session, current, compact) {
  if (session.entries.length === 0) {
    return h('p', { class: 'empty' }, 'No folders are shared with you yet. Ask your administrator to grant one of your groups access.');
  }
  return h('ul', { class: compact ? 'entry-list compact' : 'entry-list' },
    session.entries.map((e) => {
      const inner = [
        h('span', { class: `icon ${e.file ? 'file' : 'folder'}`, 'aria-hidden': 'true' }),
        h('span', { class: 'entry-text' },
          h('span', { class: 'entry-name', text: e.label }),
          h('span', { class: 'entry-path', text: e.path }),
          h('span', { class: 'entry-badges' }, e.file ? h('span', { class: 'badge r', text: 'File' }) : badges(e))),
      ];
      if (e.file) {
        // A grant on one object: nothing to browse, it downloads.
        const button = h('button', { type: 'button', class: 'entry entry-file', 'aria-label': `Download ${e.label}` }, inner);
        button.addEventListener('click', () => downloadPath(session, e.path, e.label, button));
        return h('li', {}, button);
      }
      const here = current && paths.covers(e.path, current);
      return h('li', {},
        h('a', { href: browseHref(e.path), class: 'entry', 'aria-current': here ? 'true' : null }, inner));
    }));
}

/** Asks the API for a download URL and lets the browser fetch it. `signal` cancels the ask. */
export async function downloadPath(session, path, name, button, signal) {
  if (button) button.disabled = true;
  try {
    const r = await call('POST', '/api/download', { body: { path }, signal });
    download(r.url, r.name || name);
    announce(`Downloading ${r.name || name} (${formatSize(r.size)}).`);
  } catch (e) {
    if (e.name === 'AbortError') return;
    if (e.kind === 'denied') {
      session.report(e, null, `You can't download ${name}.`);
    } else {
      session.report(e, () => downloadPath(session, path, name, button, signal));
    }
  } finally {
    if (button) button.disabled = false;
  }
}

export function renderHome(main, session) {
  const title = h('h1', { text: 'Your folders' });
  fill(main,
    h('section', { class: 'home' },
      title,
      h('p', { class: 'lede', text: 'The folders your groups can open or upload to. Files download straight from your organisation\'s storage.' }),
      entryList(session, null, false),
      session.me.admin
        ? h('p', { class: 'admin-hint' }, 'You are an administrator: ', h('a', { href: '#/audit' }, 'open the audit log'), '.')
        : null));
  return { title };
}

function breadcrumbs(folder) {
  const list = paths.crumbs(folder);
  return h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' },
    h('ol', {},
      h('li', {}, h('a', { href: '#/' }, 'Home')),
      list.map((c, i) => h('li', {},
        i === list.length - 1
          ? h('span', { 'aria-current': 'page', text: c.name })
          : h('a', { href: browseHref(c.path) }, c.name)))));
}

/** Renders one folder. Returns { title, dispose } for the router. */
export function renderBrowse(main, session, route) {
  const folder = paths.toFolder(route.params.get('path') || '');
  if (!paths.parse(folder)) {
    return renderHome(main, session);
  }
  const limit = Math.min(1000, Math.max(1, Number(route.params.get('limit')) || PAGE_SIZE));
  const access = session.access(folder);
  const listable = access.read || session.leadsToRead(folder) || !access.write;
  const aborter = new AbortController();

  let folders = [];
  let files = [];
  let cursor = null;
  let loaded = false;
  let filterText = '';

  const title = h('h1', { id: 'folder-title', text: paths.nameOf(folder) });
  const rights = [];
  if (access.read) rights.push('You can open and download files here.');
  if (access.write) rights.push(access.read ? 'You can upload here.' : 'Upload only: you can add files here but not see what the folder holds.');
  const subtitle = h('p', { class: 'folder-meta' },
    h('span', { class: 'mono path', text: folder }),
    rights.length ? h('span', { class: 'rights', text: ` ${rights.join(' ')}` }) : null);

  // ---- listing
  const filterInput = h('input', {
    id: 'filter', type: 'search', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'Name contains…', 'aria-describedby': 'filter-count',
  });
  const filterCount = h('span', { id: 'filter-count', class: 'muted' });
  const refreshButton = h('button', { type: 'button', class: 'secondary', id: 'refresh' }, 'Refresh');
  const fileInput = h('input', { type: 'file', multiple: true, hidden: true, id: 'file-input', tabindex: '-1', 'aria-hidden': 'true' });
  const uploadButton = access.write
    ? h('button', { type: 'button', class: 'primary', id: 'upload-button' }, 'Upload files')
    : null;
  const tbody = h('tbody', {});
  const table = h('table', { class: 'listing', id: 'listing', 'aria-busy': 'true' },
    h('caption', { class: 'visually-hidden', text: `Contents of ${paths.nameOf(folder)}` }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Name' }),
      h('th', { scope: 'col', class: 'num', text: 'Size' }),
      h('th', { scope: 'col', text: 'Last modified' }),
      h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'visually-hidden', text: 'Actions' })))),
    tbody);
  const moreButton = h('button', { type: 'button', class: 'secondary', id: 'load-more', hidden: true }, 'Load more');
  const listingMessage = h('div', { class: 'listing-message', id: 'listing-message' });
  const listingSection = listable
    ? h('section', { class: 'listing-section', 'aria-labelledby': 'folder-title' },
      h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Folder actions' },
        h('div', { class: 'filter' },
          h('label', { for: 'filter', text: 'Filter' }), filterInput, filterCount),
        h('div', { class: 'toolbar-buttons' }, refreshButton, uploadButton)),
      table, listingMessage, h('div', { class: 'more' }, moreButton))
    : null;

  // ---- uploads
  const uploadList = h('ul', { class: 'upload-list', id: 'upload-list' });
  const uploadsTitle = h('h2', { id: 'uploads-title', text: listable ? 'Uploads' : 'Uploaded in this session' });
  const uploadsSection = h('section', { class: 'uploads', 'aria-labelledby': 'uploads-title', hidden: listable },
    uploadsTitle, uploadList);
  const dropHint = access.write
    ? h('div', { class: listable ? 'dropzone overlay' : 'dropzone', id: 'dropzone', hidden: listable },
      h('p', {}, listable ? `Drop files to upload them to ${paths.nameOf(folder)}` : 'Drag files here to upload them, or'),
      listable ? null : h('button', { type: 'button', class: 'primary', id: 'choose-files' }, 'Choose files'))
    : null;

  const content = h('div', { class: 'folder-view' },
    breadcrumbs(folder),
    h('div', { class: 'folder-head' }, title, subtitle),
    listingSection,
    listable ? null : dropHint,
    uploadsSection,
    fileInput);
  const layout = h('div', { class: 'layout' },
    h('nav', { class: 'side', 'aria-label': 'Your folders' },
      h('h2', { class: 'side-title', text: 'Your folders' }),
      entryList(session, folder, true)),
    content);
  if (listable && dropHint) content.append(dropHint);
  fill(main, layout);

  // ---- rendering rows
  function visible(list) {
    if (!filterText) return list;
    const f = filterText.toLocaleLowerCase();
    return list.filter((e) => e.name.toLocaleLowerCase().includes(f));
  }

  function folderRow(f) {
    return h('tr', { class: 'folder-row' },
      h('td', { class: 'name' },
        h('a', { href: browseHref(f.path), class: 'folder-link' },
          h('span', { class: 'icon folder', 'aria-hidden': 'true' }),
          h('span', { text: f.name }),
          h('span', { class: 'visually-hidden', text: ' (folder)' }))),
      h('td', { class: 'num size' }, h('span', { 'aria-hidden': 'true', text: '—' })),
      h('td', { class: 'modified' }),
      h('td', { class: 'actions' }));
  }

  function fileRow(f) {
    const button = h('button', {
      type: 'button', class: 'secondary small', 'aria-label': `Download ${f.name}`,
      'data-path': f.path,
    }, 'Download');
    button.addEventListener('click', () => startDownload(f, button));
    return h('tr', { class: 'file-row' },
      h('td', { class: 'name' },
        h('span', { class: 'file-name' },
          h('span', { class: 'icon file', 'aria-hidden': 'true' }),
          h('span', { text: f.name }))),
      h('td', { class: 'num size', text: formatSize(f.size) }),
      h('td', { class: 'modified' }, f.last_modified
        ? h('time', { datetime: f.last_modified, text: formatTime(f.last_modified) })
        : null),
      h('td', { class: 'actions' }, button));
  }

  function renderRows() {
    const vf = visible(folders);
    const vfiles = visible(files);
    fill(tbody, vf.map(folderRow), vfiles.map(fileRow));
    const total = folders.length + files.length;
    const shown = vf.length + vfiles.length;
    if (!loaded) {
      filterCount.textContent = '';
    } else if (filterText) {
      filterCount.textContent = `${shown} of ${total}${cursor ? ' loaded' : ''} match`;
    } else {
      filterCount.textContent = `${total} item${total === 1 ? '' : 's'}${cursor ? ' loaded' : ''}`;
    }
    if (loaded && total === 0) {
      fill(listingMessage, h('p', { class: 'empty', text: 'This folder is empty.' }));
    } else if (loaded && shown === 0) {
      fill(listingMessage, h('p', { class: 'empty', text: `Nothing loaded here matches “${filterText}”.${cursor ? ' Load more to search further.' : ''}` }));
    } else {
      fill(listingMessage);
    }
    moreButton.hidden = !cursor;
  }

  function showProblem(err, retry) {
    if (err.kind === 'denied') {
      fill(listingMessage,
        h('div', { class: 'problem denied', id: 'denied', role: 'alert' },
          h('h2', { text: "You don't have access to this folder" }),
          h('p', { text: 'None of your groups is granted this folder. If you need it, ask your administrator.' }),
          err.detail ? h('p', { class: 'detail', text: `BucketDrive said: ${err.detail}` }) : null,
          h('p', {}, h('a', { href: '#/' }, 'Back to your folders'))));
      table.hidden = true;
      filterInput.disabled = true;
      return;
    }
    session.report(err, retry);
  }

  async function load(reset) {
    if (reset) {
      cursor = null;
    }
    table.setAttribute('aria-busy', 'true');
    moreButton.disabled = true;
    refreshButton.disabled = true;
    try {
      const r = await call('GET', '/api/ls', {
        query: { path: folder, cursor: reset ? null : cursor, limit },
        signal: aborter.signal,
      });
      if (reset) {
        folders = [];
        files = [];
      }
      folders = folders.concat(r.folders || []);
      files = files.concat(r.files || []);
      cursor = r.cursor || null;
      loaded = true;
      table.hidden = false;
      filterInput.disabled = false;
      renderRows();
      const total = folders.length + files.length;
      announce(reset
        ? `${paths.nameOf(folder)}: ${total} item${total === 1 ? '' : 's'}${cursor ? ', more to load' : ''}.`
        : `Loaded more: ${total} items${cursor ? ', more to load' : ''}.`);
    } catch (e) {
      if (e.name === 'AbortError') return;
      showProblem(e, () => load(reset));
    } finally {
      table.setAttribute('aria-busy', 'false');
      moreButton.disabled = false;
      refreshButton.disabled = false;
    }
  }

  function startDownload(f, button) {
    return downloadPath(session, f.path, f.name, button, aborter.signal);
  }

  // ---- uploads
  const maxBytes = session.me.limits ? session.me.limits.max_upload_bytes : Infinity;

  function uploadItem(file) {
    const progress = h('progress', { max: String(Math.max(file.size, 1)), value: '0', 'aria-label': `Upload of ${file.name}` });
    const state = h('span', { class: 'upload-state', text: 'Waiting…' });
    const actions = h('span', { class: 'upload-actions' });
    const li = h('li', { class: 'upload-item', 'data-name': file.name },
      h('span', { class: 'upload-name', text: file.name }),
      h('span', { class: 'upload-size muted', text: formatSize(file.size) }),
      progress, state, actions);
    uploadList.prepend(li);
    uploadsSection.hidden = false;
    return { li, progress, state, actions };
  }

  async function uploadOne(file, item, overwrite) {
    const { li, progress, state, actions } = item;
    fill(actions);
    li.className = 'upload-item active';
    state.textContent = 'Uploading…';
    try {
      let lastPct = -1;
      // Not tied to the view's abort signal: an upload goes on when the person browses away.
      session.uploads.started();
      await uploadFile(file, folder, {
        overwrite,
        onProgress: (sent, total) => {
          progress.value = sent;
          const pct = total ? Math.floor((sent / total) * 100) : 100;
          if (pct !== lastPct) {
            lastPct = pct;
            state.textContent = `Uploading… ${pct}%`;
          }
        },
      });
      progress.value = Math.max(file.size, 1);
      li.className = 'upload-item done';
      state.textContent = 'Uploaded';
      announce(`Uploaded ${file.name}.`);
      return true;
    } catch (e) {
      if (e.name === 'AbortError' || e.kind === 'aborted') return false;
      li.className = 'upload-item failed';
      state.textContent = '';
      if (e.kind === 'conflict') {
        state.textContent = 'A file with this name already exists here.';
        fill(actions,
          h('button', {
            type: 'button', class: 'secondary small', 'aria-label': `Replace ${file.name}`,
            onclick: () => uploadOne(file, item, true).then((ok) => ok && listable && load(true)),
          }, 'Replace'),
          h('button', {
            type: 'button', class: 'secondary small', 'aria-label': `Skip ${file.name}`,
            onclick: () => { li.remove(); },
          }, 'Skip'));
        announce(`${file.name} already exists. Replace it or skip it.`);
      } else if (e.kind === 'denied') {
        state.textContent = `Refused: you can't upload here.${e.detail ? ` (${e.detail})` : ''}`;
        announce(`Upload of ${file.name} refused.`);
      } else if (e.kind === 'expired') {
        state.textContent = 'Not uploaded: your session has expired.';
        session.report(e);
      } else {
        state.textContent = `Failed: ${e.message}${e.detail ? ` (${e.detail})` : ''}`;
        fill(actions, h('button', {
          type: 'button', class: 'secondary small', 'aria-label': `Retry ${file.name}`,
          onclick: () => uploadOne(file, item, overwrite).then((ok) => ok && listable && load(true)),
        }, 'Retry'));
        announce(`Upload of ${file.name} failed: ${e.message}`);
      }
      return false;
    } finally {
      session.uploads.finished();
    }
  }

  async function uploadAll(fileList) {
    const list = Array.from(fileList || []);
    if (list.length === 0) return;
    if (!access.write) {
      session.report({ kind: 'denied', message: `You can't upload to ${paths.nameOf(folder)}: none of your groups may write here.` });
      return;
    }
    const items = list.map((f) => [f, uploadItem(f)]);
    let any = false;
    for (const [file, item] of items) {
      const bad = paths.badFileName(file.name);
      if (bad) {
        item.li.className = 'upload-item failed';
        item.state.textContent = `Not uploaded: ${bad}.`;
        continue;
      }
      if (file.size > maxBytes) {
        item.li.className = 'upload-item failed';
        item.state.textContent = `Not uploaded: larger than the ${formatSize(maxBytes)} this deployment accepts.`;
        continue;
      }
      // eslint-disable-next-line no-await-in-loop
      if (await uploadOne(file, item, false)) any = true;
    }
    if (any && listable) await load(true);
  }

  // ---- wiring
  filterInput.addEventListener('input', () => {
    filterText = filterInput.value.trim();
    renderRows();
  });
  refreshButton.addEventListener('click', () => load(true));
  moreButton.addEventListener('click', () => load(false));
  if (uploadButton) uploadButton.addEventListener('click', () => fileInput.click());
  const choose = content.querySelector('#choose-files');
  if (choose) choose.addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', () => {
    const chosen = Array.from(fileInput.files || []);
    fileInput.value = '';
    uploadAll(chosen);
  });

  // Drag and drop: anywhere on the folder view. Dropping elsewhere never opens the file in the
  // tab (the app-wide handler in app.js prevents that).
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
  content.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth += 1;
    content.classList.add(access.write ? 'dragging' : 'drag-refused');
    if (dropHint && listable) dropHint.hidden = false;
  });
  content.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = access.write ? 'copy' : 'none';
  });
  const endDrag = () => {
    depth = 0;
    content.classList.remove('dragging', 'drag-refused');
    if (dropHint && listable) dropHint.hidden = true;
  };
  content.addEventListener('dragleave', () => {
    depth -= 1;
    if (depth <= 0) endDrag();
  });
  content.addEventListener('drop', (e) => {
    e.preventDefault();
    endDrag();
    uploadAll(e.dataTransfer ? e.dataTransfer.files : []);
  });

  if (listable) load(true);
  else announce(`${paths.nameOf(folder)}: upload only.`);

  return { title, dispose: () => aborter.abort() };
}
