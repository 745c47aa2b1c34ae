"""The authorization matrix of collab-chatd: every route of lib/chat/http_api.cpp and
lib/chat/helpdesk.cpp is called
without a token, with forged and expired tokens, and (room routes) by a user outside a private
room and outside a DM. Outsiders must get exactly what a nonexistent room gets (404, same error
shape), never any of the room's data, and must change nothing. The WebSocket gets the same
treatment: no events of the room after a hello, no posting into it."""
import base64
import json
import os
import re
import time
import unittest

from chat_client import ChatEnv, WebSocket, WsHandshakeError, wait_for
from harness import SOURCE_DIR

MISSING_ROOM = "rzzzzzzzzzzzzzzzz"  # a well-formed room id nobody has

# (method, path template, body). {id} a room, {seq} a message seq in it, {user} a user id,
# {emoji} a reaction, {name} a live stream. Bodies are valid requests, so only authorization
# can refuse them.
ROUTES = [
    ("POST", "/api/v1/logout", None),
    ("GET", "/api/v1/me", None),
    ("PATCH", "/api/v1/me", {"status_text": "x"}),
    ("POST", "/api/v1/token", {"scope": ["stream:a"]}),
    ("GET", "/api/v1/streams/{name}/watch", None),
    ("GET", "/api/v1/users", None),
    ("GET", "/api/v1/users/{user}", None),
    ("GET", "/api/v1/rooms", None),
    ("GET", "/api/v1/rooms/public", None),
    ("GET", "/api/v1/search", None),
    ("POST", "/api/v1/rooms", {"name": "new", "kind": "public"}),
    ("POST", "/api/v1/dms", {"users": ["{user}"]}),
    ("GET", "/api/v1/rooms/{id}", None),
    ("PATCH", "/api/v1/rooms/{id}", {"topic": "outsider topic"}),
    ("POST", "/api/v1/rooms/{id}/join", None),
    ("POST", "/api/v1/rooms/{id}/leave", None),
    ("GET", "/api/v1/rooms/{id}/members", None),
    ("PUT", "/api/v1/rooms/{id}/members/{user}", {"role": "member"}),
    ("DELETE", "/api/v1/rooms/{id}/members/{user}", None),
    ("PUT", "/api/v1/rooms/{id}/mute", {"muted": True}),
    ("POST", "/api/v1/rooms/{id}/read", {"seq": 1}),
    ("GET", "/api/v1/rooms/{id}/messages", None),
    ("POST", "/api/v1/rooms/{id}/messages", {"text": "outsider post", "client_id": "outsider-1"}),
    ("POST", "/api/v1/rooms/{id}/files", b"Outsider-Upload"),
    ("GET", "/api/v1/rooms/{id}/files/{file}", None),
    ("GET", "/api/v1/rooms/{id}/files/{file}/thumb", None),
    ("GET", "/api/v1/rooms/{id}/pins", None),
    ("GET", "/api/v1/rooms/{id}/messages/{seq}", None),
    ("GET", "/api/v1/rooms/{id}/messages/{seq}/thread", None),
    ("GET", "/api/v1/rooms/{id}/messages/{seq}/receipts", None),
    ("PATCH", "/api/v1/rooms/{id}/messages/{seq}", {"text": "outsider edit"}),
    ("DELETE", "/api/v1/rooms/{id}/messages/{seq}", None),
    ("PUT", "/api/v1/rooms/{id}/messages/{seq}/reactions/{emoji}", None),
    ("DELETE", "/api/v1/rooms/{id}/messages/{seq}/reactions/{emoji}", None),
    ("PUT", "/api/v1/rooms/{id}/messages/{seq}/pin", None),
    ("DELETE", "/api/v1/rooms/{id}/messages/{seq}/pin", None),
    # helpdesk.cpp ({id} is a request id there: a room id is no request, like a missing one)
    ("GET", "/api/v1/helpdesk", None),
    ("POST", "/api/v1/helpdesk/{desk}/requests", {"subject": "outsider", "text": "outsider request"}),
    ("GET", "/api/v1/helpdesk/{desk}/requests", None),
    ("POST", "/api/v1/helpdesk/{desk}/requests/{id}/claim", None),
    ("POST", "/api/v1/helpdesk/{desk}/requests/{id}/handover", {"to": "{user}"}),
    ("POST", "/api/v1/helpdesk/{desk}/requests/{id}/resolve", None),
    ("POST", "/api/v1/helpdesk/{desk}/requests/{id}/reopen", None),
    ("GET", "/api/v1/helpdesk/{desk}/search", None),
]
# Routes that need no session at all.
PUBLIC_ROUTES = [("POST", "/api/v1/login"), ("GET", "/api/v1/config"), ("GET", "/metrics")]


NO_FILE = "0" * 64  # a well-formed file id nobody uploaded


def fill(template, room="", seq=1, user="alice", emoji="ok", file=NO_FILE):
    return (template.replace("{id}", room).replace("{desk}", "nodesk").replace("{seq}", str(seq)).replace("{user}", user)
            .replace("{emoji}", emoji).replace("{file}", file).replace("{name}", "cam1"))


def fill_body(body, user):
    if body is None or isinstance(body, bytes):
        return body
    return json.loads(json.dumps(body).replace("{user}", user))


class RouteTable(unittest.TestCase):
    def test_table_covers_every_route_in_http_api(self):
        """A new route in http_api.cpp or helpdesk.cpp must be added to ROUTES (and so to the matrix)."""
        found = set()
        # http.Route("GET", "/path", ...), http.Route(method, "/path", ...) in a PUT/DELETE loop,
        # and http.Route("GET", flag ? "/a" : "/b", ...); helpdesk.cpp's request actions are
        # TicketAction(http, "/path", ...), POST routes made by one http.Route("POST", path, ...).
        pattern = r'http\.Route\(\s*(?:"([A-Z]+)"|(\w+))\s*,\s*(?:\w+\s*\?\s*"([^"]+)"\s*:\s*"([^"]+)"|"([^"]+)")'
        for name in ("http_api.cpp", "helpdesk.cpp"):
            src = open(os.path.join(SOURCE_DIR, "lib", "chat", name)).read()
            for m in re.finditer(pattern, src):
                methods = [m.group(1)] if m.group(1) else ["PUT", "DELETE"]
                paths = [m.group(5)] if m.group(5) else [m.group(3), m.group(4)]
                for method in methods:
                    for path in paths:
                        found.add((method, path))
            actions = re.findall(r'TicketAction\(http,\s*"([^"]+)"', src)
            found |= {("POST", path) for path in actions}
            generic = len(re.findall(r'http\.Route\("POST", path,', src))
            self.assertEqual(generic, 1 if actions else 0, f"{name}: TicketAction's route changed shape")
            self.assertEqual(len(re.findall(r"http\.Route\(", src)), len(re.findall(pattern, src)) + generic,
                             f"{name}: a Route() call this test cannot read")
        src = open(os.path.join(SOURCE_DIR, "lib", "chat", "http_api.cpp")).read()
        table = {(m, p) for m, p, _ in ROUTES} | set(PUBLIC_ROUTES)
        self.assertTrue(found, "no routes found in http_api.cpp")
        self.assertEqual(found - table, set(), "routes missing from the authorization matrix")
        self.assertEqual(table - found, set(), "routes in the matrix that no longer exist")
        self.assertIn('WebSocketRoute("/api/v1/ws"', src)


class Matrix(unittest.TestCase):
    def setUp(self):
        self.ce = ChatEnv(self)
        self.u = self.ce.users("alice", "bob", "eve")
        self.alice, self.bob, self.eve = self.u["alice"], self.u["bob"], self.u["eve"]
        self.private = self.ce.room("Skunkworks-Plan-X", "private", "alice", ["bob"])["id"]
        self.alice.call("PATCH", f"/api/v1/rooms/{self.private}", {"topic": "Topic-Secret-42"})
        dm = self.alice.post("/api/v1/dms", {"users": ["bob"]})
        self.assertEqual(dm.status, 200, dm)
        self.dm = dm.json["id"]
        self.dm_name = dm.json["name"]
        self.secrets = {self.private: ["Skunkworks-Plan-X", "Topic-Secret-42"], self.dm: []}
        for room in (self.private, self.dm):
            root = self.alice.send(room, f"Secret-Root-{room}").json["seq"]
            self.bob.send(room, f"Secret-Reply-{room}", thread=root)
            seq = self.alice.send(room, f"Secret-Pinned-{room}").json["seq"]
            self.assertEqual(self.bob.call("PUT", f"/api/v1/rooms/{room}/messages/{seq}/pin").status, 200)
            self.assertEqual(self.bob.call("PUT", f"/api/v1/rooms/{room}/messages/{root}/reactions/ok").status, 200)
            self.assertEqual(self.alice.call("PATCH", f"/api/v1/rooms/{room}/messages/{root}",
                                             {"text": f"Secret-Edited-{room}"}).status, 200)
            self.secrets[room] += [f"Secret-Root-{room}", f"Secret-Reply-{room}", f"Secret-Pinned-{room}",
                                   f"Secret-Edited-{room}"]
        self.secrets[self.dm].append(self.dm_name)
        self.files = {}
        for room in (self.private, self.dm):
            up = self.alice.raw("POST", f"/api/v1/rooms/{room}/files?name=Secret-File-{room}.txt",
                                f"Secret-File-Bytes-{room}".encode(),
                                {"Authorization": f"Bearer {self.alice.token}", "Content-Type": "text/plain"})
            self.assertEqual(up.status, 201, up)
            self.files[room] = up.json["file"]["id"]
            self.secrets[room] += [f"Secret-File-{room}", f"Secret-File-Bytes-{room}"]

    def snapshot(self, room):
        """What the members can see of a room (to prove an outsider changed nothing)."""
        a = self.alice
        msgs = a.all_messages(room)
        for m in msgs:
            m.pop("history", None)
        room_json = a.get(f"/api/v1/rooms/{room}").json
        members = a.get(f"/api/v1/rooms/{room}/members").json["members"]
        for m in members:
            m["user"].pop("presence", None)
        return msgs, room_json, members, a.get(f"/api/v1/rooms/{room}/pins").json

    def test_no_token_and_forged_tokens_get_401_everywhere(self):
        api = self.ce.api()
        expired = self.ce.call("user.session", {"id": "eve", "ttl_s": 1})["token"]
        minted = self.alice.post("/api/v1/token", {"scope": ["stream:a"]}).json["token"]
        forged = [
            base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),  # looks like a session token
            self.alice.token[:-2] + ("AA" if not self.alice.token.endswith("AA") else "BB"),  # one changed
            minted,  # a v1 token for collab-sfu/stream is no chat session
            "x" * 300,
        ]
        wait_for(lambda: api.get("/api/v1/me", token=expired).status == 401, timeout=5, what="the session to expire")
        forged.append(expired)
        before = {room: self.snapshot(room) for room in (self.private, self.dm)}
        for method, template, body in ROUTES:
            for room in (self.private, MISSING_ROOM):
                path = fill(template, room)
                b = fill_body(body, "bob")
                r = api.call(method, path, b, token="")
                self.assertEqual(r.status, 401, (method, path, r))
                self.assertEqual(r.error["code"], "unauthorized", (method, path, r))
                self.assertTrue(r.error["message"])
                self.assertEqual(r.headers.get("cache-control"), "no-store")
                for tok in forged:
                    r = api.call(method, path, b, token=tok)
                    self.assertEqual(r.status, 401, (method, path, tok[:20], r))
                    self.assertEqual(r.error["code"], "unauthorized")
                # Through the cookie as well.
                r = api.call(method, path, b, token="", headers={"Cookie": f"collab_session={forged[0]}"})
                self.assertEqual(r.status, 401, (method, path, r))
                # Malformed Authorization headers.
                for h in ("Bearer", "Bearer ", "Basic YWxpY2U6eA==", f"bearer {self.alice.token}x"):
                    r = api.call(method, path, b, token="", headers={"Authorization": h})
                    self.assertEqual(r.status, 401, (method, path, h, r))
        # Public routes answer without a session.
        self.assertEqual(api.get("/api/v1/config").status, 200)
        self.assertEqual(api.get("/metrics").status, 200)
        after = {room: self.snapshot(room) for room in (self.private, self.dm)}
        self.assertEqual(before, after)
        self.assertEqual(self.alice.get("/api/v1/me").json["status_text"], "")
        self.assertTrue(self.ce.alive())

    def test_helpdesk_request_of_another_is_like_a_missing_one(self):
        """Staff who are neither the requester nor an agent get for a real request exactly what a
        made-up request id gets, and never see its subject or text."""
        self.ce.call("helpdesk.add", {"id": "it", "name": "IT", "agents": ["alice"]})
        req = self.bob.post("/api/v1/helpdesk/it/requests", {"subject": "Secret-Subject-9", "text": "Secret-Text-9"})
        self.assertEqual(req.status, 201, req)
        rid = req.json["id"]
        for action, body in (("claim", None), ("handover", {"to": "alice"}), ("resolve", None), ("reopen", None)):
            got = self.eve.post(f"/api/v1/helpdesk/it/requests/{rid}/{action}", body)
            ref = self.eve.post(f"/api/v1/helpdesk/it/requests/qnosuchrequest/{action}", body)
            self.assertEqual(got.status, 404, (action, got))
            self.assertEqual((got.error["code"], got.error["message"]), (ref.error["code"], ref.error["message"]))
            self.assertNotIn(b"Secret-", got.body)
        listing = self.eve.get("/api/v1/helpdesk/it/requests")
        self.assertEqual(listing.status, 200, listing)
        self.assertEqual(listing.json["requests"], [])
        self.assertEqual(self.eve.get("/api/v1/helpdesk/it/search?q=Secret").status, 403)
        # Nothing changed: the request is still open and unclaimed for its agent.
        queue = self.alice.get("/api/v1/helpdesk/it/requests").json["requests"]
        self.assertEqual([(r["id"], r["status"], r.get("agent") or "") for r in queue], [(rid, "open", "")])

    def outsider_sees_nothing(self, room):
        eve = self.eve
        before = self.snapshot(room)
        # What a nonexistent room answers, route by route.
        for method, template, body in ROUTES:
            if "{id}" not in template:
                continue
            for seq in (1, 2):
                b = fill_body(body, "bob")
                got = eve.call(method, fill(template, room, seq, file=self.files[room]), b)
                ref = eve.call(method, fill(template, MISSING_ROOM, seq, file=self.files[room]), b)
                where = (method, template, seq, got)
                self.assertEqual(got.status, 404, where)
                self.assertEqual(ref.status, 404, (method, template, ref))
                self.assertEqual(got.error["code"], "not_found", where)
                self.assertEqual(set(got.json), set(ref.json), where)
                self.assertEqual(set(got.error), set(ref.error), where)
                self.assertEqual(got.error["message"].replace(room, "ROOM"),
                                 ref.error["message"].replace(MISSING_ROOM, "ROOM"), where)
                body_text = got.body.decode("utf-8", "replace")
                for secret in self.secrets[room]:
                    self.assertNotIn(secret, body_text, where)
                self.assertNotIn("bob", body_text.replace(room, ""), where)
                # Member-only bodies (user names) must not leak through any header either.
                for v in got.headers.values():
                    for secret in self.secrets[room]:
                        self.assertNotIn(secret, v, where)
        # Routes without {id} never list the room for an outsider.
        for path in ("/api/v1/rooms", "/api/v1/rooms/public"):
            r = eve.get(path)
            self.assertEqual(r.status, 200, r)
            self.assertNotIn(room, r.body.decode(), path)
            for secret in self.secrets[room]:
                self.assertNotIn(secret, r.body.decode(), path)
        # A file id of the room is no key to it from a room eve is in.
        mine = eve.post("/api/v1/rooms", {"name": "eve's", "kind": "public"}).json["id"]
        for template in ("/api/v1/rooms/{id}/files/{file}", "/api/v1/rooms/{id}/files/{file}/thumb"):
            r = eve.get(fill(template, mine, file=self.files[room]))
            self.assertEqual(r.status, 404, r)
            self.assertNotIn(b"Secret-File-Bytes", r.body)
        r = eve.send(mine, "look", "f1", files=[self.files[room]])
        self.assertEqual(r.status, 400, r)
        r = eve.post("/api/v1/token", {"scope": [f"room:{room}"]})
        self.assertEqual(r.status, 403, r)
        ref = eve.post("/api/v1/token", {"scope": [f"room:{MISSING_ROOM}"]})
        self.assertEqual(r.error["message"].replace(room, "ROOM"), ref.error["message"].replace(MISSING_ROOM, "ROOM"))
        self.assertEqual(self.snapshot(room), before)
        self.assertNotIn(room, eve.rooms())
        self.assertTrue(self.ce.alive())

    def test_outsider_of_private_room_gets_404_like_missing_room(self):
        self.outsider_sees_nothing(self.private)

    def test_outsider_of_dm_gets_404_like_missing_room(self):
        self.outsider_sees_nothing(self.dm)

    def test_public_room_outsider_reads_but_does_not_write(self):
        pub = self.ce.room("lobby", "public", "alice", ["bob"])["id"]
        seq = self.alice.send(pub, "hello lobby").json["seq"]
        eve = self.eve
        self.assertEqual(eve.get(f"/api/v1/rooms/{pub}/messages").status, 200)
        r = eve.send(pub, "not joined")
        self.assertEqual(r.status, 403, r)
        for method, path, body in [("PUT", f"/api/v1/rooms/{pub}/messages/{seq}/reactions/ok", None),
                                   ("PUT", f"/api/v1/rooms/{pub}/messages/{seq}/pin", None),
                                   ("PATCH", f"/api/v1/rooms/{pub}/messages/{seq}", {"text": "x"}),
                                   ("DELETE", f"/api/v1/rooms/{pub}/messages/{seq}", None),
                                   ("PATCH", f"/api/v1/rooms/{pub}", {"topic": "x"}),
                                   ("PUT", f"/api/v1/rooms/{pub}/members/eve", {"role": "owner"}),
                                   ("DELETE", f"/api/v1/rooms/{pub}/members/bob", None)]:
            r = eve.call(method, path, body)
            self.assertEqual(r.status, 403, (method, path, r))
        self.assertEqual([m["text"] for m in self.alice.all_messages(pub)], ["hello lobby"])

    def test_websocket_outsider_gets_no_events_and_cannot_post(self):
        eve_ws = self.ce.ws(self.eve.token)
        before, ready = eve_ws.hello({self.private: 0, self.dm: 0, MISSING_ROOM: 0})
        gone = sorted(f["room"] for f in before if f.get("type") == "room_gone")
        self.assertEqual(gone, sorted([self.private, self.dm, MISSING_ROOM]), before)
        self.assertEqual([f for f in before if f.get("type") != "room_gone"], [])
        self.assertNotIn(self.private, json.dumps(ready["rooms"]))
        # Live traffic of the rooms never reaches eve: after the members' posts are acknowledged,
        # their fan-out frames are already queued, so everything eve could get arrives before
        # the answer to a ping sent afterwards.
        bob_ws = self.ce.ws(self.bob.token)
        bob_ws.hello({})
        for room in (self.private, self.dm):
            self.assertEqual(self.alice.send(room, f"Live-Secret-{room}").status, 201)
        bob_ws.send_json({"type": "typing", "room": self.private})
        before_posts = {room: self.snapshot(room) for room in (self.private, self.dm)}
        for room in (self.private, self.dm):
            eve_ws.send_json({"type": "post", "room": room, "text": "ws outsider", "client_id": f"ws-{room}"})
            err = eve_ws.wait_for(lambda f: f.get("type") in ("error", "ack") and f.get("client_id") == f"ws-{room}")
            self.assertEqual(err["type"], "error", err)
            self.assertEqual(err["error"]["code"], "not_found", err)
            eve_ws.send_json({"type": "post", "room": MISSING_ROOM, "text": "x", "client_id": f"ws-m-{room}"})
            ref = eve_ws.wait_for(lambda f: f.get("client_id") == f"ws-m-{room}")
            self.assertEqual(err["error"]["message"].replace(room, "R"), ref["error"]["message"].replace(MISSING_ROOM, "R"))
            eve_ws.send_json({"type": "typing", "room": room})
            eve_ws.send_json({"type": "read", "room": room, "seq": 1000})
        eve_ws.send_json({"type": "ping", "id": "flush"})
        frames = eve_ws.collect(lambda f: f.get("type") == "pong" and f.get("id") == "flush")
        dump = json.dumps(frames, ensure_ascii=False)
        for room in (self.private, self.dm):
            self.assertNotIn(room, dump.replace(f"ws-{room}", "").replace(f"ws-m-{room}", "")
                             .replace(f"no such room: {room}", ""))
            self.assertNotIn(f"Live-Secret-{room}", dump)
        for f in frames:
            self.assertIn(f["type"], ("error", "pong", "presence"), f)
        # Nothing changed: no messages, no read marker for eve, no typing shown to bob as eve.
        self.assertEqual({room: self.snapshot(room) for room in (self.private, self.dm)}, before_posts)
        bob_ws.send_json({"type": "ping", "id": "b"})
        bframes = bob_ws.collect(lambda f: f.get("type") == "pong")
        self.assertEqual([f for f in bframes if f.get("user") == "eve" and f.get("type") in ("typing", "read")], [])
        self.assertTrue(self.ce.alive())

    def test_removed_member_stops_receiving_and_cannot_resume(self):
        bob_ws = self.ce.ws(self.bob.token)
        bob_ws.hello({})
        r = self.alice.call("DELETE", f"/api/v1/rooms/{self.private}/members/bob")
        self.assertEqual(r.status, 204, r)
        ev = bob_ws.wait_for(lambda f: f.get("type") == "member" and f.get("user") == "bob")
        self.assertIsNone(ev["role"])
        self.assertEqual(self.alice.send(self.private, "After-Removal-Secret").status, 201)
        bob_ws.send_json({"type": "ping", "id": "flush"})
        frames = bob_ws.collect(lambda f: f.get("type") == "pong")
        self.assertNotIn("After-Removal-Secret", json.dumps(frames))
        self.assertEqual(self.bob.get(f"/api/v1/rooms/{self.private}/messages").status, 404)
        bob_ws.send_json({"type": "post", "room": self.private, "text": "still here?", "client_id": "sh"})
        f = bob_ws.wait_for(lambda f: f.get("client_id") == "sh")
        self.assertEqual(f["type"], "error", f)
        bob_ws.close()
        ws = self.ce.ws(self.bob.token)
        before, _ = ws.hello({self.private: 0})
        self.assertEqual(before, [{"type": "room_gone", "room": self.private}])

    def test_websocket_of_expired_session_gets_nothing_more_and_is_closed(self):
        tok = self.ce.call("user.session", {"id": "bob", "ttl_s": 2})["token"]
        ws = self.ce.ws(tok)
        ws.hello({})
        api = self.ce.api(tok)
        wait_for(lambda: api.get("/api/v1/me").status == 401, timeout=10, what="the session to expire")
        self.assertEqual(self.alice.send(self.private, "After-Expiry-Secret").status, 201)
        try:
            (code, _), frames = ws.wait_closed(timeout=12)
        except TimeoutError as e:
            self.fail(f"the WebSocket of an expired session stayed open: {e}")
        self.assertNotIn("After-Expiry-Secret", json.dumps(frames), "an expired session still received messages")
        self.assertEqual(code, 4001)

    def test_cookie_requests_from_a_foreign_origin_are_refused(self):
        host, port = self.ce.daemon.http_address()
        cookie = {"Cookie": f"collab_session={self.alice.token}", "Content-Type": "application/json"}
        body = json.dumps({"text": "Cross-Site-Post", "client_id": "xs"}).encode()
        path = f"/api/v1/rooms/{self.private}/messages"
        r = self.alice.raw("POST", path, body, {**cookie, "Origin": "http://evil.example"})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.error["code"], "forbidden")
        r = self.alice.raw("POST", path, body, {**cookie, "Origin": f"http://{host}:{port}"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual([m["client_id"] for m in self.alice.all_messages(self.private)].count("xs"), 1)

    def test_websocket_with_cookie_from_a_foreign_origin_is_refused(self):
        """Cross-site WebSocket hijacking: a page on another origin that the browser sends the
        session cookie along for (SameSite does not separate origins of the same site, e.g.
        another port of the host) must not get a session."""
        host, port = self.ce.daemon.http_address()
        try:
            ws = WebSocket(host, port, headers={"Cookie": f"collab_session={self.alice.token}",
                                                "Origin": "http://evil.example"})
        except WsHandshakeError as e:
            self.assertTrue(400 <= e.status < 500, e.head)
            return
        self.addCleanup(ws.close)
        ws.send_json({"type": "hello", "cursors": {self.private: 0}})
        try:
            (code, _), frames = ws.wait_closed(timeout=5)
        except TimeoutError as e:
            self.fail(f"a cookie-authenticated WebSocket from a foreign origin was accepted: {e}")
        self.assertNotIn("Secret", json.dumps(frames))
        self.assertIn(code, (1008, 4001, 4003))

    def test_websocket_bad_tokens_are_refused(self):
        host, port = self.ce.daemon.http_address()
        for tok in ("forged-token-value", self.alice.token + "x"):
            ws = self.ce.ws(tok)
            (code, _), frames = ws.wait_closed()
            self.assertEqual(code, 4001, frames)
            self.assertEqual([f["error"]["code"] for f in frames if f.get("type") == "error"], ["unauthorized"])
        # Without a token, only a hello carrying a valid one is accepted.
        ws = self.ce.ws(None)
        ws.send_json({"type": "hello", "token": "forged", "cursors": {self.private: 0}})
        (code, _), frames = ws.wait_closed()
        self.assertEqual(code, 4001)
        self.assertNotIn("Secret", json.dumps(frames))
        ws = self.ce.ws(None)
        ws.send_json({"type": "post", "room": self.private, "text": "sneaky", "client_id": "s1"})
        (code, _), frames = ws.wait_closed()
        self.assertEqual(code, 4001)
        ws = self.ce.ws(None)
        _, ready = ws.hello({}, token=self.bob.token)
        self.assertEqual(ready["user"]["id"], "bob")
        self.assertNotIn("sneaky", json.dumps(self.alice.all_messages(self.private)))


if __name__ == "__main__":
    unittest.main()
