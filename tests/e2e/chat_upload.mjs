// (c) An upload with a thumbnail: alice attaches a PNG with the file button, the composer shows
// its preview, she sends it, and bob sees the server-made thumbnail (a loaded <img>). A second
// image is pasted into the composer and a third dropped on the room, to cover those paths.
// Input: {url, users, room}
import { run, newContext, newPage, login, openRoom, cfg } from './chat_helpers.mjs';

async function pngBytes(page, color) {
  const b64 = await page.evaluate((c) => {
    const cv = document.createElement('canvas');
    cv.width = 640; cv.height = 480;
    const g = cv.getContext('2d');
    g.fillStyle = c; g.fillRect(0, 0, 640, 480);
    g.fillStyle = '#fff'; g.fillRect(100, 100, 200, 100);
    return cv.toDataURL('image/png').split(',')[1];
  }, color);
  return Buffer.from(b64, 'base64');
}

await run(async (browser) => {
  const a = await newPage(await newContext(browser));
  const b = await newPage(await newContext(browser));
  await Promise.all([login(a, 'alice', cfg.users.alice), login(b, 'bob', cfg.users.bob)]);
  await Promise.all([openRoom(a, cfg.room), openRoom(b, cfg.room)]);

  await a.setInputFiles('#composer-host input[type=file]', { name: 'blue.png', mimeType: 'image/png', buffer: await pngBytes(a, '#2255cc') });
  await a.waitForSelector('#composer-host .pending.done img.pending-thumb');
  // Paste a second image into the composer.
  const red = (await pngBytes(a, '#cc2222')).toString('base64');
  await a.evaluate((b64) => {
    const bin = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], 'red.png', { type: 'image/png' }));
    const area = document.querySelector('#composer-host .composer-input');
    area.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, red);
  await a.waitForFunction(() => document.querySelectorAll('#composer-host .pending.done').length === 2);
  // And a third dropped onto the room view.
  const green = (await pngBytes(a, '#22aa44')).toString('base64');
  await a.evaluate((b64) => {
    const bin = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], 'green.png', { type: 'image/png' }));
    const view = document.querySelector('#room-view');
    for (const type of ['dragenter', 'dragover', 'drop']) view.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, green);
  await a.waitForFunction(() => document.querySelectorAll('#composer-host .pending.done').length === 3);
  const box = a.locator('#composer-host .composer-input');
  await box.fill('two pictures');
  await box.press('Enter');

  const sel = '#list-host .msg img.thumb';
  await b.waitForFunction((s) => {
    const imgs = [...document.querySelectorAll(s)];
    return imgs.length === 3 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, sel);
  const thumbs = await b.$$eval(sel, (imgs) => imgs.map((i) => ({ src: new URL(i.src).pathname, w: i.naturalWidth, h: i.naturalHeight })));
  const pendingLeft = await a.locator('#composer-host .pending').count();
  return { thumbs, pendingLeft, errors: [...a.errors, ...b.errors] };
});
