// (j) Japanese and English: the language follows the browser (navigator.language) and the
// switch changes the UI strings at once, on the login page and in the app; dates follow it too.
// Input: {url, users, room}
import { run, newContext, newPage, login, openRoom, base, cfg } from './chat_helpers.mjs';

await run(async (browser) => {
  // A Japanese browser gets Japanese without any choice made.
  const ja = await browser.newContext({ locale: 'ja-JP' });
  const p1 = await ja.newPage();
  await p1.goto(base + 'chat/');
  await p1.waitForSelector('#login-submit', { state: 'visible' });
  const detected = { lang: await p1.evaluate(() => document.documentElement.lang), submit: await p1.textContent('#login-submit') };

  const p = await newPage(await newContext(browser), 'en');
  await p.goto(base + 'chat/');
  await p.waitForSelector('#login-submit', { state: 'visible' });
  const loginEn = await p.textContent('#login-submit');
  await p.selectOption('#login .lang-select', 'ja');
  await p.waitForFunction(() => document.documentElement.lang === 'ja');
  const loginJa = await p.textContent('#login-submit');

  await p.fill('#login-user', 'alice');
  await p.fill('#login-pass', cfg.users.alice);
  await p.click('#login-submit');
  await p.waitForSelector('#app', { state: 'visible' });
  await openRoom(p, cfg.room);
  const appJa = { search: await p.textContent('#btn-search'), logout: await p.textContent('#btn-logout'), placeholder: await p.getAttribute('#composer-host .composer-input', 'placeholder'), time: await p.textContent('#list-host .msg time') };
  await p.selectOption('#lang-select', 'en');
  await p.waitForFunction(() => document.documentElement.lang === 'en');
  const appEn = { search: await p.textContent('#btn-search'), logout: await p.textContent('#btn-logout'), placeholder: await p.getAttribute('#composer-host .composer-input', 'placeholder'), time: await p.textContent('#list-host .msg time') };
  // The choice survives a reload of the tab.
  await p.reload();
  await p.waitForSelector('#app', { state: 'visible' });
  const afterReload = await p.textContent('#btn-search');
  return { detected, loginEn, loginJa, appJa, appEn, afterReload, errors: p.errors };
});
