// Where the live streams are and what collab-stream says about them: the stream base URL from
// chatd's /api/v1/config, GET {stream_url}/api/v1/streams (public: stream names are not secret
// on the intranet; a cross-origin request the stream daemon answers with CORS headers), and the
// URL to play from chatd's GET /api/v1/streams/NAME/watch (same origin, the session cookie):
// signed with a viewer token (?vt=, shared by every viewer in a 6-hour bucket) unless the stream
// is open. No cookie or other credential goes to the stream server; the token is in the URL.
// Recordings are listed by GET {stream_url}/api/v1/recordings the same way. It deliberately does
// not cache: every call asks the server.

// Stream names as collab-stream accepts them (letters, digits, _ and -, up to 64).
export const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

export class HttpError extends Error {
  constructor(url, status) {
    super(`HTTP ${status} from ${url}`);
    this.status = status;
  }
}

async function getJson(url, credentials) {
  const r = await fetch(url, { cache: 'no-store', credentials, headers: { Accept: 'application/json' } });
  if (!r.ok) throw new HttpError(url, r.status);
  return r.json();
}

// The stream server's base URL without a trailing slash ('' when chatd names none).
export async function streamBase() {
  const cfg = await getJson('/api/v1/config', 'same-origin');
  return String(cfg.stream_url || '').replace(/\/+$/, '');
}

// {url, exp}: the playlist URL to play and when its token expires (ms since the epoch; null for
// an open stream). Throws HttpError (status 401 when nobody is logged in).
export async function watchUrl(name) {
  const w = await getJson(`/api/v1/streams/${encodeURIComponent(name)}/watch`, 'same-origin');
  if (!w || typeof w.url !== 'string') throw new Error('watch: no url in the answer');
  return { url: w.url, exp: Number.isFinite(w.exp) ? w.exp * 1000 : null };
}

// [{name, live, viewers, parts, ...}] as collab-stream lists them.
export async function listStreams(base) {
  const body = await getJson(`${base}/api/v1/streams`, 'omit');
  return Array.isArray(body && body.streams) ? body.streams : [];
}

// One stream's entry, or null when the server does not know it (never published, or gone).
export async function streamInfo(base, name) {
  return (await listStreams(base)).find((s) => s && s.name === name) || null;
}

// Whether a player can start on the live playlist: hls.js (lowLatency) wants one complete
// segment (before that it reports an empty level); a plain HLS client starts three target
// durations from the end (RFC 8216 6.3.3) and fails when the playlist lists less than that.
// Throws HttpError for 401/403 (the token is refused: ask chatd for a new URL).
export async function playlistReady(url, plain) {
  const r = await fetch(url, { cache: 'no-store', credentials: 'omit' });
  if (r.status === 401 || r.status === 403) throw new HttpError(url, r.status);
  if (!r.ok) return false;
  const text = await r.text();
  const target = Number((/^#EXT-X-TARGETDURATION:(\d+)/m.exec(text) || [])[1] || 0);
  let listed = 0;
  for (const m of text.matchAll(/^#EXTINF:([\d.]+)/gm)) listed += Number(m[1]);
  return target > 0 && listed > 0 && (!plain || listed >= 3 * target);
}

// Recording ids as collab-stream makes them: UTC start time, maybe with -N.
export const RECORDING_ID_RE = /^\d{8}T\d{6}Z(-\d{1,3})?$/;

// [{stream, id, started_at, duration_s, bytes, state, playlist, mp4}], newest first.
export async function listRecordings(base) {
  const body = await getJson(`${base}/api/v1/recordings`, 'omit');
  return Array.isArray(body && body.recordings) ? body.recordings : [];
}

// An absolute URL for a path the server listed (playlist or mp4); null for anything else.
export function recordingUrl(base, path) {
  return typeof path === 'string' && path.startsWith('/recordings/') ? `${base}${path}` : null;
}

// Whether collab-stream makes extra renditions of the stream (stream.ladder) that have media:
// then the player loads the multivariant playlist and hls.js picks a rendition by bandwidth.
export function hasLadder(info) {
  return !!(info && Array.isArray(info.renditions) && info.renditions.some((r) => r && r.live));
}

// The multivariant playlist beside a stream's media playlist URL, with the same query (the
// viewer token: the server puts it on every URI inside), or the URL unchanged if it is not one.
export function masterUrl(url) {
  return String(url).replace(/\/index\.m3u8(\?|$)/, '/master.m3u8$1');
}

// A stream can be played once it is live and its packager has produced media.
// Live, or showing the slate while the publisher is away (players keep going through it).
export function isPlayable(info) {
  return !!(info && (info.live || info.slate) && Number(info.parts) > 0);
}
