// A lean WebSocket client (RFC 6455) on a raw `net` socket for the chat benchmark's load
// generator. In the 1,000-member fan-out the generator takes in 999 frames per message; with the
// general-purpose `ws` client about half of its CPU per frame went to stream plumbing, a Buffer
// per read and per message, events, a UTF-8 decode and a regex (the rest is the kernel's TCP
// work, the same for any client). Here every connection reads into one shared buffer (net's
// `onread`) and each complete message is handed to onMessage as a byte range (buf, start, end),
// so a caller looks for the benchmark's stamp in the bytes and builds a string only for the rare
// frames it really needs to read. Every server (collab-chatd, prosody, ejabberd) is read through
// this same path.
// Deliberately not here: TLS, extensions (permessage-deflate is never offered), UTF-8
// validation of text frames, redirects, proxies; it talks to servers on loopback.
import crypto from 'node:crypto';
import net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const MAX_MESSAGE = 64 << 20; // a bench frame is ~300 bytes; anything near this is a broken stream
const MAX_HEADER = 16384;

// Every connection reads into this one buffer (net's `onread`): no Buffer per read and no
// stream machinery per chunk. Safe because each read is parsed to the end before the next one.
const READ_BUF = Buffer.allocUnsafe(256 << 10);

// Client frames must be masked with an unpredictable key (RFC 6455 5.3); keys are taken from a
// pool of random bytes so a frame costs no call into the CSPRNG.
let maskPool = Buffer.alloc(0);
let maskOff = 0;
function nextMask() {
  if (maskOff + 4 > maskPool.length) {
    maskPool = crypto.randomBytes(8192);
    maskOff = 0;
  }
  const m = maskPool.subarray(maskOff, maskOff + 4);
  maskOff += 4;
  return m;
}

// One masked frame with FIN set.
export function encodeFrame(opcode, payload) {
  const n = payload.length;
  const hlen = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(hlen + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) {
    out[1] = 0x80 | n;
  } else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  const mask = nextMask();
  mask.copy(out, hlen);
  const p = hlen + 4;
  for (let i = 0; i < n; i++) out[p + i] = payload[i] ^ mask[i & 3];
  return out;
}

// Incremental parser for server-to-client frames: feed() it chunks as they arrive. Complete
// data messages go to onMessage(buf, start, end, opcode), control frames to onControl(opcode,
// payload); both views are valid only during the call (the chunk's memory is reused for the
// next read). A protocol violation throws (the caller fails the connection).
export class FrameParser {
  constructor(onMessage, onControl) {
    this.onMessage = onMessage;
    this.onControl = onControl;
    this.rest = null; // bytes of an incomplete frame from an earlier chunk
    this.parts = null; // payloads of a fragmented message so far
    this.partsLen = 0;
    this.partsOp = 0;
  }

  // Parses chunk[0, len); len defaults to the whole chunk.
  feed(chunk, len = chunk.length) {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk.subarray(0, len)]);
      len = buf.length;
      this.rest = null;
    }
    let i = 0;
    while (len - i >= 2) {
      const b0 = buf[i];
      const b1 = buf[i + 1];
      if (b0 & 0x70) throw new Error('websocket: reserved bits set (no extension was negotiated)');
      if (b1 & 0x80) throw new Error('websocket: the server sent a masked frame');
      const fin = (b0 & 0x80) !== 0;
      const op = b0 & 0x0f;
      let n = b1 & 0x7f;
      let h = i + 2;
      if (n === 126) {
        if (len - i < 4) break;
        n = buf.readUInt16BE(i + 2);
        h = i + 4;
      } else if (n === 127) {
        if (len - i < 10) break;
        const hi = buf.readUInt32BE(i + 2);
        if (hi !== 0) throw new Error('websocket: frame longer than 4 GiB');
        n = buf.readUInt32BE(i + 6);
        h = i + 10;
      }
      if (n > MAX_MESSAGE) throw new Error(`websocket: frame of ${n} bytes`);
      if (len - h < n) break;
      const end = h + n;
      i = end;
      if (op >= 0x8) {
        if (!fin || n > 125) throw new Error('websocket: fragmented or oversized control frame');
        if (op !== OP_CLOSE && op !== OP_PING && op !== OP_PONG) throw new Error(`websocket: unknown opcode ${op}`);
        this.onControl(op, buf.subarray(h, end));
        continue;
      }
      if (op === OP_CONT) {
        if (!this.parts) throw new Error('websocket: continuation without a message');
        this.parts.push(Buffer.from(buf.subarray(h, end)));
        this.partsLen += n;
        if (this.partsLen > MAX_MESSAGE) throw new Error('websocket: message too long');
        if (fin) {
          const whole = Buffer.concat(this.parts, this.partsLen);
          const mop = this.partsOp;
          this.parts = null;
          this.partsLen = 0;
          this.onMessage(whole, 0, whole.length, mop);
        }
        continue;
      }
      if (op !== OP_TEXT && op !== OP_BINARY) throw new Error(`websocket: unknown opcode ${op}`);
      if (this.parts) throw new Error('websocket: new message inside a fragmented one');
      if (fin) {
        this.onMessage(buf, h, end, op);
      } else {
        this.parts = [Buffer.from(buf.subarray(h, end))];
        this.partsLen = n;
        this.partsOp = op;
      }
    }
    if (i < len) this.rest = Buffer.from(buf.subarray(i, len));
  }
}

// A client connection: open() does the opening handshake; then send() text, and every message
// arrives at onMessage(buf, start, end). Pings are answered, a close is echoed.
export class RawWebSocket {
  constructor(url, { protocol = null, handshakeTimeoutMs = 30000 } = {}) {
    this.url = new URL(url);
    if (this.url.protocol !== 'ws:') throw new Error(`websocket: only ws:// URLs (${url})`);
    this.protocol = protocol;
    this.handshakeTimeoutMs = handshakeTimeoutMs;
    this.sock = null;
    this.closed = false;
    this.onMessage = null; // (buf, start, end): valid only during the call
    this.onClose = null;
    this.onError = null;
    this.parser = new FrameParser(
      (buf, s, e) => {
        if (this.onMessage) this.onMessage(buf, s, e);
      },
      (op, payload) => this.control(op, payload),
    );
  }

  open() {
    return new Promise((resolve, reject) => {
      const key = crypto.randomBytes(16).toString('base64');
      const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
      const port = Number(this.url.port || 80);
      const sock = net.connect({
        host: this.url.hostname,
        port,
        onread: { buffer: READ_BUF, callback: (n, buf) => this.onRead(buf, n) },
      });
      this.sock = sock;
      sock.setNoDelay(true);
      let head = Buffer.alloc(0);
      let settled = false;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        this.closed = true;
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error(`websocket: no handshake reply from ${this.url.host} in ${this.handshakeTimeoutMs} ms`)), this.handshakeTimeoutMs);
      sock.on('error', (e) => {
        if (!settled) fail(e);
        else if (this.onError) this.onError(e);
      });
      sock.on('close', () => {
        if (!settled) fail(new Error('websocket: connection closed during the handshake'));
        this.closed = true;
        if (this.onClose) {
          const cb = this.onClose;
          this.onClose = null;
          cb();
        }
      });
      sock.on('connect', () => {
        const lines = [
          `GET ${this.url.pathname}${this.url.search} HTTP/1.1`,
          `Host: ${this.url.host}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${key}`,
          'Sec-WebSocket-Version: 13',
        ];
        if (this.protocol) lines.push(`Sec-WebSocket-Protocol: ${this.protocol}`);
        sock.write(lines.join('\r\n') + '\r\n\r\n');
      });
      this.onHandshakeData = (chunk) => {
        head = Buffer.concat([head, chunk]);
        const endIdx = head.indexOf('\r\n\r\n');
        if (endIdx < 0) {
          if (head.length > MAX_HEADER) fail(new Error('websocket: handshake reply too long'));
          return;
        }
        const text = head.toString('latin1', 0, endIdx);
        const [status, ...hdrLines] = text.split('\r\n');
        const hdrs = new Map();
        for (const l of hdrLines) {
          const c = l.indexOf(':');
          if (c > 0) hdrs.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
        }
        if (!/^HTTP\/1\.1 101\b/.test(status)) return fail(new Error(`websocket: ${this.url.pathname}: ${status}`));
        if (hdrs.get('sec-websocket-accept') !== accept) return fail(new Error('websocket: wrong Sec-WebSocket-Accept'));
        if ((hdrs.get('upgrade') || '').toLowerCase() !== 'websocket') return fail(new Error('websocket: no Upgrade: websocket'));
        if (hdrs.get('sec-websocket-extensions')) return fail(new Error('websocket: server chose an extension not offered'));
        const proto = hdrs.get('sec-websocket-protocol') || null;
        if (proto !== this.protocol) return fail(new Error(`websocket: subprotocol ${proto}, asked for ${this.protocol}`));
        settled = true;
        clearTimeout(timer);
        this.onHandshakeData = null;
        resolve();
        const rest = head.subarray(endIdx + 4);
        if (rest.length) this.data(rest, rest.length);
      };
    });
  }

  onRead(buf, n) {
    if (this.onHandshakeData) this.onHandshakeData(Buffer.from(buf.subarray(0, n)));
    else this.data(buf, n);
  }

  data(chunk, len) {
    if (this.closed) return;
    try {
      this.parser.feed(chunk, len);
    } catch (e) {
      if (this.onError) this.onError(e);
      this.terminate();
    }
  }

  control(op, payload) {
    if (op === OP_PING) {
      this.write(OP_PONG, payload);
    } else if (op === OP_CLOSE) {
      // Echo the status code (RFC 6455 5.5.1), then the server closes the TCP connection.
      this.write(OP_CLOSE, payload.length >= 2 ? payload.subarray(0, 2) : Buffer.alloc(0));
      this.closing = true;
      this.sock.end();
    }
  }

  write(op, payload) {
    if (this.closed || this.closing || !this.sock || this.sock.destroyed) return;
    this.sock.write(encodeFrame(op, payload));
  }

  send(text) {
    this.write(OP_TEXT, Buffer.from(text));
  }

  get bufferedAmount() {
    return this.sock ? this.sock.writableLength : 0;
  }

  // A normal closure (1000) and the end of our side; the socket is destroyed after a grace
  // period if the server does not close it.
  close() {
    if (this.closed || !this.sock) return;
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    this.write(OP_CLOSE, code);
    this.closing = true;
    this.sock.end();
    setTimeout(() => this.terminate(), 2000).unref();
  }

  terminate() {
    if (this.sock) this.sock.destroy();
    this.closed = true;
  }
}

// Index of `needle` (a Buffer) in buf[start, end), or -1, without building a string. A plain
// loop: Buffer#indexOf sets up a Boyer-Moore-Horspool table per call, which costs more than
// scanning a 300-byte frame, and it would search past `end` into stale bytes of the read buffer.
export function indexIn(buf, needle, start, end) {
  const n = needle.length;
  const first = needle[0];
  const last = end - n;
  for (let i = start; i <= last; i++) {
    if (buf[i] !== first) continue;
    let k = 1;
    while (k < n && buf[i + k] === needle[k]) k++;
    if (k === n) return i;
  }
  return -1;
}

// Index of the last `needle` in buf[start, end), or -1 (for what sits at the end of a frame).
export function lastIndexIn(buf, needle, start, end) {
  const n = needle.length;
  const first = needle[0];
  for (let i = end - n; i >= start; i--) {
    if (buf[i] !== first) continue;
    let k = 1;
    while (k < n && buf[i + k] === needle[k]) k++;
    if (k === n) return i;
  }
  return -1;
}

// Whether buf[at, end) starts with `needle`.
export function startsAt(buf, needle, at, end) {
  const n = needle.length;
  if (at < 0 || at + n > end) return false;
  for (let k = 0; k < n; k++) if (buf[at + k] !== needle[k]) return false;
  return true;
}

// Index of the byte `b` in buf[start, end), or -1 (bounded, unlike Buffer#indexOf on the
// shared read buffer).
export function indexByte(buf, b, start, end) {
  for (let i = start; i < end; i++) if (buf[i] === b) return i;
  return -1;
}

// Parses the benchmark's stamp "SEQ SENT_US" (two decimal numbers, one space) at buf[p...]:
// returns the position after it and leaves the numbers in stamp.seq/stamp.sentUs, or returns -1.
export const stamp = { seq: 0, sentUs: 0 };
export function parseStamp(buf, p, end) {
  let seq = 0;
  let q = p;
  while (q < end && buf[q] >= 0x30 && buf[q] <= 0x39) seq = seq * 10 + (buf[q++] - 0x30);
  if (q === p || q >= end || buf[q] !== 0x20) return -1;
  const r = ++q;
  let t = 0;
  while (q < end && buf[q] >= 0x30 && buf[q] <= 0x39) t = t * 10 + (buf[q++] - 0x30);
  if (q === r) return -1;
  stamp.seq = seq;
  stamp.sentUs = t;
  return q;
}
