// (a) Two users in two browser contexts chat in real time; unread and mention counts of a room
// that is not open update live; the typing indicator shows; and the first render of a room with
// a long history is timed.
// Input (COLLAB_E2E): {url, users: {alice, bob: password}, room, other}
import { run, newContext, newPage, login, openRoom, typeAndSend, waitMessage, cfg } from './chat_helpers.mjs';

await run(async (browser) => {
  const a = await newPage(await newContext(browser));
  const bctx = await newContext(browser);
  // Bob's browser has granted notifications; record them instead of showing them.
  await bctx.addInitScript(() => {
    window.__notes = [];
    window.Notification = class {
      constructor(title, opts) { window.__notes.push({ title, body: opts && opts.body }); }
      close() {}
      static get permission() { return 'granted'; }
      static requestPermission() { return Promise.resolve('granted'); }
    };
  });
  const b = await newPage(bctx);
  await Promise.all([login(a, 'alice', cfg.users.alice), login(b, 'bob', cfg.users.bob)]);

  // First render of a room with history: from the click to the first page drawn.
  const t0 = Date.now();
  await openRoom(a, cfg.room);
  const firstRenderMs = Date.now() - t0;
  const appRenderMs = await a.evaluate(() => window.__collab.roomRenderedAt - window.__collab.roomOpenedAt);
  const shown = await a.locator('#list-host .msg').count();
  // Infinite history: scrolling to the top loads the page before.
  await a.evaluate(() => { document.querySelector('#list-host .messages').scrollTop = 0; });
  await a.waitForFunction(() => document.querySelectorAll('#list-host .msg').length === 100);
  const firstAfterScroll = await a.locator('#list-host .msg-text').first().textContent();
  await openRoom(b, cfg.room);

  await typeAndSend(a, 'こんにちは Bob, realtime 1');
  await waitMessage(b, 'こんにちは Bob, realtime 1');
  // Typing indicator from bob to alice, then bob's answer.
  await b.locator('#composer-host .composer-input').pressSequentially('ans');
  await a.waitForFunction(() => document.querySelector('#typing').textContent.includes('Bob'));
  await b.locator('#composer-host .composer-input').fill('answer from bob 2');
  await b.locator('#composer-host .composer-input').press('Enter');
  await waitMessage(a, 'answer from bob 2');
  await a.waitForFunction(() => document.querySelector('#typing').textContent === '');

  // Bob loses the network; what alice writes meanwhile arrives once he is back (resume with
  // cursors: catch-up over the WebSocket, no reload).
  await bctx.setOffline(true);
  await b.waitForSelector('#conn[data-state="offline"]', { state: 'attached' });
  await typeAndSend(a, 'while bob was away 3');
  await waitMessage(a, 'while bob was away 3');
  await bctx.setOffline(false);
  await b.waitForSelector('#conn[data-state="ready"]', { state: 'attached' });
  await waitMessage(b, 'while bob was away 3');
  const resumed = await b.locator('#list-host .msg-text', { hasText: 'while bob was away 3' }).count();

  // A room bob does not look at: a plain message and a mention count as unread / mention.
  await openRoom(a, cfg.other);
  await typeAndSend(a, 'in the other room');
  await typeAndSend(a, '@bob look here');
  const badge = b.locator(`.room-item[data-room="${cfg.other}"] .badge.unread`);
  await b.waitForFunction((id) => document.querySelector(`.room-item[data-room="${id}"] .badge.unread`)?.textContent === '2', cfg.other);
  await b.waitForFunction((id) => document.querySelector(`.room-item[data-room="${id}"] .badge.mention`)?.textContent === '@1', cfg.other);
  const unread = await badge.textContent();
  // Only the mention became a browser notification (a plain message in a channel does not).
  await b.waitForFunction(() => window.__notes.length >= 1);
  const notes = await b.evaluate(() => window.__notes);
  // Opening it clears the counts.
  await openRoom(b, cfg.other);
  await b.waitForFunction((id) => !document.querySelector(`.room-item[data-room="${id}"] .badge`), cfg.other);

  return {
    firstRenderMs, appRenderMs, shown, firstAfterScroll, unread, notes, resumed,
    aTexts: await a.locator('#list-host .msg-text').allTextContents(),
    errors: [...a.errors, ...b.errors],
  };
});
