// Opens collab-chatd's start page in headless Chromium and reports what the page shows.
// Usage: node landing_page.mjs URL  -> prints one JSON line {text, errors, storage}
import { launch } from './browser.mjs';

const url = process.argv[2];
const { context, close } = await launch();
const errors = [];
try {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url, { timeout: 30000 });
  await page.waitForFunction(() => !document.getElementById('health').textContent.startsWith('Checking'),
                             null, { timeout: 30000 });
  const text = await page.textContent('#health');
  const storage = await page.evaluate(() => localStorage.length + sessionStorage.length);
  console.log(JSON.stringify({ text, errors, storage }));
} finally {
  await close();
}
