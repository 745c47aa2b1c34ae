"""A small client of collab-chatd for the integration tests: the HTTP JSON API, a WebSocket
client on a plain socket (RFC 6455), and quick user creation over the control socket.

Deliberately minimal and strict: no retries or reconnects of its own (tests decide that), and
every wait is bounded by a deadline rather than a fixed sleep.
"""
import base64
import hashlib
import http.client
import json
import os
import socket
import struct
import time

from harness import Control, Env, wait_for

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---------------------------------------------------------------- HTTP

class Reply:
    """One HTTP answer: status, lowercase headers, raw body and the parsed JSON (or None)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def error(self):
        """The {code, message} of an error reply ({} when there is none)."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"]
        return {}

    def __repr__(self):
        return f"<Reply {self.status} {self.body[:300]!r}>"


class Api:
    """HTTP JSON calls against one chatd address; a token makes them Bearer calls."""

    def __init__(self, host, port, token=None, timeout=15):
        self.host, self.port, self.token, self.timeout = host, port, token, timeout

    def as_user(self, token):
        return Api(self.host, self.port, token, self.timeout)

    def raw(self, method, path, body=None, headers=None):
        """Sends body (bytes or None) as is with exactly the given headers (plus Host etc.)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def call(self, method, path, body=None, token=None, headers=None):
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h.setdefault("Authorization", f"Bearer {tok}")
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        return self.raw(method, path, data, h)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body if body is not None else {}, **kw)

    # ---- conveniences for the common calls ----
    def login(self, username, password):
        return self.call("POST", "/api/v1/login", {"username": username, "password": password}, token="")

    def history(self, room, **params):
        q = "&".join(f"{k}={v}" for k, v in params.items())
        r = self.get(f"/api/v1/rooms/{room}/messages" + (f"?{q}" if q else ""))
        assert r.status == 200, r
        return r.json["messages"]

    def all_messages(self, room):
        """Every message of a room in seq order. Pages backwards with before= (the newest page
        first), which needs nothing but "latest page" and "before" from the server."""
        out, before = [], None
        for _ in range(100000):
            q = f"limit=200&before={before}" if before else "limit=200"
            r = self.get(f"/api/v1/rooms/{room}/messages?{q}")
            assert r.status == 200, r
            msgs = r.json["messages"]
            out = msgs + out
            if not msgs or not r.json.get("more"):
                return out
            before = msgs[0]["seq"]
        raise AssertionError("history did not end")

    def send(self, room, text, client_id=None, **extra):
        body = {"text": text, **extra}
        if client_id is not None:
            body["client_id"] = client_id
        return self.post(f"/api/v1/rooms/{room}/messages", body)

    def rooms(self):
        r = self.get("/api/v1/rooms")
        assert r.status == 200, r
        return {x["id"]: x for x in r.json["rooms"]}


# ---------------------------------------------------------------- WebSocket

class WsClosed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"WebSocket closed: {code} {reason!r}")
        self.code, self.reason = code, reason


class WsHandshakeError(Exception):
    def __init__(self, status, head):
        super().__init__(f"WebSocket handshake refused: {status}")
        self.status, self.head = status, head


class WebSocket:
    """An RFC 6455 client: masked frames out; unmasked frames in, with continuation frames
    reassembled, pings answered with pongs and the close handshake completed."""

    def __init__(self, host, port, path="/api/v1/ws", token=None, headers=None, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()
        self.closed = None  # (code, reason) once the server's close frame arrived
        self.pending = []   # JSON frames read while waiting for something else
        if token:
            path += ("&" if "?" in path else "?") + "token=" + token
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        end = self.buf.index(b"\r\n\r\n") + 4
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end]
        status = int(head.split(" ", 2)[1])
        if status != 101:
            self.sock.close()
            raise WsHandshakeError(status, head)
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                for l in head.split("\r\n")[1:] if ":" in l}
        if hdrs.get("sec-websocket-accept") != accept:
            raise AssertionError(f"bad Sec-WebSocket-Accept in {head!r}")

    # ---- low level ----
    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data from the WebSocket in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no data from the WebSocket in time")
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            if self.closed is None:
                self.closed = (1006, "connection dropped")
            raise WsClosed(*self.closed)
        self.buf += data

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)

    def send_frame(self, opcode, payload=b"", fin=True, mask=True, rsv=0):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            key = os.urandom(4)
            masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, key)
            data = head + key + masked
        else:
            data = head + payload
        self.sock.sendall(data)

    def send_text(self, text):
        self.send_frame(0x1, text.encode() if isinstance(text, str) else text)

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def read_frame(self, deadline):
        """(opcode, payload) of the next frame as it arrives (no reassembly)."""
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._need(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        if b1 & 0x80:
            raise AssertionError("the server masked a frame (RFC 6455 5.1 forbids it)")
        self._need(off + n, deadline)
        payload = bytes(self.buf[off:off + n])
        del self.buf[:off + n]
        return b0 & 0x80 != 0, b0 & 0x0F, payload

    def recv_message(self, timeout=10.0):
        """(opcode, payload) of the next whole data message; control frames handled inline."""
        deadline = time.monotonic() + timeout
        parts, first_op = [], None
        while True:
            if self.closed is not None and not self.buf:
                raise WsClosed(*self.closed)
            fin, op, payload = self.read_frame(deadline)
            if op == 0x9:  # ping
                self.send_frame(0xA, payload)
                continue
            if op == 0xA:  # pong
                continue
            if op == 0x8:  # close
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8", "replace")
                if self.closed is None:
                    self.closed = (code, reason)
                    try:
                        self.send_frame(0x8, payload[:2])
                    except OSError:
                        pass
                raise WsClosed(code, reason)
            if op == 0x0:
                if first_op is None:
                    raise AssertionError("continuation frame without a first fragment")
            else:
                if first_op is not None:
                    raise AssertionError("new data frame inside a fragmented message")
                first_op = op
            parts.append(payload)
            if fin:
                return first_op, b"".join(parts)

    def recv_json(self, timeout=10.0):
        if self.pending:
            return self.pending.pop(0)
        op, payload = self.recv_message(timeout)
        if op != 0x1:
            raise AssertionError(f"expected a text frame, got opcode {op}")
        return json.loads(payload.decode("utf-8"))

    def wait_for(self, pred, timeout=10.0, what="a matching frame", keep_others=True):
        """The first JSON frame for which pred is true; frames before it are kept (in order) for
        later recv_json calls unless keep_others is false."""
        deadline = time.monotonic() + timeout
        skipped = []
        try:
            for i, f in enumerate(self.pending):
                if pred(f):
                    del self.pending[i]
                    return f
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out waiting for {what}; saw {skipped[-5:]!r}")
                op, payload = self.recv_message(left)
                if op != 0x1:
                    continue
                f = json.loads(payload.decode("utf-8"))
                if pred(f):
                    return f
                skipped.append(f)
        except TimeoutError as e:
            if "waiting for" in str(e):
                raise
            raise TimeoutError(f"timed out waiting for {what}; saw {skipped[-5:]!r}")
        finally:
            if keep_others:
                self.pending += skipped

    def collect(self, until, timeout=10.0):
        """Every JSON frame up to and including the first for which until is true."""
        deadline = time.monotonic() + timeout
        out = list(self.pending)
        self.pending = []
        for i, f in enumerate(out):
            if until(f):
                self.pending = out[i + 1:]
                return out[:i + 1]
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out collecting frames; got {out[-5:]!r}")
            f = self.recv_json(left)
            out.append(f)
            if until(f):
                return out

    def drain(self, quiet=0.2):
        """Frames arriving until none came for `quiet` seconds (at most 10000 frames)."""
        out = list(self.pending)
        self.pending = []
        for _ in range(10000):
            try:
                out.append(self.recv_json(quiet))
            except TimeoutError:
                return out
        return out

    def hello(self, cursors=None, timeout=10.0, **extra):
        """Sends hello and returns (frames before ready, the ready frame)."""
        msg = {"type": "hello", **extra}
        if cursors is not None:
            msg["cursors"] = cursors
        self.send_json(msg)
        frames = self.collect(lambda f: f.get("type") in ("ready", "error"), timeout)
        if frames[-1].get("type") != "ready":
            raise AssertionError(f"hello refused: {frames[-1]!r}")
        return frames[:-1], frames[-1]

    def wait_closed(self, timeout=10.0):
        """Reads until the server closes; returns (code, reason) and the frames seen before."""
        deadline = time.monotonic() + timeout
        seen = list(self.pending)
        self.pending = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the server did not close the WebSocket; saw {seen[-5:]!r}")
            try:
                op, payload = self.recv_message(left)
            except WsClosed as e:
                return (e.code, e.reason), seen
            if op == 0x1:
                seen.append(json.loads(payload))

    def close(self, code=1000):
        try:
            if self.closed is None:
                self.send_frame(0x8, struct.pack("!H", code))
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def _mask_fast(payload, key):
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


# ---------------------------------------------------------------- the daemon and its users

class ChatEnv:
    """A running collab-chatd on a temp dir with helpers to make users fast.

    `options` are -o overrides (key=value) written into the config at init time."""

    def __init__(self, test, options=()):
        self.test = test
        self.env = Env(test, extra=tuple(options))
        self.daemon = self.env.start(test, "chatd")
        self._ctl = None

    @property
    def ctl(self):
        if self._ctl is None:
            self._ctl = Control(self.env.socket_path("chatd"))
            self.test.addCleanup(self._close_ctl)
        return self._ctl

    def _close_ctl(self):
        if self._ctl is not None:
            try:
                self._ctl.close()
            except OSError:
                pass
            self._ctl = None

    def call(self, verb, args=None):
        """A control verb that must succeed; returns its result."""
        r = self.ctl.call(verb, args or {})
        assert r.get("ok"), f"{verb} {args}: {r}"
        return r["result"]

    def api(self, token=None):
        host, port = self.daemon.http_address()
        return Api(host, port, token)

    def ws(self, token, **kw):
        host, port = self.daemon.http_address()
        w = WebSocket(host, port, token=token, **kw)
        self.test.addCleanup(w.close)
        return w

    def users(self, *ids, names=None):
        """Creates password-less users (one user.add_many) and opens a session for each;
        returns {id: Api with that user's bearer token}."""
        names = names or {}
        res = self.call("user.add_many", {"users": [{"id": i, "name": names.get(i, i.capitalize())} for i in ids]})
        assert not res["errors"], res
        out = {}
        for i in ids:
            tok = self.call("user.session", {"id": i})["token"]
            out[i] = self.api(tok)
        return out

    def password_user(self, uid, password, **fields):
        """One user with a password (argon2id: ~0.1 s each, keep these few)."""
        return self.call("user.add", {"id": uid, "name": fields.pop("name", uid), "password": password, **fields})

    def room(self, name, kind, owner, members=()):
        return self.call("room.create", {"name": name, "kind": kind, "owner": owner, "members": list(members)})

    def alive(self):
        """The daemon still answers its status verb."""
        return self.daemon.try_status() is not None

    def restart(self, sig=None):
        """SIGKILL (default) the daemon and start it again on the same state dir."""
        import signal as _s
        self._close_ctl()
        if self.daemon.alive():
            self.daemon.proc.send_signal(sig or _s.SIGKILL)
            self.daemon.proc.wait(timeout=30)
        self.daemon.log.close()
        self.daemon = self.env.start(self.test, "chatd")
        return self.daemon


__all__ = ["Api", "Reply", "WebSocket", "WsClosed", "WsHandshakeError", "ChatEnv", "wait_for"]
