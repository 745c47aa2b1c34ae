// The live player page (web/live/) in headless Chromium against real collab-chatd and
// collab-stream, driven by tests/integration/test_stream_web.py. COLLAB_E2E holds
// {url, stream, scenario, user, password}; the script prints one JSON line the Python side
// asserts on. collab-stream runs in token mode: every scenario except `login` first logs in
// through the chat app's login form (cfg.user), so the live page gets a signed watch URL.
// Scenarios:
//   play     the stream is live: it plays, currentTime advances, latency and LIVE badge show
//   offline  the stream is not live: the page says so and keeps checking; when the test then
//            writes a line to stdin (after starting the publisher), the page must start playing,
//            and after the next line (publisher stopped) show the offline state again
//   list     /live/ lists the stream with a link that opens its player
//   native   no MSE in the page: the browser's own HLS plays the stream
//   login    not logged in: the page shows the login link; after logging in (another tab) it plays
//   renew    the watch URL is about to expire: the page gets a new one and the player switches
//            to it without a page reload, and goes on playing
//   recording  /live/ lists the stream's finished recording; its link plays it on demand (hls.js,
//            VOD) and the page offers the MP4 as a download
//   dvr      the viewer seeks back in a live stream: "back to live" appears, and takes them back
// Every wait is bounded (Playwright timeouts, a deadline for stdin); none is a fixed sleep.
import { createInterface } from 'node:readline';
import { cfg, base, run, newContext, newPage, login } from './chat_helpers.mjs';

const LIVE_TIMEOUT = 40000; // first parts plus hls.js start-up on a loaded 2-core machine

const live = (page) => page.evaluate(() => ({ ...window.__collabLive }));

function pageErrors(page, L) {
  return [...page.errors, ...L.errors];
}

// Waits until the video has played `seconds` of media past where it was when asked.
async function advances(page, seconds) {
  const t0 = await page.evaluate(() => document.getElementById('video').currentTime);
  await page.waitForFunction(([t, s]) => document.getElementById('video').currentTime > t + s, [t0, seconds],
    { timeout: (seconds + 15) * 1000, polling: 100 });
  const t1 = await page.evaluate(() => document.getElementById('video').currentTime);
  return { from: t0, to: t1 };
}

// Logs this context (its cookie jar) in through the chat app's form, as a viewer would.
async function signIn(context) {
  const page = await newPage(context, cfg.lang || 'en');
  await login(page, cfg.user, cfg.password);
  await page.close();
}

async function waitLive(page) {
  await page.waitForSelector('body[data-state="live"]', { state: 'attached', timeout: LIVE_TIMEOUT });
}

// Latency readouts once a second for a few seconds: the page's number and its text.
async function latencySamples(page, n) {
  const out = [];
  await page.waitForFunction(() => typeof window.__collabLive.latencyMs === 'number', null, { timeout: 10000 });
  for (let i = 0; i < n; i++) {
    // A new reading each second (its value may repeat: at a steady playback rate the distance
    // to the wall clock stays the same to the millisecond).
    const before = await page.evaluate(() => window.__collabLive.latencyReadouts || 0);
    await page.waitForFunction((prev) => {
      const el = document.getElementById('latency');
      return el.dataset.ms !== '' && (window.__collabLive.latencyReadouts || 0) > prev;
    }, before, { timeout: 5000, polling: 100 });
    out.push(await page.evaluate(() => {
      const el = document.getElementById('latency');
      return { ms: Number(el.dataset.ms), text: el.textContent, value: window.__collabLive.latencyMs };
    }));
  }
  return out;
}

async function playScenario(page) {
  const mse = await page.evaluate(() => typeof MediaSource !== 'undefined'
    && MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"'));
  const t0 = Date.now();
  await page.goto(`${base}live/?s=${encodeURIComponent(cfg.stream)}`);
  await waitLive(page);
  const liveAfterMs = Date.now() - t0;
  const played = await advances(page, 2.5);
  const latency = await latencySamples(page, 3);
  // The server counts this player once its playlist requests were seen (the page asks every 5 s).
  await page.waitForFunction(() => window.__collabLive.viewers >= 1, null, { timeout: 15000, polling: 200 });
  const viewersAlone = (await live(page)).viewers;
  // A second viewer (another browser, told apart by its User-Agent on this one address) is counted.
  const other = await newContext(page.context().browser(), { userAgent: 'collab-test second viewer' });
  await signIn(other);
  const page2 = await newPage(other, cfg.lang || 'en');
  await page2.goto(`${base}live/?s=${encodeURIComponent(cfg.stream)}`);
  await waitLive(page2);
  await page.waitForFunction(() => window.__collabLive.viewers >= 2, null, { timeout: 15000, polling: 200 });
  const L2 = await live(page2);
  await other.close();
  const L = await live(page);
  return {
    mse,
    liveAfterMs,
    played,
    latency,
    state: L.state,
    engine: L.engine,
    viewersAlone,
    viewers: L.viewers,
    viewersText: await page.textContent('#viewers'),
    badge: await page.isVisible('#badge'),
    badgeText: (await page.textContent('#badge')).trim(),
    overlay: await page.isVisible('#overlay'),
    watchUrl: L.watchUrl,
    watchUrl2: L2.watchUrl,
    warnings: L.warnings,
    errors: [...pageErrors(page, L), ...pageErrors(page2, L2)],
  };
}

async function loginScenario(page) {
  await page.goto(`${base}live/?s=${encodeURIComponent(cfg.stream)}`);
  await page.waitForSelector('body[data-state="login"]', { state: 'attached', timeout: 20000 });
  const shown = {
    status: await page.textContent('#status'),
    link: (await page.textContent('#login-link')).trim(),
    href: await page.getAttribute('#login-link', 'href'),
    linkVisible: await page.isVisible('#login-link'),
    badge: await page.isVisible('#badge'),
  };
  await page.selectOption('#lang-select', 'ja');
  await page.waitForFunction(() => document.documentElement.lang === 'ja', null, { timeout: 5000 });
  shown.statusJa = await page.textContent('#status');
  shown.linkJa = (await page.textContent('#login-link')).trim();
  await page.selectOption('#lang-select', 'en');
  // The viewer follows the link in another tab and logs in; this page notices on its own.
  await signIn(page.context());
  const t0 = Date.now();
  await waitLive(page);
  const liveAfterLoginMs = Date.now() - t0;
  const played = await advances(page, 2);
  const L = await live(page);
  return { shown, liveAfterLoginMs, played, state: L.state, watchUrl: L.watchUrl, warnings: L.warnings,
    errors: pageErrors(page, L) };
}

// chatd's first answer is doctored to expire in ten minutes and four seconds with a marked URL,
// so the page renews it (ten minutes before exp) after about four seconds; later answers are
// chatd's own.
async function renewScenario(page) {
  let calls = 0;
  await page.context().route('**/api/v1/streams/*/watch', async (route) => {
    calls++;
    if (calls > 1) return route.continue();
    const response = await route.fetch();
    const body = await response.json();
    body.url += '&first=1';
    body.exp = Math.floor(Date.now() / 1000) + 604;
    return route.fulfill({ response, json: body });
  });
  await page.goto(`${base}live/?s=${encodeURIComponent(cfg.stream)}`);
  await waitLive(page);
  const first = (await live(page)).watchUrl;
  await page.waitForFunction(() => window.__collabLive.switches >= 1, null, { timeout: 20000, polling: 100 });
  const played = await advances(page, 2.5);
  const L = await live(page);
  return { first, watchUrl: L.watchUrl, renewals: L.renewals, switches: L.switches, calls, state: L.state, played,
    badge: await page.isVisible('#badge'), warnings: L.warnings, errors: pageErrors(page, L) };
}

// One line from stdin, or null after timeoutMs (the Python side writes it after publishing).
function readLine(timeoutMs) {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    const timer = setTimeout(() => { rl.close(); resolve(null); }, timeoutMs);
    rl.once('line', (line) => { clearTimeout(timer); rl.close(); resolve(line); });
  });
}

async function offlineScenario(page) {
  await page.goto(`${base}live/?s=${encodeURIComponent(cfg.stream)}`);
  await page.waitForSelector('body[data-state="offline"]', { state: 'attached' });
  // Still offline after the page has asked the server twice more (backoff 1 s, then 2 s).
  await page.waitForFunction(() => window.__collabLive.checks >= 3, null, { timeout: 10000, polling: 100 });
  await page.waitForSelector('body[data-state="offline"]', { state: 'attached', timeout: 1000 });
  const status = await page.textContent('#status');
  const retry = await page.textContent('#retry');
  const badge = await page.isVisible('#badge');
  const overlay = await page.isVisible('#overlay');
  // The same state in Japanese after switching the language on the page.
  await page.selectOption('#lang-select', 'ja');
  await page.waitForFunction(() => document.documentElement.lang === 'ja', null, { timeout: 5000 });
  const statusJa = await page.textContent('#status');
  await page.selectOption('#lang-select', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: 5000 });
  const L = await live(page);
  const offline = { state: L.state, checks: L.checks, statusJa, status, retry, badge, overlay, latencyMs: L.latencyMs, errors: pageErrors(page, L) };
  if (!cfg.publishAfter) return { offline, errors: offline.errors };
  console.log(JSON.stringify({ offline: true })); // tells the test to start the publisher
  const go = await readLine(30000);
  if (go === null) throw new Error('no go line on stdin');
  const t0 = Date.now();
  await waitLive(page);
  const liveAfterMs = Date.now() - t0;
  const played = await advances(page, 2);
  const L2 = await live(page);
  const playing = { liveAfterMs, played, state: L2.state, badge: await page.isVisible('#badge') };
  // The publisher goes away: the page must say so again, without errors.
  console.log(JSON.stringify({ live: true }));
  if ((await readLine(30000)) === null) throw new Error('no stopped line on stdin');
  const t1 = Date.now();
  // The server shows a slate while the publisher is away (the test limits it to a few seconds):
  // the page keeps playing it and says it is paused, then says offline once the slate ends.
  await page.waitForSelector('body[data-state="paused"]', { state: 'attached', timeout: 20000 });
  const paused = { pausedAfterMs: Date.now() - t1, status: await page.textContent('#status'),
    badge: await page.isVisible('#badge'), overlay: await page.isVisible('#overlay') };
  await page.waitForSelector('body[data-state="offline"]', { state: 'attached', timeout: 40000 });
  const L3 = await live(page);
  const ended = { paused, offlineAfterMs: Date.now() - t1, status: await page.textContent('#status'),
    badge: await page.isVisible('#badge'), latencyMs: L3.latencyMs };
  return { offline, playing, ended, warnings: L3.warnings, errors: pageErrors(page, L3) };
}

// Without MSE (hidden before the page loads) hls.js cannot run: the page falls back to the
// browser's own HLS, which this Chromium has.
async function nativeScenario(page) {
  await page.addInitScript(() => {
    for (const k of ['MediaSource', 'ManagedMediaSource', 'WebKitMediaSource']) delete window[k];
  });
  await page.goto(`${base}live/?s=${encodeURIComponent(cfg.stream)}`);
  const canNative = await page.evaluate(() => document.createElement('video').canPlayType('application/vnd.apple.mpegurl'));
  await waitLive(page);
  const played = await advances(page, 2);
  const L = await live(page);
  return { canNative, mse: await page.evaluate(() => 'MediaSource' in window), engine: L.engine, state: L.state,
    played, badge: await page.isVisible('#badge'), latencyMs: L.latencyMs, errors: pageErrors(page, L) };
}

async function listScenario(page) {
  await page.goto(`${base}live/`);
  const item = `.stream-item[data-stream="${cfg.stream}"]`;
  await page.waitForSelector(`${item} .badge`, { timeout: 15000 });
  const href = await page.getAttribute(`${item} a`, 'href');
  const names = await page.$$eval('.stream-item', (els) => els.map((e) => e.dataset.stream));
  await Promise.all([page.waitForURL(/\/live\/\?s=/), page.click(`${item} a`)]);
  await waitLive(page);
  const played = await advances(page, 1);
  const L = await live(page);
  return { href, names, url: page.url(), state: L.state, played, errors: pageErrors(page, L) };
}

async function recordingScenario(page) {
  await page.goto(`${base}live/`);
  const item = `.recording-item[data-recording="${cfg.stream}/${cfg.recording}"]`;
  await page.waitForSelector(`${item} .play-recording`, { timeout: 30000 });
  const listDownload = await page.$(`${item} .download-recording`);
  await Promise.all([page.waitForURL(/rec=/), page.click(`${item} .play-recording`)]);
  await page.waitForSelector('body[data-state="recording"]', { state: 'attached', timeout: LIVE_TIMEOUT });
  const played = await advances(page, 2);
  const duration = await page.evaluate(() => document.getElementById('video').duration);
  const L = await live(page);
  const pageDownload = await page.getAttribute('#download', 'href');
  // The link works from the page (it carries the viewer token when the stream needs one).
  const downloadStatus = await page.evaluate(async (u) => (await fetch(u)).status, pageDownload);
  return { listDownload: listDownload !== null, played, duration, state: L.state, url: page.url(),
    title: await page.textContent('#stream-name'), recBadge: await page.isVisible('#rec-badge'),
    pageDownload, downloadStatus, badge: await page.isVisible('#badge'), errors: pageErrors(page, L) };
}

async function dvrScenario(page) {
  await page.goto(`${base}live/?s=${encodeURIComponent(cfg.stream)}`);
  await waitLive(page);
  // Wait until the playlist reaches far enough back, then seek there as a viewer would.
  await page.waitForFunction(() => {
    const v = document.getElementById('video');
    return v.seekable.length && v.currentTime - v.seekable.start(0) > 8;
  }, null, { timeout: 60000, polling: 200 });
  const atEdge = await page.isVisible('#go-live');
  await page.evaluate(() => { const v = document.getElementById('video'); v.currentTime -= 7; });
  await page.waitForSelector('#go-live', { state: 'visible', timeout: 10000 });
  const behind = await page.evaluate(() => window.__collabLive.behindS);
  const behindText = await page.textContent('#go-live');
  // It stays behind (nothing pulls the viewer back to the edge) while playing on.
  await advances(page, 2);
  const stillBehind = await page.evaluate(() => window.__collabLive.behindS);
  await page.click('#go-live');
  await page.waitForSelector('#go-live', { state: 'hidden', timeout: 10000 });
  const after = await page.evaluate(() => window.__collabLive.behindS);
  await advances(page, 1);
  const L = await live(page);
  return { atEdge, behind, behindText, stillBehind, after, state: L.state, errors: pageErrors(page, L) };
}

const scenarios = { play: playScenario, offline: offlineScenario, list: listScenario, native: nativeScenario,
  login: loginScenario, renew: renewScenario, recording: recordingScenario, dvr: dvrScenario };

run(async (browser) => {
  const context = await newContext(browser);
  if (cfg.scenario !== 'login' && cfg.user) await signIn(context);
  const page = await newPage(context, cfg.lang || 'en');
  const result = await scenarios[cfg.scenario](page);
  await context.close();
  return result;
});
