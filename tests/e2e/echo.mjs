// Drives collab-sfu's /echo page in headless Chromium with fake camera and microphone, and prints
// one JSON line: time to first echoed frame, two stats samples a second apart (decoded video
// frames, received audio) and the candidate pair in use. Exit 0 when media came back.
//
// Usage: node tests/e2e/echo.mjs http://127.0.0.1:PORT/echo?codec=VP8 [timeout_ms]
// Run it in the network namespace of the collab-sfu under test (tests/integration/test_rtc_echo.py).
import { launch } from './browser.mjs';

const url = process.argv[2];
const timeoutMs = Number(process.argv[3] || 30000);
if (!url) {
  console.error('usage: node echo.mjs URL [timeout_ms]');
  process.exit(64);
}

const MEDIA_ARGS = [
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
];

const { context, close } = await launch(MEDIA_ARGS);
const result = { url, ok: false, errors: [] };
try {
  const page = await context.newPage();
  page.on('pageerror', (e) => result.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') result.errors.push(m.text()); });
  await page.goto(url);
  const stats = () => page.evaluate(() => window.echo.collectStats());
  // Frames decoded > 30 means the stream has been coming back for about a second. Polled from
  // here: waitForFunction does not await an async predicate.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await page.evaluate(async () => {
      const e = window.echo;
      if (!e || e.state === 'failed' || !e.pc) return { state: e?.state };
      return { state: e.state, stats: await e.collectStats() };
    });
    if (s.state === 'failed') break;
    const v = s.stats?.video, a = s.stats?.audio;
    if (v && v.framesDecoded > 30 && a && a.totalSamplesReceived > 0) break;
    if (Date.now() > deadline) throw new Error(`no echoed media after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await page.waitForTimeout(100);
  }
  result.state = await page.evaluate(() => window.echo.state);
  result.error = await page.evaluate(() => window.echo.error);
  if (result.state === 'failed') throw new Error(`the page failed: ${result.error}`);
  result.first = await stats();
  await page.waitForTimeout(1000); // the second sample must show media still flowing
  result.second = await stats();
  result.firstFrameMs = await page.evaluate(() => window.echo.firstFrameMs);
  result.ok = result.state !== 'failed';
} catch (e) {
  result.errors.push(String(e));
  try {
    const page = context.pages()[0];
    result.state = await page.evaluate(() => window.echo && window.echo.state);
    result.error = await page.evaluate(() => window.echo && window.echo.error);
    result.first = await page.evaluate(() => window.echo.collectStats());
  } catch (_) { /* the page is gone */ }
} finally {
  await close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
