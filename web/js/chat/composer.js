// The message composer: a textarea where Enter sends and Shift+Enter breaks the line, except
// while a Japanese IME is composing (isComposing or keyCode 229: Enter then confirms the
// conversion and never sends); @mention autocomplete from GET /users?q=; attachments by button,
// drag-and-drop and paste, uploaded at once and shown with thumbnails (local object URLs, kept in
// memory only). It does not post: onSubmit(text, fileIds) does.
import { h, clear, debounce } from './dom.js';
import { get, post, qs, enc, ApiError } from './api.js';
import { t, formatBytes } from '../i18n.js';

export class Composer {
  // opts: {room(): id, onSubmit(text, files) -> Promise, onTyping(), allowFiles, placeholderKey, onError(err), userName(id)}
  constructor(opts) {
    this.opts = opts;
    this.pending = []; // {file, url, id, state: 'up'|'ok'|'err', el}
    this.suggest = { items: [], index: 0, start: -1 };
    this.area = h('textarea.composer-input', { rows: 1, 'aria-label': t(opts.placeholderKey || 'composer.placeholder') });
    this.area.placeholder = t(opts.placeholderKey || 'composer.placeholder');
    this.list = h('ul.suggest', { role: 'listbox', hidden: true });
    this.files = h('div.pending-files', { hidden: true });
    this.fileInput = h('input', { type: 'file', multiple: true, hidden: true });
    this.sendBtn = h('button.btn.primary.send', { type: 'button', onclick: () => this.submit() }, t('composer.send'));
    this.attachBtn = opts.allowFiles ? h('button.btn.attach', { type: 'button', title: t('composer.attach'), 'aria-label': t('composer.attach'), onclick: () => this.fileInput.click() }, '＋') : null;
    this.note = h('div.composer-note', { hidden: true });
    this.row = h('div.composer-row', null, this.attachBtn, this.area, this.sendBtn);
    this.el = h('div.composer', null, this.note, this.list, this.files, this.row, this.fileInput);
    this.lastTyping = 0;

    this.area.addEventListener('keydown', (e) => this.onKey(e));
    this.area.addEventListener('input', () => { this.autosize(); this.onInput(); });
    this.fileInput.addEventListener('change', () => { this.addFiles([...this.fileInput.files]); this.fileInput.value = ''; });
    if (opts.allowFiles) {
      this.area.addEventListener('paste', (e) => {
        const files = [...(e.clipboardData?.files || [])];
        if (files.length) { e.preventDefault(); this.addFiles(files); }
      });
    }
    this.lookup = debounce((q) => this.fetchSuggestions(q), 120);
  }

  relabel() {
    this.area.placeholder = t(this.opts.placeholderKey || 'composer.placeholder');
    this.area.setAttribute('aria-label', this.area.placeholder);
    this.sendBtn.textContent = t('composer.send');
    if (this.attachBtn) this.attachBtn.title = t('composer.attach');
  }

  // Read-only rooms: the composer stays visible but disabled, with the reason above it.
  setDisabled(reasonKey) {
    const off = !!reasonKey;
    this.area.disabled = off;
    this.sendBtn.disabled = off;
    if (this.attachBtn) this.attachBtn.disabled = off;
    this.note.hidden = !off;
    this.note.textContent = off ? t(reasonKey) : '';
    this.el.classList.toggle('disabled', off);
  }

  focus() { if (!this.area.disabled) this.area.focus(); }

  autosize() {
    this.area.style.height = 'auto';
    this.area.style.height = Math.min(this.area.scrollHeight, 200) + 'px';
  }

  onKey(e) {
    // An IME is composing: Enter confirms the conversion, it must never send.
    if (e.isComposing || e.keyCode === 229) return;
    if (!this.list.hidden && this.suggest.items.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const n = this.suggest.items.length;
        this.suggest.index = (this.suggest.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
        this.drawSuggestions();
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') { e.preventDefault(); this.choose(this.suggest.index); return; }
      if (e.key === 'Escape') { e.preventDefault(); this.hideSuggestions(); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      this.submit();
    }
  }

  onInput() {
    const now = Date.now();
    if (this.opts.onTyping && this.area.value && now - this.lastTyping > 3000) {
      this.lastTyping = now;
      this.opts.onTyping();
    }
    const pos = this.area.selectionStart;
    const before = this.area.value.slice(0, pos);
    const m = /(^|\s)@([^\s@]{0,40})$/.exec(before);
    if (!m) return this.hideSuggestions();
    this.suggest.start = pos - m[2].length - 1;
    this.lookup(m[2]);
  }

  async fetchSuggestions(q) {
    try {
      const r = await get('/users' + qs({ q, limit: 8 }));
      // The text may have changed (or been sent) while the answer was on its way.
      const now = /(^|\s)@([^\s@]{0,40})$/.exec(this.area.value.slice(0, this.area.selectionStart));
      if (!now || now[2] !== q) return this.hideSuggestions();
      const items = r.users.map((u) => ({ id: u.id, label: u.name, sub: u.department }));
      for (const special of ['all', 'here']) if (special.startsWith(q.toLowerCase())) items.push({ id: special, label: t('mention.' + special), sub: '' });
      this.suggest.items = items;
      this.suggest.index = 0;
      this.drawSuggestions();
    } catch { this.hideSuggestions(); }
  }

  drawSuggestions() {
    clear(this.list);
    if (!this.suggest.items.length) return this.hideSuggestions();
    this.suggest.items.forEach((it, i) => {
      this.list.appendChild(h('li' + (i === this.suggest.index ? '.active' : ''), {
        role: 'option', 'aria-selected': String(i === this.suggest.index),
        onmousedown: (e) => { e.preventDefault(); this.choose(i); },
      }, h('b', null, '@' + it.id), ' ', h('span', null, it.label), it.sub ? h('small', null, ' ' + it.sub) : null));
    });
    this.list.hidden = false;
  }

  hideSuggestions() { this.list.hidden = true; this.suggest.items = []; }

  choose(i) {
    const it = this.suggest.items[i];
    if (!it) return;
    const v = this.area.value;
    const pos = this.area.selectionStart;
    const insert = '@' + it.id + ' ';
    this.area.value = v.slice(0, this.suggest.start) + insert + v.slice(pos);
    const caret = this.suggest.start + insert.length;
    this.area.setSelectionRange(caret, caret);
    this.hideSuggestions();
    this.area.focus();
  }

  addFiles(files) {
    if (!this.opts.allowFiles) return;
    for (const file of files) {
      const item = { file, url: file.type.startsWith('image/') ? URL.createObjectURL(file) : null, id: null, state: 'up' };
      item.el = h('div.pending', { title: file.name },
        item.url ? h('img.pending-thumb', { src: item.url, alt: file.name }) : h('span.pending-icon', null, '📎'),
        h('span.pending-name', null, file.name),
        h('span.pending-state', null, t('file.uploading')),
        h('button.linklike', { type: 'button', 'aria-label': t('common.remove'), onclick: () => this.removeFile(item) }, '×'));
      this.pending.push(item);
      this.files.appendChild(item.el);
      this.files.hidden = false;
      this.upload(item);
    }
  }

  async upload(item) {
    const stateEl = item.el.querySelector('.pending-state');
    try {
      const room = this.opts.room();
      const r = await post(`/rooms/${enc(room)}/files${qs({ name: item.file.name })}`, item.file);
      item.id = r.file.id;
      item.state = 'ok';
      stateEl.textContent = formatBytes(r.file.size ?? item.file.size);
      item.el.classList.add('done');
    } catch (err) {
      item.state = 'err';
      item.el.classList.add('failed');
      let key = 'file.failed';
      if (err instanceof ApiError) {
        if (err.status === 404 || err.status === 405) key = 'file.unavailable';
        else if (err.status === 413) key = 'file.too_large';
        else if (err.status === 415) key = 'file.bad_type';
      }
      stateEl.textContent = t(key);
    }
  }

  removeFile(item) {
    if (item.url) URL.revokeObjectURL(item.url);
    item.el.remove();
    this.pending = this.pending.filter((x) => x !== item);
    this.files.hidden = this.pending.length === 0;
  }

  clearFiles() { for (const it of [...this.pending]) this.removeFile(it); }

  // Clears the composer at once, so the next message can be typed while this one is on its
  // way; posts go out one after another in the order they were written. When a post fails or
  // is cancelled (the @all dialog), its text and files come back if the composer is still empty.
  submit() {
    if (this.area.disabled) return;
    if (this.pending.some((p) => p.state === 'up')) return; // wait for uploads
    const text = this.area.value.trim();
    const items = this.pending.filter((p) => p.state === 'ok');
    if (!text && !items.length) return;
    this.area.value = '';
    this.autosize();
    this.hideSuggestions();
    for (const it of items) it.el.remove();
    this.pending = this.pending.filter((p) => !items.includes(p));
    this.files.hidden = this.pending.length === 0;
    this.queue = (this.queue || Promise.resolve()).then(async () => {
      let sent = false;
      try {
        sent = (await this.opts.onSubmit(text, items.map((p) => p.id))) !== false;
      } catch (err) {
        if (this.opts.onError) this.opts.onError(err);
      }
      if (sent) {
        for (const it of items) if (it.url) URL.revokeObjectURL(it.url);
      } else if (!this.area.value && !this.pending.length) {
        this.area.value = text;
        this.autosize();
        for (const it of items) { this.pending.push(it); this.files.appendChild(it.el); }
        this.files.hidden = this.pending.length === 0;
      }
    });
    return this.queue;
  }
}
