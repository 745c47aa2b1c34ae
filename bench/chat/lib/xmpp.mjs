// A minimal XMPP-over-WebSocket client (RFC 7395 framing, subprotocol "xmpp") for the chat
// benchmark: SASL PLAIN, resource binding, initial presence, joining a MUC room (XEP-0045) and
// groupchat messages. It is enough for prosody and ejabberd on loopback without TLS; it is not a
// general XMPP library (no TLS, no SCRAM, no stream management, no XML parser: each WebSocket
// message is one complete stanza, matched with a few patterns).
import { RawWebSocket, indexByte, indexIn, lastIndexIn, parseStamp, stamp, startsAt } from './wsraw.mjs';

const FRAMING_NS = 'urn:ietf:params:xml:ns:xmpp-framing';
const MESSAGE_OPEN = Buffer.from('<message');
const BENCH_BODY = Buffer.from('<body>bench ');
const BODY_END = Buffer.from('</body>');
const TYPE_ATTR = Buffer.from('type=');
const FROM_ATTR = Buffer.from('from=');
const ERROR = Buffer.from('error');

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
    // Called for every bench message from another occupant: (null, seq, sentUs): the room is not decoded.
    this.onBench = null;
    // Called when the room reflects this client's own message (XEP-0045 echo): (null, seq, sentUs).
    this.onAck = null;
    this.onClose = null;
    this.onError = null; // a message bounced with type="error"
  }

  // Connects and authenticates; resolves when the resource is bound (and initial presence sent).
  async open({ presence = true } = {}) {
    this.ws = new RawWebSocket(this.url, { protocol: 'xmpp', handshakeTimeoutMs: 30000 });
    this.nickBytes = Buffer.from(this.nick);
    this.ws.onMessage = (buf, s, e) => this.onFrame(buf, s, e);
    this.ws.onClose = () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`${this.user}: connection closed`));
      if (this.onClose) this.onClose();
    };
    this.ws.onError = (e) => {
      for (const w of this.waiters.splice(0)) w.reject(e);
    };
    await this.ws.open();
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

  // One WebSocket message is one stanza (RFC 7395). Bench messages are read from the bytes
  // (stamp, and whether the occupant nick in `from` is ours: the room's echo of our own post);
  // only other stanzas become strings, for the waiters of the setup steps. The room is not
  // decoded (null): each session takes part in one measured room at a time.
  onFrame(buf, start, end) {
    if (end - start > MESSAGE_OPEN.length && indexIn(buf, MESSAGE_OPEN, start, start + MESSAGE_OPEN.length) === start) {
      // One pass over the start tag for its end and the two attributes that matter.
      let typeAt = -1;
      let fromAt = -1;
      let tagEnd = end;
      for (let i = start + MESSAGE_OPEN.length; i < end; i++) {
        const c = buf[i];
        if (c === 0x3e) {
          tagEnd = i;
          break;
        }
        if (c !== 0x20) continue;
        if (typeAt < 0 && startsAt(buf, TYPE_ATTR, i + 1, end)) typeAt = i + 1 + TYPE_ATTR.length;
        else if (fromAt < 0 && startsAt(buf, FROM_ATTR, i + 1, end)) fromAt = i + 1 + FROM_ATTR.length;
      }
      if (typeAt >= 0 && startsAt(buf, ERROR, typeAt + 1, tagEnd) && buf[typeAt + 1 + ERROR.length] === buf[typeAt]) {
        if (this.onError) this.onError(buf.toString('utf8', start, end));
        return;
      }
      // The body is at the end of the stanza (after ejabberd's stanza-id): search backwards.
      const b = lastIndexIn(buf, BENCH_BODY, tagEnd, end);
      const q = b >= 0 ? parseStamp(buf, b + BENCH_BODY.length, end) : -1;
      if (q >= 0 && startsAt(buf, BODY_END, q, end)) {
        const seq = stamp.seq;
        const t = stamp.sentUs;
        if (this.fromSelf(buf, fromAt, tagEnd)) {
          if (this.onAck) this.onAck(null, seq, t);
        } else if (this.onBench) {
          this.onBench(null, seq, t);
        }
        return;
      }
    }
    const s = buf.toString('utf8', start, end);
    for (let i = 0; i < this.waiters.length; i++) {
      if (this.waiters[i].pred(s)) {
        const [w] = this.waiters.splice(i, 1);
        w.resolve(s);
        return;
      }
    }
  }

  // Whether the from attribute (its quote at buf[at], -1: none) is room@service/NICK with our nick.
  fromSelf(buf, at, tagEnd) {
    if (at < 0) return false;
    const quote = buf[at];
    if (quote !== 0x22 && quote !== 0x27) return false;
    const ve = indexByte(buf, quote, at + 1, tagEnd);
    if (ve < 0) return false;
    const slash = indexByte(buf, 0x2f, at + 1, ve);
    if (slash < 0) return false;
    const n = this.nickBytes;
    return ve - slash - 1 === n.length && startsAt(buf, n, slash + 1, ve);
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
