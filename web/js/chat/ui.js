// Shared UI pieces: the modal dialog (confirm and forms), the toast, the side panel and
// presence dots. Kept apart from app.js so the helpdesk and panels can use them too.
import { h, clear, $ } from './dom.js';
import { t } from '../i18n.js';

let toastTimer = 0;
export function toast(msg) {
  const el = $('#toast');
  el.textContent = msg;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

// Opens the one <dialog> with content; resolves with the value passed to close(value) or
// null when dismissed (Escape, cancel).
export function openDialog(build) {
  const dlg = $('#dialog');
  if (dlg.open) dlg.close();
  clear(dlg);
  return new Promise((resolve) => {
    let result = null;
    const close = (v) => { result = v; dlg.close(); };
    dlg.addEventListener('close', () => { clear(dlg); resolve(result); }, { once: true });
    dlg.appendChild(build(close));
    dlg.showModal();
    const first = dlg.querySelector('[autofocus], input, textarea, select, button.primary');
    if (first) first.focus();
  });
}

export function confirmDialog({ title, body, ok, danger, cls }) {
  return openDialog((close) => h('form.dlg' + (cls ? '.' + cls : ''), { method: 'dialog', onsubmit: (e) => { e.preventDefault(); close(true); } },
    h('h3', null, title),
    body ? h('p.dlg-text', null, body) : null,
    h('div.dlg-buttons', null,
      h('button.btn.dlg-cancel', { type: 'button', onclick: () => close(false) }, t('common.cancel')),
      h('button.btn.primary.dlg-ok' + (danger ? '.danger' : ''), { type: 'submit', autofocus: true }, ok || t('common.ok'))))).then((v) => v === true);
}

// The right-hand panel (thread, members, pins, receipts, search, helpdesk, notes).
let panelState = null;
export function openPanel(kind, title, body, onClose) {
  if (panelState && panelState.onClose) panelState.onClose();
  panelState = { kind, onClose };
  $('#panel-title').textContent = title;
  const b = clear($('#panel-body'));
  b.appendChild(body);
  $('#panel').hidden = false;
  $('#panel').dataset.kind = kind;
}
export function closePanel() {
  if (panelState && panelState.onClose) panelState.onClose();
  panelState = null;
  $('#panel').hidden = true;
  clear($('#panel-body'));
  delete $('#panel').dataset.kind;
}
export function panelKind() { return panelState ? panelState.kind : null; }
export function setPanelTitle(title) { $('#panel-title').textContent = title; }

export function presenceDot(user, presence) {
  const p = presence || 'offline';
  return h('span.dot.' + p, { dataset: { presenceUser: user }, title: t('presence.' + p), 'aria-label': t('presence.' + p) });
}

// Updates every dot of one user on the page.
export function updatePresenceDots(user, presence) {
  for (const el of document.querySelectorAll('.dot[data-presence-user]')) {
    if (el.dataset.presenceUser !== user) continue;
    el.className = 'dot ' + (presence || 'offline');
    el.title = t('presence.' + (presence || 'offline'));
  }
}
