// "Ask IT": the helpdesk views. Staff open a request (subject + first message) and follow their
// own requests; agents see the desk's queue (open / claimed / resolved), claim, hand over,
// resolve or reopen, and talk among agents in the request's internal notes room. The
// conversation itself is an ordinary private room that opens in the main view. When the server
// has no helpdesk (404) the panel says so.
import { h, clear } from './dom.js';
import { get, post, enc, qs, ApiError } from './api.js';
import { t, formatDateTime } from '../i18n.js';
import { openPanel, panelKind, toast } from './ui.js';
import { MessageList } from './messages.js';
import { Composer } from './composer.js';

let app = null;
let view = null; // {desk, status, refresh}
let notes = null; // {list}

function statusBadge(s) { return h('span.status.' + s, null, t('helpdesk.status.' + s)); }

export async function openHelpdesk(a) {
  app = a;
  const body = h('div.helpdesk');
  openPanel('helpdesk', t('helpdesk.title'), body, cleanupNotes);
  let desks;
  try {
    desks = (await get('/helpdesk')).desks || [];
  } catch (err) {
    body.appendChild(h('p.muted.helpdesk-unavailable', null, err instanceof ApiError && (err.status === 404 || err.status === 405) ? t('helpdesk.unavailable') : err.message));
    return;
  }
  if (!desks.length) { body.appendChild(h('p.muted', null, t('helpdesk.no_desks'))); return; }
  const content = h('div.helpdesk-content');
  if (desks.length > 1) {
    const sel = h('select.desk-select', { 'aria-label': t('helpdesk.desk'), onchange: () => showDesk(desks.find((d) => d.id === sel.value), content) },
      desks.map((d) => h('option', { value: d.id }, d.name)));
    body.appendChild(sel);
  }
  body.appendChild(content);
  showDesk(desks[0], content);
}

function cleanupNotes() {
  if (notes) { app.S.extraLists.delete(notes.list); notes = null; }
  view = null;
}

function showDesk(desk, content) {
  clear(content);
  if (desk.agent) showQueue(desk, content, 'open');
  else showRequester(desk, content);
}

// ---- staff side
function showRequester(desk, content) {
  const subject = h('input#hd-subject', { required: true, maxlength: '200', 'aria-label': t('helpdesk.subject') });
  const text = h('textarea#hd-text', { rows: 4, required: true, 'aria-label': t('helpdesk.text') });
  const mine = h('ul.hit-list.hd-mine');
  const refresh = async () => {
    try {
      const r = await get(`/helpdesk/${enc(desk.id)}/requests`);
      clear(mine);
      if (!r.requests.length) mine.appendChild(h('li.muted', null, t('helpdesk.none')));
      for (const req of r.requests) mine.appendChild(requestRow(req, false, desk));
    } catch (err) { app.showError(err); }
  };
  const form = h('form.hd-new', { onsubmit: async (e) => {
    e.preventDefault();
    try {
      const req = await post(`/helpdesk/${enc(desk.id)}/requests`, { subject: subject.value.trim(), text: text.value.trim() });
      subject.value = ''; text.value = '';
      toast(t('helpdesk.sent'));
      await refresh();
      if (req.room) app.openRoom(req.room);
    } catch (err) { app.showError(err); }
  } },
  h('h4', null, t('helpdesk.new')),
  h('label', null, h('span', null, t('helpdesk.subject')), subject),
  h('label', null, h('span', null, t('helpdesk.text')), text),
  h('button.btn.primary.hd-submit', { type: 'submit' }, t('helpdesk.submit')));
  content.append(form, h('h4', null, t('helpdesk.mine')), mine);
  view = { desk, refresh };
  refresh();
}

// ---- agent side
function showQueue(desk, content, status) {
  clear(content);
  const tabs = h('div.tabs', { role: 'tablist' }, ['open', 'claimed', 'resolved'].map((s) => h('button.tab' + (s === status ? '.active' : ''), {
    type: 'button', role: 'tab', 'aria-selected': String(s === status), dataset: { status: s }, onclick: () => showQueue(desk, content, s),
  }, t('helpdesk.status.' + s))));
  const list = h('ul.hit-list.hd-queue');
  const detail = h('div.hd-detail');
  content.append(tabs, list, detail, pastSearch(desk));
  const refresh = async () => {
    try {
      const r = await get(`/helpdesk/${enc(desk.id)}/requests${qs({ status })}`);
      clear(list);
      if (!r.requests.length) list.appendChild(h('li.muted', null, t('helpdesk.none')));
      for (const req of r.requests) list.appendChild(requestRow(req, true, desk, detail, refresh));
    } catch (err) { app.showError(err); }
  };
  view = { desk, status, refresh };
  refresh();
}

function requestRow(req, agent, desk, detail, refresh) {
  const times = [`${t('helpdesk.created')} ${formatDateTime(req.created_at)}`];
  if (req.first_response_at) times.push(`${t('helpdesk.first_response')} ${formatDateTime(req.first_response_at)}`);
  if (req.resolved_at) times.push(`${t('helpdesk.resolved_at')} ${formatDateTime(req.resolved_at)}`);
  return h('li.hd-request', { dataset: { id: req.id, status: req.status } },
    h('button.hit', { type: 'button', onclick: () => (agent ? showDetail(req, desk, detail, refresh) : app.openRoom(req.room)) },
      h('span.hit-meta', null, statusBadge(req.status), ' ', agent ? app.userName(req.requester) : '', req.agent ? ` → ${app.userName(req.agent)}` : ''),
      h('span.hit-text.hd-subject', null, req.subject),
      h('span.hit-meta', null, times.join(' · '))));
}

function showDetail(req, desk, detail, refresh) {
  clear(detail);
  if (notes) { app.S.extraLists.delete(notes.list); notes = null; }
  const base = `/helpdesk/${enc(desk.id)}/requests/${enc(req.id)}`;
  const action = (verb, body) => async () => {
    try {
      const r = await post(`${base}/${verb}`, body);
      await refresh();
      showDetail(r && r.id ? r : { ...req }, desk, detail, refresh);
    } catch (err) { app.showError(err); }
  };
  const handTo = h('input.hd-handover-to', { placeholder: t('helpdesk.handover_to'), 'aria-label': t('helpdesk.handover_to') });
  const me = app.S.me.id;
  const buttons = h('div.hd-actions', null,
    h('button.btn.hd-open-room', { type: 'button', onclick: () => app.openRoom(req.room) }, t('helpdesk.open_conversation')),
    req.status === 'open' || (req.status === 'claimed' && req.agent !== me) ? h('button.btn.hd-claim', { type: 'button', onclick: action('claim') }, t('helpdesk.claim')) : null,
    req.status !== 'resolved' ? h('button.btn.primary.hd-resolve', { type: 'button', onclick: action('resolve') }, t('helpdesk.resolve')) : null,
    req.status === 'resolved' ? h('button.btn.hd-reopen', { type: 'button', onclick: action('reopen') }, t('helpdesk.reopen')) : null);
  const handover = req.status !== 'resolved' ? h('form.inline-form.hd-handover', { onsubmit: (e) => {
    e.preventDefault();
    const to = handTo.value.trim().replace(/^@/, '');
    if (to) action('handover', { to })();
  } }, handTo, h('button.btn', { type: 'submit' }, t('helpdesk.handover'))) : null;
  detail.append(h('h4.hd-detail-subject', null, req.subject),
    h('p.muted', null, statusBadge(req.status), ` ${app.userName(req.requester)}${req.agent ? ' → ' + app.userName(req.agent) : ''}`),
    buttons, handover);
  if (req.notes_room) {
    const list = new MessageList({ room: req.notes_room, mode: 'notes', ctx: app.listCtx });
    const composer = new Composer({
      room: () => req.notes_room, allowFiles: false, placeholderKey: 'helpdesk.note_placeholder',
      onSubmit: (text) => app.sendMessage(req.notes_room, text, [], 0), onError: app.showError,
    });
    notes = { list };
    app.S.extraLists.add(list);
    detail.append(h('h4', null, t('helpdesk.notes')), h('div.hd-notes', null, list.el, composer.el));
    get('/rooms/' + enc(req.notes_room)).then(app.applyRoom).catch(() => {}).finally(() => list.loadLatest().catch(() => {}));
  }
}

// Agents search resolved requests to reuse earlier answers.
function pastSearch(desk) {
  const q = h('input.hd-search-q', { type: 'search', placeholder: t('helpdesk.search_placeholder'), 'aria-label': t('helpdesk.search_placeholder') });
  const out = h('ul.hit-list.hd-search-results');
  const form = h('form.inline-form.hd-search', { onsubmit: async (e) => {
    e.preventDefault();
    const text = q.value.trim();
    if (!text) return;
    clear(out);
    try {
      const r = await get(`/helpdesk/${enc(desk.id)}/search${qs({ q: text })}`);
      if (!r.requests.length) out.appendChild(h('li.muted', null, t('helpdesk.none')));
      for (const req of r.requests) {
        out.appendChild(h('li', null, h('button.hit', { type: 'button', onclick: () => app.openRoom(req.room) },
          h('span.hit-text.hd-subject', null, req.subject),
          (req.matches || []).map((m) => h('span.hit-meta', null, `${app.userName(m.user)}: ${m.text}`)))));
      }
    } catch (err) { app.showError(err); }
  } }, q, h('button.btn', { type: 'submit' }, t('search.submit')));
  return h('div.hd-past', null, h('h4', null, t('helpdesk.past')), form, out);
}

// Refreshes the open helpdesk view when something in one of its rooms changes.
let pending = 0;
export function helpdeskFrame(f) {
  if (!view || panelKind() !== 'helpdesk') return;
  if (f.type !== 'helpdesk' && f.type !== 'room' && f.type !== 'member') return;
  clearTimeout(pending);
  pending = setTimeout(() => { if (view) view.refresh(); }, 300);
}
