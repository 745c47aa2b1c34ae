// bench/stream: collab-stream beside Debian's nginx + libnginx-mod-rtmp, the same ffmpeg publisher
// into both in one run, every server started and stopped here on loopback ports:
//   delivery  HTTP delivery capacity: wrk against one media segment of each, of about the same size
//   cpu       server CPU per passthrough stream (N publishers of ~3 Mbit/s each into each server)
//   latency   glass-to-glass in headless Chromium: a frame counter drawn into the picture by the
//             publisher, decoded from a canvas per presented frame; collab at its default part
//             length (hls.js low-latency defaults, and the tuned player the web app uses) and at stream.part_ms=200
//             (tuned player), nginx HLS with 1 s fragments (plain hls.js defaults)
//   node bench/stream/bench.mjs [--scenarios delivery,cpu,latency] [--streams N] [--cpu-seconds S]
//        [--wrk-seconds S] [--connections C] [--latency-seconds S] [--nginx-workers W]
// Prints one table; exit 0 when every scenario ran, 69 when a tool or server was missing (the
// others still ran), 1 on an error in a scenario.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { CollabStream, NginxRtmp, httpGet, playlistMedia } from './lib/servers.mjs';
import { Proc, percentile, sleep, treeCpuSeconds, waitFor } from '../chat/lib/util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sourceDir = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const SCENARIOS = opt('--scenarios', 'delivery,cpu,latency').split(',');
const STREAMS = Number(opt('--streams', 4));
const CPU_SECONDS = Number(opt('--cpu-seconds', 20));
const WRK_SECONDS = Number(opt('--wrk-seconds', 10));
const CONNECTIONS = Number(opt('--connections', 64));
const LATENCY_SECONDS = Number(opt('--latency-seconds', 20));
const NGINX_WORKERS = Number(opt('--nginx-workers', 1));
const binDir = process.env.COLLAB_BIN_DIR || path.join(sourceDir, 'build', 'release', 'bin');

// The publisher: what an encoder in a press room sends. 720p30 test pattern and a sine tone,
// libx264 veryfast zerolatency at ~3 Mbit/s CBR with a 1 s GOP, AAC audio, FLV over RTMP.
const FPS = 30;
const VIDEO = ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', String(FPS),
  '-keyint_min', String(FPS), '-sc_threshold', '0', '-b:v', '2900k', '-maxrate', '2900k', '-bufsize', '1450k',
  '-x264-params', 'nal-hrd=cbr', '-pix_fmt', 'yuv420p'];
const AUDIO = ['-c:a', 'aac', '-b:a', '128k'];
const SOURCE = (re) => [...(re ? ['-re'] : []), '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS}`,
  ...(re ? ['-re'] : []), '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000'];

// Frame counter: BITS blocks of BLOCK px in a black strip of STRIP px at the top, white = 1,
// then one always-white and one always-black reference block the page checks before trusting it.
const BITS = 18;
const BLOCK = 64;
const STRIP = 48;
function counterFilter() {
  const f = [`drawbox=x=0:y=0:w=iw:h=${STRIP}:color=black:t=fill`];
  for (let b = 0; b < BITS; b++) {
    f.push(`drawbox=x=${b * BLOCK + 8}:y=8:w=${BLOCK - 16}:h=${STRIP - 16}:color=white:t=fill:enable='mod(floor(n/${2 ** b})\\,2)'`);
  }
  f.push(`drawbox=x=${BITS * BLOCK + 8}:y=8:w=${BLOCK - 16}:h=${STRIP - 16}:color=white:t=fill`);
  return f.join(',');
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-stream-'));
const rows = [];
const notes = [];
let missing = false;
let failed = false;
const started = [];

const have = (cmd) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

async function startServer(s) {
  started.push(s);
  await s.start();
  return s;
}

async function stopServer(s) {
  await s.stop();
  const i = started.indexOf(s);
  if (i >= 0) started.splice(i, 1);
}

// The publisher's output once, as a file: copying it (-c copy -re) costs the publisher almost no
// CPU, so N publishers fit beside the servers on two cores, and each server gets the same bytes.
let clip = null;
function encodeClip() {
  if (clip) return clip;
  clip = path.join(work, 'clip.flv');
  execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...SOURCE(false), '-t', '20',
    ...VIDEO, ...AUDIO, '-f', 'flv', clip], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300000 });
  return clip;
}

const publishers = [];
function copyPublisher(url, tag) {
  const p = new Proc(`ffmpeg ${tag}`, 'ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1',
    '-i', clip, '-c', 'copy', '-f', 'flv', url], { logPath: path.join(work, `publisher-${tag}.log`) });
  publishers.push(p);
  return p;
}

async function stopPublishers() {
  while (publishers.length) await publishers.pop().stop(3000);
}

async function waitPlaylist(server, name, segments, timeoutMs = 30000) {
  return waitFor(async () => {
    const text = await server.playlist(name);
    if (!text) return null;
    const media = playlistMedia(text, server.playlistUrl(name));
    return media.length >= segments ? { text, media } : null;
  }, { timeoutMs, intervalMs: 200, what: `${segments} segments of ${server.name} ${name}` });
}

function fmt(v, d = 0) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

function ratio(a, b, d = 2) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(d) : '—';
}

// --- 1. HTTP delivery capacity -------------------------------------------------------------
function wrk(url) {
  const out = execFileSync('wrk', ['-t', '2', '-c', String(CONNECTIONS), '-d', `${WRK_SECONDS}s`, url],
    { timeout: (WRK_SECONDS + 60) * 1000 }).toString();
  const rps = Number((/Requests\/sec:\s+([\d.]+)/.exec(out) || [])[1]);
  const non2xx = Number((/Non-2xx or 3xx responses:\s+(\d+)/.exec(out) || [0, 0])[1]);
  const errs = /Socket errors:[^\n]*/.exec(out);
  const lat = /Latency\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)/.exec(out);
  return { rps, non2xx, errors: errs ? errs[0] : '', latencyAvg: lat ? lat[1] : '?', raw: out };
}

async function delivery() {
  encodeClip();
  // 1 s segments for collab here so a segment of each is about the same size (nginx: 1 s fragments).
  const collab = await startServer(new CollabStream(binDir, ['stream.segment_ms=1000', 'stream.window_segments=40']));
  const nginx = await startServer(new NginxRtmp({ workers: NGINX_WORKERS, playlistLength: '40s' }));
  try {
    copyPublisher(collab.rtmpUrl('d0'), 'delivery-collab');
    copyPublisher(nginx.rtmpUrl('d0'), 'delivery-nginx');
    const [c, n] = await Promise.all([waitPlaylist(collab, 'd0', 4), waitPlaylist(nginx, 'd0', 4)]);
    const sizes = async (media) => {
      const out = [];
      for (const m of media) {
        const r = await httpGet(m.url);
        if (r.status === 200) out.push({ url: m.url, size: r.body.length });
      }
      return out;
    };
    const cs = await sizes(c.media);
    const ns = await sizes(n.media);
    let best = null;
    for (const a of cs) {
      for (const b of ns) {
        const d = Math.abs(a.size - b.size);
        if (!best || d < best.d) best = { d, a, b };
      }
    }
    if (!best) throw new Error('no segments to fetch');
    // The server's CPU while wrk runs: the delivery rate per busy core.
    const measured = (server, url) => {
      const c0 = treeCpuSeconds(server.pid);
      const t0 = performance.now();
      const r = wrk(url);
      r.busy = (treeCpuSeconds(server.pid) - c0) / ((performance.now() - t0) / 1000);
      return r;
    };
    const rc = measured(collab, best.a.url);
    const rn = measured(nginx, best.b.url);
    for (const [r, seg, s] of [[rc, best.a, collab], [rn, best.b, nginx]]) {
      const after = await httpGet(seg.url);
      if (after.status !== 200 || r.non2xx > 0) {
        failed = true;
        notes.push(`delivery: ${s.name} answered ${r.non2xx} non-2xx during wrk, ${after.status} after`);
      }
      if (r.errors) notes.push(`delivery: ${s.name} wrk ${r.errors}`);
    }
    const gbps = (r, seg) => (r.rps * seg.size * 8) / 1e9;
    rows.push(['delivery: segment size, KiB', fmt(best.a.size / 1024), fmt(best.b.size / 1024), ratio(best.a.size, best.b.size), '']);
    rows.push([`delivery: wrk -t2 -c${CONNECTIONS} ${WRK_SECONDS}s, requests/s`, fmt(rc.rps), fmt(rn.rps), ratio(rc.rps, rn.rps),
      `>= nginx: ${rc.rps * best.a.size >= rn.rps * best.b.size ? 'met' : 'NOT met'}`]);
    rows.push(['delivery: payload Gbit/s', fmt(gbps(rc, best.a), 2), fmt(gbps(rn, best.b), 2), ratio(gbps(rc, best.a), gbps(rn, best.b)), '']);
    rows.push(['delivery: server CPU busy, cores', fmt(rc.busy, 2), fmt(rn.busy, 2), ratio(rc.busy, rn.busy), '']);
    rows.push(['delivery: Gbit/s per busy core', fmt(gbps(rc, best.a) / rc.busy, 2), fmt(gbps(rn, best.b) / rn.busy, 2),
      ratio(gbps(rc, best.a) / rc.busy, gbps(rn, best.b) / rn.busy), '']);
    rows.push(['delivery: mean latency per request', rc.latencyAvg, rn.latencyAvg, '', '']);
  } finally {
    await stopPublishers();
    await stopServer(collab);
    await stopServer(nginx);
  }
}

// --- 2. CPU per passthrough stream ---------------------------------------------------------
async function cpuOf(server) {
  await startServer(server);
  try {
    for (let i = 0; i < STREAMS; i++) copyPublisher(server.rtmpUrl(`c${i}`), `cpu-${server.name}-${i}`);
    for (let i = 0; i < STREAMS; i++) await waitPlaylist(server, `c${i}`, 2);
    const c0 = treeCpuSeconds(server.pid);
    const t0 = performance.now();
    await sleep(CPU_SECONDS * 1000);
    const c1 = treeCpuSeconds(server.pid);
    const wall = (performance.now() - t0) / 1000;
    const dead = publishers.filter((p) => !p.alive()).length;
    if (dead) throw new Error(`${dead} publishers into ${server.name} exited: ${publishers.find((p) => !p.alive()).tail()}`);
    // Still live at the end: the newest segment of each stream is fetchable.
    for (let i = 0; i < STREAMS; i++) await waitPlaylist(server, `c${i}`, 3, 5000);
    return ((c1 - c0) / wall / STREAMS) * 100;
  } finally {
    await stopPublishers();
    await stopServer(server);
  }
}

async function cpu() {
  encodeClip();
  const bitrate = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=bit_rate', '-of', 'csv=p=0', clip]).toString()) / 1e6;
  const c = await cpuOf(new CollabStream(binDir));
  const n = await cpuOf(new NginxRtmp({ workers: NGINX_WORKERS }));
  rows.push([`cpu: ${STREAMS} streams of ${bitrate.toFixed(2)} Mbit/s, ${CPU_SECONDS} s, % of a core per stream`,
    fmt(c, 2), fmt(n, 2), ratio(c, n), `<= 1%: ${c <= 1 ? 'met' : 'NOT met'}`]);
}

// The newest part of an LL-HLS playlist and the wall time its media ends at by the playlist's
// PROGRAM-DATE-TIME (collab anchors it to the wall clock at ingest): {msn, part, endMs} or null.
function newestPart(text) {
  let msn = 0;
  let pdt = NaN;
  let segStart = NaN;
  let inSeg = [];
  let last = null;
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (l.startsWith('#EXT-X-MEDIA-SEQUENCE:')) msn = Number(l.slice(22));
    else if (l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(l.slice(25));
    else if (l.startsWith('#EXT-X-PART:')) {
      if (!inSeg.length) segStart = pdt;
      inSeg.push(Number((/DURATION=([\d.]+)/.exec(l) || [])[1]) * 1000);
      last = { msn, part: inSeg.length - 1, endMs: segStart + inSeg.reduce((a, b) => a + b, 0) };
    } else if (l && !l.startsWith('#')) {
      msn++;
      inSeg = [];
      pdt = NaN;
    }
  }
  return last;
}

// Blocking playlist reloads for the part after the newest, as an LL-HLS player makes them, until
// stop(): for each answer held until a new part came, when it came and the part's PDT end.
function watchParts(server, name) {
  const delays = [];
  let stopped = false;
  const done = (async () => {
    let text = await server.playlist(name);
    while (!stopped && text) {
      const p = newestPart(text);
      if (!p) break;
      const r = await httpGet(`${server.playlistUrl(name)}?_HLS_msn=${p.msn}&_HLS_part=${p.part + 1}`, 15000).catch(() => null);
      const at = Date.now();
      if (!r || r.status !== 200) break;
      text = r.body.toString();
      const q = newestPart(text);
      // Only answers that were held for the next part measure the server (others measure us).
      if (q && (q.msn > p.msn || q.part > p.part) && Number.isFinite(q.endMs)) delays.push({ at, endMs: q.endMs });
    }
  })();
  return { delays, stop: async () => { stopped = true; await done; } };
}

// --- 3. Glass-to-glass latency ---------------------------------------------------------------
async function latency() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    notes.push('latency: skipped, playwright-core is missing (make deps runs npm ci)');
    missing = true;
    return;
  }
  const hlsJs = path.join(sourceDir, 'node_modules', 'hls.js', 'dist', 'hls.min.js');
  if (!fs.existsSync('/usr/bin/chromium') || !fs.existsSync(hlsJs)) {
    notes.push('latency: skipped, /usr/bin/chromium or node_modules/hls.js is missing (make deps)');
    missing = true;
    return;
  }
  const collab = new CollabStream(binDir, [], 'collab');
  const collab200 = new CollabStream(binDir, ['stream.part_ms=200'], 'collab200');
  const nginx = new NginxRtmp({ workers: NGINX_WORKERS });
  const servers = [collab, collab200, nginx];
  // ll: the web app's player settings (web/js/live/player.js); ll-tuned: see player.html.
  const configs = [
    { label: 'collab, default parts, hls.js low-latency defaults', server: collab, mode: 'll', target: 1500 },
    { label: 'collab, default parts, tuned player as in the web app', server: collab, mode: 'll-tuned', target: 1500 },
    { label: 'collab, stream.part_ms=200, tuned player as in the web app', server: collab200, mode: 'll-tuned', target: 1000 },
    { label: 'nginx', server: nginx, mode: 'default' },
  ];
  let browser = null;
  let live = null;
  try {
    for (const v of servers) await startServer(v);
    // One live encoder feeds all three (tee), so the frame counter and its send times are shared.
    const tee = servers.map((v) => `[f=flv:onfail=ignore]${v.rtmpUrl('g2g')}`).join('|');
    const progress = [];
    live = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', ...SOURCE(true), '-vf', counterFilter(),
      ...VIDEO, ...AUDIO, '-flags', '+global_header', '-map', '0:v', '-map', '1:a', '-progress', 'pipe:1', '-stats_period', '0.05',
      '-f', 'tee', tee], { stdio: ['ignore', 'pipe', 'pipe'] });
    let liveErr = '';
    live.stderr.on('data', (d) => { liveErr = (liveErr + d).slice(-2000); });
    let buf = '';
    live.stdout.on('data', (d) => {
      const at = Date.now();
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('frame=')) progress.push({ at, n: Number(line.slice(6)) });
      }
    });
    // collab's PROGRAM-DATE-TIME is the wall clock at the session's first frame (frame 0) plus
    // media time: its first value turns a part's PDT end into a frame time of the publisher.
    const pdt0 = new Map();
    for (const v of servers) {
      const { text } = await waitPlaylist(v, 'g2g', 2, 40000).catch((e) => { throw new Error(`${e.message}\n${liveErr}`); });
      const m = /#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(text);
      if (m) pdt0.set(v, Date.parse(m[1]));
    }

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: false,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--autoplay-policy=no-user-gesture-required'],
    });
    // The page and hls.js come from nginx's loopback origin (a page fulfilled by Playwright has no
    // address space, and Chromium then refuses its requests to loopback ports).
    const pageBase = nginx.serve({ 'player.html': path.join(here, 'player.html'), 'hls.min.js': hlsJs });
    const results = [];
    for (const c of configs) {
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const qs = new URLSearchParams({ src: c.server.playlistUrl('g2g'), mode: c.mode, bits: BITS, block: BLOCK, strip: STRIP });
      await page.goto(`${pageBase}player.html?${qs}`);
      await page.waitForFunction(() => window.__samples.length > 10 || window.__errors.length > 0, null, { timeout: 40000 });
      // Let hls.js settle on its live sync point, then measure.
      await sleep(4000);
      const from = await page.evaluate(() => window.__samples.length);
      const watch = c.server instanceof CollabStream ? watchParts(c.server, 'g2g') : null;
      await sleep(LATENCY_SECONDS * 1000);
      if (watch) await watch.stop();
      const r = await page.evaluate(() => ({ samples: window.__samples, errors: window.__errors, bad: window.__bad, seeks: window.__seeks, stalls: window.__stalls }));
      await ctx.close();
      results.push({ c, samples: r.samples.slice(from), errors: r.errors, bad: r.bad, seeks: r.seeks, stalls: r.stalls, listed: watch && pdt0.has(c.server) ? watch.delays.map((d) => ({ ...d, pdt0: pdt0.get(c.server) })) : [] });
    }
    // Send time of frame N (the filter's n, from 0): the encoder's start plus N frame times (-re
    // paces the source). A progress report of frame=K comes after frames 0..K-1 left the encoder,
    // so the start is the earliest (report time - (K-1)/fps): the publisher's fastest encode is
    // excluded, any slower one counts as latency. The spread of the same difference shows whether
    // the publisher kept real time on this machine.
    const lag = progress.filter((p) => p.n > 0).map((p) => p.at - ((p.n - 1) * 1000) / FPS);
    const t0 = Math.min(...lag);
    const lagSorted = lag.map((x) => x - t0).sort((a, b) => a - b);
    notes.push(`latency: publisher behind real time (progress reports, ms): p50 ${fmt(percentile(lagSorted, 50))}, `
      + `p95 ${fmt(percentile(lagSorted, 95))}, max ${fmt(lagSorted[lagSorted.length - 1])} (counted as latency when > 0)`);
    const sendTime = (n) => t0 + (n * 1000) / FPS;
    const stats = results.map(({ c, samples, errors, bad, seeks, stalls, listed }) => {
      const lat = samples.map((s) => s.at - sendTime(s.n)).sort((a, b) => a - b);
      const med = (f) => {
        const v = samples.map(f).filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
        return v.length ? percentile(v, 50) : NaN;
      };
      // Frames that went backwards or skipped many: a mis-read counter or a player jump.
      let jumps = 0;
      for (let i = 1; i < samples.length; i++) if (samples[i].n <= samples[i - 1].n || samples[i].n - samples[i - 1].n > FPS) jumps++;
      return {
        label: c.label, mode: c.mode, seeks, stalls,
        // Listed after the part's media end was sent (the publisher's time of the frame after it).
        listed: listed.map((d) => d.at - (t0 + d.endMs - d.pdt0)).sort((x, y) => x - y),
        n: lat.length, p50: percentile(lat, 50), p95: percentile(lat, 95), errors, bad, jumps,
        playerBehindEdge: med((s) => s.hlsLatency) * 1000,
        target: med((s) => s.target) * 1000,
        ahead: med((s) => s.ahead) * 1000,
        part: med((s) => s.partTarget) * 1000,
        rate: med((s) => s.rate),
      };
    });
    const n = stats[stats.length - 1];
    for (const [i, a] of stats.slice(0, -1).entries()) {
      const t = configs[i].target;
      rows.push([`glass-to-glass p50 / p95 ms: ${a.label}`, `${fmt(a.p50)} / ${fmt(a.p95)}`, `${fmt(n.p50)} / ${fmt(n.p95)}`,
        `${ratio(a.p50, n.p50)} / ${ratio(a.p95, n.p95)}`, `p95 <= ${t}: ${a.p95 <= t ? 'met' : 'NOT met'}`]);
    }
    rows.push(['glass-to-glass frames read', stats.slice(0, -1).map((a) => fmt(a.n)).join(' / '), fmt(n.n), '', '']);
    for (const s of stats) {
      if (s.errors.length) { failed = true; notes.push(`latency ${s.label}: hls.js errors ${s.errors.join(', ')}`); }
      if (s.n < LATENCY_SECONDS * FPS * 0.5) notes.push(`latency ${s.label}: only ${s.n} frames read in ${LATENCY_SECONDS} s (frames dropped or counter unreadable; ${s.bad} unreadable)`);
      const upstream = s.p50 - s.playerBehindEdge;
      if (s.listed.length) {
        notes.push(`${s.label}: a held blocking reload answered ${fmt(percentile(s.listed, 50))} ms p50 / ${fmt(percentile(s.listed, 95))} ms p95 `
          + `after the publisher sent the frame that ends the part (${s.listed.length} parts; encode, RTMP ingest, packaging and the held request's answer)`);
      }
      notes.push(`where the time goes, ${s.label} (medians, ms): total ${fmt(s.p50)} = player behind the playlist's live edge ${fmt(s.playerBehindEdge)}`
        + ` (hls.js target ${fmt(s.target)}, buffered ahead ${fmt(s.ahead)}, playback rate ${fmt(s.rate, 2)})`
        + ` + encode/ingest/packaging/listing ${fmt(upstream)}${Number.isFinite(s.part) ? ` (part target ${fmt(s.part)})` : ''}; hls.js ${s.mode === 'default' ? 'defaults' : `lowLatencyMode${s.mode === 'll-tuned' ? ` + jump to live sync point (${s.seeks} jumps), 0.2 s target increase per stall` : ''}`}; stalls ${s.stalls}; counter jumps ${s.jumps}`);
    }
    if (live.exitCode !== null) notes.push(`latency: the live publisher exited early: ${liveErr.trim()}`);
  } finally {
    if (browser) await browser.close();
    if (live && live.exitCode === null) {
      live.kill('SIGTERM');
      await Promise.race([new Promise((r) => live.once('exit', r)), sleep(5000)]);
      if (live.exitCode === null) live.kill('SIGKILL');
    }
    for (const v of servers) await stopServer(v);
  }
}

// --- main --------------------------------------------------------------------------------------
const need = [];
if (!have('ffmpeg') || !have('ffprobe')) need.push('ffmpeg is missing (apt-get install ffmpeg)');
const cm = CollabStream.available(binDir);
if (cm) need.push(cm);
const nm = NginxRtmp.available();
if (nm) need.push(nm);
if (need.length) {
  for (const m of need) console.error(`bench/stream: ${m}`);
  process.exit(69);
}

const stamp = new Date().toISOString();
try {
  for (const s of SCENARIOS) {
    try {
      if (s === 'delivery') {
        if (!have('wrk')) {
          notes.push('delivery: skipped, wrk is missing (apt-get install wrk)');
          missing = true;
          continue;
        }
        await delivery();
      } else if (s === 'cpu') await cpu();
      else if (s === 'latency') await latency();
      else throw new Error(`unknown scenario ${s}`);
    } catch (e) {
      failed = true;
      notes.push(`${s}: FAILED: ${e.stack || e.message}`);
    }
  }
} finally {
  await stopPublishers();
  for (const s of [...started]) await stopServer(s);
  if (!process.env.BENCH_KEEP) fs.rmSync(work, { recursive: true, force: true });
}

const head = ['scenario', 'collab', 'nginx-rtmp', 'collab/nginx', 'target'];
const nginxVersion = (spawnSync('nginx', ['-v']).stderr || '').toString().trim().replace(/^nginx version: /, '');
console.log(`bench/stream ${stamp}: collab-stream (LL-HLS fMP4) beside ${nginxVersion} `
  + `+ libnginx-mod-rtmp (HLS, hls_fragment 1s, ${NGINX_WORKERS} worker${NGINX_WORKERS > 1 ? 's' : ''}), publisher ffmpeg libx264 veryfast zerolatency 720p30 ~3 Mbit/s, 1 s GOP`);
console.log('');
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log('');
for (const n of notes) console.log(`- ${n}`);
process.exit(failed ? 1 : missing ? 69 : 0);
