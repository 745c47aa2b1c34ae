// The one WebSocket of a tab to /api/v1/ws (same origin, cookie auth). Keeps a resume cursor
// per room (the highest seq or update_seq seen) and sends them in the hello of each connection,
// so a reconnect after a drop receives every missed event exactly once. Reconnects with a
// growing, jittered delay; stops for good on 4001/4003 (session ended / account disabled).
// It does not interpret frames beyond cursor bookkeeping: the app gets every frame.
export class Realtime {
  constructor(onFrame, onState) {
    this.onFrame = onFrame;
    this.onState = onState || (() => {});
    this.cursors = new Map();
    this.ws = null;
    this.attempt = 0;
    this.timer = 0;
    this.stopped = true;
    this.ready = false;
    this.queue = [];
    this.pingTimer = 0;
  }

  cursor(room) { return this.cursors.get(room) || 0; }
  // Raises a room's cursor (never lowers it).
  seen(room, seq) { if (seq > this.cursor(room)) this.cursors.set(room, seq); }
  setCursor(room, seq) { this.cursors.set(room, seq); }
  forget(room) { this.cursors.delete(room); }

  start() {
    this.stopped = false;
    this.connect();
  }

  // The browser says the network is gone: close now instead of waiting for a timeout, and do
  // not spin reconnect attempts until resume() (the 'online' event).
  suspend() {
    if (this.stopped) return;
    this.suspended = true;
    clearTimeout(this.timer);
    if (this.ws) { try { this.ws.close(1000); } catch { /* closed */ } }
  }

  resume() {
    if (this.stopped || !this.suspended) return;
    this.suspended = false;
    this.attempt = 0;
    if (!this.ws) this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    if (this.ws) { try { this.ws.close(1000); } catch { /* closed */ } }
    this.ws = null;
    this.ready = false;
    this.cursors.clear();
    this.queue = [];
  }

  connect() {
    if (this.stopped || this.suspended) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
    this.ws = ws;
    this.ready = false;
    this.onState('connecting');
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'hello', cursors: Object.fromEntries(this.cursors) }));
    };
    ws.onmessage = (ev) => {
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      if (f.type === 'message' || f.type === 'message_updated') {
        const m = f.message;
        this.seen(m.room, Math.max(m.seq || 0, m.update_seq || 0));
      } else if (f.type === 'reset') {
        this.setCursor(f.room, f.last_seq);
      } else if (f.type === 'room_gone') {
        this.forget(f.room);
      } else if (f.type === 'ready') {
        this.ready = true;
        this.attempt = 0;
        for (const [room, seq] of Object.entries(f.rooms || {})) if (!this.cursors.has(room)) this.cursors.set(room, seq);
        this.onState('ready');
        const q = this.queue; this.queue = [];
        for (const x of q) this.send(x);
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.send({ type: 'ping' }), 25000);
      }
      this.onFrame(f);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      clearInterval(this.pingTimer);
      if (ev.code === 4001 || ev.code === 4003) {
        this.stopped = true;
        this.onState(ev.code === 4003 ? 'disabled' : 'unauthorized');
        return;
      }
      this.onState('offline');
      if (this.stopped || this.suspended) return;
      const delay = Math.min(30000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt = Math.min(this.attempt + 1, 10);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  // Sends a frame now when the session is ready; typing/read frames are dropped when offline
  // (they are only hints), others wait for the next ready.
  send(frame) {
    if (this.ws && this.ready && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    if (frame.type !== 'typing' && frame.type !== 'read' && frame.type !== 'ping') this.queue.push(frame);
    return false;
  }
}
