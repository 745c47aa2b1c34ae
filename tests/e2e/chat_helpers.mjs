// Shared pieces of the chat web app's browser tests: the test configuration handed over by
// tests/integration/test_chat_web.py (JSON in COLLAB_E2E), logging in through the real login
// form, opening rooms, sending through the composer, and the one-line JSON result the Python
// side asserts on. Every wait is bounded (Playwright timeouts), none is a fixed sleep.
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './browser.mjs';

export const cfg = JSON.parse(process.env.COLLAB_E2E || process.argv[2] || '{}');
export const base = (cfg.url || 'http://127.0.0.1:8080/').replace(/\/?$/, '/');
export const T = 10000;

// One browser per test file; each user gets its own context (own cookies and storage), as two
// people on two PCs would.
export async function startBrowser(extraArgs = []) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: false, // the headless mode comes from --headless=new in CHROMIUM_ARGS
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  return { browser, close: () => browser.close() };
}

export async function newContext(browser, opts = {}) {
  return browser.newContext({ locale: 'en-US', ...opts });
}

// A page that records script errors (401 answers of the session probe are expected, not errors).
export async function newPage(context, lang = 'en') {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (/status of 40[149]/.test(text)) return; // fetch of a 401/404/409 answer: handled by the app
    page.errors.push(text);
  });
  page.setDefaultTimeout(T);
  // The language choice is per tab (sessionStorage); tests pin it so strings are predictable.
  await page.addInitScript((l) => { if (!sessionStorage.getItem('collab.lang')) sessionStorage.setItem('collab.lang', l); }, lang);
  return page;
}

export async function login(page, user, password) {
  await page.goto(base + 'chat/');
  await page.waitForSelector('#login-user', { state: 'visible' });
  await page.fill('#login-user', user);
  await page.fill('#login-pass', password);
  await page.click('#login-submit');
  await page.waitForSelector('#app', { state: 'visible' });
  // The realtime session is up when the connection note is empty and marked ready.
  await page.waitForSelector('#conn[data-state="ready"]', { state: 'attached' });
}

export async function openRoom(page, roomId) {
  await page.click(`.room-item[data-room="${roomId}"]`);
  await roomShown(page, roomId);
}

// Waits until the main view shows the first page of that room.
export async function roomShown(page, roomId) {
  await page.waitForSelector(`#list-host .messages[data-room="${roomId}"][data-loaded="true"]`, { state: 'attached' });
}

export async function typeAndSend(page, text, scope = '#composer-host') {
  const box = page.locator(`${scope} .composer-input`);
  await box.fill(text);
  await box.press('Enter');
}

// Waits until a message whose text contains `text` is in the list under `scope`.
export async function waitMessage(page, text, scope = '#list-host') {
  await page.waitForFunction(([s, t]) => [...document.querySelectorAll(`${s} .msg-text`)].some((e) => e.textContent.includes(t)),
    [scope, text], { timeout: T });
}

// The JSON API from node with a bearer token (for checks the browser must not influence).
export async function apiGet(path, token) {
  const r = await fetch(new URL('api/v1' + path, base), { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = await r.text();
  return { status: r.status, json: body ? JSON.parse(body) : null };
}

export function report(result) {
  console.log(JSON.stringify(result));
}

// Runs body(browser) with one browser, prints its result, exits non-zero on an exception.
export async function run(body) {
  const { browser, close } = await startBrowser();
  let code = 0;
  try {
    report(await body(browser));
  } catch (e) {
    console.error(e && e.stack ? e.stack : String(e));
    code = 1;
  } finally {
    await close().catch(() => {});
  }
  process.exit(code);
}
