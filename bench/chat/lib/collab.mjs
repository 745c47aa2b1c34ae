// collab-chatd clients for the chat benchmark: the control socket (collab-ipc(7), JSON Lines
// with a versioned hello) for setting up users, rooms and session tokens, and the realtime
// WebSocket (/api/v1/ws) for posting and receiving messages. Only what the benchmark needs.
import net from 'node:net';
import WebSocket from 'ws';

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
const BENCH_TEXT = /"text":"bench (\d+) (\d+)"/;
const CLIENT_ID = /"client_id":"(b\d+)"/;

export class CollabClient {
  constructor({ url, user, token }) {
    this.url = url;
    this.user = user;
    this.token = token;
    this.closed = false;
    this.onBench = null; // (room, seq, sentUs) for bench messages in the user's rooms
    this.onAck = null; // (room, seq, sentUs) when the server acknowledges this client's post
    this.onClose = null;
    this.onError = null; // an error frame (a refused post)
    this.sent = new Map(); // client_id -> [seq, sentUs], to report the ack against the send time
  }

  async open() {
    const url = `${this.url}?token=${encodeURIComponent(this.token)}`;
    this.ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30000 });
    let readyResolve;
    let readyReject;
    const ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ws.on('message', (data) => {
      const s = data.toString();
      // Fast path for the two frames the load consists of, so the load generator spends as
      // little per frame as it does for XMPP (a pattern, no full parse).
      if (s.includes('"type":"message"')) {
        const b = BENCH_TEXT.exec(s);
        if (b && this.onBench) this.onBench(null, Number(b[1]), Number(b[2]));
        return;
      }
      if (s.includes('"type":"ack"')) {
        const c = CLIENT_ID.exec(s);
        const e = c && this.sent.get(c[1]);
        if (!e) return;
        this.sent.delete(c[1]);
        if (this.onAck) this.onAck(null, e[0], e[1]);
        return;
      }
      let m;
      try {
        m = JSON.parse(s);
      } catch {
        return;
      }
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
    });
    this.ws.on('close', () => {
      this.closed = true;
      readyReject(new Error(`${this.user}: WebSocket closed before ready`));
      if (this.onClose) this.onClose();
    });
    this.ws.on('error', (e) => readyReject(e));
    this.ws.on('open', () => this.ws.send(JSON.stringify({ type: 'hello', token: this.token })));
    await ready;
  }

  async join() {
    // Membership is set up through the control socket (room.create members): nothing to do.
  }

  post(room, seq, sentUs) {
    // Unique per user for the whole run: a repeated client_id would be deduplicated, not stored.
    const clientId = `b${++postCounter}`;
    this.sent.set(clientId, [seq, sentUs]);
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
