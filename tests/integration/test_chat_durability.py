"""Durability of acknowledged messages: clients post continuously (HTTP and a pipelined
WebSocket, several messages in flight, each with a unique client_id; one client also edits its
messages) while collab-chatd is killed with SIGKILL at random moments and restarted on the same
state dir. Unacknowledged posts are retried with the same client_id after the restart. In the
end every acknowledged message is in the history exactly once, no message appears twice, every
acknowledged edit survived, and a WebSocket listener that resumed with its cursor after every
restart saw each message exactly once, in order. COLLAB_TEST_SEED repeats a run's kill times."""
import collections
import http.client
import os
import random
import threading
import time
import unittest

from chat_client import Api, ChatEnv, WebSocket, WsClosed, wait_for

ROUNDS = 8


class Ledger:
    """What the clients know: acknowledged client ids (with seq and text) and those sent
    without an answer."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}    # cid -> (user, text, seq)
        self.unacked = {}  # cid -> (user, text)
        self.repeats = 0   # retries answered 200 (the message had been stored before the kill)
        self.problems = []

    def sent(self, cid, user, text):
        with self.lock:
            self.unacked[cid] = (user, text)

    def ack(self, cid, user, text, seq, status=201):
        with self.lock:
            if cid in self.acked and self.acked[cid][2] != seq:
                self.problems.append(f"{cid} acknowledged as seq {self.acked[cid][2]} and as {seq}")
            self.acked[cid] = (user, text, seq)
            self.unacked.pop(cid, None)
            if status == 200:
                self.repeats += 1

    def count(self):
        with self.lock:
            return len(self.acked)


def http_poster(host, port, token, user, room, prefix, ledger, stop):
    api = Api(host, port, token, timeout=10)
    n = 0
    while not stop.is_set() and n < 100000:
        cid = f"{prefix}-{n}"
        text = f"{user} says {cid}"
        ledger.sent(cid, user, text)
        try:
            r = api.send(room, text, cid)
        except (OSError, http.client.HTTPException):
            return  # the daemon died: the message stays unacknowledged
        if r.status not in (200, 201):
            ledger.problems.append(f"{cid}: {r}")
            return
        if r.json["client_id"] != cid or r.json["text"] != text:
            ledger.problems.append(f"{cid}: answer names another message: {r.json}")
        ledger.ack(cid, user, text, r.json["seq"], r.status)
        n += 1


def ws_poster(host, port, token, user, room, prefix, ledger, stop, window=8):
    try:
        ws = WebSocket(host, port, token=token)
        ws.hello({})
    except (OSError, WsClosed, TimeoutError):
        return
    inflight = {}
    n = 0
    try:
        while not stop.is_set() and n < 100000:
            while len(inflight) < window:
                cid = f"{prefix}-{n}"
                text = f"{user} pipelines {cid}"
                n += 1
                ledger.sent(cid, user, text)
                inflight[cid] = text
                ws.send_json({"type": "post", "room": room, "text": text, "client_id": cid})
            f = ws.recv_json(10)
            if f.get("type") == "ack" and f.get("client_id") in inflight:
                ledger.ack(f["client_id"], user, inflight.pop(f["client_id"]), f["seq"])
            elif f.get("type") == "error":
                ledger.problems.append(f"WebSocket error: {f}")
                return
    except (OSError, WsClosed, TimeoutError, ValueError):
        return  # the daemon died
    finally:
        ws.close()


def http_editor(host, port, token, room, prefix, ledger, edits, stop):
    """Posts a message, then edits it twice; edits[cid] lists [text, acknowledged] in order."""
    api = Api(host, port, token, timeout=10)
    n = 0
    while not stop.is_set() and n < 100000:
        cid = f"{prefix}-{n}"
        text = f"dan {cid} v0"
        ledger.sent(cid, "dan", text)
        try:
            r = api.send(room, text, cid)
        except (OSError, http.client.HTTPException):
            return
        if r.status not in (200, 201):
            ledger.problems.append(f"{cid}: {r}")
            return
        ledger.ack(cid, "dan", text, r.json["seq"], r.status)
        versions = edits.setdefault(cid, [[text, True]])
        for k in (1, 2):
            t = f"dan {cid} v{k}"
            versions.append([t, False])
            try:
                e = api.call("PATCH", f"/api/v1/rooms/{room}/messages/{r.json['seq']}", {"text": t})
            except (OSError, http.client.HTTPException):
                return
            if e.status != 200:
                ledger.problems.append(f"edit {cid}: {e}")
                return
            versions[-1][1] = True
        n += 1


class Listener(threading.Thread):
    """A WebSocket client that follows the room across the kills: it reconnects to each new
    daemon with its cursor (the highest seq it saw) and records every message frame."""

    def __init__(self, token, room):
        super().__init__(daemon=True)
        self.token, self.room = token, room
        self.addr = None
        self.addr_changed = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.seqs = []
        self.cursor = 0
        self.resets = []

    def connect_to(self, addr):
        self.addr = addr
        self.addr_changed.set()

    def seen(self):
        with self.lock:
            return list(self.seqs)

    def run(self):
        for _ in range(1000):
            if self.stop.is_set():
                return
            if not self.addr_changed.wait(0.2):
                continue
            self.addr_changed.clear()
            host, port = self.addr
            try:
                ws = WebSocket(host, port, token=self.token, timeout=5)
            except (OSError, WsClosed, TimeoutError):
                continue
            try:
                ws.send_json({"type": "hello", "cursors": {self.room: self.cursor}})
                while not self.stop.is_set():
                    try:
                        f = ws.recv_json(0.3)
                    except TimeoutError:
                        continue
                    if f.get("type") == "reset":
                        self.resets.append(f)
                    if f.get("type") in ("message", "message_updated") and f["message"]["room"] == self.room:
                        m = f["message"]
                        with self.lock:
                            if f["type"] == "message":
                                self.seqs.append(m["seq"])
                            self.cursor = max(self.cursor, m["seq"], m.get("update_seq", 0))
            except (OSError, WsClosed, ValueError):
                pass
            finally:
                ws.close()


class Durability(unittest.TestCase):
    def test_sigkill_while_posting_keeps_acknowledged_messages_exactly_once(self):
        seed = int(os.environ.get("COLLAB_TEST_SEED", str(int(time.time()))))
        rng = random.Random(seed)
        ce = ChatEnv(self)
        users = ce.users("alice", "bob", "carol", "dan")
        tokens = {u: a.token for u, a in users.items()}
        room = ce.room("log", "private", "alice", ["bob", "carol", "dan"])["id"]
        ledger = Ledger()
        edits = {}
        listener = Listener(ce.call("user.session", {"id": "carol"})["token"], room)
        listener.start()
        self.addCleanup(listener.stop.set)
        listener.connect_to(ce.daemon.http_address())
        started = time.monotonic()
        for rnd in range(ROUNDS):
            host, port = ce.daemon.http_address()
            # First, the retries of what the last round left unacknowledged (same client ids).
            with ledger.lock:
                todo = dict(ledger.unacked)
            for cid, (user, text) in todo.items():
                r = Api(host, port, tokens[user]).send(room, text, cid)
                self.assertIn(r.status, (200, 201), (seed, cid, r))
                self.assertEqual((r.json["client_id"], r.json["text"]), (cid, text), (seed, r))
                ledger.ack(cid, user, text, r.json["seq"], r.status)

            stop = threading.Event()
            workers = [threading.Thread(target=http_poster,
                                        args=(host, port, tokens[u], u, room, f"r{rnd}-h{i}", ledger, stop))
                       for i, u in enumerate(["alice", "alice", "bob", "carol"])]
            workers.append(threading.Thread(target=http_editor,
                                            args=(host, port, tokens["dan"], room, f"r{rnd}-e", ledger, edits, stop)))
            workers.append(threading.Thread(target=ws_poster,
                                            args=(host, port, tokens["bob"], "bob", room, f"r{rnd}-w", ledger, stop)))
            for w in workers:
                w.start()
            try:
                base = ledger.count()
                wait_for(lambda: ledger.count() >= base + 10 or ledger.problems, timeout=20,
                         what="posting to get going")
                self.assertEqual(ledger.problems, [], seed)
                # The kill comes at a random moment of continuous posting.
                time.sleep(rng.uniform(0.0, 0.8))
                ce.daemon.proc.kill()
                ce.daemon.proc.wait(timeout=30)
            finally:
                stop.set()
                for w in workers:
                    w.join(30)
            self.assertFalse(any(w.is_alive() for w in workers), "a poster hung")
            ce.restart()
            listener.connect_to(ce.daemon.http_address())
        # The retries after the last restart.
        host, port = ce.daemon.http_address()
        with ledger.lock:
            todo = dict(ledger.unacked)
        for cid, (user, text) in todo.items():
            r = Api(host, port, tokens[user]).send(room, text, cid)
            self.assertIn(r.status, (200, 201), (seed, cid, r))
            ledger.ack(cid, user, text, r.json["seq"], r.status)
        self.assertEqual(ledger.problems, [], seed)
        self.assertEqual(ledger.unacked, {})

        history = Api(host, port, tokens["alice"]).all_messages(room)
        counts = collections.Counter(m["client_id"] for m in history)
        twice = [c for c, n in counts.items() if n > 1]
        self.assertEqual(twice, [], f"messages stored twice (seed {seed})")
        seqs = [m["seq"] for m in history]
        self.assertEqual(seqs, sorted(set(seqs)), f"seqs not strictly increasing (seed {seed})")
        by_cid = {m["client_id"]: m for m in history}
        lost = [c for c in ledger.acked if c not in by_cid]
        self.assertEqual(lost, [], f"acknowledged messages lost (seed {seed})")
        for cid, (user, text, seq) in ledger.acked.items():
            m = by_cid[cid]
            self.assertEqual((m["user"], m["seq"]), (user, seq), (seed, cid))
            if cid in edits:
                # The last acknowledged version, or one sent after it (stored, then killed).
                versions = edits[cid]
                last_acked = max(i for i, (_, ok) in enumerate(versions) if ok)
                self.assertIn(m["text"], [t for t, _ in versions[last_acked:]], (seed, cid, versions))
            else:
                self.assertEqual(m["text"], text, (seed, cid))
        self.assertGreater(sum(1 for v in edits.values() if v[-1][1]), ROUNDS, "too few edits made")
        # Nothing in the history that no client sent.
        self.assertEqual(set(by_cid), set(ledger.acked), seed)
        # The listener, resuming with its cursor after every restart, saw each message exactly
        # once and in order.
        wait_for(lambda: listener.seen()[-1:] == [seqs[-1]], timeout=20, what="the listener to catch up")
        listener.stop.set()
        listener.join(10)
        got = listener.seen()
        self.assertEqual(listener.resets, [])
        self.assertEqual(sorted({s for s in got if got.count(s) > 1}), [], f"delivered twice (seed {seed})")
        self.assertEqual(sorted(got), seqs, f"the resuming listener missed messages (seed {seed})")
        self.assertEqual(got, seqs, f"the resuming listener got messages out of order (seed {seed})")
        self.assertGreater(len(history), ROUNDS * 10)
        print(f"durability: seed {seed}, {ROUNDS} kills, {len(history)} messages, "
              f"{ledger.repeats} retries found already stored, {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    unittest.main()
