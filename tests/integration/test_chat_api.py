"""collab-chatd's HTTP API and realtime behaviour, end to end on the real daemon: login and
sessions, rooms and roles, messages (idempotent posting, threads, edits, reactions, pins, read
state), the @all/@here rules, mute, presence, /metrics and token minting."""
import base64
import hashlib
import hmac
import json
import re
import threading
import time
import unittest
import urllib.parse

from chat_client import ChatEnv, WsClosed, wait_for


def rid_of(reply):
    assert reply.status in (200, 201), reply
    return reply.json["id"]


class Login(unittest.TestCase):
    def test_login_good_wrong_unknown_disabled(self):
        ce = ChatEnv(self)
        ce.password_user("alice", "correct horse 1", name="有村 アリス")
        ce.password_user("dave", "dave's password")
        ce.call("user.set", {"id": "dave", "disabled": True})
        api = ce.api()

        r = api.login("alice", "correct horse 1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["user"]["id"], "alice")
        self.assertEqual(r.json["user"]["name"], "有村 アリス")
        self.assertNotIn("password_hash", r.json["user"])
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        cookie = r.headers.get("set-cookie", "")
        self.assertIn("collab_session=" + r.json["token"], cookie)
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        tok = r.json["token"]
        me = api.get("/api/v1/me", token=tok)
        self.assertEqual((me.status, me.json["id"]), (200, "alice"))
        # The cookie alone authenticates too.
        me = api.raw("GET", "/api/v1/me", headers={"Cookie": f"collab_session={tok}"})
        self.assertEqual((me.status, me.json["id"]), (200, "alice"), me)
        # User names are case-insensitive.
        self.assertEqual(api.login("ALICE", "correct horse 1").status, 200)

        wrong = api.login("alice", "correct horse 2")
        unknown = api.login("nobody", "correct horse 1")
        self.assertEqual(wrong.status, 401, wrong)
        self.assertEqual(unknown.status, 401, unknown)
        self.assertEqual(wrong.error["code"], "unauthorized")
        # Same answer for a wrong password and a name that does not exist.
        self.assertEqual(wrong.error, unknown.error)
        self.assertNotIn("set-cookie", wrong.headers)

        dis = api.login("dave", "dave's password")
        self.assertEqual(dis.status, 403, dis)
        self.assertEqual(dis.error["code"], "forbidden")
        self.assertTrue(dis.error["message"])
        # Missing fields are a 400 with a reason.
        r = api.call("POST", "/api/v1/login", {"username": "alice"}, token="")
        self.assertEqual(r.status, 400, r)
        self.assertTrue(r.error["message"])

    def test_lockout_429_with_retry_after(self):
        ce = ChatEnv(self, ["chatd.login_max_failures=3", "chatd.login_lockout_s=77"])
        ce.password_user("alice", "right password")
        ce.password_user("bob", "bob password")
        api = ce.api()
        for _ in range(3):
            self.assertEqual(api.login("alice", "wrong").status, 401)
        locked = api.login("alice", "right password")
        self.assertEqual(locked.status, 429, locked)
        self.assertEqual(locked.error["code"], "rate_limited")
        self.assertEqual(locked.headers.get("retry-after"), "77")
        # The lockout is per user name: another user still logs in from the same address.
        self.assertEqual(api.login("bob", "bob password").status, 200)
        m = ce.api().get("/metrics")
        self.assertRegex(m.body.decode(), r"(?m)^collab_chat_login_lockouts_total [1-9]")

    def test_logout_invalidates_token_and_closes_websocket(self):
        ce = ChatEnv(self)
        u = ce.users("alice")
        alice = u["alice"]
        other = ce.api(ce.call("user.session", {"id": "alice"})["token"])  # a second session
        ws = ce.ws(alice.token)
        ws.hello({})
        r = alice.post("/api/v1/logout")
        self.assertEqual(r.status, 204, r)
        self.assertIn("Max-Age=0", r.headers.get("set-cookie", ""))
        self.assertEqual(alice.get("/api/v1/me").status, 401)
        (code, reason), _ = ws.wait_closed()
        self.assertEqual(code, 4001, reason)
        # Other sessions of the same user are untouched.
        self.assertEqual(other.get("/api/v1/me").status, 200)
        # Disabling the account ends every session, open WebSockets included.
        ws3 = ce.ws(other.token)
        ws3.hello({})
        ce.call("user.set", {"id": "alice", "disabled": True})
        (code, _), _ = ws3.wait_closed()
        self.assertEqual(code, 4003)
        self.assertEqual(other.get("/api/v1/me").status, 401)
        # A new WebSocket with the dead token is refused.
        ws2 = ce.ws(alice.token)
        (code, _), frames = ws2.wait_closed()
        self.assertEqual(code, 4001)


class Rooms(unittest.TestCase):
    def test_public_private_join_leave_roles(self):
        ce = ChatEnv(self)
        u = ce.users("alice", "bob", "carol")
        alice, bob, carol = u["alice"], u["bob"], u["carol"]
        r = alice.post("/api/v1/rooms", {"name": "general", "kind": "public", "topic": "all staff"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["kind"], r.json["role"], r.json["member_count"]), ("public", "owner", 1))
        general = r.json["id"]
        self.assertIn(general, {x["id"] for x in bob.get("/api/v1/rooms/public").json["rooms"]})
        self.assertEqual(bob.send(general, "before joining").status, 403)
        j = bob.post(f"/api/v1/rooms/{general}/join")
        self.assertEqual((j.status, j.json["role"]), (200, "member"), j)
        self.assertEqual(bob.rooms()[general]["role"], "member")
        self.assertEqual(bob.send(general, "hello").status, 201)
        self.assertEqual(bob.post(f"/api/v1/rooms/{general}/leave").status, 204)
        self.assertNotIn(general, bob.rooms())
        self.assertEqual(bob.send(general, "after leaving").status, 403)
        # Leaving twice: not a member any more.
        self.assertEqual(bob.post(f"/api/v1/rooms/{general}/leave").status, 403)

        r = alice.post("/api/v1/rooms", {"name": "secret", "kind": "private", "members": ["bob"]})
        self.assertEqual(r.status, 201, r)
        secret = r.json["id"]
        self.assertNotIn(secret, {x["id"] for x in carol.get("/api/v1/rooms/public").json["rooms"]})
        j = carol.post(f"/api/v1/rooms/{secret}/join")
        self.assertEqual(j.status, 404, j)
        # Only administrators create announcement channels.
        r = alice.post("/api/v1/rooms", {"name": "news", "kind": "announcement"})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(alice.post("/api/v1/rooms", {"name": "x", "kind": "dm"}).status, 400)

        # Roles: the owner makes bob moderator; a moderator adds members but grants no roles.
        self.assertEqual(alice.call("PUT", f"/api/v1/rooms/{secret}/members/bob", {"role": "moderator"}).status, 204)
        roles = {m["user"]["id"]: m["role"] for m in bob.get(f"/api/v1/rooms/{secret}/members").json["members"]}
        self.assertEqual(roles, {"alice": "owner", "bob": "moderator"})
        self.assertEqual(alice.call("PUT", f"/api/v1/rooms/{secret}/members/bob", {"role": "boss"}).status, 400)
        self.assertEqual(alice.call("PUT", f"/api/v1/rooms/{secret}/members/ghost", {"role": "member"}).status, 404)
        self.assertEqual(bob.call("PUT", f"/api/v1/rooms/{secret}/members/carol", {"role": "moderator"}).status, 403)
        self.assertEqual(bob.call("PUT", f"/api/v1/rooms/{secret}/members/carol", {"role": "member"}).status, 204)
        self.assertEqual(carol.rooms()[secret]["role"], "member")
        # A member neither removes others nor changes the room; a moderator removes members.
        self.assertEqual(carol.call("DELETE", f"/api/v1/rooms/{secret}/members/bob").status, 403)
        self.assertEqual(carol.call("PATCH", f"/api/v1/rooms/{secret}", {"topic": "mine"}).status, 403)
        self.assertEqual(bob.call("PATCH", f"/api/v1/rooms/{secret}", {"topic": "plans"}).json["topic"], "plans")
        # A moderator can neither promote themself nor demote or remove the owner.
        self.assertEqual(bob.call("PUT", f"/api/v1/rooms/{secret}/members/bob", {"role": "owner"}).status, 403)
        self.assertEqual(bob.call("PUT", f"/api/v1/rooms/{secret}/members/alice", {"role": "member"}).status, 403)
        self.assertEqual(bob.call("DELETE", f"/api/v1/rooms/{secret}/members/alice").status, 403)
        self.assertEqual(carol.call("PUT", f"/api/v1/rooms/{secret}/members/carol", {"role": "moderator"}).status, 403)
        self.assertEqual(bob.call("DELETE", f"/api/v1/rooms/{secret}/members/carol").status, 204)
        self.assertEqual(carol.get(f"/api/v1/rooms/{secret}").status, 404)
        # The last owner cannot leave while others remain.
        r = alice.post(f"/api/v1/rooms/{secret}/leave")
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.error["code"], "conflict")

    def test_dm_same_room_for_same_people(self):
        ce = ChatEnv(self)
        u = ce.users("alice", "bob", "carol")
        r1 = u["alice"].post("/api/v1/dms", {"users": ["bob"]})
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r1.json["kind"], "dm")
        self.assertEqual(r1.json["dm_users"], ["bob"])
        r2 = u["bob"].post("/api/v1/dms", {"users": ["ALICE"]})
        self.assertEqual(rid_of(r2), r1.json["id"])
        dm = r1.json["id"]
        self.assertEqual(u["bob"].send(dm, "hi alice").status, 201)
        self.assertEqual(u["alice"].send(dm, "hi bob").status, 201)
        self.assertEqual(u["carol"].get(f"/api/v1/rooms/{dm}").status, 404)
        self.assertEqual(u["carol"].post(f"/api/v1/rooms/{dm}/join").status, 404)
        # DM membership is fixed.
        self.assertEqual(u["alice"].call("PUT", f"/api/v1/rooms/{dm}/members/carol", {}).status, 403)
        # A group DM is another room; a DM with oneself only is refused.
        g = u["alice"].post("/api/v1/dms", {"users": ["bob", "carol"]})
        self.assertNotEqual(rid_of(g), dm)
        self.assertEqual(u["alice"].post("/api/v1/dms", {"users": ["alice"]}).status, 400)
        self.assertEqual(u["alice"].post("/api/v1/dms", {"users": ["ghost"]}).status, 400)
        # In a DM every message counts as a mention for the other side.
        bob_view = u["bob"].rooms()[dm]
        self.assertEqual((bob_view["unread"], bob_view["mentions"]), (1, 1))

    def test_announcement_members_cannot_post_moderators_can(self):
        ce = ChatEnv(self)
        u = ce.users("alice", "bob", "carol")
        room = ce.room("news", "announcement", "alice", ["bob", "carol"])
        rid = room["id"]
        self.assertTrue(room["read_only"])
        r = u["bob"].send(rid, "members cannot post here")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.error["code"], "forbidden")
        self.assertEqual(u["alice"].send(rid, "from the owner").status, 201)
        self.assertEqual(u["alice"].call("PUT", f"/api/v1/rooms/{rid}/members/carol", {"role": "moderator"}).status, 204)
        r = u["carol"].send(rid, "from a moderator")
        self.assertEqual(r.status, 201, r)
        # Members may not pin there either, but they may react.
        self.assertEqual(u["bob"].call("PUT", f"/api/v1/rooms/{rid}/messages/{r.json['seq']}/pin").status, 403)
        self.assertEqual(u["bob"].call("PUT", f"/api/v1/rooms/{rid}/messages/{r.json['seq']}/reactions/ok").status, 200)
        texts = [m["text"] for m in u["bob"].all_messages(rid)]
        self.assertEqual(texts, ["from the owner", "from a moderator"])
        # A public announcement channel can be joined and read by anyone.
        d = ce.users("dan")["dan"]
        self.assertEqual(d.post(f"/api/v1/rooms/{rid}/join").status, 200)
        self.assertEqual(d.send(rid, "no").status, 403)


class Archive(unittest.TestCase):
    def test_archived_room_is_read_only(self):
        ce = ChatEnv(self)
        u = ce.users("alice", "bob", "carol")
        rid = ce.room("old", "public", "alice", ["bob"])["id"]
        seq = u["bob"].send(rid, "from before").json["seq"]
        self.assertEqual(u["bob"].call("PATCH", f"/api/v1/rooms/{rid}", {"archived": True}).status, 403)
        r = u["alice"].call("PATCH", f"/api/v1/rooms/{rid}", {"archived": True})
        self.assertEqual((r.status, r.json["archived"]), (200, True), r)
        self.assertNotIn(rid, {x["id"] for x in u["carol"].get("/api/v1/rooms/public").json["rooms"]})
        base = f"/api/v1/rooms/{rid}/messages"
        for who, method, path, body in [("bob", "POST", base, {"text": "late"}),
                                        ("bob", "PATCH", f"{base}/{seq}", {"text": "changed"}),
                                        ("bob", "DELETE", f"{base}/{seq}", None),
                                        ("bob", "PUT", f"{base}/{seq}/reactions/ok", None),
                                        ("alice", "PUT", f"{base}/{seq}/pin", None),
                                        ("carol", "POST", f"/api/v1/rooms/{rid}/join", None)]:
            r = u[who].call(method, path, body)
            self.assertEqual(r.status, 403, (method, path, r))
        hist = u["bob"].all_messages(rid)
        self.assertEqual([(m["text"], m["deleted"], m["reactions"]) for m in hist], [("from before", False, {})])
        ce.call("room.archive", {"id": rid, "archived": False})
        self.assertEqual(u["bob"].send(rid, "back again").status, 201)


class Messages(unittest.TestCase):
    def setUp(self):
        self.ce = ChatEnv(self)
        self.u = self.ce.users("alice", "bob", "carol")
        self.rid = self.ce.room("team", "private", "alice", ["bob", "carol"])["id"]

    def test_post_is_idempotent_per_client_id(self):
        alice, bob = self.u["alice"], self.u["bob"]
        r1 = alice.send(self.rid, "only once", "cid-1")
        self.assertEqual(r1.status, 201, r1)
        m = r1.json
        self.assertEqual((m["room"], m["user"], m["text"], m["client_id"]), (self.rid, "alice", "only once", "cid-1"))
        self.assertGreater(m["seq"], 0)
        r2 = alice.send(self.rid, "only once", "cid-1")
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.json["seq"], m["seq"])
        # A different text with the same id still names the first message.
        r3 = alice.send(self.rid, "changed my mind", "cid-1")
        self.assertEqual((r3.status, r3.json["seq"], r3.json["text"]), (200, m["seq"], "only once"))
        # Another user's identical client id is another message.
        r4 = bob.send(self.rid, "mine", "cid-1")
        self.assertEqual(r4.status, 201)
        self.assertNotEqual(r4.json["seq"], m["seq"])
        hist = alice.all_messages(self.rid)
        self.assertEqual([(x["user"], x["client_id"]) for x in hist], [("alice", "cid-1"), ("bob", "cid-1")])
        # The same client id twice at the same moment: still one message.
        same = []
        ts = [threading.Thread(target=lambda: same.append(alice.send(self.rid, "racing", "cid-race"))) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertEqual(len({r.json["seq"] for r in same}), 1, same)
        self.assertTrue(all(r.status in (200, 201) for r in same), same)
        self.assertEqual([x["client_id"] for x in alice.all_messages(self.rid)].count("cid-race"), 1)
        alice.call("DELETE", f"/api/v1/rooms/{self.rid}/messages/{same[0].json['seq']}")
        # Without a client id every post is new.
        self.assertEqual(alice.send(self.rid, "a").status, 201)
        self.assertEqual(alice.send(self.rid, "a").status, 201)
        self.assertEqual(len(alice.all_messages(self.rid)), 5)

    def test_posts_without_client_id_are_never_merged(self):
        """Posts without a client_id are distinct messages, however close together they come."""
        alice = self.u["alice"]
        ws = self.ce.ws(alice.token)
        ws.hello({})
        for i in range(10):
            ws.send_json({"type": "post", "room": self.rid, "text": f"ws no id {i}"})
        acks = [ws.wait_for(lambda f: f.get("type") in ("ack", "error"), what=f"ack {i}") for i in range(10)]
        self.assertEqual([a["type"] for a in acks], ["ack"] * 10, acks)
        results = []

        def post(i):
            results.append(alice.send(self.rid, f"http no id {i}"))

        threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(r.status for r in results), [201] * 8, results)
        for r in results:
            self.assertTrue(r.json["text"].startswith("http no id "), r)
        texts = sorted(m["text"] for m in alice.all_messages(self.rid))
        want = sorted([f"ws no id {i}" for i in range(10)] + [f"http no id {i}" for i in range(8)])
        self.assertEqual(texts, want, "acknowledged posts without client_id were merged into others")
        self.assertEqual(len({a["seq"] for a in acks}), 10, acks)
        self.assertEqual(len({r.json["seq"] for r in results}), 8)

    def test_history_paging_forward_and_backward(self):
        alice = self.u["alice"]
        seqs = [alice.send(self.rid, f"p{i}", f"p{i}").json["seq"] for i in range(7)]
        page = alice.get(f"/api/v1/rooms/{self.rid}/messages?limit=3")
        self.assertEqual(([m["seq"] for m in page.json["messages"]], page.json["more"]), (seqs[-3:], True))
        page = alice.get(f"/api/v1/rooms/{self.rid}/messages?limit=3&before={seqs[-3]}")
        self.assertEqual([m["seq"] for m in page.json["messages"]], seqs[1:4])
        page = alice.get(f"/api/v1/rooms/{self.rid}/messages?limit=3&after={seqs[2]}")
        self.assertEqual(([m["seq"] for m in page.json["messages"]], page.json["more"]), (seqs[3:6], True))
        page = alice.get(f"/api/v1/rooms/{self.rid}/messages?limit=3&after={seqs[2]}&before={seqs[5]}")
        self.assertEqual([m["seq"] for m in page.json["messages"]], seqs[3:5])
        # after=0 means "after seq 0", i.e. from the beginning: a client that has seen nothing
        # pages forward from 0 and must not skip to the newest page.
        page = alice.get(f"/api/v1/rooms/{self.rid}/messages?limit=3&after=0")
        self.assertEqual(([m["seq"] for m in page.json["messages"]], page.json["more"]), (seqs[:3], True))

    def test_threads(self):
        alice, bob = self.u["alice"], self.u["bob"]
        root = alice.send(self.rid, "root").json["seq"]
        other = alice.send(self.rid, "unrelated").json["seq"]
        replies = []
        for i in range(3):
            r = bob.send(self.rid, f"reply {i}", thread=root)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json["thread"], root)
            replies.append(r.json["seq"])
        # A reply to a reply belongs to the root's thread.
        r = alice.send(self.rid, "nested", thread=replies[0])
        self.assertEqual(r.json["thread"], root)
        replies.append(r.json["seq"])
        m = alice.get(f"/api/v1/rooms/{self.rid}/messages/{root}").json
        self.assertEqual(m["reply_count"], 4)
        self.assertEqual(alice.get(f"/api/v1/rooms/{self.rid}/messages/{other}").json["reply_count"], 0)
        t = alice.get(f"/api/v1/rooms/{self.rid}/messages/{root}/thread")
        self.assertEqual(t.status, 200, t)
        self.assertEqual([x["seq"] for x in t.json["messages"]], [root] + replies)
        t = alice.get(f"/api/v1/rooms/{self.rid}/messages/{root}/thread?after={replies[1]}")
        self.assertEqual([x["seq"] for x in t.json["messages"]], [root] + replies[2:])
        r = alice.send(self.rid, "to nowhere", thread=9999)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(alice.get(f"/api/v1/rooms/{self.rid}/messages/9999/thread").status, 404)
        # Replies show in the room history too, in seq order.
        self.assertEqual([x["seq"] for x in alice.all_messages(self.rid)], sorted([root, other] + replies))

    def test_edit_keeps_history_for_moderators_and_delete(self):
        alice, bob, carol = self.u["alice"], self.u["bob"], self.u["carol"]
        seq = bob.send(self.rid, "first draft").json["seq"]
        path = f"/api/v1/rooms/{self.rid}/messages/{seq}"
        e = bob.call("PATCH", path, {"text": "second draft"})
        self.assertEqual(e.status, 200, e)
        self.assertEqual((e.json["text"], e.json["edited"]), ("second draft", True))
        self.assertGreater(e.json["update_seq"], seq)
        bob.call("PATCH", path, {"text": "final"})
        as_member = carol.get(path).json
        self.assertEqual(as_member["text"], "final")
        self.assertNotIn("history", as_member)
        self.assertNotIn("first draft", carol.get(f"/api/v1/rooms/{self.rid}/messages").body.decode())
        as_owner = alice.get(path).json
        self.assertEqual([h["text"] for h in as_owner["history"]], ["first draft", "second draft"])
        hist = alice.history(self.rid)
        self.assertEqual([h["text"] for h in hist[0]["history"]], ["first draft", "second draft"])
        # Only the author edits; the author or a moderator deletes.
        self.assertEqual(carol.call("PATCH", path, {"text": "hijack"}).status, 403)
        self.assertEqual(alice.call("PATCH", path, {"text": "owner edit"}).status, 403)
        self.assertEqual(carol.call("DELETE", path).status, 403)
        d = alice.call("DELETE", path)
        self.assertEqual(d.status, 200, d)
        self.assertEqual((d.json["deleted"], d.json["text"]), (True, ""))
        self.assertEqual(carol.get(path).json["text"], "")
        self.assertNotIn("final", carol.get(f"/api/v1/rooms/{self.rid}/messages").body.decode())
        self.assertEqual(bob.call("PATCH", path, {"text": "revive"}).status, 409)
        self.assertEqual(bob.call("DELETE", path).status, 409)
        self.assertEqual(alice.get(f"/api/v1/rooms/{self.rid}/messages/{seq + 100}").status, 404)

    def test_reactions_and_pins(self):
        alice, bob, carol = self.u["alice"], self.u["bob"], self.u["carol"]
        seq = alice.send(self.rid, "react to me").json["seq"]
        thumbs = urllib.parse.quote("👍")
        rpath = f"/api/v1/rooms/{self.rid}/messages/{seq}/reactions/{thumbs}"
        r = bob.call("PUT", rpath)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["reactions"], {"👍": ["bob"]})
        self.assertEqual(bob.call("PUT", rpath).status, 409)
        self.assertEqual(carol.call("PUT", rpath).json["reactions"], {"👍": ["bob", "carol"]})
        self.assertEqual(carol.call("PUT", f"/api/v1/rooms/{self.rid}/messages/{seq}/reactions/ok").status, 200)
        r = bob.call("DELETE", rpath)
        self.assertEqual(r.json["reactions"], {"👍": ["carol"], "ok": ["carol"]})
        self.assertEqual(bob.call("DELETE", rpath).status, 404)
        self.assertEqual(bob.call("PUT", f"/api/v1/rooms/{self.rid}/messages/{seq}/reactions/a%20b").status, 400)
        self.assertEqual(alice.get(f"/api/v1/rooms/{self.rid}/messages/{seq}").json["reactions"],
                         {"👍": ["carol"], "ok": ["carol"]})

        ppath = f"/api/v1/rooms/{self.rid}/messages/{seq}/pin"
        self.assertEqual(alice.get(f"/api/v1/rooms/{self.rid}/pins").json["messages"], [])
        p = bob.call("PUT", ppath)
        self.assertEqual((p.status, p.json["pinned"]), (200, True), p)
        self.assertEqual(bob.call("PUT", ppath).status, 409)
        pins = carol.get(f"/api/v1/rooms/{self.rid}/pins").json["messages"]
        self.assertEqual([(m["seq"], m["text"]) for m in pins], [(seq, "react to me")])
        self.assertEqual(bob.call("DELETE", ppath).json["pinned"], False)
        self.assertEqual(carol.get(f"/api/v1/rooms/{self.rid}/pins").json["messages"], [])
        self.assertEqual(bob.call("DELETE", ppath).status, 409)

    def test_read_state_unread_mentions_receipts_and_mute(self):
        alice, bob = self.u["alice"], self.u["bob"]
        ws = self.ce.ws(alice.token)
        ws.hello({})
        s1 = alice.send(self.rid, "one").json["seq"]
        s2 = alice.send(self.rid, "two for @bob").json["seq"]
        s3 = alice.send(self.rid, "three").json["seq"]
        self.assertEqual(alice.get(f"/api/v1/rooms/{self.rid}/messages/{s2}").json["mentions"], ["bob"])
        v = bob.rooms()[self.rid]
        self.assertEqual((v["unread"], v["mentions"], v["read_seq"], v["last_seq"]), (3, 1, 0, s3))
        # The author has read their own messages.
        self.assertEqual(alice.rooms()[self.rid]["unread"], 0)
        r = bob.post(f"/api/v1/rooms/{self.rid}/read", {"seq": s1})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["unread"], r.json["mentions"]), (2, 1))
        # Reading is pushed to the small room (既読).
        ev = ws.wait_for(lambda f: f.get("type") == "read" and f.get("user") == "bob")
        self.assertEqual((ev["room"], ev["seq"]), (self.rid, s1))
        rc = alice.get(f"/api/v1/rooms/{self.rid}/messages/{s2}/receipts")
        self.assertEqual(rc.status, 200, rc)
        self.assertEqual({x["id"] for x in rc.json["read"]}, {"alice"})
        self.assertEqual({x["id"] for x in rc.json["unread"]}, {"bob", "carol"})
        bob.post(f"/api/v1/rooms/{self.rid}/read", {"seq": s2})
        v = bob.rooms()[self.rid]
        self.assertEqual((v["unread"], v["mentions"]), (1, 0))
        rc = alice.get(f"/api/v1/rooms/{self.rid}/messages/{s2}/receipts").json
        self.assertEqual((rc["read_count"], rc["unread_count"]), (2, 1))
        # A read marker never goes back nor past the end.
        bob.post(f"/api/v1/rooms/{self.rid}/read", {"seq": s1})
        self.assertEqual(bob.rooms()[self.rid]["read_seq"], s2)
        bob.post(f"/api/v1/rooms/{self.rid}/read", {"seq": s3 + 1000})
        v = bob.rooms()[self.rid]
        self.assertEqual((v["read_seq"], v["unread"]), (s3, 0))

        m = bob.call("PUT", f"/api/v1/rooms/{self.rid}/mute", {"muted": True})
        self.assertEqual((m.status, m.json["muted"]), (200, True), m)
        self.assertTrue(bob.rooms()[self.rid]["muted"])
        self.assertFalse(alice.rooms()[self.rid]["muted"])
        self.assertEqual(bob.call("PUT", f"/api/v1/rooms/{self.rid}/mute", {"muted": "yes"}).status, 400)
        self.assertFalse(bob.call("PUT", f"/api/v1/rooms/{self.rid}/mute", {"muted": False}).json["muted"])


class MassMention(unittest.TestCase):
    def test_all_and_here_rules(self):
        ce = ChatEnv(self, ["chatd.mass_mention_confirm_members=3", "chatd.mass_mention_per_hour=2"])
        ids = ["owner", "m1", "m2", "m3", "m4"]
        u = ce.users(*ids)
        big = ce.room("big", "public", "owner", ids[1:])["id"]      # 5 members > 3
        small = ce.room("small", "public", "owner", ["m1", "m2"])["id"]  # 3 members
        owner, m1 = u["owner"], u["m1"]
        before = len(owner.all_messages(big))

        r = m1.send(big, "@all lunch?", confirm_mass_mention=True)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.error["code"], "forbidden")
        r = owner.send(big, "@all meeting at 3", "mm-1")
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.error["code"], "confirm_required")
        self.assertTrue(r.error["message"])
        self.assertEqual(len(owner.all_messages(big)), before)
        # The refused client id was not used up.
        r = owner.send(big, "@all meeting at 3", "mm-1", confirm_mass_mention=True)
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json["mention_all"])
        self.assertEqual(owner.send(big, "@here again", "mm-2", confirm_mass_mention=True).status, 201)
        r = owner.send(big, "@all third time", "mm-3", confirm_mass_mention=True)
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.error["code"], "rate_limited")
        self.assertEqual([m["client_id"] for m in owner.all_messages(big)][before:], ["mm-1", "mm-2"])
        # The cap is per room; small rooms need no confirmation; plain text is never limited.
        r = owner.send(small, "@here quick one")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(owner.send(big, "no mass mention here, mail@all.example").status, 201)
        # Allowing members: the member then needs the same confirmation.
        p = owner.call("PATCH", f"/api/v1/rooms/{small}", {"mass_mention_role": "member"})
        self.assertEqual(p.status, 200, p)
        self.assertEqual(m1.send(small, "@all from a member").status, 201)
        self.assertEqual(m1.call("PATCH", f"/api/v1/rooms/{small}", {"mass_mention_role": "member"}).status, 403)


class Notifications(unittest.TestCase):
    def test_notifications_follow_mentions_dms_and_mute(self):
        ce = ChatEnv(self)
        u = ce.users("owner", "bob", "carol", "dan")
        rid = ce.room("n", "public", "owner", ["bob", "carol", "dan"])["id"]
        socks = {}
        for name in ("bob", "carol"):
            socks[name] = ce.ws(u[name].token)
            socks[name].hello({})
        self.assertEqual(u["bob"].call("PUT", f"/api/v1/rooms/{rid}/mute", {"muted": True}).status, 200)

        def notes_after(text, room=rid):
            r = u["owner"].send(room, text)
            self.assertEqual(r.status, 201, r)
            out = {}
            for name, ws in socks.items():
                ws.send_json({"type": "ping", "id": text})
                frames = ws.collect(lambda f: f.get("type") == "pong" and f.get("id") == text)
                got = [f for f in frames if f.get("type") == "notify"]
                for f in got:
                    self.assertEqual((f["seq"], f["user"]), (r.json["seq"], "owner"), f)
                out[name] = [f["reason"] for f in got]
            return out

        self.assertEqual(notes_after("plain words"), {"bob": [], "carol": []})
        self.assertEqual(notes_after("@all hello"), {"bob": [], "carol": ["all"]})
        self.assertEqual(notes_after("@here now"), {"bob": [], "carol": ["here"]})
        # A direct mention reaches a member who muted the room; a mention of a non-member none.
        self.assertEqual(notes_after("@bob look"), {"bob": ["mention"], "carol": []})
        self.assertEqual(notes_after("@carol and @carol again, @eve"), {"bob": [], "carol": ["mention"]})
        dm = rid_of(u["owner"].post("/api/v1/dms", {"users": ["bob"]}))
        self.assertEqual(notes_after("psst", dm), {"bob": ["direct"], "carol": []})
        self.assertEqual(u["bob"].rooms()[rid]["mentions"], 1)


class Typing(unittest.TestCase):
    def test_typing_reaches_the_other_members_only(self):
        ce = ChatEnv(self)
        u = ce.users("alice", "bob", "eve")
        rid = ce.room("t", "private", "alice", ["bob"])["id"]
        socks = {n: ce.ws(u[n].token) for n in ("alice", "bob", "eve")}
        for w in socks.values():
            w.hello({})
        socks["bob"].send_json({"type": "typing", "room": rid})
        ev = socks["alice"].wait_for(lambda f: f.get("type") == "typing")
        self.assertEqual((ev["room"], ev["user"]), (rid, "bob"))
        for n in ("bob", "eve"):
            socks[n].send_json({"type": "ping", "id": "t"})
            frames = socks[n].collect(lambda f: f.get("type") == "pong")
            self.assertEqual([f for f in frames if f.get("type") == "typing"], [], n)


class Presence(unittest.TestCase):
    def test_presence_online_then_offline(self):
        ce = ChatEnv(self)
        u = ce.users("alice", "watcher")
        w = ce.ws(u["watcher"].token)
        w.hello({})
        w.send_json({"type": "presence_sub", "users": ["alice", "ghost"]})
        lst = w.wait_for(lambda f: f.get("type") == "presence_list")
        self.assertEqual(lst["users"], [{"user": "alice", "presence": "offline", "status_text": ""}])
        a = ce.ws(u["alice"].token)
        a.hello({})
        ev = w.wait_for(lambda f: f.get("type") == "presence" and f.get("user") == "alice")
        self.assertEqual(ev["presence"], "online")
        self.assertEqual(u["watcher"].get("/api/v1/users/alice").json["presence"], "online")
        # A status message and "away" are pushed as well.
        r = u["alice"].call("PATCH", "/api/v1/me", {"away": True, "status_text": "会議中"})
        self.assertEqual(r.status, 200, r)
        ev = w.wait_for(lambda f: f.get("type") == "presence" and f.get("user") == "alice")
        self.assertEqual((ev["presence"], ev["status_text"]), ("away", "会議中"))
        a.close()
        ev = w.wait_for(lambda f: f.get("type") == "presence" and f.get("user") == "alice")
        self.assertEqual(ev["presence"], "offline")
        wait_for(lambda: u["watcher"].get("/api/v1/users/alice").json["presence"] == "offline", timeout=5,
                 what="alice offline over HTTP")


class MetricsAndTokens(unittest.TestCase):
    def test_metrics_only_for_the_allowed_addresses(self):
        # Tests reach the daemon from 127.0.0.1, outside this range.
        ce = ChatEnv(self, options=["chatd.metrics_allow=192.0.2.0/24"])
        r = ce.api().get("/metrics")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json["error"]["code"], "forbidden")
        self.assertIn("chatd.metrics_allow", r.json["error"]["message"])
        self.assertEqual(ce.api().get("/api/v1/config").status, 200)  # only /metrics is refused

    def test_metrics_is_prometheus_text_and_counts_messages(self):
        ce = ChatEnv(self)
        u = ce.users("alice")
        rid = ce.room("r", "public", "alice")["id"]

        def scrape():
            r = ce.api().get("/metrics")
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.headers["content-type"].startswith("text/plain"), r.headers)
            values, types = {}, {}
            sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"'
                                r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (\S+)$')
            for line in r.body.decode().splitlines():
                if not line:
                    continue
                if line.startswith("# TYPE "):
                    _, _, name, typ = line.split(" ", 3)
                    self.assertIn(typ, ("counter", "gauge", "histogram", "summary", "untyped"))
                    self.assertNotIn(name, types, "TYPE given twice")
                    types[name] = typ
                    continue
                if line.startswith("# HELP "):
                    continue
                self.assertFalse(line.startswith("#"), line)
                m = sample.match(line)
                self.assertIsNotNone(m, f"not a Prometheus sample: {line!r}")
                float(m.group(4))  # parses as a number (incl. +Inf/NaN)
                base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
                self.assertTrue(m.group(1) in types or base in types, f"sample without TYPE: {line}")
                values[m.group(1) + (m.group(2) or "")] = float(m.group(4))
            return values

        v0 = scrape()
        for i in range(5):
            self.assertEqual(u["alice"].send(rid, f"m{i}").status, 201)
        u["alice"].send(rid, "m0", "dup")
        u["alice"].send(rid, "m0", "dup")  # a repeat is not a new message
        v1 = scrape()
        self.assertEqual(v1["collab_chat_messages_posted_total"] - v0["collab_chat_messages_posted_total"], 6)
        self.assertEqual(v1['collab_chat_ack_latency_ms_bucket{le="+Inf"}'] -
                         v0['collab_chat_ack_latency_ms_bucket{le="+Inf"}'], 6)
        self.assertEqual(v1["collab_chat_ack_latency_ms_count"], v1['collab_chat_ack_latency_ms_bucket{le="+Inf"}'])
        self.assertGreaterEqual(v1["collab_chat_users"], 1)

    def test_token_minting_and_scope_rules(self):
        ce = ChatEnv(self)
        u = ce.users("alice", "bob")
        alice = u["alice"]
        mine = ce.room("mine", "private", "alice")["id"]
        theirs = ce.room("theirs", "private", "bob")["id"]
        with open(ce.env.dir + "/token.key") as f:
            key = bytes.fromhex(f.read().strip())

        def claims(tok):
            parts = tok.split(".")
            self.assertEqual((len(parts), parts[0]), (3, "v1"), tok)
            mac = hmac.new(key, (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
            self.assertEqual(base64.urlsafe_b64encode(mac).rstrip(b"=").decode(), parts[2], "bad signature")
            return json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))

        now = time.time()
        r = alice.post("/api/v1/token", {"scope": ["stream:live1", f"room:{mine}", "meeting:m1"], "ttl_s": 300})
        self.assertEqual(r.status, 200, r)
        c = claims(r.json["token"])
        self.assertEqual(c["sub"], "alice")
        self.assertEqual(c["scope"], ["stream:live1", f"room:{mine}", "meeting:m1"])
        self.assertEqual(c["exp"], r.json["exp"])
        self.assertTrue(now + 290 <= c["exp"] <= now + 310, (now, c))
        # Lifetimes are capped by chatd.token_ttl_s (600 by default).
        c = claims(alice.post("/api/v1/token", {"ttl_s": 999999}).json["token"])
        self.assertLessEqual(c["exp"] - now, 610)
        for scope, status in ([f"room:{theirs}"], 403), (["room:rzzzzzzzzzzzzzzzz"], 403), (["admin"], 403), \
                             (["bogus:x"], 400), ([5], 400):
            r = alice.post("/api/v1/token", {"scope": scope})
            self.assertEqual(r.status, status, (scope, r))
            self.assertTrue(r.error["message"])
        # The refusal for a private room is the same as for one that does not exist.
        a = alice.post("/api/v1/token", {"scope": [f"room:{theirs}"]}).error["message"].replace(theirs, "X")
        b = alice.post("/api/v1/token", {"scope": ["room:rzzzzzzzzzzzzzzzz"]}).error["message"]
        self.assertEqual(a, b.replace("rzzzzzzzzzzzzzzzz", "X"))
        # A minted token is not a chat session.
        tok = alice.post("/api/v1/token", {}).json["token"]
        self.assertEqual(ce.api(tok).get("/api/v1/me").status, 401)
        self.assertEqual(ce.api().post("/api/v1/token", {}).status, 401)


if __name__ == "__main__":
    unittest.main()
