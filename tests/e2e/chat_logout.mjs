// (g) Nothing stays on the PC: while the app is used and after logout, localStorage, IndexedDB
// and Cache Storage are empty, sessionStorage holds at most the language choice, the page sees
// no cookie, the session cookie is gone from the browser, and the API answers 401.
// Input: {url, users, room}
import { run, newContext, newPage, login, openRoom, typeAndSend, waitMessage, base, cfg } from './chat_helpers.mjs';

async function storage(page) {
  return page.evaluate(async () => {
    const dbs = indexedDB.databases ? await indexedDB.databases() : [];
    const cacheKeys = 'caches' in window ? await caches.keys() : [];
    const ss = {};
    for (let i = 0; i < sessionStorage.length; i++) ss[sessionStorage.key(i)] = sessionStorage.getItem(sessionStorage.key(i));
    const me = await fetch('/api/v1/me', { credentials: 'same-origin' });
    return { local: localStorage.length, session: ss, idb: dbs.map((d) => d.name), caches: cacheKeys, cookie: document.cookie, me: me.status };
  });
}

await run(async (browser) => {
  const context = await newContext(browser);
  const a = await newPage(context);
  await login(a, 'alice', cfg.users.alice);
  await openRoom(a, cfg.room);
  await typeAndSend(a, 'secret plans for the merger');
  await waitMessage(a, 'secret plans for the merger');
  const during = await storage(a);
  const cookiesDuring = (await context.cookies(base)).map((c) => ({ name: c.name, httpOnly: c.httpOnly }));

  await a.click('#btn-logout');
  await a.waitForSelector('#login-form', { state: 'visible' });
  const after = await storage(a);
  const cookiesAfter = (await context.cookies(base)).map((c) => c.name);
  const pageText = await a.evaluate(() => document.body.innerText);
  return { during, cookiesDuring, after, cookiesAfter, leaked: pageText.includes('secret plans'), errors: a.errors };
});
