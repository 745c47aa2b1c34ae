// The search panel: full text over the messages the user may read (GET /api/v1/search), with
// filters for room, person and date; a hit opens its room scrolled to the message. When the
// server has no search yet (404) the panel says so instead of failing.
import { h, clear } from './dom.js';
import { get, qs, ApiError } from './api.js';
import { t, formatDateTime } from '../i18n.js';
import { openPanel } from './ui.js';

// The text with each occurrence of q wrapped in <mark> (built from text nodes, never HTML).
function highlight(text, q) {
  if (!q) return [text];
  const out = [];
  const lower = text.toLowerCase();
  const needle = q.toLowerCase();
  let i = 0;
  for (let guard = 0; guard < 100; guard++) {
    const j = lower.indexOf(needle, i);
    if (j < 0) break;
    if (j > i) out.push(text.slice(i, j));
    out.push(h('mark', null, text.slice(j, j + needle.length)));
    i = j + needle.length;
  }
  out.push(text.slice(i));
  return out;
}

function dayStart(value) { return value ? new Date(value + 'T00:00:00').getTime() : ''; }
function dayEnd(value) { return value ? new Date(value + 'T23:59:59.999').getTime() : ''; }

export function openSearch(app) {
  const { S } = app;
  const q = h('input#search-q', { type: 'search', required: true, placeholder: t('search.placeholder'), 'aria-label': t('search.placeholder') });
  const rooms = [...S.rooms.values()].filter((r) => r.member !== false).sort((a, b) => a.name.localeCompare(b.name));
  const room = h('select#search-room', { 'aria-label': t('search.room') }, h('option', { value: '' }, t('search.any_room')),
    rooms.map((r) => h('option', { value: r.id }, r.name)));
  const person = h('input#search-user', { placeholder: t('search.person_hint'), 'aria-label': t('search.person') });
  const from = h('input#search-from', { type: 'date', 'aria-label': t('search.from') });
  const to = h('input#search-to', { type: 'date', 'aria-label': t('search.to') });
  const status = h('p.muted.search-status', { role: 'status' });
  const results = h('ul.hit-list.search-results');

  const run = async (e) => {
    if (e) e.preventDefault();
    const text = q.value.trim();
    if (!text) return;
    clear(results);
    status.textContent = t('search.searching');
    try {
      const r = await get('/search' + qs({
        q: text, room: room.value, user: person.value.trim().replace(/^@/, ''),
        from: dayStart(from.value), to: dayEnd(to.value), limit: 50,
      }));
      status.textContent = t('search.count', { n: r.total ?? r.hits.length });
      for (const hit of r.hits) {
        const m = hit.message;
        results.appendChild(h('li', null, h('button.hit.search-hit', {
          type: 'button', dataset: { room: hit.room.id, seq: String(m.seq) },
          onclick: () => {
            app.openRoom(hit.room.id, { seq: m.thread || m.seq });
            if (m.thread) app.openThread(hit.room.id, m.thread);
          },
        },
        h('span.hit-meta', null, `${hit.room.name} · ${app.userName(m.user)} · ${formatDateTime(m.ts)}`),
        h('span.hit-text', null, highlight(m.text || '', text)))));
      }
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) status.textContent = t('search.unavailable');
      else if (err instanceof ApiError) status.textContent = err.message;
      else status.textContent = t('err.network');
    }
  };

  const form = h('form.search-form', { onsubmit: run },
    q,
    h('div.search-filters', null,
      h('label', null, h('span', null, t('search.room')), room),
      h('label', null, h('span', null, t('search.person')), person),
      h('label', null, h('span', null, t('search.from')), from),
      h('label', null, h('span', null, t('search.to')), to)),
    h('button.btn.primary', { type: 'submit' }, t('search.submit')));
  openPanel('search', t('search.title'), h('div.search', null, form, status, results));
  q.focus();
}
