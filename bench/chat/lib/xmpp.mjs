// A minimal XMPP-over-WebSocket client (RFC 7395 framing, subprotocol "xmpp") for the chat
// benchmark: SASL PLAIN, resource binding, initial presence, joining a MUC room (XEP-0045) and
// groupchat messages. It is enough for prosody and ejabberd on loopback without TLS; it is not a
// general XMPP library (no TLS, no SCRAM, no stream management, no XML parser: each WebSocket
// message is one complete stanza, matched with a few patterns).
import WebSocket from 'ws';

const FRAMING_NS = 'urn:ietf:params:xml:ns:xmpp-framing';
const BENCH_BODY = /<body>bench (\d+) (\d+)<\/body>/;

function xmlEscape(s) {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
}

export class XmppClient {
  // url: ws://127.0.0.1:PORT/path; domain: the XMPP host; mucDomain: the MUC service.
  constructor({ url, domain, mucDomain, user, password }) {
    this.url = url;
    this.domain = domain;
    this.mucDomain = mucDomain;
    this.user = user;
    this.password = password;
    this.nick = user;
    this.ws = null;
    this.waiters = [];
    this.closed = false;
    // Called for every bench message from another occupant: (room, seq, sentUs).
    this.onBench = null;
    // Called when the room reflects this client's own message (XEP-0045 echo): (room, seq, sentUs).
    this.onAck = null;
    this.onClose = null;
    this.onError = null; // a message bounced with type="error"
  }

  // Connects and authenticates; resolves when the resource is bound (and initial presence sent).
  async open({ presence = true } = {}) {
    this.ws = new WebSocket(this.url, ['xmpp'], { perMessageDeflate: false, handshakeTimeout: 30000 });
    this.ws.on('message', (data) => this.onFrame(data.toString()));
    this.ws.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`${this.user}: connection closed`));
      if (this.onClose) this.onClose();
    });
    this.ws.on('error', (e) => {
      for (const w of this.waiters.splice(0)) w.reject(e);
    });
    await new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    const openFrame = `<open xmlns="${FRAMING_NS}" to="${this.domain}" version="1.0"/>`;
    this.ws.send(openFrame);
    const f1 = await this.expect((s) => s.includes('mechanisms'), 'stream features');
    if (!/<mechanism>PLAIN<\/mechanism>/.test(f1)) throw new Error(`${this.user}: server offers no SASL PLAIN: ${f1}`);
    const creds = Buffer.from(`\0${this.user}\0${this.password}`).toString('base64');
    this.ws.send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">${creds}</auth>`);
    const r = await this.expect((s) => s.startsWith('<success') || s.startsWith('<failure'), 'SASL result');
    if (!r.startsWith('<success')) throw new Error(`${this.user}: SASL failed: ${r}`);
    this.ws.send(openFrame);
    const f2 = await this.expect((s) => s.includes('urn:ietf:params:xml:ns:xmpp-bind'), 'bind feature');
    this.ws.send(
      `<iq xmlns="jabber:client" type="set" id="bind1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>b</resource></bind></iq>`,
    );
    const b = await this.expect((s) => s.startsWith('<iq') && /id=["']bind1["']/.test(s), 'bind result');
    if (!/type=["']result["']/.test(b)) throw new Error(`${this.user}: bind failed: ${b}`);
    // RFC 6121 sessions are optional on both servers; establish one only where it is required.
    if (/urn:ietf:params:xml:ns:xmpp-session/.test(f2) && !/<optional\/>/.test(f2)) {
      this.ws.send(`<iq xmlns="jabber:client" type="set" id="sess1"><session xmlns="urn:ietf:params:xml:ns:xmpp-session"/></iq>`);
      await this.expect((s) => /id=["']sess1["']/.test(s), 'session result');
    }
    if (presence) this.ws.send('<presence xmlns="jabber:client"/>');
  }

  expect(pred, what, timeoutMs = 60000) {
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject };
      w.timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.user}: timed out waiting for ${what}`));
      }, timeoutMs);
      w.resolve = (v) => {
        clearTimeout(w.timer);
        resolve(v);
      };
      w.reject = (e) => {
        clearTimeout(w.timer);
        reject(e);
      };
      this.waiters.push(w);
    });
  }

  onFrame(s) {
    if (s.startsWith('<message')) {
      if (/^<message[^>]*type=["']error["']/.test(s)) {
        if (this.onError) this.onError(s);
        return;
      }
      const m = BENCH_BODY.exec(s);
      if (m) {
        const from = /from=["']([^"']*)["']/.exec(s);
        const jid = from ? from[1] : '';
        const slash = jid.indexOf('/');
        const room = jid.slice(0, slash < 0 ? jid.length : slash);
        const nick = slash < 0 ? '' : jid.slice(slash + 1);
        const seq = Number(m[1]);
        const t = Number(m[2]);
        if (nick === this.nick) {
          if (this.onAck) this.onAck(room, seq, t);
        } else if (this.onBench) {
          this.onBench(room, seq, t);
        }
        return;
      }
    }
    for (let i = 0; i < this.waiters.length; i++) {
      if (this.waiters[i].pred(s)) {
        const [w] = this.waiters.splice(i, 1);
        w.resolve(s);
        return;
      }
    }
  }

  roomJid(room) {
    return `${room}@${this.mucDomain}`;
  }

  // Joins a MUC room without history; resolves on the self-presence (status 110). The first
  // occupant of a new room configures it as an instant room (XEP-0045 10.1.2) so it unlocks.
  async join(room) {
    const jid = this.roomJid(room);
    const self = `${jid}/${this.nick}`;
    const fromSelf = new RegExp(`from=["']${self.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']`);
    const p = this.expect(
      (s) => s.startsWith('<presence') && fromSelf.test(s) && (/code=["']110["']/.test(s) || /type=["']error["']/.test(s)),
      `self-presence in ${room}`,
    );
    this.ws.send(
      `<presence xmlns="jabber:client" to="${xmlEscape(self)}"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="0"/></x></presence>`,
    );
    const pres = await p;
    if (/type=["']error["']/.test(pres)) throw new Error(`${this.user}: join ${room} failed: ${pres}`);
    if (/code=["']201["']/.test(pres)) {
      this.ws.send(
        `<iq xmlns="jabber:client" type="set" id="cfg1" to="${jid}"><query xmlns="http://jabber.org/protocol/muc#owner">` +
          `<x xmlns="jabber:x:data" type="submit"/></query></iq>`,
      );
      const r = await this.expect((s) => s.startsWith('<iq') && /id=["']cfg1["']/.test(s), 'room configuration');
      if (!/type=["']result["']/.test(r)) throw new Error(`${this.user}: configuring ${room} failed: ${r}`);
    }
  }

  // Posts "bench SEQ SENT_US" to a room; the reply (ack) is the room's echo to this client.
  post(room, seq, sentUs) {
    this.ws.send(
      `<message xmlns="jabber:client" to="${this.roomJid(room)}" type="groupchat" id="m${seq}"><body>bench ${seq} ${sentUs}</body></message>`,
    );
  }

  bufferedAmount() {
    return this.ws ? this.ws.bufferedAmount : 0;
  }

  close() {
    if (!this.ws || this.closed) return;
    try {
      this.ws.send(`<close xmlns="${FRAMING_NS}"/>`);
    } catch {
      // already closing
    }
    this.ws.terminate();
    this.closed = true;
  }
}
