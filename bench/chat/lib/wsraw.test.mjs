// Tests of the benchmark's WebSocket client (wsraw.mjs): frame parsing from arbitrary chunk
// boundaries, fragmentation, control frames, bad input, and a real handshake against the `ws`
// server on loopback (ping answered with a masked pong, close echoed).
//   node --test bench/chat/lib/
import assert from 'node:assert/strict';
import test from 'node:test';
import { WebSocketServer } from 'ws';

import { FrameParser, RawWebSocket, encodeFrame, indexIn, parseStamp, stamp } from './wsraw.mjs';

// An unmasked server frame.
function serverFrame(opcode, payload, fin = true) {
  const p = Buffer.from(payload);
  const n = p.length;
  const h = n < 126 ? Buffer.from([0, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (n >= 126 && n < 65536) {
    h[1] = 126;
    h.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    h[1] = 127;
    h.writeUInt32BE(n, 6);
  }
  h[0] = (fin ? 0x80 : 0) | opcode;
  return Buffer.concat([h, p]);
}

function collect() {
  const got = { messages: [], control: [] };
  const parser = new FrameParser(
    (buf, s, e, op) => got.messages.push([op, buf.toString('utf8', s, e)]),
    (op, payload) => got.control.push([op, payload.toString()]),
  );
  return { got, parser };
}

test('messages survive every split of the byte stream', () => {
  const big = 'x'.repeat(70000);
  const mid = 'y'.repeat(300);
  const stream = Buffer.concat([
    serverFrame(1, 'hello'),
    serverFrame(1, mid),
    serverFrame(1, 'frag-', false),
    serverFrame(9, 'p'), // a control frame between fragments
    serverFrame(0, 'ment', false),
    serverFrame(0, 'ed', true),
    serverFrame(2, big),
  ]);
  for (const step of [1, 2, 3, 7, 128, 1000, stream.length]) {
    const { got, parser } = collect();
    for (let i = 0; i < stream.length; i += step) parser.feed(stream.subarray(i, i + step));
    assert.deepEqual(got.messages, [[1, 'hello'], [1, mid], [1, 'frag-mented'], [2, big]], `step ${step}`);
    assert.deepEqual(got.control, [[9, 'p']]);
  }
});

test('bad frames are refused', () => {
  const bad = [
    Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0, 0, 0, 0, 0]), // masked by the server
    Buffer.from([0xc1, 0x00]), // RSV1 without an extension
    Buffer.from([0x83, 0x00]), // reserved opcode
    Buffer.from([0x80, 0x00]), // continuation without a message
    Buffer.from([0x09, 0x00]), // fragmented ping
    Buffer.concat([Buffer.from([0x89, 126, 0, 126]), Buffer.alloc(126)]), // ping of 126 bytes
    Buffer.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]), // 4 GiB
    Buffer.concat([serverFrame(1, 'a', false), serverFrame(1, 'b')]), // new message inside a fragmented one
  ];
  for (const b of bad) {
    const { parser } = collect();
    assert.throws(() => parser.feed(b), /websocket:/, b.toString('hex'));
  }
});

test('client frames are masked and decode to the payload', () => {
  for (const n of [0, 5, 125, 126, 65535, 65536]) {
    const payload = Buffer.alloc(n, 'a');
    const f = encodeFrame(1, payload);
    assert.equal(f[0], 0x81);
    assert.ok(f[1] & 0x80);
    const len = f[1] & 0x7f;
    const h = len < 126 ? 2 : len === 126 ? 4 : 10;
    assert.equal(len < 126 ? len : len === 126 ? f.readUInt16BE(2) : f.readUInt32BE(6), n);
    const mask = f.subarray(h, h + 4);
    const out = Buffer.from(f.subarray(h + 4)).map((b, i) => b ^ mask[i & 3]);
    assert.deepEqual(Buffer.from(out), payload);
  }
});

test('stamps are read from the bytes', () => {
  const b = Buffer.from('{"text":"bench 123 4567890123"}');
  const needle = Buffer.from('"text":"bench ');
  const i = indexIn(b, needle, 0, b.length);
  assert.equal(i, 1);
  const q = parseStamp(b, i + needle.length, b.length);
  assert.equal(b[q], 0x22);
  assert.equal(stamp.seq, 123);
  assert.equal(stamp.sentUs, 4567890123);
  assert.equal(indexIn(b, needle, 0, 10), -1); // past the end of the range
  for (const s of ['bench x 1', 'bench 1x', 'bench 1', 'bench 1 ', 'bench  1 2']) {
    const t = Buffer.from(s);
    assert.equal(parseStamp(t, 6, t.length), -1, s);
  }
});

test('handshake, echo, ping and close against a real server on loopback', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has('xmpp') ? 'xmpp' : false) });
  await new Promise((r) => wss.on('listening', r));
  const url = `ws://127.0.0.1:${wss.address().port}/path?x=1`;
  const pong = new Promise((resolve) => {
    wss.on('connection', (s, req) => {
      assert.equal(req.url, '/path?x=1');
      s.on('message', (d) => s.send(`echo ${d}`));
      s.on('pong', (d) => resolve(d.toString()));
      s.ping('are you there');
      // A message bigger than one read, in three fragments.
      s.send('a'.repeat(100000), { fin: false });
      s.send('b', { fin: false });
      s.send('c', { fin: true });
    });
  });
  const c = new RawWebSocket(url, { protocol: 'xmpp' });
  const got = [];
  let closed = false;
  c.onMessage = (buf, s, e) => got.push(buf.toString('utf8', s, e));
  c.onClose = () => {
    closed = true;
  };
  await c.open();
  c.send('hi');
  assert.equal(await pong, 'are you there');
  const deadline = Date.now() + 5000;
  while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got.length, 2);
  assert.equal(got[0], `${'a'.repeat(100000)}bc`);
  assert.equal(got[1], 'echo hi');
  // The server closes: the client echoes the close and sees the connection end.
  for (const s of wss.clients) s.close(1000, 'bye');
  while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(closed);
  // A subprotocol the server does not choose fails the handshake.
  await assert.rejects(new RawWebSocket(url, { protocol: 'other' }).open(), /subprotocol/);
  await new Promise((r) => wss.close(r));
});
