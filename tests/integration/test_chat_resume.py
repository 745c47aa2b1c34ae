"""Reconnect-resume of the realtime WebSocket: a client that comes back with its per-room
cursors gets exactly what it missed (each message once, in seq order, plus the current state of
older messages changed meanwhile), also while new posts keep arriving during its hello."""
import json
import threading
import unittest
import urllib.parse

from chat_client import ChatEnv


def seen_cursor(frames, cursors):
    """Advances per-room cursors over message/message_updated frames (highest seq seen,
    counting update_seq of edits)."""
    for f in frames:
        if f.get("type") in ("message", "message_updated"):
            m = f["message"]
            c = max(m["seq"], m.get("update_seq", 0))
            cursors[m["room"]] = max(cursors.get(m["room"], 0), c)
    return cursors


class Resume(unittest.TestCase):
    def setUp(self):
        self.ce = ChatEnv(self)
        u = self.ce.users("alice", "bob", "carol")
        self.alice, self.bob, self.carol = u["alice"], u["bob"], u["carol"]
        self.r1 = self.ce.room("one", "private", "bob", ["alice", "carol"])["id"]
        self.r2 = self.ce.room("two", "public", "carol", ["alice", "bob"])["id"]

    def test_reconnect_gets_exactly_the_missing_messages_and_updates(self):
        ws = self.ce.ws(self.alice.token)
        early, ready = ws.hello({})
        self.assertEqual(early, [])
        self.assertEqual(ready["user"]["id"], "alice")
        live = {self.r1: [], self.r2: []}
        for i in range(3):
            live[self.r1].append(self.bob.send(self.r1, f"r1 live {i}", f"l1-{i}").json["seq"])
        for i in range(2):
            live[self.r2].append(self.carol.send(self.r2, f"r2 live {i}", f"l2-{i}").json["seq"])
        frames = ws.collect(lambda f: f.get("type") == "message" and f["message"]["client_id"] == "l2-1")
        got = {r: [f["message"]["seq"] for f in frames if f.get("type") == "message" and f["message"]["room"] == r]
               for r in live}
        self.assertEqual(got, live)
        cursors = seen_cursor(frames, {})
        ws.close()

        # While alice is away: new messages, an edit, a reaction and a thread reply to old ones.
        missed = {self.r1: [], self.r2: []}
        for i in range(20):
            missed[self.r1].append(self.bob.send(self.r1, f"r1 missed {i}", f"m1-{i}").json["seq"])
        for i in range(5):
            missed[self.r2].append(self.carol.send(self.r2, f"r2 missed {i}", f"m2-{i}").json["seq"])
        e = self.bob.call("PATCH", f"/api/v1/rooms/{self.r1}/messages/{live[self.r1][0]}", {"text": "r1 live 0 (edited)"})
        self.assertEqual(e.status, 200, e)
        thumbs = urllib.parse.quote("👍")
        rr = self.carol.call("PUT", f"/api/v1/rooms/{self.r2}/messages/{live[self.r2][1]}/reactions/{thumbs}")
        self.assertEqual(rr.status, 200, rr)
        # Two edits of one message: the client needs its latest state once.
        self.bob.call("PATCH", f"/api/v1/rooms/{self.r1}/messages/{missed[self.r1][3]}", {"text": "v2"})
        self.bob.call("PATCH", f"/api/v1/rooms/{self.r1}/messages/{missed[self.r1][3]}", {"text": "v3"})
        reply = self.carol.send(self.r1, "late reply", "m1-reply", thread=live[self.r1][1]).json["seq"]
        missed[self.r1].append(reply)

        ws = self.ce.ws(self.alice.token)
        catch_up, ready = ws.hello(cursors)
        msgs = {r: [f["message"] for f in catch_up if f.get("type") == "message" and f["message"]["room"] == r]
                for r in missed}
        for r in missed:
            seqs = [m["seq"] for m in msgs[r]]
            self.assertEqual(seqs, missed[r], f"room {r}: catch-up must be the missed seqs once each, in order")
        # The edited missed message comes in its latest state, and not again as an update.
        m3 = [m for m in msgs[self.r1] if m["seq"] == missed[self.r1][3]][0]
        self.assertEqual((m3["text"], m3["edited"]), ("v3", True))
        updates = [f["message"] for f in catch_up if f.get("type") == "message_updated"]
        self.assertEqual(sorted((m["room"], m["seq"]) for m in updates),
                         sorted([(self.r1, live[self.r1][0]), (self.r2, live[self.r2][1])]), updates)
        upd = {(m["room"], m["seq"]): m for m in updates}
        self.assertEqual(upd[(self.r1, live[self.r1][0])]["text"], "r1 live 0 (edited)")
        self.assertEqual(upd[(self.r2, live[self.r2][1])]["reactions"], {"👍": ["carol"]})
        others = [f for f in catch_up if f.get("type") not in ("message", "message_updated", "thread")]
        self.assertEqual(others, [], others)
        # ready tells the newest seq per room; it matches the history.
        for r in missed:
            self.assertEqual(ready["rooms"][r], self.alice.rooms()[r]["last_seq"])
        cursors = seen_cursor(catch_up, cursors)
        # Nothing more arrives for the catch-up; live traffic continues exactly once.
        s = self.bob.send(self.r1, "after resume", "after").json["seq"]
        ws.send_json({"type": "ping", "id": "end"})
        tail = ws.collect(lambda f: f.get("type") == "pong")
        self.assertEqual([f["message"]["seq"] for f in tail if f.get("type") == "message"], [s])
        ws.close()

        # A reconnect with the up-to-date cursors gets nothing; with no cursor for a room, nothing
        # for that room either (the client did not ask); with cursor 0, the whole room.
        cursors = seen_cursor(tail, cursors)
        ws = self.ce.ws(self.alice.token)
        catch_up, _ = ws.hello(cursors)
        self.assertEqual(catch_up, [])
        ws.close()
        ws = self.ce.ws(self.alice.token)
        catch_up, _ = ws.hello({self.r2: 0})
        self.assertEqual([f["message"]["seq"] for f in catch_up if f["type"] == "message"],
                         [m["seq"] for m in self.alice.all_messages(self.r2)])

    def test_reconnect_while_posts_keep_arriving(self):
        ws = self.ce.ws(self.alice.token)
        ws.hello({})
        base = self.bob.send(self.r1, "before", "b0").json["seq"]
        first = ws.wait_for(lambda f: f.get("type") == "message" and f["message"]["client_id"] == "b0")
        cursor = first["message"]["seq"]
        ws.close()
        for i in range(10):
            self.bob.send(self.r1, f"away {i}", f"a-{i}")

        posted, errors = [], []
        go = threading.Event()

        def poster(who, prefix, n):
            go.wait(10)
            for i in range(n):
                r = who.send(self.r1, f"{prefix} {i}", f"{prefix}-{i}")
                if r.status != 201:
                    errors.append(r)
                    return
                posted.append(r.json["seq"])

        threads = [threading.Thread(target=poster, args=(self.bob, "bob", 40)),
                   threading.Thread(target=poster, args=(self.carol, "carol", 40))]
        for t in threads:
            t.start()
        ws = self.ce.ws(self.alice.token)
        go.set()
        # The hello lands somewhere in the middle of the posting.
        catch_up, ready = ws.hello({self.r1: cursor})
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        last = max(posted)
        frames = catch_up + ws.collect(lambda f: f.get("type") == "message" and f["message"]["seq"] == last
                                       and f["message"]["room"] == self.r1, timeout=30)
        # Everything queued for this socket arrives before the answer to a later ping.
        ws.send_json({"type": "ping", "id": "flush"})
        frames += ws.collect(lambda f: f.get("type") == "pong")
        seqs = [f["message"]["seq"] for f in frames if f.get("type") == "message" and f["message"]["room"] == self.r1]
        want = [m["seq"] for m in self.alice.all_messages(self.r1) if m["seq"] > cursor]
        self.assertEqual(len(want), 90)
        dups = sorted({s for s in seqs if seqs.count(s) > 1})
        self.assertEqual(dups, [], "messages delivered twice")
        self.assertEqual(sorted(seqs), want, "missing messages")
        self.assertEqual(seqs, want, "not in seq order")
        self.assertGreater(cursor, base - 1)


if __name__ == "__main__":
    unittest.main()
