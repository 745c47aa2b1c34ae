// The chat web app: login, room list, room view, side panels and the realtime wiring.
// State lives in memory only (this object and the DOM); nothing from chat is written to
// localStorage, IndexedDB or Cache Storage, and logout reloads the page so memory is dropped too.
import { h, clear, $, debounce } from './dom.js';
import { get, post, put, patch, del, enc, qs, ApiError, newClientId, setUnauthorizedHandler } from './api.js';
import { initI18n, applyI18n, setLang, getLang, onLangChange, t, formatDateTime } from '../i18n.js';
import { MessageList, QUICK_REACTIONS } from './messages.js';
import { Composer } from './composer.js';
import { Realtime } from './realtime.js';
import { toast, openDialog, confirmDialog, openPanel, closePanel, panelKind, presenceDot, updatePresenceDots } from './ui.js';
import { openHelpdesk, helpdeskFrame } from './helpdesk.js';
import { openSearch } from './search.js';

const S = {
  me: null,
  config: {},
  rooms: new Map(),
  users: new Map(),
  current: null,
  list: null,
  composer: null,
  thread: null, // {room, root, list, composer}
  extraLists: new Set(), // other live lists (helpdesk notes)
  rt: null,
  typing: new Map(),
  started: false,
  firstReady: true,
};
// For the e2e tests and the performance check: when the open room's first page was drawn.
window.__collab = { roomRenderedAt: 0, roomOpenedAt: 0, sent: 0 };

// ---------------------------------------------------------------- users

const pendingUsers = new Set();
const fetchUsers = debounce(async () => {
  const ids = [...pendingUsers];
  pendingUsers.clear();
  await Promise.all(ids.map((id) => get('/users/' + enc(id)).then((u) => S.users.set(u.id, u)).catch(() => S.users.set(id, { id, name: id }))));
  rerenderLists();
  renderRoomList();
}, 30);

function userName(id) {
  const u = S.users.get(id);
  if (u) return u.name || id;
  if (id && !pendingUsers.has(id)) { pendingUsers.add(id); fetchUsers(); }
  return id;
}
function rememberUser(u) {
  if (!u || !u.id) return;
  const old = S.users.get(u.id) || {};
  S.users.set(u.id, { ...old, ...u });
}

function rerenderLists() {
  if (S.list) S.list.rerender();
  if (S.thread) S.thread.list.rerender();
  for (const l of S.extraLists) l.rerender();
}

// ---------------------------------------------------------------- rooms

function canModerate(room) {
  return !!room && (S.me.role === 'admin' || room.role === 'owner' || room.role === 'moderator');
}

// Direct messages are titled by the other people in them (the server's name lists everyone).
function roomTitle(room) {
  if (room.kind === 'dm' && room.dm_users && room.dm_users.length) return room.dm_users.map(userName).join(', ');
  return room.name;
}

function roomIcon(room) {
  return { public: '#', private: '🔒', announcement: '📢', dm: '@' }[room.kind] || '#';
}

let roomListQueued = false;
function renderRoomList() {
  if (roomListQueued) return;
  roomListQueued = true;
  // A microtask, not requestAnimationFrame: background tabs get no frames, and their badges
  // must still be right when the user looks again.
  queueMicrotask(() => { roomListQueued = false; drawRoomList(); });
}

function drawRoomList() {
  const channels = [], dms = [];
  for (const r of S.rooms.values()) {
    if (r.member === false) continue;
    (r.kind === 'dm' ? dms : channels).push(r);
  }
  channels.sort((a, b) => a.name.localeCompare(b.name, getLang()));
  dms.sort((a, b) => (b.last_seq || 0) - (a.last_seq || 0));
  const item = (r) => {
    const other = r.kind === 'dm' && r.dm_users && r.dm_users.length === 1 ? r.dm_users[0] : null;
    return h('li', null, h('button.room-item' + (r.id === S.current ? '.active' : '') + (r.unread ? '.has-unread' : '') + (r.muted ? '.muted' : '') + (r.archived ? '.archived' : ''), {
      type: 'button', dataset: { room: r.id }, onclick: () => openRoom(r.id),
    },
    other ? presenceDot(other, (S.users.get(other) || {}).presence) : h('span.room-icon', { 'aria-hidden': 'true' }, roomIcon(r)),
    h('span.room-label', null, roomTitle(r)),
    r.mentions ? h('span.badge.mention', { title: t('rooms.mentions', { n: r.mentions }) }, '@' + r.mentions) : null,
    r.unread ? h('span.badge.unread', { title: t('rooms.unread', { n: r.unread }) }, String(r.unread)) : null));
  };
  const rl = clear($('#room-list'));
  for (const r of channels) rl.appendChild(item(r));
  const dl = clear($('#dm-list'));
  for (const r of dms) dl.appendChild(item(r));
  const total = [...S.rooms.values()].reduce((n, r) => n + (r.member !== false && !r.muted ? r.unread || 0 : 0), 0);
  document.title = (total ? `(${total}) ` : '') + t('app.title');
}

// `pending`: a /rooms request already on its way (boot sends it beside /me).
async function loadRooms(pending) {
  const r = await (pending || get('/rooms'));
  const seen = new Set();
  for (const room of r.rooms) {
    seen.add(room.id);
    S.rooms.set(room.id, fresher(S.rooms.get(room.id), room));
  }
  for (const id of [...S.rooms.keys()]) if (!seen.has(id) && S.rooms.get(id).member !== false) S.rooms.delete(id);
  renderRoomList();
  subscribePresence();
}

const subscribePresence = debounce(() => {
  const users = new Set();
  for (const r of S.rooms.values()) for (const u of r.dm_users || []) users.add(u);
  if (S.currentMembers) for (const u of S.currentMembers) users.add(u);
  users.delete(S.me.id);
  if (S.rt) S.rt.send({ type: 'presence_sub', users: [...users].slice(0, 1000) });
}, 200);

// An HTTP answer about a room may be older than the frames that arrived while it was on its
// way: then the live counts win over the snapshot's.
function fresher(old, room) {
  if (!old || (old.last_seq || 0) <= (room.last_seq || 0)) return { ...old, ...room };
  return { ...old, ...room, last_seq: old.last_seq, unread: old.unread, mentions: old.mentions, read_seq: Math.max(old.read_seq || 0, room.read_seq || 0) };
}

function applyRoom(room) {
  const merged = fresher(S.rooms.get(room.id), room);
  S.rooms.set(room.id, merged);
  renderRoomList();
  if (room.id === S.current) drawRoomHeader();
  return merged;
}

function composerBlock(room) {
  if (!room) return 'room.none';
  if (room.member === false) return 'room.not_member';
  if (room.archived) return 'room.archived_note';
  if (room.read_only && !canModerate(room)) return room.kind === 'announcement' ? 'room.announcement_note' : 'room.readonly_note';
  return null;
}

function drawRoomHeader() {
  const room = S.rooms.get(S.current);
  if (!room) return;
  $('#room-name').textContent = (room.kind === 'dm' ? '' : roomIcon(room) + ' ') + roomTitle(room);
  $('#room-kind').textContent = t('kind.' + room.kind) + (room.read_only && room.kind !== 'announcement' ? ' · ' + t('room.readonly') : '') + (room.archived ? ' · ' + t('room.archived') : '');
  $('#room-topic').textContent = room.topic || '';
  $('#btn-join').hidden = room.member !== false;
  $('#btn-mute').hidden = room.member === false;
  $('#btn-mute').textContent = room.muted ? t('room.unmute') : t('room.mute');
  $('#btn-mute').setAttribute('aria-pressed', String(!!room.muted));
  $('#btn-members').textContent = t('room.members_n', { n: room.member_count || 0 });
  $('#btn-settings').hidden = room.member === false || room.kind === 'dm';
  if (S.composer) S.composer.setDisabled(composerBlock(room));
  if (S.thread && S.thread.room === room.id) S.thread.composer.setDisabled(composerBlock(room));
}

const listCtx = {
  me: () => S.me.id,
  userName,
  room: (id) => S.rooms.get(id),
  canModerate,
  onBottom: () => maybeMarkRead(),
  actions: {
    showUser: (id) => showUser(id),
    openThread: (m) => openThread(m.room, m.thread || m.seq),
    toggleReaction: (m, emoji) => toggleReaction(m, emoji),
    pickReaction: (m, anchor) => pickReaction(m, anchor),
    togglePin: (m) => act(m.pinned ? del(msgPath(m) + '/pin') : put(msgPath(m) + '/pin')),
    editMessage: (m, text) => patch(msgPath(m), { text }).then(updateMessage),
    deleteMessage: (m) => deleteMessage(m),
    showReceipts: (m) => showReceipts(m),
    // Owners, moderators and admins get the earlier texts of edited and deleted messages.
    showHistory: (m) => openDialog((close) => h('div.dlg.msg-history', null,
      h('h3', null, t('msg.history')),
      h('ul.hit-list', null, m.history.map((x) => h('li.hit', null, h('span.hit-meta', null, formatDateTime(x.ts)), h('span.hit-text', null, x.text)))),
      h('div.dlg-buttons', null, h('button.btn.dlg-cancel', { type: 'button', onclick: () => close(null) }, t('common.close'))))),
    error: (err) => showError(err),
  },
};

function msgPath(m) { return `/rooms/${enc(m.room)}/messages/${m.seq}`; }
function act(p) { return p.then(updateMessage).catch(showError); }
function updateMessage(m) {
  if (!m || !m.room) return;
  for (const l of allLists()) l.update(m);
}
function allLists() {
  const out = [];
  if (S.list) out.push(S.list);
  if (S.thread) out.push(S.thread.list);
  for (const l of S.extraLists) out.push(l);
  return out;
}

function toggleReaction(m, emoji) {
  const mine = (m.reactions && m.reactions[emoji] || []).includes(S.me.id);
  const path = `${msgPath(m)}/reactions/${enc(emoji)}`;
  return act(mine ? del(path) : put(path));
}

function pickReaction(m, anchor) {
  openDialog((close) => h('div.dlg.reaction-picker', null,
    h('h3', null, t('msg.react')),
    h('div.emoji-row', null, QUICK_REACTIONS.map((e) => h('button.btn.emoji', { type: 'button', onclick: () => { close(null); toggleReaction(m, e); } }, e))),
    h('div.dlg-buttons', null, h('button.btn.dlg-cancel', { type: 'button', onclick: () => close(null) }, t('common.cancel')))));
}

async function deleteMessage(m) {
  const ok = await confirmDialog({ title: t('msg.delete_title'), body: t('msg.delete_body'), ok: t('msg.delete'), danger: true });
  if (ok) await act(del(msgPath(m)));
}

function showError(err) {
  if (err instanceof ApiError) {
    const key = 'err.' + err.code;
    const msg = t(key);
    toast(msg === key ? err.message : msg);
  } else {
    toast(t('err.network'));
  }
}

// ---------------------------------------------------------------- the open room

async function openRoom(id, opts = {}) {
  window.__collab.roomOpenedAt = performance.now();
  let room = S.rooms.get(id);
  if (!room) {
    try { room = applyRoom(await get('/rooms/' + enc(id))); } catch (err) { return showError(err); }
  }
  if (S.current !== id && S.thread) closePanel();
  S.current = id;
  S.typing.clear();
  drawTyping();
  $('#room-empty').hidden = true;
  $('#room-view').hidden = false;
  drawRoomHeader();
  renderRoomList();

  const list = new MessageList({ room: id, mode: 'main', ctx: listCtx });
  S.list = list;
  const host = clear($('#list-host'));
  host.appendChild(list.el);
  if (!S.composer) {
    S.composer = new Composer({
      room: () => S.current, allowFiles: true,
      onSubmit: (text, files) => sendMessage(S.current, text, files, 0),
      onTyping: () => S.rt && S.rt.send({ type: 'typing', room: S.current }),
      onError: showError,
    });
    $('#composer-host').appendChild(S.composer.el);
  }
  S.composer.clearFiles();
  S.composer.setDisabled(composerBlock(room));

  // Members (names, departments, presence) and the first page load together, so the first
  // render already shows real names.
  const membersP = get(`/rooms/${enc(id)}/members`).then((r) => {
    for (const m of r.members) rememberUser(m.user);
    if (S.current === id) { S.currentMembers = r.members.map((m) => m.user.id); subscribePresence(); }
  }).catch(() => {});
  try {
    const loadP = opts.seq ? list.jumpTo(opts.seq) : list.loadLatest();
    await Promise.race([membersP, new Promise((r) => setTimeout(r, 400))]);
    await loadP;
  } catch (err) {
    return showError(err);
  }
  if (S.list !== list) return;
  if (opts.seq) list.rerender(); else { list.rerender(); list.scrollToBottom(); }
  if (opts.seq) { const el = list.els.get(opts.seq); if (el) el.scrollIntoView({ block: 'center' }); }
  window.__collab.roomRenderedAt = performance.now();
  list.el.dataset.loaded = 'true';
  maybeMarkRead();
  if (!opts.seq) S.composer.focus();
}

function maybeMarkRead() {
  const room = S.rooms.get(S.current);
  if (!room || room.member === false || !S.list) return;
  if (document.hidden || !document.hasFocus() || !S.list.seesNewest()) return;
  const seq = Math.max(room.last_seq || 0, S.list.newestSeq());
  if (seq <= (room.read_seq || 0)) {
    if (room.unread || room.mentions) { room.unread = 0; room.mentions = 0; renderRoomList(); }
    return;
  }
  room.read_seq = seq;
  room.unread = 0;
  room.mentions = 0;
  renderRoomList();
  if (!S.rt || !S.rt.send({ type: 'read', room: room.id, seq })) {
    post(`/rooms/${enc(room.id)}/read`, { seq }).catch(() => {});
  }
}

async function sendMessage(roomId, text, files, thread, confirmed = false, clientId = newClientId()) {
  const body = { text, client_id: clientId };
  if (files && files.length) body.files = files;
  if (thread) body.thread = thread;
  if (confirmed) body.confirm_mass_mention = true;
  try {
    const m = await post(`/rooms/${enc(roomId)}/messages`, body);
    window.__collab.sent++;
    onMessage(m, true);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'confirm_required' && !confirmed) {
      const n = err.body.recipients;
      const ok = await confirmDialog({ title: t('mass.title'), body: t('mass.body', { n }), ok: t('mass.send'), cls: 'mass-confirm' });
      if (!ok) return false; // nothing was sent; the text stays in the composer
      return sendMessage(roomId, text, files, thread, true, clientId);
    }
    throw err;
  }
}

// A message from a frame or from our own post's reply.
function onMessage(m, own = false) {
  const room = S.rooms.get(m.room);
  if (!S.users.has(m.user)) userName(m.user);
  if (room && !own) {
    room.last_seq = Math.max(room.last_seq || 0, m.seq);
    const visible = m.room === S.current && !document.hidden && document.hasFocus() && S.list && S.list.atBottom();
    if (m.user !== S.me.id && !visible && m.seq > (room.read_seq || 0)) {
      room.unread = (room.unread || 0) + 1;
      if (room.kind === 'dm' || (m.mentions || []).includes(S.me.id) || m.mention_all || m.mention_here) room.mentions = (room.mentions || 0) + 1;
    }
    if (m.user === S.me.id) room.read_seq = Math.max(room.read_seq || 0, m.seq);
    renderRoomList();
  } else if (!room && !own) {
    get('/rooms/' + enc(m.room)).then(applyRoom).catch(() => {});
  }
  for (const l of allLists()) l.add(m);
  if (m.room === S.current) {
    S.typing.delete(m.user);
    drawTyping();
    maybeMarkRead();
  }
}

function drawTyping() {
  const now = Date.now();
  const names = [];
  for (const [u, until] of S.typing) if (until > now) names.push(userName(u)); else S.typing.delete(u);
  $('#typing').textContent = names.length === 0 ? '' : names.length === 1 ? t('typing.one', { name: names[0] }) : t('typing.many', { names: names.join(', ') });
}
setInterval(drawTyping, 1000);

// ---------------------------------------------------------------- threads and panels

async function openThread(room, root) {
  const list = new MessageList({ room, mode: 'thread', root, ctx: listCtx });
  const composer = new Composer({
    room: () => room, allowFiles: true, placeholderKey: 'thread.placeholder',
    onSubmit: (text, files) => sendMessage(room, text, files, root),
    onError: showError,
  });
  composer.setDisabled(composerBlock(S.rooms.get(room)));
  S.thread = { room, root, list, composer };
  openPanel('thread', t('thread.title'), h('div.thread', null, list.el, composer.el), () => { S.thread = null; });
  try { await list.loadLatest(); list.el.dataset.loaded = 'true'; composer.focus(); } catch (err) { showError(err); }
}

async function showMembers() {
  const id = S.current;
  const body = h('div.members');
  openPanel('members', t('room.members'), body);
  try {
    const r = await get(`/rooms/${enc(id)}/members`);
    const room = S.rooms.get(id);
    for (const m of r.members) rememberUser(m.user);
    body.appendChild(h('ul.user-list', null, r.members.map((m) => h('li', null, h('button.user-item', { type: 'button', onclick: () => showUser(m.user.id) },
      presenceDot(m.user.id, m.user.presence),
      h('span.user-name', null, m.user.name),
      h('span.user-dept', null, m.user.department || ''),
      m.role !== 'member' ? h('span.role', null, t('role.' + m.role)) : null,
      m.user.status_text ? h('span.user-status', null, m.user.status_text) : null)))));
    if (canModerate(room) && room.kind !== 'dm') {
      const input = h('input', { placeholder: t('members.add_placeholder'), 'aria-label': t('members.add_placeholder') });
      body.appendChild(h('form.inline-form', { onsubmit: async (e) => {
        e.preventDefault();
        const uid = input.value.trim().replace(/^@/, '');
        if (!uid) return;
        try { await put(`/rooms/${enc(id)}/members/${enc(uid)}`, {}); showMembers(); } catch (err) { showError(err); }
      } }, input, h('button.btn', { type: 'submit' }, t('members.add'))));
    }
  } catch (err) { showError(err); }
}

async function showPins() {
  const id = S.current;
  const body = h('div.pins');
  openPanel('pins', t('room.pins'), body);
  try {
    const r = await get(`/rooms/${enc(id)}/pins`);
    if (!r.messages.length) body.appendChild(h('p.muted', null, t('pins.none')));
    body.appendChild(h('ul.hit-list', null, r.messages.map((m) => h('li', null, h('button.hit', { type: 'button', onclick: () => openRoom(id, { seq: m.seq }) },
      h('span.hit-meta', null, `${userName(m.user)} · ${formatDateTime(m.ts)}`),
      h('span.hit-text', null, m.text))))));
  } catch (err) { showError(err); }
}

async function showReceipts(m) {
  const body = h('div.receipts');
  openPanel('receipts', t('receipts.title'), body);
  try {
    const r = await get(`${msgPath(m)}/receipts`);
    const section = (key, users) => [h('h4', null, t(key, { n: users.length })),
      h('ul.user-list', null, users.map((u) => h('li.user-item', null, h('span.user-name', null, u.name), h('span.user-dept', null, u.department || ''))))];
    body.append(...section('receipts.read', r.read || []), ...section('receipts.unread', r.unread || []));
  } catch (err) {
    body.appendChild(h('p.muted', null, err.status === 403 ? t('receipts.forbidden') : t('err.network')));
  }
}

async function showUser(id) {
  if (id === S.me.id) return showProfile();
  let u = S.users.get(id);
  try { u = await get('/users/' + enc(id)); rememberUser(u); } catch (err) { return showError(err); }
  openDialog((close) => h('div.dlg.user-card', null,
    h('h3', null, presenceDot(u.id, u.presence), ' ', u.name),
    h('dl', null,
      h('dt', null, t('user.id')), h('dd', null, u.id),
      h('dt', null, t('user.department')), h('dd', null, u.department || '—'),
      u.email ? [h('dt', null, t('user.email')), h('dd', null, u.email)] : null,
      h('dt', null, t('user.presence')), h('dd', null, t('presence.' + (u.presence || 'offline'))),
      u.status_text ? [h('dt', null, t('user.status')), h('dd', null, u.status_text)] : null),
    h('div.dlg-buttons', null,
      h('button.btn.dlg-cancel', { type: 'button', onclick: () => close(null) }, t('common.close')),
      u.disabled ? null : h('button.btn.primary.dm-start', { type: 'button', onclick: () => { close(null); startDm([u.id]); } }, t('user.message')))));
}

async function startDm(users) {
  try {
    const room = applyRoom(await post('/dms', { users }));
    openRoom(room.id);
  } catch (err) { showError(err); }
}

function showProfile() {
  const status = h('input#profile-status', { maxlength: '200', value: S.me.status_text || '' });
  const away = h('input#profile-away', { type: 'checkbox', checked: S.me.presence === 'away' });
  openDialog((close) => h('form.dlg.profile', { onsubmit: async (e) => {
    e.preventDefault();
    try {
      const me = await patch('/me', { status_text: status.value.trim(), away: away.checked });
      S.me = { ...S.me, ...me, presence: away.checked ? 'away' : 'online' };
      drawMe();
      close(true);
    } catch (err) { showError(err); }
  } },
  h('h3', null, S.me.name),
  h('p.muted', null, `${S.me.id}${S.me.department ? ' · ' + S.me.department : ''}`),
  h('label', null, h('span', null, t('profile.status')), status),
  h('label.check', null, away, h('span', null, t('profile.away'))),
  h('div.dlg-buttons', null,
    h('button.btn.dlg-cancel', { type: 'button', onclick: () => close(null) }, t('common.cancel')),
    h('button.btn.primary', { type: 'submit' }, t('common.save')))));
}

function drawMe() {
  $('#me-name').textContent = S.me.name;
  const dot = $('#me-dot');
  dot.className = 'dot ' + (S.me.presence || 'online');
  dot.dataset.presenceUser = S.me.id;
  $('#btn-profile').title = S.me.status_text || t('profile.title');
}

// Room settings: owners and moderators change name, topic and read-only (owners also archive);
// every member may leave from here.
function roomSettingsDialog() {
  const room = S.rooms.get(S.current);
  if (!room) return;
  const mod = canModerate(room);
  const owner = S.me.role === 'admin' || room.role === 'owner';
  const name = h('input#room-set-name', { required: true, maxlength: '80', value: room.name, disabled: !mod });
  const topic = h('textarea#room-set-topic', { rows: 2, maxlength: '1024', disabled: !mod });
  topic.value = room.topic || '';
  const ro = h('input#room-set-ro', { type: 'checkbox', checked: !!room.read_only, disabled: !mod || room.kind === 'announcement' });
  const arch = h('input#room-set-archived', { type: 'checkbox', checked: !!room.archived, disabled: !owner });
  openDialog((close) => h('form.dlg.room-settings', { onsubmit: async (e) => {
    e.preventDefault();
    const body = {};
    if (mod) {
      if (name.value.trim() !== room.name) body.name = name.value.trim();
      if (topic.value !== (room.topic || '')) body.topic = topic.value;
      if (room.kind !== 'announcement' && ro.checked !== !!room.read_only) body.read_only = ro.checked;
    }
    if (owner && arch.checked !== !!room.archived) body.archived = arch.checked;
    try {
      if (Object.keys(body).length) applyRoom(await patch(`/rooms/${enc(room.id)}`, body));
      close(true);
    } catch (err) { showError(err); }
  } },
  h('h3', null, t('room.settings')),
  h('label', null, h('span', null, t('create.name')), name),
  h('label', null, h('span', null, t('create.topic')), topic),
  h('label.check', null, ro, h('span', null, t('room.readonly_setting'))),
  h('label.check', null, arch, h('span', null, t('room.archive_setting'))),
  h('div.dlg-buttons', null,
    h('button.btn.danger.room-leave', { type: 'button', onclick: async () => {
      close(null);
      const ok = await confirmDialog({ title: t('room.leave_title', { name: room.name }), ok: t('room.leave'), danger: true });
      if (!ok) return;
      try {
        await post(`/rooms/${enc(room.id)}/leave`);
        S.rooms.delete(room.id);
        S.current = null;
        $('#room-view').hidden = true;
        $('#room-empty').hidden = false;
        renderRoomList();
      } catch (err) { showError(err); }
    } }, t('room.leave')),
    h('span.spacer'),
    h('button.btn.dlg-cancel', { type: 'button', onclick: () => close(null) }, t('common.cancel')),
    mod || owner ? h('button.btn.primary', { type: 'submit' }, t('common.save')) : null)));
}

function createRoomDialog() {
  const name = h('input#new-room-name', { required: true, maxlength: '80' });
  const kind = h('select#new-room-kind', null, ['public', 'private'].concat(S.me.role === 'admin' ? ['announcement'] : []).map((k) => h('option', { value: k }, t('kind.' + k))));
  const topic = h('input#new-room-topic', { maxlength: '1024' });
  const members = h('input#new-room-members', { placeholder: t('create.members_hint') });
  openDialog((close) => h('form.dlg.create-room', { onsubmit: async (e) => {
    e.preventDefault();
    const ids = members.value.split(/[\s,、]+/).map((s) => s.replace(/^@/, '').trim()).filter(Boolean);
    try {
      const room = applyRoom(await post('/rooms', { name: name.value.trim(), kind: kind.value, topic: topic.value, members: ids }));
      close(true);
      openRoom(room.id);
    } catch (err) { showError(err); }
  } },
  h('h3', null, t('rooms.create')),
  h('label', null, h('span', null, t('create.name')), name),
  h('label', null, h('span', null, t('create.kind')), kind),
  h('label', null, h('span', null, t('create.topic')), topic),
  h('label', null, h('span', null, t('create.members')), members),
  h('div.dlg-buttons', null,
    h('button.btn.dlg-cancel', { type: 'button', onclick: () => close(null) }, t('common.cancel')),
    h('button.btn.primary', { type: 'submit' }, t('create.submit')))));
}

async function browseRooms() {
  let rooms = [];
  try { rooms = (await get('/rooms/public')).rooms; } catch (err) { return showError(err); }
  openDialog((close) => h('div.dlg.browse', null,
    h('h3', null, t('rooms.browse')),
    rooms.length ? null : h('p.muted', null, t('rooms.none_public')),
    h('ul.hit-list', null, rooms.map((r) => h('li', null, h('button.hit', { type: 'button', onclick: () => { close(null); applyRoom(r); openRoom(r.id); } },
      h('span.hit-meta', null, `${roomIcon(r)} ${r.name} · ${t('room.members_n', { n: r.member_count })}${r.member ? ' · ' + t('rooms.joined') : ''}`),
      r.topic ? h('span.hit-text', null, r.topic) : null)))),
    h('div.dlg-buttons', null, h('button.btn.dlg-cancel', { type: 'button', onclick: () => close(null) }, t('common.close')))));
}

function userPicker(onPick) {
  const input = h('input.user-q', { type: 'search', placeholder: t('users.search'), 'aria-label': t('users.search') });
  const results = h('ul.user-list');
  const run = debounce(async () => {
    try {
      const r = await get('/users' + qs({ q: input.value.trim(), limit: 20 }));
      clear(results);
      for (const u of r.users) {
        rememberUser(u);
        results.appendChild(h('li', null, h('button.user-item', { type: 'button', dataset: { user: u.id }, onclick: () => onPick(u) },
          presenceDot(u.id, u.presence), h('span.user-name', null, u.name), h('span.user-id', null, '@' + u.id), h('span.user-dept', null, u.department || ''))));
      }
    } catch (err) { showError(err); }
  }, 150);
  input.addEventListener('input', run);
  run();
  return { input, results };
}

function newDmDialog() {
  openDialog((close) => {
    const { input, results } = userPicker((u) => { close(null); if (u.id !== S.me.id) startDm([u.id]); });
    return h('div.dlg.new-dm', null, h('h3', null, t('dm.new')), input, results,
      h('div.dlg-buttons', null, h('button.btn.dlg-cancel', { type: 'button', onclick: () => close(null) }, t('common.cancel'))));
  });
}

// ---------------------------------------------------------------- notifications

function setupNotifyButton() {
  const btn = $('#btn-notify');
  btn.hidden = !('Notification' in window) || Notification.permission !== 'default';
  btn.onclick = async () => {
    try { await Notification.requestPermission(); } catch { /* ignored */ }
    btn.hidden = Notification.permission !== 'default';
  };
}

function onNotify(f) {
  const room = S.rooms.get(f.room);
  if (room && room.muted && f.reason !== 'mention') return;
  window.__collab.notified = (window.__collab.notified || 0) + 1;
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (f.room === S.current && !document.hidden && document.hasFocus()) return;
  const title = room ? roomTitle(room) : t('app.title');
  const n = new Notification(title, { body: t('notify.' + f.reason, { name: userName(f.user) }), tag: `${f.room}:${f.seq}`, silent: false });
  n.onclick = () => { window.focus(); openRoom(f.room, { seq: f.seq }); n.close(); };
}

// ---------------------------------------------------------------- realtime

function onFrame(f) {
  switch (f.type) {
    case 'ready':
      rememberUser(f.user);
      if (!S.firstReady) loadRooms().catch(() => {});
      S.firstReady = false;
      subscribePresence();
      break;
    case 'message': onMessage(f.message); break;
    case 'message_updated': updateMessage(f.message); break;
    case 'thread':
      if (S.list && S.list.room === f.room) S.list.setReplyCount(f.root, f.reply_count);
      break;
    case 'notify': onNotify(f); break;
    case 'room':
      // A room joined after the hello: resume it from here on the next reconnect.
      if (f.room.member !== false && !S.rt.cursors.has(f.room.id)) S.rt.setCursor(f.room.id, f.room.last_seq || 0);
      applyRoom(f.room);
      break;
    case 'member':
      if (f.user === S.me.id && !f.role) {
        S.rooms.delete(f.room);
        renderRoomList();
        if (S.current === f.room) { S.current = null; $('#room-view').hidden = true; $('#room-empty').hidden = false; }
      } else if (f.user === S.me.id) {
        get('/rooms/' + enc(f.room)).then(applyRoom).catch(() => {});
      } else if (S.rooms.has(f.room)) {
        // Someone else joined or left: the member count changed.
        get('/rooms/' + enc(f.room)).then(applyRoom).catch(() => {});
        if (f.room === S.current && panelKind() === 'members') showMembers();
      }
      break;
    case 'read':
      if (f.user === S.me.id) {
        const r = S.rooms.get(f.room);
        if (r) {
          r.read_seq = Math.max(r.read_seq || 0, f.seq);
          if (r.read_seq >= (r.last_seq || 0)) { r.unread = 0; r.mentions = 0; }
          renderRoomList();
        }
      }
      break;
    case 'typing':
      if (f.user !== S.me.id && f.room === S.current) { S.typing.set(f.user, Date.now() + 6000); drawTyping(); }
      break;
    case 'presence':
      rememberUser({ id: f.user, presence: f.presence, status_text: f.status_text });
      if (f.user === S.me.id) { S.me.presence = f.presence; drawMe(); }
      updatePresenceDots(f.user, f.presence);
      break;
    case 'presence_list':
      for (const p of f.users || []) { rememberUser({ id: p.user, presence: p.presence, status_text: p.status_text }); updatePresenceDots(p.user, p.presence); }
      break;
    case 'user': rememberUser(f.user); rerenderLists(); renderRoomList(); break;
    case 'room_gone':
      S.rooms.delete(f.room);
      renderRoomList();
      break;
    case 'reset':
      if (S.current === f.room) openRoom(f.room);
      break;
    case 'error':
      if (f.error && f.error.code !== 'unauthorized') console.warn('chat:', f.error.code, f.error.message);
      break;
    default: break;
  }
  helpdeskFrame(f);
}

function onConnState(state) {
  const el = $('#conn');
  el.textContent = state === 'ready' ? '' : t('conn.' + state);
  el.dataset.state = state;
  if (state === 'unauthorized') sessionEnded();
  if (state === 'disabled') { toast(t('err.disabled')); sessionEnded(); }
}

// ---------------------------------------------------------------- login / logout

function showLogin(errKey) {
  $('#boot').hidden = true;
  $('#app').hidden = true;
  $('#login').hidden = false;
  $('#login-hint').textContent = S.config.auth_source === 'ldap' ? t('login.hint_ldap') : S.config.auth_source === 'local' ? t('login.hint_local') : t('login.hint');
  const e = $('#login-error');
  e.hidden = !errKey;
  e.textContent = errKey ? t(errKey) : '';
  $('#login-user').focus();
}

async function doLogin(ev) {
  ev.preventDefault();
  const btn = $('#login-submit');
  btn.disabled = true;
  try {
    const r = await post('/login', { username: $('#login-user').value.trim(), password: $('#login-pass').value }, { noAuthRedirect: true });
    $('#login-pass').value = '';
    S.me = r.user;
    startApp();
  } catch (err) {
    const key = err instanceof ApiError ? ({ 401: 'login.bad', 403: 'login.disabled', 429: 'login.locked', 503: 'login.unavailable' }[err.status] || 'err.network') : 'err.network';
    showLogin(key);
  } finally { btn.disabled = false; }
}

async function logout() {
  try { await post('/logout', {}, { noAuthRedirect: true }); } catch { /* the session may already be gone */ }
  wipeAndReload();
}

function sessionEnded() {
  if (!S.started) return;
  wipeAndReload();
}

// Drops everything this tab holds: the socket, storage (but the language choice), and, by
// reloading, all in-memory state and DOM.
function wipeAndReload() {
  S.started = false;
  if (S.rt) S.rt.stop();
  const lang = getLang();
  try { localStorage.clear(); } catch { /* ignore */ }
  try { sessionStorage.clear(); sessionStorage.setItem('collab.lang', lang); } catch { /* ignore */ }
  location.replace(location.pathname);
}

function startApp(pendingRooms) {
  S.started = true;
  $('#boot').hidden = true;
  $('#login').hidden = true;
  $('#app').hidden = false;
  rememberUser(S.me);
  drawMe();
  setupNotifyButton();
  S.rt = new Realtime(onFrame, onConnState);
  loadRooms(pendingRooms).then(() => {
    for (const r of S.rooms.values()) S.rt.setCursor(r.id, r.last_seq || 0);
    S.rt.start();
  }).catch(showError);
}

// ---------------------------------------------------------------- boot

function wireStatic() {
  for (const sel of document.querySelectorAll('.lang-select')) {
    sel.value = getLang();
    sel.addEventListener('change', () => setLang(sel.value));
  }
  $('#login-form').addEventListener('submit', doLogin);
  $('#btn-logout').addEventListener('click', logout);
  $('#btn-profile').addEventListener('click', showProfile);
  $('#btn-create').addEventListener('click', createRoomDialog);
  $('#btn-browse').addEventListener('click', browseRooms);
  $('#btn-dm').addEventListener('click', newDmDialog);
  $('#btn-members').addEventListener('click', showMembers);
  $('#btn-pins').addEventListener('click', showPins);
  $('#btn-settings').addEventListener('click', roomSettingsDialog);
  $('#btn-search').addEventListener('click', () => openSearch(appApi));
  $('#btn-helpdesk').addEventListener('click', () => openHelpdesk(appApi));
  $('#panel-close').addEventListener('click', closePanel);
  $('#btn-join').addEventListener('click', async () => {
    try { applyRoom(await post(`/rooms/${enc(S.current)}/join`)); openRoom(S.current); } catch (err) { showError(err); }
  });
  $('#btn-mute').addEventListener('click', async () => {
    const room = S.rooms.get(S.current);
    try { applyRoom(await put(`/rooms/${enc(room.id)}/mute`, { muted: !room.muted })); } catch (err) { showError(err); }
  });
  const us = $('#user-search');
  us.addEventListener('input', debounce(async () => {
    const q = us.value.trim();
    const out = clear($('#user-results'));
    if (!q) return;
    try {
      const r = await get('/users' + qs({ q, limit: 10 }));
      for (const u of r.users) {
        rememberUser(u);
        out.appendChild(h('li', null, h('button.user-item', { type: 'button', onclick: () => showUser(u.id) },
          presenceDot(u.id, u.presence), h('span.user-name', null, u.name), h('span.user-dept', null, u.department || ''))));
      }
      if (!r.users.length) out.appendChild(h('li.muted', null, t('users.none')));
    } catch (err) { showError(err); }
  }, 200));

  // Drag-and-drop anywhere on the room view attaches to the main composer.
  const view = $('#room-view');
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  view.addEventListener('dragenter', (e) => { if (!hasFiles(e)) return; depth++; $('#drop-hint').hidden = false; });
  view.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) $('#drop-hint').hidden = true; });
  view.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  view.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    $('#drop-hint').hidden = true;
    if (S.composer && !S.composer.area.disabled) S.composer.addFiles([...e.dataTransfer.files]);
  });

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !e.isComposing && !$('#dialog').open && !$('#panel').hidden && !e.defaultPrevented) closePanel();
  });
  window.addEventListener('offline', () => S.rt && S.rt.suspend());
  window.addEventListener('online', () => S.rt && S.rt.resume());
  window.addEventListener('focus', maybeMarkRead);
  document.addEventListener('visibilitychange', maybeMarkRead);
  onLangChange(() => {
    for (const sel of document.querySelectorAll('.lang-select')) sel.value = getLang();
    if (!S.started) { if (!$('#login').hidden) showLogin(); return; }
    renderRoomList();
    drawRoomHeader();
    drawMe();
    if (S.composer) S.composer.relabel();
    if (S.thread) S.thread.composer.relabel();
    rerenderLists();
    setupNotifyButton();
    const kind = panelKind();
    if (kind === 'members') showMembers(); else if (kind === 'pins') showPins(); else if (kind) closePanel();
  });
}

// What the search and helpdesk modules may use.
const appApi = {
  S, t, userName, rememberUser, openRoom, openThread, showError, sendMessage, listCtx, composerBlock, canModerate, applyRoom,
};

async function boot() {
  // The catalogs, the server's settings, the session and the room list go out together rather
  // than one after another: each is a round trip before the first room can be drawn. Without a
  // session /rooms is refused like /me, and the login form is shown.
  const config = get('/config', { noAuthRedirect: true }).catch(() => ({}));
  const me = get('/me', { noAuthRedirect: true }).then((user) => ({ user }), (err) => ({ err }));
  const rooms = get('/rooms', { noAuthRedirect: true });
  rooms.catch(() => { /* answered by /me's outcome, or by loadRooms */ });
  await initI18n();
  applyI18n(document);
  wireStatic();
  setUnauthorizedHandler(() => sessionEnded());
  S.config = await config;
  const m = await me;
  if (m.user) {
    S.me = m.user;
    startApp(rooms);
  } else if (m.err instanceof ApiError && m.err.status === 401) {
    showLogin();
  } else {
    $('#boot').textContent = t('err.network');
  }
}

boot();
