// (i) Japanese IME: Enter while composing (isComposing, or keyCode 229 as some IMEs send)
// never sends; a real Enter afterwards sends exactly one message; Shift+Enter is a newline.
// Input: {url, users, room, token}
import { run, newContext, newPage, login, openRoom, waitMessage, apiGet, cfg } from './chat_helpers.mjs';

await run(async (browser) => {
  const a = await newPage(await newContext(browser));
  await login(a, 'alice', cfg.users.alice);
  await openRoom(a, cfg.room);
  const before = (await apiGet(`/rooms/${cfg.room}/messages?limit=5`, cfg.token)).json.last_seq;
  const box = a.locator('#composer-host .composer-input');
  await box.fill('にほんご');
  const prevented = await a.evaluate(() => {
    const area = document.querySelector('#composer-host .composer-input');
    const composing = new KeyboardEvent('keydown', { key: 'Enter', code: 'Enter', isComposing: true, bubbles: true, cancelable: true });
    area.dispatchEvent(composing);
    const k229 = new KeyboardEvent('keydown', { key: 'Enter', code: 'Enter', keyCode: 229, bubbles: true, cancelable: true });
    area.dispatchEvent(k229);
    return { composing: composing.defaultPrevented, k229: k229.defaultPrevented, sent: window.__collab.sent };
  });
  const valueAfterComposing = await box.inputValue();
  // Shift+Enter inserts a newline and does not send.
  await box.press('End');
  await box.press('Shift+Enter');
  await box.pressSequentially('二行目');
  const multi = await box.inputValue();
  await box.press('Enter');
  await waitMessage(a, '二行目');
  const after = await apiGet(`/rooms/${cfg.room}/messages?after=${before}`, cfg.token);
  return { before, prevented, valueAfterComposing, multi, posted: after.json.messages.map((m) => m.text), errors: a.errors };
});
