// (d) A Japanese search finds a message and the hit opens the room scrolled to it.
// Input: {url, users, room, query, expect}
import { run, newContext, newPage, login, cfg } from './chat_helpers.mjs';

await run(async (browser) => {
  const a = await newPage(await newContext(browser), 'ja');
  await login(a, 'alice', cfg.users.alice);
  await a.click('#btn-search');
  await a.fill('#search-q', cfg.query);
  await a.selectOption('#search-room', cfg.room);
  // Filters: by a person who did not write it, nothing; by today's date and the author, the hit.
  await a.fill('#search-user', 'alice');
  await a.locator('.search-form button[type=submit]').click();
  await a.waitForFunction(() => /^0\D/.test(document.querySelector('.search-status').textContent));
  const byOther = await a.locator('.search-hit').count();
  const today = await a.evaluate(() => { const d = new Date(); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`; });
  await a.fill('#search-from', today);
  await a.fill('#search-to', today);
  await a.fill('#search-user', 'bob');
  await a.locator('.search-form button[type=submit]').click();
  await a.waitForSelector('.search-hit');
  const hits = await a.locator('.search-hit .hit-text').allTextContents();
  const marks = await a.locator('.search-hit mark').allTextContents();
  await a.locator('.search-hit').first().click();
  await a.waitForSelector('#list-host .msg.highlight');
  const highlighted = await a.locator('#list-host .msg.highlight .msg-text').textContent();
  const visible = await a.locator('#list-host .msg.highlight').isVisible();
  return { byOther, hits, marks, highlighted, visible, errors: a.errors };
});
