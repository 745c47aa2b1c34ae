// The live page (/live/): without ?s= a list of the streams collab-stream knows, each linking to
// its player; with ?s=NAME the player for that stream, with a LIVE badge, the viewer count the
// server reports, and the latency from program date-time. While a stream is not live the page
// says so and asks again on a bounded backoff, starting the player when the publisher appears.
// The URL it plays comes from chatd (GET /api/v1/streams/NAME/watch): signed with a viewer
// token unless the stream is open. Without a login the page shows a link to the chat app and
// keeps checking, so it starts by itself once the viewer has logged in. Before the token
// expires it asks for a new URL and switches the player to it without a page reload.
// With a DVR window a viewer may seek back; a "back to live" button then returns to the edge.
// Recordings are listed under the streams (and under a stream's player); ?s=NAME&rec=ID plays one
// on demand, with its MP4 as a download link.
// Nothing is stored in the browser beyond the language choice (i18n.js).
import { initI18n, applyI18n, setLang, getLang, onLangChange, t, formatNumber } from '../i18n.js';
import { NAME_RE, RECORDING_ID_RE, HttpError, streamBase, watchUrl, listStreams, streamInfo, isPlayable, playlistReady,
  hasLadder, masterUrl,
  listRecordings, recordingUrl } from './streams.js';
import { LivePlayer, GONE, DENIED, engine } from './player.js';

const BACKOFF_S = [1, 2, 4, 8, 15]; // waits between checks of a stream that is not live (last one repeats)
const POLL_MS = 5000;               // viewer count and live flag while playing; the list's refresh
const MAX_WARNINGS = 50;
const RENEW_BEFORE_MS = 10 * 60 * 1000; // a new watch URL this long before the token expires
const RENEW_RETRY_MS = 30000;           // after a failed renewal, while the old token still works
const RECORDINGS_POLL_MS = 15000;
const BEHIND_S = 3;                 // further behind the live edge than this shows "back to live"

// For the browser tests and for a curious operator's console.
const L = (window.__collabLive = { state: 'loading', latencyMs: null, viewers: null, engine: null, stream: null,
  checks: 0, errors: [], warnings: [], watchUrl: null, renewals: 0, switches: 0 });
window.addEventListener('error', (e) => L.errors.push(`script: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => L.errors.push(`promise: ${e.reason && e.reason.message ? e.reason.message : e.reason}`));

const $ = (id) => document.getElementById(id);
let base = '';
let name = null;
let player = null;
let timer = 0;
let retries = 0;
let retryAt = 0;
let checkSeq = 0; // only the newest check acts on its answer
let waits = 0;    // checks that found the stream live but its playlist not ready yet
let status = { key: 'live.loading', vars: null };
let viewers = null;
let lastList = null;
let watch = null;   // {url, exp}: what chatd said to play (exp in ms, null for an open stream)
let ladder = false; // the stream has renditions: play its multivariant playlist (hls.js does ABR)
let renewTimer = 0;
let recId = null;

function setState(state, key, vars) {
  L.state = state;
  document.body.dataset.state = state;
  if (key) status = { key, vars };
  render();
}

function render() {
  if (name === null) return renderList();
  $('status').textContent = t(status.key, status.vars);
  $('badge').hidden = L.state !== 'live';
  $('login').hidden = L.state !== 'login';
  $('viewers').hidden = viewers === null;
  if (viewers !== null) $('viewers').textContent = t('live.viewers', { n: formatNumber(viewers) });
  renderTick();
}

function formatDuration(s) {
  const n = Math.max(0, Math.round(Number(s) || 0));
  const h = Math.floor(n / 3600), m = Math.floor((n % 3600) / 60), sec = n % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${h ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}

function formatWhen(iso) {
  const d = new Date(iso);
  if (!Number.isFinite(d.getTime())) return '';
  return new Intl.DateTimeFormat(getLang(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

// One list of recordings (all streams on the list page, one stream under its player).
function renderRecordings(ul, items, withStream) {
  ul.replaceChildren();
  for (const r of items) {
    if (!r || !NAME_RE.test(String(r.stream)) || !RECORDING_ID_RE.test(String(r.id))) continue;
    const li = el('li', 'recording-item');
    li.dataset.recording = `${r.stream}/${r.id}`;
    if (withStream) li.append(el('strong', 'stream', r.stream));
    li.append(el('span', 'when', formatWhen(r.started_at)));
    li.append(el('span', 'duration', formatDuration(r.duration_s)));
    if (r.state === 'recording') li.append(el('span', 'badge', t('live.recording_now')));
    if (r.playlist) {
      const a = el('a', 'play-recording', t('live.play_recording'));
      a.href = `/live/?s=${encodeURIComponent(r.stream)}&rec=${encodeURIComponent(r.id)}`;
      li.append(a);
    }
    // The MP4 is offered on the recording's own page, where its link carries the viewer token.
    ul.append(li);
  }
}

let lastRecordings = null;

async function refreshRecordings() {
  try {
    lastRecordings = await listRecordings(base);
    L.recordings = lastRecordings.length;
  } catch (e) {
    warn(`recordings: ${e.message}`);
    lastRecordings = null;
  }
  renderAllRecordings();
  setTimeout(refreshRecordings, RECORDINGS_POLL_MS);
}

function renderAllRecordings() {
  const items = lastRecordings || [];
  if (name === null) {
    $('recordings').hidden = lastRecordings === null;
    $('recordings-empty').hidden = items.length > 0;
    renderRecordings($('recording-list'), items, true);
  } else {
    const mine = items.filter((r) => r && r.stream === name && r.id !== recId);
    $('stream-recordings').hidden = mine.length === 0;
    renderRecordings($('stream-recording-list'), mine, false);
  }
}

// Once a second: the latency readout and the countdown to the next check.
function renderTick() {
  if (name === null) return;
  const ms = player ? player.latencyMs() : null;
  L.latencyMs = ms;
  const el = $('latency');
  el.textContent = ms === null ? '' : t('live.latency', { s: (ms / 1000).toFixed(1) });
  el.dataset.ms = ms === null ? '' : String(Math.round(ms));
  if (ms !== null) L.latencyReadouts = (L.latencyReadouts || 0) + 1;  // for tests: a fresh reading
  const behind = player ? player.behindS() : 0;
  L.behindS = behind;
  const far = L.state === 'live' && behind > BEHIND_S;
  $('go-live').hidden = !far;
  $('behind').textContent = far ? t('live.behind', { s: Math.round(behind) }) : '';
  const left = Math.ceil((retryAt - Date.now()) / 1000);
  $('retry').textContent = L.state !== 'live' && retryAt && left > 0 ? t('live.retry_in', { n: left }) : '';
}

function warn(detail) {
  L.warnings.push(detail);
  if (L.warnings.length > MAX_WARNINGS) L.warnings.shift();
}

// ---------------------------------------------------------------- player

function schedule(ms) {
  clearTimeout(timer);
  retryAt = Date.now() + ms;
  timer = setTimeout(check, ms);
}

function retryLater() {
  schedule(BACKOFF_S[Math.min(retries, BACKOFF_S.length - 1)] * 1000);
  retries++;
}

function stopPlayer() {
  if (player) player.stop();
  player = null;
  L.latencyMs = null;
}

// ---------------------------------------------------------------- watch URL

function watchUsable() {
  return !!watch && (watch.exp === null || watch.exp - Date.now() > RENEW_BEFORE_MS);
}

function setWatch(w) {
  watch = w;
  L.watchUrl = w.url;
  clearTimeout(renewTimer);
  if (w.exp !== null) renewTimer = setTimeout(renew, Math.max(1000, w.exp - Date.now() - RENEW_BEFORE_MS));
}

// Before the token expires: a new URL (the next bucket's token) for the running player.
async function renew() {
  let w;
  try {
    w = await watchUrl(name);
  } catch (e) {
    warn(`watch renewal: ${e.message}`);
    // Logged out meanwhile: play on until the stream server refuses the old token (DENIED), then
    // the check shows the login link. Other failures: try again while the old token lasts.
    if (!(e instanceof HttpError && e.status === 401) && watch && watch.exp !== null && watch.exp > Date.now())
      renewTimer = setTimeout(renew, RENEW_RETRY_MS);
    return;
  }
  const changed = !watch || w.url !== watch.url;
  setWatch(w);
  L.renewals++;
  if (changed && player) {
    player.switchSource(playUrl());
    L.switches++;
  }
}

function needLogin() {
  stopPlayer();
  watch = null;
  clearTimeout(renewTimer);
  setState('login', 'live.login_required');
  retryLater();
}

// What the player loads: the multivariant playlist when the stream has a ladder. The readiness
// check stays on the source's media playlist (a multivariant one lists no segments).
function playUrl() {
  return ladder ? masterUrl(watch.url) : watch.url;
}

function startPlayer() {
  L.playUrl = playUrl();
  const p = new LivePlayer($('video'), L.playUrl, {
    onPlaying: () => { if (player === p) setState('live', 'live.playing'); },
    onWarning: warn,
    onStop: async (reason, detail) => {
      if (player !== p) return;
      player = null;
      L.latencyMs = null;
      clearTimeout(timer);
      // A player that fails because the publisher left is not an error: ask the server first.
      let info = null;
      try { info = await streamInfo(base, name); } catch { /* unreachable: treated as not live */ }
      if (player) return; // a check that was under way has started a new one meanwhile
      if (reason === DENIED) {
        // The token expired (a laptop asleep past exp) or the key changed: ask chatd again.
        watch = null;
        warn(detail);
        setState('error', 'live.denied', { msg: detail });
      } else if (reason === GONE || !isPlayable(info)) {
        warn(detail);
        setState('offline', 'live.offline');
      } else {
        L.errors.push(`player: ${detail}`);
        setState('error', 'live.error', { msg: detail });
      }
      retryLater();
    },
  });
  player = p;
  L.engine = engine($('video'));
  setState('loading', 'live.connecting');
  p.start();
}

async function check() {
  clearTimeout(timer);
  retryAt = 0;
  L.checks++;
  const seq = ++checkSeq;
  let info;
  try {
    info = await streamInfo(base, name);
    if (seq !== checkSeq) return;
  } catch (e) {
    if (seq !== checkSeq) return;
    warn(`stream info: ${e.message}`);
    if (!player) {
      setState('offline', 'live.unreachable');
      retryLater();
    } else {
      schedule(POLL_MS); // the player itself shows whether media still flows
    }
    return;
  }
  viewers = info && Number.isFinite(info.viewers) ? info.viewers : null;
  L.viewers = viewers;
  if (!player) ladder = hasLadder(info); // a running player keeps what it loaded
  if (!isPlayable(info)) {
    stopPlayer();
    setState('offline', 'live.offline');
    retryLater();
    return;
  }
  if (!player && !watchUsable()) {
    try {
      const w = await watchUrl(name);
      if (seq !== checkSeq) return;
      setWatch(w);
    } catch (e) {
      if (seq !== checkSeq) return;
      if (e instanceof HttpError && e.status === 401) return needLogin();
      warn(`watch: ${e.message}`);
      setState('error', 'live.error', { msg: e.message });
      retryLater();
      return;
    }
  }
  retries = 0;
  let ready = false;
  if (!player) {
    try {
      ready = await playlistReady(watch.url, engine($('video')) === 'native');
    } catch (e) {
      if (seq !== checkSeq) return;
      // The stream server refused the URL: a new one on the next check.
      watch = null;
      warn(`playlist: ${e.message}`);
      setState('error', 'live.denied', { msg: e.message });
      retryLater();
      return;
    }
  }
  if (!player && !ready) {
    if (seq !== checkSeq) return;
    setState('loading', 'live.connecting');
    // The first segment is a few seconds away; a stream that never makes one is asked less often.
    schedule(waits++ < 10 ? 1000 : 5000);
    return;
  }
  if (seq !== checkSeq) return;
  waits = 0;
  if (!player) {
    startPlayer();
  } else if (info.slate && L.state === 'live') {
    setState('paused', 'live.paused');
  } else if (!info.slate && L.state === 'paused') {
    setState('live', 'live.playing');
  } else {
    render();
  }
  schedule(POLL_MS);
}

async function openRecording() {
  $('player-view').hidden = false;
  $('stream-name').textContent = t('live.recording_title', { name });
  document.title = `${name} ${recId} — collab live`;
  L.stream = name;
  L.recording = recId;
  if (!NAME_RE.test(name) || !RECORDING_ID_RE.test(recId)) return setState('error', 'live.bad_name');
  if (!engine($('video'))) return setState('error', 'live.no_player');
  if (!base) return setState('error', 'live.no_config');
  let rec = null;
  try {
    rec = (await listRecordings(base)).find((r) => r && r.stream === name && r.id === recId) || null;
  } catch (e) {
    warn(`recordings: ${e.message}`);
    return setState('error', 'live.unreachable');
  }
  if (!rec || !recordingUrl(base, rec.playlist)) return setState('error', 'live.recording_missing');
  // Recordings are for the same viewers as the live stream: the stream's viewer token ('' when
  // the stream is open) goes on the playlist URL and the server puts it on every URI inside.
  let vt = '';
  try {
    const w = await watchUrl(name);
    vt = new URL(w.url, location.href).searchParams.get('vt') || '';
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) return setState('login', 'live.login_required');
    warn(`watch: ${e.message}`);
    return setState('error', 'live.error', { msg: e.message });
  }
  const withVt = (u) => (vt ? `${u}${u.includes('?') ? '&' : '?'}vt=${encodeURIComponent(vt)}` : u);
  const url = withVt(recordingUrl(base, rec.playlist));
  $('rec-badge').hidden = false;
  const mp4 = recordingUrl(base, rec.mp4);
  if (mp4) {
    $('download').href = withVt(`${mp4}?download=1`);
    $('download').hidden = false;
  }
  const p = new LivePlayer($('video'), url, {
    onPlaying: () => { if (player === p) setState('recording', 'live.playing'); },
    onWarning: warn,
    onStop: (reason, detail) => {
      if (player !== p) return;
      player = null;
      if (reason === GONE) return setState('error', 'live.recording_missing');
      L.errors.push(`player: ${detail}`);
      setState('error', 'live.error', { msg: detail });
    },
  }, { vod: true });
  player = p;
  L.engine = engine($('video'));
  setState('loading', 'live.connecting');
  p.start();
  refreshRecordings();
}

function openPlayer() {
  $('player-view').hidden = false;
  $('stream-name').textContent = name;
  document.title = `${name} — collab live`;
  L.stream = name;
  if (!NAME_RE.test(name)) return setState('error', 'live.bad_name');
  if (!engine($('video'))) return setState('error', 'live.no_player');
  if (!base) return setState('error', 'live.no_config');
  setInterval(renderTick, 1000);
  // Back from logging in (another tab or window): check at once instead of at the next retry.
  const again = () => { if (L.state === 'login' && document.visibilityState === 'visible') check(); };
  document.addEventListener('visibilitychange', again);
  window.addEventListener('focus', again);
  $('go-live').addEventListener('click', () => { if (player) player.goLive(); renderTick(); });
  check();
  refreshRecordings();
}

// ---------------------------------------------------------------- list

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function renderList() {
  const ul = $('stream-list');
  ul.replaceChildren();
  $('list-empty').hidden = !lastList || lastList.length > 0;
  if (!lastList) return;
  const sorted = [...lastList].sort((a, b) => (b.live - a.live) || String(a.name).localeCompare(String(b.name)));
  for (const s of sorted) {
    const li = el('li', s.live ? 'stream-item' : 'stream-item offline');
    li.dataset.stream = s.name;
    const a = el('a', 'stream-link', s.name);
    a.href = `/live/?s=${encodeURIComponent(s.name)}`;
    li.append(a);
    if (s.live) li.append(el('span', 'badge', t('live.badge')));
    else li.append(el('span', 'muted', t('live.not_live')));
    if (Number.isFinite(s.viewers) && s.live) li.append(el('span', 'viewers', t('live.viewers', { n: formatNumber(s.viewers) })));
    ul.append(li);
  }
}

async function refreshList() {
  try {
    lastList = (await listStreams(base)).filter((s) => s && typeof s.name === 'string');
    $('list-error').hidden = true;
    retries = 0;
    setState('list');
    timer = setTimeout(refreshList, POLL_MS);
    if (lastRecordings === null && !recordingsStarted) {
      recordingsStarted = true;
      refreshRecordings();
    }
  } catch (e) {
    warn(`stream list: ${e.message}`);
    $('list-error').hidden = false;
    $('list-error').textContent = t('live.unreachable');
    timer = setTimeout(refreshList, BACKOFF_S[Math.min(retries++, BACKOFF_S.length - 1)] * 1000);
  }
}

let recordingsStarted = false;

function openList() {
  $('list-view').hidden = false;
  if (!base) {
    $('list-error').hidden = false;
    $('list-error').textContent = t('live.no_config');
    return setState('error');
  }
  refreshList();
}

// ---------------------------------------------------------------- start

async function main() {
  await initI18n();
  applyI18n(document);
  const sel = $('lang-select');
  sel.value = getLang();
  sel.addEventListener('change', () => setLang(sel.value));
  onLangChange(() => { sel.value = getLang(); render(); renderAllRecordings(); });

  const params = new URLSearchParams(location.search);
  name = params.get('s');
  recId = name === null ? null : params.get('rec');
  try {
    base = await streamBase();
  } catch (e) {
    L.errors.push(`config: ${e.message}`);
  }
  if (name === null) openList();
  else if (recId !== null) openRecording();
  else openPlayer();
}

main().catch((e) => {
  L.errors.push(`start: ${e && e.message ? e.message : e}`);
  setState('error', 'live.error', { msg: String(e && e.message ? e.message : e) });
});
