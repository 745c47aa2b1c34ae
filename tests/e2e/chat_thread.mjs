// (b) A thread: alice replies to bob's message in the side panel; bob sees the reply count on
// the root and the reply when he opens the thread.
// Input: {url, users, room, root_text}
import { run, newContext, newPage, login, openRoom, waitMessage, cfg } from './chat_helpers.mjs';

await run(async (browser) => {
  const a = await newPage(await newContext(browser));
  const b = await newPage(await newContext(browser));
  await Promise.all([login(a, 'alice', cfg.users.alice), login(b, 'bob', cfg.users.bob)]);
  await Promise.all([openRoom(a, cfg.room), openRoom(b, cfg.room)]);

  const root = a.locator('#list-host .msg', { hasText: cfg.root_text });
  await root.hover();
  await root.locator('.act-thread').click();
  await a.waitForSelector('#panel[data-kind="thread"] .messages[data-loaded="true"]', { state: 'attached' });
  // @mention autocomplete: "@bo" offers bob; Enter takes the suggestion instead of sending.
  const box = a.locator('#panel .composer-input');
  await box.pressSequentially('@bo');
  await a.locator('#panel .suggest li', { hasText: '@bob' }).waitFor();
  await box.press('Enter');
  const afterPick = await box.inputValue();
  await box.pressSequentially('スレッドの返信です');
  await box.press('Enter');
  await waitMessage(a, 'スレッドの返信です', '#panel');

  // Bob: the root shows "1 replies" live; the reply is not in the main list; the panel shows it.
  const link = b.locator('#list-host .msg', { hasText: cfg.root_text }).locator('.thread-link');
  await link.waitFor();
  const linkText = await link.textContent();
  const inMain = await b.locator('#list-host .msg-text', { hasText: 'スレッドの返信です' }).count();
  await link.click();
  await waitMessage(b, 'スレッドの返信です', '#panel');
  const panelTexts = await b.locator('#panel .msg-text').allTextContents();
  return { linkText, inMain, panelTexts, afterPick, errors: [...a.errors, ...b.errors] };
});
