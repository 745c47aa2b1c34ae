// Tests of the byte-level fast paths of the benchmark's clients (collab.mjs, xmpp.mjs): a bench
// message is counted once with its stamp, our own echo is an ack, error stanzas and frames that
// only look similar are not counted, and everything else still reaches the setup's waiters.
//   node --test bench/chat/lib/
import assert from 'node:assert/strict';
import test from 'node:test';

import { CollabClient } from './collab.mjs';
import { XmppClient } from './xmpp.mjs';

// Feeds a frame at an offset inside a larger buffer with other bytes around it, as the shared
// read buffer holds it, so a search that runs past the frame's end would be caught.
function feed(client, text) {
  const body = Buffer.from(text);
  const buf = Buffer.concat([Buffer.from('<body>bench 9 9</body>"text":"bench 9 9"'), body, Buffer.from('<body>bench 8 8</body>')]);
  const start = 40;
  client.onFrame(buf, start, start + body.length);
}

function xmpp() {
  const c = new XmppClient({ url: 'ws://127.0.0.1:1/x', domain: 'localhost', mucDomain: 'conference.localhost', user: 'u5', password: 'p' });
  c.nickBytes = Buffer.from(c.nick);
  c.got = [];
  c.onBench = (room, seq, t) => c.got.push(['bench', seq, t]);
  c.onAck = (room, seq, t) => c.got.push(['ack', seq, t]);
  c.onError = (s) => c.got.push(['error', s.slice(0, 8)]);
  return c;
}

test('xmpp: bench messages, own echoes and errors', async () => {
  const c = xmpp();
  const msg = (from, type, body, q = "'") =>
    `<message xml:lang=${q}en${q} to=${q}u5@localhost/b${q} from=${q}${from}${q} type=${q}${type}${q} id=${q}m1${q} xmlns=${q}jabber:client${q}>` +
    `<stanza-id xmlns='urn:xmpp:sid:0' by='r@conference.localhost' id='17'/><body>${body}</body></message>`;
  feed(c, msg('r@conference.localhost/u0', 'groupchat', 'bench 12 3456'));
  feed(c, msg('r@conference.localhost/u5', 'groupchat', 'bench 13 3457', '"'));
  feed(c, msg('r@conference.localhost/u55', 'groupchat', 'bench 14 3458')); // a nick that only starts like ours
  feed(c, msg('r@conference.localhost/u0', 'error', 'bench 15 3459'));
  feed(c, msg('r@conference.localhost/u0', 'groupchat', 'bench 16')); // no timestamp
  feed(c, msg('r@conference.localhost/u0', 'groupchat', 'bench 17 1x'));
  feed(c, msg('r@conference.localhost', 'groupchat', 'bench 18 3460')); // from the room itself
  assert.deepEqual(c.got, [
    ['bench', 12, 3456],
    ['ack', 13, 3457],
    ['bench', 14, 3458],
    ['error', '<message'],
    ['bench', 18, 3460],
  ]);
  // Anything else goes to the waiters, as a string.
  const w = c.expect((s) => s.startsWith('<presence'), 'presence', 1000);
  feed(c, msg('r@conference.localhost/u0', 'groupchat', 'bench 16'));
  feed(c, "<presence from='r@conference.localhost/u5'><status code='110'/></presence>");
  assert.match(await w, /code='110'/);
});

test('collab: bench messages, acks and other frames', () => {
  const c = new CollabClient({ url: 'ws://127.0.0.1:1/x', user: 'u5', token: 't' });
  const got = [];
  c.onBench = (room, seq, t) => got.push(['bench', seq, t]);
  c.onAck = (room, seq, t) => got.push(['ack', seq, t]);
  c.onOther = (m) => got.push(['other', m.type]);
  const message = (text) => JSON.stringify({ type: 'message', message: { room: 'rb', seq: 1, user: 'u0', text, client_id: 'b1' } });
  feed(c, message('bench 12 3456'));
  feed(c, message('bench 12 3456x')); // not the stamp's form
  feed(c, message('hello'));
  c.sent.set(7, [70, 7000]);
  feed(c, JSON.stringify({ type: 'ack', room: 'rb', seq: 3, client_id: 'b7' }));
  feed(c, JSON.stringify({ type: 'ack', room: 'rb', seq: 3, client_id: 'b7' })); // acked once only
  feed(c, JSON.stringify({ type: 'ack', room: 'rb', seq: 4, client_id: 'b77' })); // never sent
  feed(c, JSON.stringify({ type: 'ready', rooms: [] }));
  feed(c, '{"type":"error","error":{"code":"x"}}');
  feed(c, 'not json');
  assert.deepEqual(got, [
    ['bench', 12, 3456],
    ['ack', 70, 7000],
    ['other', 'ready'],
    ['other', 'error'],
  ]);
});
