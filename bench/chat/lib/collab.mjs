// collab-chatd clients for the chat benchmark: the control socket (collab-ipc(7), JSON Lines
// with a versioned hello) for setting up users, rooms and session tokens, and the realtime
// WebSocket (/api/v1/ws) for posting and receiving messages. Only what the benchmark needs.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawWebSocket, indexIn, parseStamp, stamp } from './wsraw.mjs';
import { Proc, run, tempDir, waitFor } from './util.mjs';

const sourceDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export class ControlClient {
  constructor(path) {
    this.path = path;
    this.nextId = 1;
    this.pending = new Map();
    this.buf = '';
    this.hello = null;
  }

  async open(timeoutMs = 10000) {
    this.sock = net.connect(this.path);
    let helloResolve;
    let helloReject;
    const hello = new Promise((res, rej) => {
      helloResolve = res;
      helloReject = rej;
    });
    const timer = setTimeout(() => helloReject(new Error(`control socket ${this.path}: no hello`)), timeoutMs);
    this.sock.on('error', (e) => {
      helloReject(e);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
    this.sock.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('control socket closed'));
      this.pending.clear();
    });
    this.sock.on('data', (d) => {
      this.buf += d.toString();
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line);
        if (this.hello === null) {
          this.hello = msg;
          helloResolve(msg);
          continue;
        }
        const p = this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new Error(`${p.verb}: ${msg.error ? msg.error.message : line}`));
      }
    });
    const h = await hello;
    clearTimeout(timer);
    if (h.hello !== 'collab-ipc') throw new Error(`control socket: unexpected hello ${JSON.stringify(h)}`);
    this.sock.write(JSON.stringify({ hello: 'collab-ipc', version: 1 }) + '\n');
    return h;
  }

  // Requests may be pipelined: replies are matched by id.
  call(verb, args = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, verb });
      this.sock.write(JSON.stringify({ id, verb, args }) + '\n');
    });
  }

  close() {
    if (this.sock) this.sock.destroy();
  }
}

let postCounter = 0;
const TYPE_MESSAGE = Buffer.from('"type":"message"');
const BENCH_TEXT = Buffer.from('"text":"bench ');
const TYPE_ACK = Buffer.from('"type":"ack"');
const CLIENT_ID = Buffer.from('"client_id":"b');

export class CollabClient {
  constructor({ url, user, token }) {
    this.url = url;
    this.user = user;
    this.token = token;
    this.closed = false;
    this.onBench = null; // (room, seq, sentUs) for bench messages in the user's rooms; room is null
    this.onAck = null; // (room, seq, sentUs) when the server acknowledges this client's post
    this.onClose = null;
    this.onError = null; // an error frame (a refused post)
    this.sent = new Map(); // client_id number -> [seq, sentUs], to report the ack against the send time
  }

  async open() {
    const url = `${this.url}?token=${encodeURIComponent(this.token)}`;
    this.ws = new RawWebSocket(url, { handshakeTimeoutMs: 30000 });
    let readyResolve;
    let readyReject;
    const ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    ready.catch(() => {}); // a failed handshake rejects open() itself; this one then goes unheard
    // Frames other than the load's: only the ones the session setup waits for.
    this.onOther = (m) => {
      switch (m.type) {
        case 'ready':
          readyResolve(m);
          break;
        case 'error':
          this.lastError = m.error;
          if (this.onError) this.onError(m);
          break;
        default:
          break;
      }
    };
    this.ws.onMessage = (buf, s, e) => this.onFrame(buf, s, e);
    this.ws.onClose = () => {
      this.closed = true;
      readyReject(new Error(`${this.user}: WebSocket closed before ready`));
      if (this.onClose) this.onClose();
    };
    this.ws.onError = (e) => readyReject(e);
    await this.ws.open();
    this.ws.send(JSON.stringify({ type: 'hello', token: this.token }));
    await ready;
  }

  // Fast path for the two frames the load consists of: the stamp or client_id is read from the
  // bytes and no string is built (the same receive path as for XMPP; see wsraw.mjs).
  onFrame(buf, s, e) {
    if (indexIn(buf, TYPE_MESSAGE, s, e) >= 0) {
      const b = indexIn(buf, BENCH_TEXT, s, e);
      const q = b >= 0 ? parseStamp(buf, b + BENCH_TEXT.length, e) : -1;
      if (q >= 0 && buf[q] === 0x22 && this.onBench) this.onBench(null, stamp.seq, stamp.sentUs);
      return;
    }
    if (indexIn(buf, TYPE_ACK, s, e) >= 0) {
      const c = indexIn(buf, CLIENT_ID, s, e);
      if (c < 0) return;
      let id = 0;
      let q = c + CLIENT_ID.length;
      while (q < e && buf[q] >= 0x30 && buf[q] <= 0x39) id = id * 10 + (buf[q++] - 0x30);
      if (q === c + CLIENT_ID.length || buf[q] !== 0x22) return;
      const entry = this.sent.get(id);
      if (!entry) return;
      this.sent.delete(id);
      if (this.onAck) this.onAck(null, entry[0], entry[1]);
      return;
    }
    let m;
    try {
      m = JSON.parse(buf.toString('utf8', s, e));
    } catch {
      return;
    }
    if (this.onOther) this.onOther(m);
  }

  async join() {
    // Membership is set up through the control socket (room.create members): nothing to do.
  }

  post(room, seq, sentUs) {
    // Unique per user for the whole run: a repeated client_id would be deduplicated, not stored.
    const n = ++postCounter;
    const clientId = `b${n}`;
    this.sent.set(n, [seq, sentUs]);
    this.ws.send(JSON.stringify({ type: 'post', room, text: `bench ${seq} ${sentUs}`, client_id: clientId }));
  }

  bufferedAmount() {
    return this.ws ? this.ws.bufferedAmount : 0;
  }

  close() {
    if (!this.ws || this.closed) return;
    this.ws.terminate();
    this.closed = true;
  }
}

// Starts one collab daemon the way every benchmark does: `collab-admin init` writes a config in a
// fresh temp dir with every listener on 127.0.0.1 (port 0: the kernel picks) plus `overrides`
// (more key=value settings), then the daemon runs from it until its control socket answers.
// Resolves with { dir, config, proc, ctl, status } (the control client stays open; the caller
// closes it and stops proc).
export async function startCollabDaemon({ binDir, daemon, prefix, overrides = [] }) {
  const dir = tempDir(prefix);
  const config = path.join(dir, 'collab.toml');
  const over = [];
  for (const d of ['chatd', 'sfu', 'stream']) over.push('-o', `${d}.listen=127.0.0.1:0`);
  over.push('-o', 'sfu.rtc_udp_listen=127.0.0.1:0', '-o', 'sfu.rtc_tcp_listen=127.0.0.1:0');
  over.push('-o', 'stream.rtmp_listen=127.0.0.1:0');
  for (const o of overrides) over.push('-o', o);
  await run(path.join(binDir, 'collab-admin'), [
    '-c', config, ...over, 'init',
    '--state-dir', path.join(dir, 'state'), '--run-dir', path.join(dir, 'run'),
    '--web-dir', path.join(sourceDir, 'web'), '--key-file', path.join(dir, 'token.key'),
  ]);
  const proc = new Proc(`collab-${daemon}`, path.join(binDir, `collab-${daemon}`), ['-c', config], {
    logPath: path.join(dir, `${daemon}.log`),
    cwd: dir,
  });
  const sock = path.join(dir, 'run', `collab-${daemon}.sock`);
  const ctl = await waitFor(
    async () => {
      if (!proc.alive()) throw new Error(`collab-${daemon} exited: ${proc.tail()}`);
      if (!fs.existsSync(sock)) return null;
      const c = new ControlClient(sock);
      try {
        await c.open(2000);
        return c;
      } catch {
        c.close();
        return null;
      }
    },
    { timeoutMs: 30000, what: `collab-${daemon} control socket` },
  );
  const status = await ctl.call('status');
  return { dir, config, proc, ctl, status };
}
