// (h) Helpdesk: staff member carol asks IT from the app; agent dave sees the request in the open
// queue, claims it, answers in the conversation, writes an internal note, and resolves it;
// carol sees the answer and her request as resolved.
// Input: {url, users: {carol, dave}}
import { run, newContext, newPage, login, waitMessage, typeAndSend, cfg } from './chat_helpers.mjs';

await run(async (browser) => {
  const req = await newPage(await newContext(browser));
  const agent = await newPage(await newContext(browser));
  await Promise.all([login(req, 'carol', cfg.users.carol), login(agent, 'dave', cfg.users.dave)]);

  await req.click('#btn-helpdesk');
  await req.fill('#hd-subject', 'プリンターが動きません');
  await req.fill('#hd-text', '3階のプリンターで印刷できません。');
  await req.click('.hd-submit');
  await req.waitForSelector('.hd-mine .hd-request[data-status="open"]');
  await waitMessage(req, '3階のプリンターで印刷できません。');

  await agent.click('#btn-helpdesk');
  const row = agent.locator('.hd-queue .hd-request', { hasText: 'プリンターが動きません' });
  await row.waitFor();
  await row.locator('.hit').click();
  await agent.click('.hd-claim');
  await agent.locator('.tab[data-status="claimed"]').click();
  await agent.locator('.hd-queue .hd-request[data-status="claimed"]', { hasText: 'プリンターが動きません' }).locator('.hit').click();
  // An internal note (agents only).
  const note = agent.locator('.hd-notes .composer-input');
  await note.fill('ドライバーの再インストールが必要そう');
  await note.press('Enter');
  await waitMessage(agent, 'ドライバーの再インストールが必要そう', '.hd-notes');
  // Answer in the conversation.
  await agent.click('.hd-open-room');
  await agent.waitForSelector('#list-host .messages[data-loaded="true"]', { state: 'attached' });
  await typeAndSend(agent, '再起動してみてください');
  await waitMessage(req, '再起動してみてください');
  await agent.click('.hd-resolve');
  await agent.locator('.tab[data-status="resolved"]').click();
  await agent.locator('.hd-queue .hd-request[data-status="resolved"]', { hasText: 'プリンターが動きません' }).waitFor();

  // The requester's list shows it resolved (the panel refreshes on room events; reopen to be sure).
  await req.click('#btn-helpdesk');
  await req.waitForSelector('.hd-mine .hd-request[data-status="resolved"]');
  const noteVisibleToRequester = await req.locator('.msg-text', { hasText: 'ドライバー' }).count();
  return { resolved: true, noteVisibleToRequester, errors: [...req.errors, ...agent.errors] };
});
