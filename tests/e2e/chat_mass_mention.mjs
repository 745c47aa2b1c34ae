// (e) @all in a room larger than mass_mention_confirm_members: the confirmation dialog shows
// the number of recipients; cancelling sends nothing and keeps the text; confirming sends.
// Input: {url, users, room, token (alice's bearer token for the checks)}
import { run, newContext, newPage, login, openRoom, waitMessage, apiGet, cfg } from './chat_helpers.mjs';

await run(async (browser) => {
  const a = await newPage(await newContext(browser));
  await login(a, 'alice', cfg.users.alice);
  await openRoom(a, cfg.room);
  const before = (await apiGet(`/rooms/${cfg.room}/messages?limit=5`, cfg.token)).json.last_seq;

  const box = a.locator('#composer-host .composer-input');
  await box.fill('@all 本日17時に停電します');
  await box.press('Enter');
  await a.waitForSelector('dialog[open] .mass-confirm');
  const dialogText = await a.locator('dialog[open] .dlg-text').textContent();
  await a.click('dialog[open] .dlg-cancel');
  await a.waitForSelector('dialog[open]', { state: 'detached' });
  const afterCancel = (await apiGet(`/rooms/${cfg.room}/messages?limit=5`, cfg.token)).json.last_seq;
  // The text comes back into the composer for editing.
  await a.waitForFunction(() => document.querySelector('#composer-host .composer-input').value !== '');
  const keptText = await box.inputValue();
  const shownAfterCancel = await a.locator('#list-host .msg-text', { hasText: '停電' }).count();

  // Now confirm: the message goes out once.
  await box.press('Enter');
  await a.waitForSelector('dialog[open] .mass-confirm');
  await a.click('dialog[open] .dlg-ok');
  await waitMessage(a, '本日17時に停電します');
  const afterConfirm = await apiGet(`/rooms/${cfg.room}/messages?limit=5`, cfg.token);
  const sent = afterConfirm.json.messages.filter((m) => m.text.includes('停電'));
  return { before, afterCancel, keptText, shownAfterCancel, dialogText, sentCount: sent.length, mentionAll: sent[0] && sent[0].mention_all, errors: a.errors };
});
