"""collab-chatd's attachments, incoming webhooks and helpdesk, on the real daemon: uploads with
server-made thumbnails and per-room download rights, file retention, Slack/Rocket.Chat-style
webhook posts with curl (JSON and form payload=, wrong token, bad body), and a helpdesk request
from open to resolved with first-response and resolution times."""

import json
import os
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from chat_client import ChatEnv
from harness import run


def make_png(path, size="800x600"):
    r = run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}", "-frames:v", "1", path])
    assert r.returncode == 0, r.stderr
    with open(path, "rb") as f:
        return f.read()


class Files(unittest.TestCase):
    def setUp(self):
        self.c = ChatEnv(self, options=["chatd.max_file_bytes=200000", "chatd.retention_file_days=30"])
        self.u = self.c.users("tanaka", "sato", "outsider")
        self.room = self.c.room("files", "private", "tanaka", ["sato"])["id"]
        self.tmp = tempfile.mkdtemp(prefix="collab-files-")

    def upload(self, api, data, name, ctype):
        q = urllib.parse.quote(name)
        return api.call("POST", f"/api/v1/rooms/{self.room}/files?name={q}", data, headers={"Content-Type": ctype})

    def test_upload_thumbnail_download_and_rights(self):
        png = make_png(os.path.join(self.tmp, "a.png"))
        r = self.upload(self.u["tanaka"], png, "図面.png", "image/png")
        self.assertEqual(r.status, 201, r)
        f = r.json["file"]
        self.assertTrue(f["image"])
        self.assertTrue(f["thumb"])
        self.assertEqual(f["size"], len(png))
        self.assertEqual((f["width"], f["height"]), (800, 600))
        m = self.u["tanaka"].send(self.room, "", files=[f["id"]])
        self.assertEqual(m.status, 201, m)
        self.assertEqual(m.json["files"][0]["name"], "図面.png")
        # The same bytes again are the same file (content-addressed); the message keeps its name.
        self.assertEqual(self.upload(self.u["sato"], png, "copy.png", "image/png").json["file"]["id"], f["id"])
        self.assertEqual(self.u["sato"].history(self.room)[-1]["files"][0]["name"], "図面.png")
        # Sato (member) downloads the original and the thumbnail.
        d = self.u["sato"].get(f"/api/v1/rooms/{self.room}/files/{f['id']}")
        self.assertEqual(d.status, 200)
        self.assertEqual(d.body, png)
        self.assertEqual(d.headers["content-type"], "image/png")
        t = self.u["sato"].get(f"/api/v1/rooms/{self.room}/files/{f['id']}/thumb")
        self.assertEqual(t.status, 200)
        self.assertTrue(t.body.startswith(b"\xff\xd8\xff"), "thumbnail is a JPEG")
        thumb_path = os.path.join(self.tmp, "t.jpg")
        with open(thumb_path, "wb") as out:
            out.write(t.body)
        probe = run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "json", thumb_path])
        dims = json.loads(probe.stdout)["streams"][0]
        self.assertLessEqual(max(dims["width"], dims["height"]), 320)
        self.assertEqual(dims["width"] * 600, dims["height"] * 800)
        # An outsider sees nothing; a file of another room is not reachable through this one.
        self.assertEqual(self.u["outsider"].get(f"/api/v1/rooms/{self.room}/files/{f['id']}").status, 404)
        other = self.c.room("other", "public", "outsider")["id"]
        self.assertEqual(self.u["outsider"].get(f"/api/v1/rooms/{other}/files/{f['id']}").status, 404)
        # A message may only carry files uploaded into its room.
        self.assertEqual(self.u["outsider"].send(other, "x", files=[f["id"]]).status, 400)

    def test_dangerous_and_oversized_uploads(self):
        html = b"<script>alert(1)</script>"
        self.assertEqual(self.upload(self.u["tanaka"], html, "x.html", "text/html").status, 415)
        # Allowed as text, but never served inline.
        r = self.upload(self.u["tanaka"], html, "x.txt", "text/plain")
        self.assertEqual(r.status, 201, r)
        d = self.u["tanaka"].get(f"/api/v1/rooms/{self.room}/files/{r.json['file']['id']}")
        self.assertEqual(d.headers["content-type"], "application/octet-stream")
        self.assertTrue(d.headers["content-disposition"].startswith("attachment"))
        # A file that claims to be an image but is not one is no image.
        fake = self.upload(self.u["tanaka"], b"not a png at all", "fake.png", "image/png")
        self.assertEqual(fake.status, 201)
        self.assertFalse(fake.json["file"]["image"])
        self.assertEqual(self.upload(self.u["tanaka"], b"x" * 200001, "big.bin", "application/octet-stream").status, 413)
        self.assertEqual(self.upload(self.u["outsider"], b"x", "a.txt", "text/plain").status, 404)
        self.assertEqual(self.upload(self.u["tanaka"], b"", "empty.txt", "text/plain").status, 400)
        self.assertTrue(self.c.alive())

    def test_file_retention_removes_old_attachments(self):
        png = make_png(os.path.join(self.tmp, "b.png"), "64x48")
        f = self.upload(self.u["tanaka"], png, "old.png", "image/png").json["file"]
        self.u["tanaka"].send(self.room, "see attached", files=[f["id"]])
        future = int((time.time() + 40 * 86400) * 1000)
        dry = self.c.call("retention.apply", {"dry_run": True, "as_of_ms": future})
        self.assertEqual(dry["files"], 1)
        self.assertEqual(self.u["sato"].get(f"/api/v1/rooms/{self.room}/files/{f['id']}").status, 200)
        done = self.c.call("retention.apply", {"as_of_ms": future})
        self.assertEqual(done["files"], 1)
        self.assertEqual(self.u["sato"].get(f"/api/v1/rooms/{self.room}/files/{f['id']}").status, 404)
        msgs = self.u["sato"].history(self.room)
        self.assertTrue(msgs[-1]["files"][0]["expired"])
        self.assertEqual(msgs[-1]["text"], "see attached")


class Webhooks(unittest.TestCase):
    def setUp(self):
        self.c = ChatEnv(self)
        self.u = self.c.users("tanaka")
        self.room = self.c.room("alerts", "public", "tanaka")["id"]
        self.hook = self.c.call("webhook.add", {"room": self.room, "name": "監視"})
        host, port = self.c.daemon.http_address()
        self.url = f"http://{host}:{port}{self.hook['path']}"

    def curl(self, *args):
        r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30)
        body, _, code = r.stdout.rpartition("\n")
        return int(code), body

    def test_json_and_form_payloads_post_into_the_room(self):
        code, body = self.curl("-H", "Content-Type: application/json", "-d",
                               json.dumps({"text": "ディスク残量 5% <@tanaka>", "username": "zabbix", "icon_emoji": ":warning:",
                                           "attachments": [{"title": "srv01", "text": "/var 95%", "color": "danger",
                                                            "fields": [{"title": "host", "value": "srv01", "short": True}]}]}),
                               self.url)
        self.assertEqual(code, 200, body)
        self.assertTrue(json.loads(body)["success"])
        payload = urllib.parse.quote(json.dumps({"text": "backup done", "username": "cron"}))
        code, body = self.curl("--data", "payload=" + payload, self.url)
        self.assertEqual((code, body), (200, "ok"))
        msgs = self.u["tanaka"].history(self.room)
        self.assertEqual([m["text"] for m in msgs], ["ディスク残量 5% @tanaka", "backup done"])
        self.assertEqual(msgs[0]["alias"], "zabbix")
        self.assertEqual(msgs[0]["emoji"], ":warning:")
        self.assertEqual(msgs[0]["attachments"][0]["fields"][0]["value"], "srv01")
        self.assertEqual(msgs[0]["mentions"], ["tanaka"])

    def test_wrong_token_and_bad_bodies_post_nothing(self):
        bad = self.url[:-3] + ("aaa" if not self.url.endswith("aaa") else "bbb")
        code, body = self.curl("-H", "Content-Type: application/json", "-d", '{"text":"x"}', bad)
        self.assertEqual(code, 403, body)
        code, _ = self.curl("-H", "Content-Type: application/json", "-d", '{"text":"x"}',
                            self.url.replace(self.hook["id"], "nohook"))
        self.assertEqual(code, 404)
        for data, ctype in [("{not json", "application/json"), ('{"text": 5}', "application/json"),
                            ("[1,2]", "application/json"), ('{"username":"x"}', "application/json"),
                            ("nothing=here", "application/x-www-form-urlencoded"),
                            ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
                            ('{"text":"x","attachments":"no"}', "application/json")]:
            code, body = self.curl("-H", f"Content-Type: {ctype}", "--data-binary", data, self.url)
            self.assertEqual(code, 400, (data, body))
        self.assertEqual(self.u["tanaka"].history(self.room), [])
        listed = self.c.call("webhook.list")["hooks"]
        self.assertEqual(listed[0]["id"], self.hook["id"])
        self.assertIsNone(listed[0]["token"])
        self.c.call("webhook.remove", {"id": self.hook["id"]})
        code, _ = self.curl("-H", "Content-Type: application/json", "-d", '{"text":"x"}', self.url)
        self.assertEqual(code, 404)
        self.assertTrue(self.c.alive())


class Search(unittest.TestCase):
    def test_japanese_search_only_in_readable_rooms(self):
        c = ChatEnv(self)
        u = c.users("tanaka", "sato", "outsider")
        secret = c.room("人事", "private", "tanaka", ["sato"])["id"]
        open_room = c.room("全体", "public", "tanaka", ["sato", "outsider"])["id"]
        u["tanaka"].send(secret, "来週の人事異動について相談します")
        u["sato"].send(open_room, "東京都の会議室は予約済みです")
        u["tanaka"].send(open_room, "Meeting Room B is BOOKED")
        first = u["sato"].send(open_room, "会議の資料を共有します").json
        q = urllib.parse.quote
        r = u["sato"].get("/api/v1/search?q=" + q("会議"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["total"], 2)
        self.assertEqual(r.json["hits"][0]["message"]["seq"], first["seq"])  # newest first
        self.assertEqual(r.json["hits"][0]["room"]["name"], "全体")
        # Substring semantics: "京東" is not in "東京都".
        self.assertEqual(u["sato"].get("/api/v1/search?q=" + q("京東")).json["total"], 0)
        self.assertEqual(u["sato"].get("/api/v1/search?q=booked").json["total"], 1)  # ASCII case-insensitive
        self.assertEqual(u["sato"].get("/api/v1/search?q=" + q("人事異動")).json["total"], 1)
        # The outsider never sees the private room's text, and may not name the room.
        self.assertEqual(u["outsider"].get("/api/v1/search?q=" + q("人事異動")).json["total"], 0)
        self.assertEqual(u["outsider"].get(f"/api/v1/search?q=x&room={secret}").status, 404)
        # Filters: author and room.
        self.assertEqual(u["sato"].get("/api/v1/search?q=" + q("会議") + "&user=tanaka").json["total"], 0)
        self.assertEqual(u["sato"].get("/api/v1/search?q=" + q("会議") + f"&room={secret}").json["total"], 0)
        # Edits and deletes keep the index exact.
        u["sato"].call("PATCH", f"/api/v1/rooms/{open_room}/messages/{first['seq']}", {"text": "資料を共有します"})
        self.assertEqual(u["sato"].get("/api/v1/search?q=" + q("会議")).json["total"], 1)
        self.assertEqual(u["sato"].get("/api/v1/search?q=").status, 400)


class Helpdesk(unittest.TestCase):
    def test_request_goes_from_open_to_resolved(self):
        c = ChatEnv(self)
        u = c.users("staff", "agent1", "agent2", "other")
        c.call("helpdesk.add", {"id": "it", "name": "情報システム課", "agents": ["agent1", "agent2"]})
        desks = u["staff"].get("/api/v1/helpdesk").json["desks"]
        self.assertEqual(desks, [{"id": "it", "name": "情報システム課", "agent": False}])
        r = u["staff"].post("/api/v1/helpdesk/it/requests", {"subject": "プリンタが印刷しない", "text": "3階のプリンタです"})
        self.assertEqual(r.status, 201, r)
        req = r.json
        self.assertEqual(req["status"], "open")
        # The requester sees the conversation; the notes room is for agents only.
        self.assertEqual(u["staff"].get(f"/api/v1/rooms/{req['room']}/messages").status, 200)
        self.assertEqual(u["staff"].get(f"/api/v1/rooms/{req['notes_room']}/messages").status, 404)
        self.assertEqual(u["other"].get(f"/api/v1/rooms/{req['room']}/messages").status, 404)
        queue = u["agent1"].get("/api/v1/helpdesk/it/requests?status=open").json["requests"]
        self.assertEqual([q["id"] for q in queue], [req["id"]])
        self.assertEqual(u["other"].get("/api/v1/helpdesk/it/requests").json["requests"], [])
        self.assertEqual(u["staff"].post(f"/api/v1/helpdesk/it/requests/{req['id']}/claim").status, 403)
        self.assertEqual(u["agent1"].post(f"/api/v1/helpdesk/it/requests/{req['id']}/claim").json["agent"], "agent1")
        self.assertEqual(u["agent2"].post(f"/api/v1/helpdesk/it/requests/{req['id']}/claim").status, 409)
        self.assertEqual(u["agent1"].send(req["notes_room"], "ドライバの再インストールで直るはず").status, 201)
        self.assertEqual(u["agent1"].send(req["room"], "ドライバを入れ直しました。お試しください").status, 201)
        h = u["agent1"].post(f"/api/v1/helpdesk/it/requests/{req['id']}/handover", {"to": "agent2"})
        self.assertEqual(h.json["agent"], "agent2")
        done = u["staff"].post(f"/api/v1/helpdesk/it/requests/{req['id']}/resolve")
        self.assertEqual(done.status, 200, done)
        self.assertEqual(done.json["status"], "resolved")
        self.assertGreater(done.json["first_response_at"], 0)
        self.assertGreaterEqual(done.json["resolved_at"], done.json["first_response_at"])
        # Agents find the answer again later.
        found = u["agent2"].get("/api/v1/helpdesk/it/search?q=" + urllib.parse.quote("ドライバ")).json["requests"]
        self.assertEqual([f["id"] for f in found], [req["id"]])
        self.assertEqual(u["staff"].get("/api/v1/helpdesk/it/search?q=x").status, 403)
        stats = c.call("helpdesk.stats", {"desk": "it"})
        self.assertEqual((stats["open"], stats["claimed"], stats["resolved"]), (0, 0, 1))
        self.assertEqual(stats["first_response"]["count"], 1)
        self.assertEqual(stats["resolution"]["count"], 1)
        self.assertEqual(u["staff"].post(f"/api/v1/helpdesk/it/requests/{req['id']}/reopen").json["status"], "claimed")


if __name__ == "__main__":
    unittest.main()
