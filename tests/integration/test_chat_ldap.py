"""collab-chatd against a real OpenLDAP slapd (Debian slapd) on loopback: staff log in with
their directory ID and password, Japanese display names and departments come from the
directory, a rename shows everywhere after a sync (login, schedule or collab-admin), and a
person disabled in the directory is cut off, live WebSocket sessions included."""

import base64
import json
import os
import socket
import struct
import sys
import tempfile
import shutil
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from harness import Control, Env, wait_for, ws_send  # noqa: E402
from slapd_fixture import DISABLED_FILTER, Slapd  # noqa: E402


class MiniWs:
    """Just enough of a WebSocket client to see frames and the close code."""

    def __init__(self, host, port, token):
        self.s = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /api/v1/ws?token={token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(4096)
            if not chunk:
                raise AssertionError("connection closed during the handshake")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise AssertionError("no upgrade: " + head.decode(errors="replace"))
        self.close_code = None

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, obj):
        ws_send(self.s, json.dumps(obj).encode())

    def recv(self):
        """The next text frame as JSON; None once a close frame arrived."""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return None
            if op == 1:
                return json.loads(payload)

    def wait(self, pred, timeout=15):
        self.s.settimeout(timeout)
        while True:
            f = self.recv()
            if f is None or pred(f):
                return f

    def close(self):
        self.s.close()


class ChatLdapTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="collab-ldap-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.ldap = Slapd(os.path.join(self.tmp, "slapd"))
        self.addCleanup(self.ldap.stop)
        pwfile = os.path.join(self.tmp, "ldap.password")
        with open(pwfile, "w") as f:
            f.write(self.ldap.bind_password + "\n")

    def start(self, *extra):
        env = Env(self, extra=[
            "chatd.auth_source=ldap", f"chatd.ldap_uri={self.ldap.uri}", f"chatd.ldap_bind_dn={self.ldap.bind_dn}",
            f"chatd.ldap_bind_password_file={os.path.join(self.tmp, 'ldap.password')}",
            f"chatd.ldap_base_dn={self.ldap.people_dn}", f"chatd.ldap_disabled_filter={DISABLED_FILTER}",
            "chatd.ldap_timeout_s=3", *extra])
        self.env = env
        self.d = env.start(self, "chatd")
        return self.d

    def login(self, user, password):
        return self.d.http("POST", "/api/v1/login", json.dumps({"username": user, "password": password}),
                           headers={"Content-Type": "application/json"})

    def api(self, token, method, path, body=None):
        headers = {"Authorization": "Bearer " + token}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        return self.d.http(method, path, body, headers=headers)

    def control(self, verb, args=None):
        c = Control(self.env.socket_path("chatd"))
        try:
            r = c.call(verb, args or {})
        finally:
            c.close()
        self.assertTrue(r.get("ok"), r)
        return r["result"]

    def test_directory_login_brings_japanese_name_and_department(self):
        self.start()
        status, _, body = self.login("Yamada", "Yamada-pass1")
        self.assertEqual(status, 200, body)
        user = json.loads(body)["user"]
        self.assertEqual(user["id"], "yamada")
        self.assertEqual(user["name"], "山田 太郎")
        self.assertEqual(user["department"], "総務課")
        self.assertEqual(user["email"], "yamada@example.jp")
        self.assertEqual(user["source"], "ldap")
        wrong = self.login("yamada", "not-it")
        unknown = self.login("nobody", "not-it")
        self.assertEqual(wrong[0], 401)
        self.assertEqual(unknown[0], 401)
        self.assertEqual(json.loads(wrong[2])["error"]["message"], json.loads(unknown[2])["error"]["message"])
        injected = self.login("*)(uid=*", "x")
        self.assertEqual(injected[0], 401)

    def test_rename_shows_everywhere_after_sync_including_old_messages(self):
        self.start()
        ty = json.loads(self.login("yamada", "Yamada-pass1")[2])["token"]
        ts = json.loads(self.login("sato", "Sato-pass2")[2])["token"]
        status, _, body = self.api(ty, "POST", "/api/v1/rooms", {"name": "総務", "members": ["sato"]})
        self.assertEqual(status, 201, body)
        room = json.loads(body)["id"]
        status, _, body = self.api(ty, "POST", f"/api/v1/rooms/{room}/messages", {"text": "改名前の発言"})
        self.assertEqual(status, 201, body)
        host, port = self.d.http_address()
        ws = MiniWs(host, port, ts)
        self.addCleanup(ws.close)
        ws.send({"type": "hello"})
        ws.wait(lambda f: f["type"] == "ready")
        self.ldap.rename("yamada", "山田 太朗")
        summary = self.control("ldap.sync")
        self.assertGreaterEqual(summary["updated"], 1)
        # Sato's open session learns the new name at once.
        frame = ws.wait(lambda f: f["type"] == "user")
        self.assertEqual(frame["user"]["name"], "山田 太朗")
        # The old message carries only the author's id, which now resolves to the new name.
        msgs = json.loads(self.api(ts, "GET", f"/api/v1/rooms/{room}/messages")[2])["messages"]
        self.assertEqual(msgs[0]["user"], "yamada")
        self.assertEqual(json.loads(self.api(ts, "GET", "/api/v1/users/yamada")[2])["name"], "山田 太朗")
        # A login also syncs the person's own entry.
        self.ldap.set_department("yamada", "情報政策課")
        me = json.loads(self.login("yamada", "Yamada-pass1")[2])["user"]
        self.assertEqual(me["department"], "情報政策課")

    def test_disabled_in_directory_loses_access_live_sessions_too(self):
        self.start()
        tok = json.loads(self.login("suzuki", "Suzuki-pass3")[2])["token"]
        self.assertEqual(self.api(tok, "GET", "/api/v1/me")[0], 200)
        host, port = self.d.http_address()
        ws = MiniWs(host, port, tok)
        self.addCleanup(ws.close)
        ws.send({"type": "hello"})
        ws.wait(lambda f: f["type"] == "ready")
        self.ldap.disable("suzuki")
        summary = self.control("ldap.sync")
        self.assertEqual(summary["disabled"], 1)
        self.assertIsNone(ws.wait(lambda f: False))
        self.assertEqual(ws.close_code, 4003)
        self.assertEqual(self.api(tok, "GET", "/api/v1/me")[0], 401)
        self.assertEqual(self.login("suzuki", "Suzuki-pass3")[0], 403)
        # Removed from the directory entirely: the same.
        tok2 = json.loads(self.login("tanaka", "Tanaka-pass5")[2])["token"]
        self.ldap.delete("tanaka")
        self.control("ldap.sync")
        self.assertEqual(self.api(tok2, "GET", "/api/v1/me")[0], 401)
        users = {u["id"]: u for u in self.control("user.list")["users"]}
        self.assertTrue(users["suzuki"]["disabled"])
        self.assertTrue(users["tanaka"]["disabled"])
        # The audit trail says why.
        lines = self.control("audit.list", {"limit": 50})["lines"]
        self.assertTrue(any(l["action"] == "user.disable" and l.get("user") == "suzuki" for l in lines))

    def test_background_schedule_syncs_without_a_login(self):
        self.start("chatd.ldap_sync_interval_s=1")
        tok = json.loads(self.login("ito", "Ito-pass6")[2])["token"]
        self.ldap.rename("ito", "伊藤 さくら子")

        def renamed():
            return json.loads(self.api(tok, "GET", "/api/v1/me")[2])["name"] == "伊藤 さくら子"
        wait_for(renamed, timeout=20, interval=0.2, what="scheduled directory sync")

    def test_directory_down_gives_503_and_the_daemon_stays(self):
        self.start()
        self.ldap.stop()
        status, _, body = self.login("yamada", "Yamada-pass1")
        self.assertEqual(status, 503, body)
        self.assertIn("directory", json.loads(body)["error"]["message"])
        self.assertTrue(self.d.alive())
        self.ldap.start()
        self.assertEqual(self.login("yamada", "Yamada-pass1")[0], 200)

    def test_department_rooms_follow_the_directory(self):
        self.start("chatd.ldap_department_rooms=true")
        self.control("ldap.sync")
        rooms = {r["name"]: r for r in self.control("room.list")["rooms"]}
        self.assertIn("総務課", rooms)
        self.assertIn("情報政策課", rooms)
        room = self.control("room.get", {"id": rooms["総務課"]["id"]})
        members = {m["user"] for m in room["members"]}
        self.assertEqual(members, {"yamada", "suzuki", "tanaka"})
        self.ldap.set_department("tanaka", "情報政策課")
        self.control("ldap.sync")
        room = self.control("room.get", {"id": rooms["総務課"]["id"]})
        self.assertNotIn("tanaka", {m["user"] for m in room["members"]})
        room2 = self.control("room.get", {"id": rooms["情報政策課"]["id"]})
        self.assertIn("tanaka", {m["user"] for m in room2["members"]})


if __name__ == "__main__":
    unittest.main()
