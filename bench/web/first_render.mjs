// bench/web: how fast the chat web app shows a room with history, in Debian's Chromium against
// a release collab-chatd, beside the physical limit of the same browser: the same messages as
// one static HTML page (no scripts, no API calls) served from memory on the same origin.
//   node bench/web/first_render.mjs [--messages N] [--runs K]
// Prints a table (app and static, p50 and max, and their ratio) and exits 0; 69 when Chromium,
// playwright-core or the binaries are missing.
import fs from 'node:fs';
import path from 'node:path';
import { Collab, userName } from '../chat/lib/servers.mjs';
import { percentile } from '../chat/lib/util.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = opt('--messages', 200);
const RUNS = opt('--runs', 10);
const binDir = process.env.COLLAB_BIN_DIR || path.resolve('build/release/bin');

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  console.error('bench/web: playwright-core is missing (make deps runs npm ci)');
  process.exit(69);
}
if (!fs.existsSync('/usr/bin/chromium')) {
  console.error('bench/web: /usr/bin/chromium is missing (make deps)');
  process.exit(69);
}
const missing = Collab.available(binDir);
if (missing) {
  console.error(`bench/web: ${missing}`);
  process.exit(69);
}

const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const texts = (i) => [
  `定例会議の資料を共有します。第${i}版です。ご確認ください。`,
  `Thanks, I will check the draft (#${i}) before the afternoon meeting.`,
  `本庁舎3階のプリンタが使えません。保守業者に連絡済みです (${i})`,
  `See https://intranet.example/docs/${i} for the minutes; 来週の予定も載っています。`,
][i % 4];

const server = new Collab(binDir);
let browser;
try {
  await server.start();
  await server.addUsers(2);
  const room = await server.createRoom('first render', [0, 1]);
  const base = server.wsUrl.replace(/^ws:/, 'http:').replace(/\/api\/v1\/ws$/, '/');
  const marker = `last-message-${Date.now()}`;
  const all = [];
  for (let i = 0; i < N; i++) {
    const text = i === N - 1 ? marker : texts(i);
    all.push(text);
    const r = await fetch(`${base}api/v1/rooms/${room}/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.tokens[0]}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ text, client_id: `h${i}` }),
    });
    if (r.status !== 201) throw new Error(`posting history: ${r.status} ${await r.text()}`);
  }
  // The static reference: what the app shows (the newest page of the room), as plain HTML.
  const esc = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const staticHtml = `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/chat/chat.css"></head><body><ul>${
    all.map((t, i) => `<li class="msg"><b>${esc(userName(0))}</b> <span>${i}</span><div class="msg-text">${esc(t)}</div></li>`).join('')
  }</ul></body></html>`;

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: false, args: ARGS });
  const host = new URL(base).hostname;
  const port = new URL(base).port;
  // Time to the first frame painted after the marker text is in the DOM, from the page's time origin.
  const watch = (m) => {
    window.__painted = 0;
    const check = () => {
      if (window.__painted || !document.body || !document.body.textContent.includes(m)) return false;
      requestAnimationFrame(() => { window.__painted = performance.now(); });
      return true;
    };
    new MutationObserver((_, obs) => { if (check()) obs.disconnect(); })
      .observe(document, { childList: true, subtree: true, characterData: true });
  };
  const app = { list: [], load: [], open: [] };
  const ref = [];
  for (let k = 0; k < RUNS; k++) {
    // A fresh context each run: a cold cache, as for a staff PC opening the app.
    const ctx = await browser.newContext({ locale: 'ja-JP' });
    await ctx.addCookies([{ name: 'collab_session', value: server.tokens[1], domain: host, path: '/' }]);
    const page = await ctx.newPage();
    await page.addInitScript(watch, marker);
    await page.goto(`${base}chat/`);
    await page.waitForSelector(`.room-item[data-room="${room}"]`, { timeout: 30000 });
    app.list.push(await page.evaluate(() => performance.now()));
    await page.click(`.room-item[data-room="${room}"]`);
    await page.waitForFunction(() => window.__painted > 0, null, { timeout: 30000 });
    const t = await page.evaluate(() => ({ painted: window.__painted, opened: window.__collab.roomOpenedAt }));
    app.load.push(t.painted);
    app.open.push(t.painted - t.opened);
    await ctx.close();

    const sctx = await browser.newContext({ locale: 'ja-JP' });
    const sp = await sctx.newPage();
    await sp.route(`${base}static-reference.html`, (r) => r.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: staticHtml }));
    await sp.addInitScript(watch, marker);
    await sp.goto(`${base}static-reference.html`);
    await sp.waitForFunction(() => window.__painted > 0, null, { timeout: 30000 });
    ref.push(await sp.evaluate(() => window.__painted));
    await sctx.close();
  }
  const s = (a) => {
    const v = [...a].sort((x, y) => x - y);
    return { p50: percentile(v, 50), max: v[v.length - 1] };
  };
  const L = s(app.load), O = s(app.open), R = s(ref), RL = s(app.list);
  const f = (v) => v.toFixed(0).padStart(8);
  console.log(`web app first render: a room with ${N} messages of history, ${RUNS} cold runs each, Chromium ${browser.version()} headless, port ${port}`);
  console.log('                                                             p50 ms   max ms');
  console.log(`  app: page load to the room list shown                    ${f(RL.p50)} ${f(RL.max)}`);
  console.log(`  app: page load, click on the room, its history painted   ${f(L.p50)} ${f(L.max)}   target <= 1000`);
  console.log(`  app: click on the room to its history painted            ${f(O.p50)} ${f(O.max)}`);
  console.log(`  static page of the same messages, load to painted        ${f(R.p50)} ${f(R.max)}   (the physical limit)`);
  console.log(`  ratio app click-to-history / static load-to-painted (p50) ${(O.p50 / R.p50).toFixed(2).padStart(7)}`);
  console.log(`  ratio app load-to-history / static load-to-painted (p50)  ${(L.p50 / R.p50).toFixed(2).padStart(7)}`);
  console.log('  (load-to-history includes the automation\'s click after the room list appears)');
  console.log(`  target first render <= 1 s: ${L.max <= 1000 ? 'met' : 'NOT met'} (max ${L.max.toFixed(0)} ms)`);
} finally {
  if (browser) await browser.close();
  await server.stop();
}
