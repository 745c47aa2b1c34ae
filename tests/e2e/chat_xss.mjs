// (f) A message with HTML and script is shown as text and never runs: one posted through the
// API before the page loads (history) and one typed live by bob (realtime).
// Input: {url, users, room, payload}
import { run, newContext, newPage, login, openRoom, typeAndSend, waitMessage, cfg } from './chat_helpers.mjs';

await run(async (browser) => {
  const a = await newPage(await newContext(browser));
  const b = await newPage(await newContext(browser));
  await Promise.all([login(a, 'alice', cfg.users.alice), login(b, 'bob', cfg.users.bob)]);
  await Promise.all([openRoom(a, cfg.room), openRoom(b, cfg.room)]);
  await typeAndSend(b, cfg.payload + ' live');
  await waitMessage(a, cfg.payload + ' live');
  // Give an injected <img onerror> a chance to fire if one had been created: wait until every
  // image in the list has finished loading (or failing).
  await a.waitForFunction(() => [...document.querySelectorAll('#list-host img')].every((i) => i.complete));
  const texts = await a.locator('#list-host .msg-text').allTextContents();
  const injected = await a.evaluate(() => ({
    imgs: document.querySelectorAll('#list-host .msg-text img, #list-host .msg-text script').length,
    xssA: typeof window.__xss,
  }));
  const xssB = await b.evaluate(() => typeof window.__xss);
  return { texts, injected, xssB, errors: [...a.errors, ...b.errors] };
});
