// A scrolling list of messages of one room (the room view, a thread panel, or helpdesk notes):
// paging backwards with ?before= when scrolled to the top, forwards with ?after= when opened in
// the middle (a search hit), live inserts and in-place updates. Rendering uses textContent only.
// It does not post or know about the WebSocket: the app feeds it frames and gives it actions.
import { h, clear, initials } from './dom.js';
import { get, enc, fileUrl } from './api.js';
import { t, formatTime, formatDate, formatDateTime, formatBytes } from '../i18n.js';

const PAGE = 50;
export const QUICK_REACTIONS = ['👍', '❤️', '😄', '🎉', '🙏', '👀', '✅'];
const TOKEN_RE = /(@[a-z0-9][a-z0-9._-]*[a-z0-9_]|@[a-z0-9]|https?:\/\/[^\s<>"]+)/gi;

// Message text as nodes: mentions highlighted, http(s) links clickable, everything else plain text.
export function renderText(text, msg, me) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN_RE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const tok = m[0];
    if (tok[0] === '@') {
      const id = tok.slice(1).toLowerCase();
      const known = id === 'all' || id === 'here' || (msg.mentions || []).includes(id) || id === me;
      out.push(known ? h('span.mention' + (id === me || id === 'all' || id === 'here' ? '.me' : ''), null, tok) : tok);
    } else {
      out.push(h('a', { href: tok, target: '_blank', rel: 'noopener noreferrer' }, tok));
    }
    last = m.index + tok.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export class MessageList {
  // opts: {room, mode: 'main'|'thread'|'notes', root (thread seq), ctx}
  // ctx: {me(), userName(id), room(id), canModerate(room), actions: {...}, onRendered()}
  constructor(opts) {
    this.room = opts.room;
    this.mode = opts.mode || 'main';
    this.root = opts.root || 0;
    this.ctx = opts.ctx;
    this.msgs = new Map();
    this.els = new Map();
    this.moreBefore = false;
    this.moreAfter = false;
    this.loading = false;
    this.el = h('div.messages', { tabindex: '0', role: 'log', 'aria-live': 'polite', dataset: { room: this.room } });
    this.list = h('div.msg-list');
    this.topNote = h('div.list-note', { hidden: true });
    this.el.append(this.topNote, this.list);
    this.el.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.lastSeq = 0;
  }

  path(q) { return `/rooms/${enc(this.room)}/messages${q}`; }

  accepts(m) {
    if (m.room !== this.room) return false;
    if (this.mode === 'thread') return m.seq === this.root || m.thread === this.root;
    return !m.thread;
  }

  async loadLatest() {
    this.loading = true;
    try {
      if (this.mode === 'thread') {
        const r = await get(`/rooms/${enc(this.room)}/messages/${this.root}/thread?limit=200`);
        this.reset(r.messages, false, false);
      } else {
        const r = await get(this.path(`?limit=${PAGE}`));
        this.lastSeq = r.last_seq;
        this.reset(r.messages, r.more, false);
      }
      this.scrollToBottom();
    } finally { this.loading = false; }
  }

  // Opens the list around one message (a search hit): the page before it and the page after.
  async jumpTo(seq) {
    this.loading = true;
    try {
      const [before, after] = await Promise.all([
        get(this.path(`?before=${seq + 1}&limit=25`)),
        get(this.path(`?after=${seq}&limit=25`)),
      ]);
      this.lastSeq = Math.max(before.last_seq, after.last_seq);
      this.reset([...before.messages, ...after.messages], before.more, after.more);
      const target = this.els.get(seq);
      if (target) {
        target.classList.add('highlight');
        target.scrollIntoView({ block: 'center' });
      }
    } finally { this.loading = false; }
  }

  reset(messages, moreBefore, moreAfter) {
    this.msgs.clear();
    this.els.clear();
    clear(this.list);
    this.moreBefore = moreBefore;
    this.moreAfter = moreAfter;
    const frag = document.createDocumentFragment();
    for (const m of messages) {
      if (!this.accepts(m)) continue;
      this.msgs.set(m.seq, m);
      const el = this.render(m);
      this.els.set(m.seq, el);
      frag.appendChild(el);
    }
    this.list.appendChild(frag);
    this.markDays();
    this.updateNote();
  }

  // A date line before the first message of each day (rebuilt after every change: a page is
  // at most a few hundred elements).
  markDays() {
    for (const el of this.list.querySelectorAll(':scope > .day-sep')) el.remove();
    let prev = null;
    for (const el of [...this.list.children]) {
      const day = el.dataset.day;
      if (day !== prev) this.list.insertBefore(h('div.day-sep', { role: 'separator' }, h('span', null, formatDate(Number(el.dataset.ts)))), el);
      prev = day;
    }
  }

  updateNote() {
    this.topNote.hidden = this.moreBefore || this.mode !== 'main';
    this.topNote.textContent = t('room.start');
  }

  sortedSeqs() { return [...this.msgs.keys()].sort((a, b) => a - b); }
  firstSeq() { const s = this.sortedSeqs(); return s.length ? s[0] : 0; }
  newestSeq() { const s = this.sortedSeqs(); return s.length ? s[s.length - 1] : 0; }

  async loadOlder() {
    if (this.loading || !this.moreBefore || this.mode === 'thread') return;
    this.loading = true;
    try {
      const first = this.firstSeq();
      const r = await get(this.path(`?before=${first}&limit=${PAGE}`));
      const oldHeight = this.el.scrollHeight;
      const frag = document.createDocumentFragment();
      for (const m of r.messages) {
        if (!this.accepts(m) || this.msgs.has(m.seq)) continue;
        this.msgs.set(m.seq, m);
        const el = this.render(m);
        this.els.set(m.seq, el);
        frag.appendChild(el);
      }
      this.list.insertBefore(frag, this.list.firstChild);
      this.markDays();
      this.moreBefore = r.more;
      this.updateNote();
      this.el.scrollTop += this.el.scrollHeight - oldHeight;
    } finally { this.loading = false; }
  }

  async loadNewer() {
    if (this.loading || !this.moreAfter) return;
    this.loading = true;
    try {
      const r = await get(this.path(`?after=${this.newestSeq()}&limit=${PAGE}`));
      for (const m of r.messages) this.insert(m);
      this.moreAfter = r.more;
    } finally { this.loading = false; }
  }

  onScroll() {
    if (this.el.scrollTop < 150) this.loadOlder().catch(() => {});
    if (this.atBottom()) {
      if (this.moreAfter) this.loadNewer().catch(() => {});
      else if (this.ctx.onBottom) this.ctx.onBottom(this);
    }
  }

  atBottom() { return this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 40; }
  scrollToBottom() { this.el.scrollTop = this.el.scrollHeight; }
  // The newest message is loaded (not a window in the middle of the history) and on screen.
  seesNewest() { return !this.moreAfter && this.atBottom(); }

  // A live 'message' frame (or a page loaded forwards).
  add(m) {
    if (!this.accepts(m)) return;
    if (this.moreAfter) return; // not at the live end: it will come with the next forward page
    const stick = this.atBottom();
    this.insert(m);
    if (stick || m.user === this.ctx.me()) this.scrollToBottom();
  }

  insert(m) {
    if (this.msgs.has(m.seq)) return this.update(m);
    this.msgs.set(m.seq, m);
    const el = this.render(m);
    this.els.set(m.seq, el);
    // Usually the newest; otherwise find its place.
    const next = this.sortedSeqs().find((s) => s > m.seq);
    this.list.insertBefore(el, next ? this.els.get(next) : null);
    this.markDays();
  }

  update(m) {
    const old = this.els.get(m.seq);
    if (!old) return;
    const prev = this.msgs.get(m.seq);
    if (prev && (prev.update_seq || 0) > (m.update_seq || 0)) return;
    this.msgs.set(m.seq, m);
    const el = this.render(m);
    if (old.classList.contains('highlight')) el.classList.add('highlight');
    old.replaceWith(el);
    this.els.set(m.seq, el);
  }

  setReplyCount(root, count) {
    const m = this.msgs.get(root);
    if (!m) return;
    this.update({ ...m, reply_count: count, update_seq: m.update_seq });
  }

  rerender() {
    for (const [seq, m] of this.msgs) {
      const el = this.render(m);
      const old = this.els.get(seq);
      if (old.classList.contains('highlight')) el.classList.add('highlight');
      old.replaceWith(el);
      this.els.set(seq, el);
    }
    this.markDays();
    this.updateNote();
  }

  render(m) {
    const ctx = this.ctx;
    const me = ctx.me();
    const room = ctx.room(this.room) || {};
    const mine = m.user === me;
    const name = ctx.userName(m.user);
    const canEdit = mine && !m.deleted && !room.archived && room.member;
    const canDelete = !m.deleted && (mine || ctx.canModerate(room)) && room.member;
    const canPin = !m.deleted && room.member && !room.archived && (!room.read_only || ctx.canModerate(room));
    const canReact = !m.deleted && room.member && !room.archived;
    const act = ctx.actions;
    const when = formatTime(m.ts);

    const body = h('div.msg-body', null,
      h('div.msg-meta', null,
        h('button.author.linklike', { type: 'button', onclick: () => act.showUser(m.user) }, name),
        h('time', { datetime: new Date(m.ts).toISOString(), title: formatDateTime(m.ts) }, when),
        m.edited && !m.deleted ? h('span.edited', null, t('msg.edited')) : null,
        m.pinned ? h('span.pinned', { title: t('msg.pinned') }, '⚑') : null),
      m.deleted ? h('div.msg-text.deleted', null, t('msg.deleted'))
        : h('div.msg-text', null, renderText(m.text || '', m, me)));

    if (!m.deleted && m.files && m.files.length) {
      body.appendChild(h('div.msg-files', null, m.files.map((f) => this.renderFile(f))));
    }
    const reactions = Object.entries(m.reactions || {});
    if (reactions.length) {
      body.appendChild(h('div.reactions', null, reactions.map(([emoji, users]) => h('button.reaction' + (users.includes(me) ? '.mine' : ''), {
        type: 'button', disabled: !canReact, title: users.map((u) => ctx.userName(u)).join(', '),
        onclick: () => act.toggleReaction(m, emoji),
      }, `${emoji} ${users.length}`))));
    }
    if (this.mode === 'main' && m.reply_count > 0) {
      body.appendChild(h('button.thread-link.linklike', { type: 'button', onclick: () => act.openThread(m) },
        t('msg.replies', { n: m.reply_count })));
    }
    if (this.mode === 'main' && room.kind === 'announcement' && !m.deleted && room.member) {
      body.appendChild(h('button.receipts-link.linklike', { type: 'button', onclick: () => act.showReceipts(m) }, t('msg.receipts')));
    }

    const actions = h('div.msg-actions', { role: 'toolbar' },
      canReact ? h('button', { type: 'button', title: t('msg.react'), 'aria-label': t('msg.react'), onclick: (e) => act.pickReaction(m, e.currentTarget) }, '☺') : null,
      this.mode === 'main' && !m.deleted ? h('button.act-thread', { type: 'button', title: t('msg.reply'), 'aria-label': t('msg.reply'), onclick: () => act.openThread(m) }, '↩') : null,
      canPin ? h('button', { type: 'button', title: m.pinned ? t('msg.unpin') : t('msg.pin'), 'aria-label': m.pinned ? t('msg.unpin') : t('msg.pin'), onclick: () => act.togglePin(m) }, '⚑') : null,
      canEdit ? h('button.act-edit', { type: 'button', title: t('msg.edit'), 'aria-label': t('msg.edit'), onclick: () => this.startEdit(m) }, '✎') : null,
      m.history && m.history.length && act.showHistory ? h('button.act-history', { type: 'button', title: t('msg.history'), 'aria-label': t('msg.history'), onclick: () => act.showHistory(m) }, '↺') : null,
      canDelete ? h('button.act-delete', { type: 'button', title: t('msg.delete'), 'aria-label': t('msg.delete'), onclick: () => act.deleteMessage(m) }, '✕') : null);

    const el = h('div.msg' + (mine ? '.own' : '') + (m.deleted ? '.is-deleted' : ''), { dataset: { seq: String(m.seq), room: m.room, ts: String(m.ts), day: new Date(m.ts).toDateString() } },
      h('div.avatar', { 'aria-hidden': 'true' }, initials(name)), body, actions);
    return el;
  }

  renderFile(f) {
    if (f.expired) return h('div.file.expired', null, t('file.expired', { name: f.name }));
    const url = fileUrl(this.room, f.id, false);
    if (f.image && f.thumb) {
      return h('a.file.image', { href: url, target: '_blank', rel: 'noopener', title: f.name },
        h('img.thumb', { src: fileUrl(this.room, f.id, true), alt: f.name, loading: 'lazy', decoding: 'async' }));
    }
    return h('a.file', { href: url, download: f.name, rel: 'noopener' }, '📎 ', h('span', null, f.name), h('span.size', null, ` (${formatBytes(f.size || 0)})`));
  }

  startEdit(m) {
    const el = this.els.get(m.seq);
    if (!el) return;
    const textEl = el.querySelector('.msg-text');
    const area = h('textarea.edit-area', { rows: 3 });
    area.value = m.text;
    const save = async () => {
      const text = area.value.trim();
      if (!text || text === m.text) { this.rerenderOne(m.seq); return; }
      await this.ctx.actions.editMessage(m, text);
    };
    const cancel = () => this.rerenderOne(m.seq);
    area.addEventListener('keydown', (e) => {
      if (e.isComposing || e.keyCode === 229) return;
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); save().catch((err) => this.ctx.actions.error(err)); }
      if (e.key === 'Escape') { e.preventDefault(); cancel(); }
    });
    const box = h('div.edit-box', null, area, h('div.edit-buttons', null,
      h('button.btn', { type: 'button', onclick: cancel }, t('common.cancel')),
      h('button.btn.primary', { type: 'button', onclick: () => save().catch((err) => this.ctx.actions.error(err)) }, t('common.save'))));
    textEl.replaceWith(box);
    area.focus();
  }

  rerenderOne(seq) {
    const m = this.msgs.get(seq);
    const old = this.els.get(seq);
    if (!m || !old) return;
    const el = this.render(m);
    if (old.classList.contains('highlight')) el.classList.add('highlight');
    old.replaceWith(el);
    this.els.set(seq, el);
  }
}
