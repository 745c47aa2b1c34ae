// Japanese/English string catalogs for every page of the collab web app (chat, meetings, live).
// Standalone on purpose: no dependency on the chat code, so other pages import it as is.
// The language comes from the user's explicit choice (kept in sessionStorage: it is a UI
// preference, not chat data) or else from navigator.language. Dates and times always go through
// Intl in the chosen locale. It deliberately does not pluralize beyond {n} substitution.

export const LANGS = ['ja', 'en'];
const STORE_KEY = 'collab.lang';

let lang = 'en';
let catalog = {};
let fallback = {};
const listeners = new Set();
const cache = new Map();

function detect() {
  try {
    const chosen = sessionStorage.getItem(STORE_KEY);
    if (LANGS.includes(chosen)) return chosen;
  } catch { /* storage disabled: use the browser's language */ }
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
  return nav.toLowerCase().startsWith('ja') ? 'ja' : 'en';
}

// The cache holds the promise, so loads of one catalog that overlap share one request.
function load(code) {
  if (!cache.has(code)) {
    const url = new URL(`../i18n/${code}.json`, import.meta.url);
    const p = fetch(url, { credentials: 'same-origin' }).then((r) => {
      if (!r.ok) throw new Error(`catalog ${code}: HTTP ${r.status}`);
      return r.json();
    });
    p.catch(() => cache.delete(code));
    cache.set(code, p);
  }
  return cache.get(code);
}

// Loads the catalog of the detected (or given) language; call once before rendering.
export async function initI18n(code) {
  const want = LANGS.includes(code) ? code : detect();
  // Both catalogs at once: the fallback and the chosen language are each one round trip.
  [fallback, catalog] = await Promise.all([load('en'), load(want)]);
  lang = want;
  document.documentElement.lang = lang;
  return lang;
}

export function getLang() { return lang; }

// Switches language, remembers the choice for this tab, re-labels the static DOM and tells listeners.
export async function setLang(code) {
  if (!LANGS.includes(code)) return;
  catalog = code === 'en' ? await load('en') : await load(code);
  lang = code;
  try { sessionStorage.setItem(STORE_KEY, code); } catch { /* ignore */ }
  document.documentElement.lang = lang;
  applyI18n(document);
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

// t('key', {n: 3}) -> catalog string with {n} replaced; the key itself when missing everywhere.
export function t(key, vars) {
  let s = catalog[key] ?? fallback[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// Sets textContent / placeholder / title / aria-label of elements carrying data-i18n* attributes.
export function applyI18n(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}

const fmtCache = new Map();
function fmt(kind, opts) {
  const k = `${lang}|${kind}`;
  if (!fmtCache.has(k)) fmtCache.set(k, new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en', opts));
  return fmtCache.get(k);
}

export function formatTime(ms) { return fmt('time', { hour: '2-digit', minute: '2-digit' }).format(ms); }
export function formatDate(ms) { return fmt('date', { year: 'numeric', month: 'short', day: 'numeric', weekday: 'short' }).format(ms); }
export function formatDateTime(ms) { return fmt('dt', { dateStyle: 'medium', timeStyle: 'short' }).format(ms); }
export function formatNumber(n) { return new Intl.NumberFormat(lang === 'ja' ? 'ja-JP' : 'en').format(n); }
export function formatBytes(n) {
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${formatNumber(Math.round(n * 10) / 10)} ${units[i]}`;
}
