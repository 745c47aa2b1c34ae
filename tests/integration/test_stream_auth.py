"""Viewer tokens for live streams (issue 7): collab-stream in its default token mode refuses
/live/ requests without a valid `vt` (401), with another stream's token (403) or an expired one
(401), serves a playlist whose every URI carries the token (and those URIs fetch), holds
blocking reloads made with the token; open mode and stream.open_streams need none. collab-chatd's
GET /api/v1/streams/NAME/watch needs a login and gives every viewer the same signed URL."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import time
import unittest
import urllib.parse

import llhls_check
from chat_client import Api
from harness import Control, Env, binary, run, start_publisher, wait_for

FFMPEG = shutil.which("ffmpeg")
BUCKET_S = 6 * 3600
URI_ATTR = re.compile(r'[:,]URI="([^"]*)"')


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(key_file, scope, exp, sub="viewers"):
    """A v1 token signed with the test's key file, as lib/auth/token.hpp describes the format."""
    with open(key_file, encoding="ascii") as f:
        key = bytes.fromhex(f.read().strip())
    claims = {"sub": sub, "name": sub, "scope": scope, "exp": exp, "iat": exp - 600, "jti": "test"}
    signed = "v1." + b64url(json.dumps(claims, separators=(",", ":")).encode())
    return signed + "." + b64url(hmac.new(key, signed.encode(), hashlib.sha256).digest())


def playlist_uris(text):
    """Every URI a playlist lists: URI lines and URI="..." attributes."""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            out.append(line)
        elif line.startswith("#EXT"):
            out += URI_ATTR.findall(line)
    return out


class StreamAuthBase(unittest.TestCase):
    def setUp(self):
        if not FFMPEG:
            self.skipTest("ffmpeg not installed")

    def start_stream(self, env):
        self.env = env
        self.d = env.start(self, "stream")
        self.rtmp_port = int(self.d.status["rtmp"]["address"].rsplit(":", 1)[1])
        self.host, self.port = self.d.http_address()
        self.key_file = f"{env.dir}/token.key"

    def publish(self, name, seconds=60):
        url = f"rtmp://127.0.0.1:{self.rtmp_port}/live/{name}?key=k1"
        return start_publisher(self, url, size="320x180", seconds=seconds)

    def get(self, path, timeout=15):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def wait_live(self, name, query=""):
        """The playlist once it lists a complete segment (fetched with `query`)."""
        def ready():
            code, _, body = self.get(f"/live/{name}/index.m3u8{query}")
            if code != 200:
                return None
            pl = llhls_check.parse(body.decode())
            return body.decode() if pl.complete_segments else None
        return wait_for(ready, timeout=40, interval=0.1, what=f"a segment of {name}")

    def assert_refused(self, path, status, reason):
        code, headers, body = self.get(path)
        self.assertEqual(code, status, body)
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], "unauthorized" if status == 401 else "forbidden")
        self.assertIn(reason, err["message"])
        # Never stored by an edge cache.
        self.assertEqual(headers.get("cache-control"), "no-store")
        if status == 401:
            self.assertIn("www-authenticate", headers)

    def rejected(self):
        _, _, body = self.get("/metrics")
        return {m.group(1): int(m.group(2)) for m in
                re.finditer(r'^collab_stream_viewer_rejected_total\{reason="([a-z_]+)"\} (\d+)$', body.decode(), re.M)}


class TokenMode(StreamAuthBase):
    def setUp(self):
        super().setUp()
        self.start_stream(Env(self, extra=["stream.publish_keys=*:k1", "stream.open_streams=lobby"]))

    def test_refusals_without_wrong_stream_and_expired_tokens(self):
        self.publish("cam1")
        now = int(time.time())
        good = mint(self.key_file, ["view:cam1"], now + 600)
        text = self.wait_live("cam1", f"?vt={good}")
        seg = llhls_check.parse(text).complete_segments[0]
        seg_path = f"/live/cam1/{seg.uri.split('?')[0]}"
        for path in ("/live/cam1/index.m3u8", seg_path, "/live/nosuch/index.m3u8"):
            self.assert_refused(path, 401, "viewer token")
        other = mint(self.key_file, ["view:cam2"], now + 600)
        self.assert_refused(f"/live/cam1/index.m3u8?vt={other}", 403, "not for this stream")
        self.assert_refused(f"{seg_path}?vt={other}", 403, "not for this stream")
        expired = mint(self.key_file, ["view:cam1"], now - 120)
        self.assert_refused(f"/live/cam1/index.m3u8?vt={expired}", 401, "expired")
        self.assert_refused(f"{seg_path}?vt={expired}", 401, "expired")
        # Signed with another key, or not a token at all.
        forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        self.assert_refused(f"/live/cam1/index.m3u8?vt={forged}", 401, "invalid")
        self.assert_refused("/live/cam1/index.m3u8?vt=not-a-token", 401, "invalid")
        # Control characters never reach the checks (the server drops such a query value).
        self.assert_refused("/live/cam1/index.m3u8?vt=%0A%22x", 401, "viewer token")
        # A user token with stream:NAME (collab-admin token, POST /api/v1/token) is accepted too.
        user = mint(self.key_file, ["stream:cam1"], now + 600, sub="alice")
        self.assertEqual(self.get(f"/live/cam1/index.m3u8?vt={user}")[0], 200)
        self.assertEqual(self.rejected(), {"missing": 4, "invalid": 2, "expired": 2, "wrong_stream": 2})
        # The stream listing stays public (names are not secret on the intranet).
        code, _, body = self.get("/api/v1/streams")
        self.assertEqual(code, 200)
        self.assertIn("cam1", [s["name"] for s in json.loads(body)["streams"]])

    def test_playlist_uris_carry_the_token_and_fetch(self):
        self.publish("cam1")
        now = int(time.time())
        exp = now + 900
        vt = mint(self.key_file, ["view:cam1"], exp)
        text = self.wait_live("cam1", f"?vt={vt}")
        pl = llhls_check.check(text)
        uris = playlist_uris(text)
        self.assertGreater(len(uris), 3, text)
        for uri in uris:
            self.assertTrue(uri.endswith(f"?vt={vt}"), uri)
            self.assertNotIn("_HLS", uri)
        self.assertTrue(pl.preload_hint["URI"].endswith(f"?vt={vt}"))
        seg = pl.complete_segments[-1]
        for uri in {seg.map_uri, seg.uri, *(p.uri for p in seg.parts)}:
            code, headers, body = self.get(f"/live/cam1/{uri}")
            self.assertEqual(code, 200, uri)
            self.assertTrue(body)
            # An edge may keep it only as long as the token in its URL is valid.
            max_age = int(re.search(r"max-age=(\d+)", headers["cache-control"]).group(1))
            self.assertLessEqual(max_age, exp - now)
            self.assertGreater(max_age, 800)
            # The same URI without the token is refused.
            self.assertEqual(self.get(f"/live/cam1/{uri.split('?')[0]}")[0], 401)

    def test_blocking_reload_and_preload_hint_with_token(self):
        self.publish("cam1")
        vt = mint(self.key_file, ["view:cam1"], int(time.time()) + 600)
        pl = llhls_check.check(self.wait_live("cam1", f"?vt={vt}"))
        hint = pl.preload_hint["URI"]
        m = re.match(r"part(\d+)\.(\d+)\.m4s\?vt=", hint)
        self.assertIsNotNone(m, hint)
        msn, part = m.group(1), m.group(2)
        # As hls.js asks: the player's URL with the blocking parameters appended.
        t0 = time.monotonic()
        code, headers, body = self.get(f"/live/cam1/index.m3u8?vt={vt}&_HLS_msn={msn}&_HLS_part={part}")
        waited = time.monotonic() - t0
        self.assertEqual(code, 200, body)
        self.assertLess(waited, 3.0)
        text = body.decode()
        after = llhls_check.check(text)
        self.assertGreaterEqual(after.last_part(), (int(msn), int(part)))
        self.assertTrue(all(u.endswith(f"?vt={vt}") for u in playlist_uris(text)), text)
        self.assertIn("max-age", headers["cache-control"])
        # The hinted part with the token (unless the segment ended before it: then it never comes).
        if any(p.uri == hint for s in after.segments for p in s.parts):
            code, _, data = self.get(f"/live/cam1/{hint}")
            self.assertEqual(code, 200)
            self.assertTrue(data)
        # Blocking reload without a token is refused at once, not held.
        t0 = time.monotonic()
        code, _, _ = self.get(f"/live/cam1/index.m3u8?_HLS_msn={int(msn) + 1}&_HLS_part=0")
        self.assertEqual(code, 401)
        self.assertLess(time.monotonic() - t0, 1.0)

    def test_open_streams_override_needs_no_token(self):
        self.publish("lobby")
        text = self.wait_live("lobby")
        self.assertNotIn("vt=", text)
        self.assertEqual(self.rejected().get("missing"), 0)

    def test_reload_applies_a_new_open_list(self):
        self.publish("cam1")
        self.wait_live("cam1", f"?vt={mint(self.key_file, ['view:cam1'], int(time.time()) + 600)}")
        self.assertEqual(self.get("/live/cam1/index.m3u8")[0], 401)
        with open(self.env.config) as f:
            text = f.read()
        self.assertIn('open_streams = ["lobby"]', text)
        with open(self.env.config, "w") as f:
            f.write(text.replace('open_streams = ["lobby"]', 'open_streams = ["lobby", "cam1"]'))
        r = self.env.admin("reload", "stream")
        self.assertEqual(r.returncode, 0, r.stderr)
        code, _, body = self.get("/live/cam1/index.m3u8")
        self.assertEqual(code, 200, body)
        self.assertNotIn(b"vt=", body)


class Recordings(StreamAuthBase):
    """Recordings are watched by the same people as the live stream, with the same token."""

    def test_recording_files_need_the_streams_token_and_the_playlist_carries_it(self):
        self.start_stream(Env(self, extra=["stream.publish_keys=*:k1", "stream.record=cam1"]))
        self.publish("cam1", seconds=5).wait(timeout=60)

        def finished():
            _, _, body = self.get("/api/v1/recordings")  # the listing is public, like the stream list
            recs = [r for r in json.loads(body)["recordings"] if r["stream"] == "cam1" and r["mp4"]]
            return recs[0] if recs else None
        rec = wait_for(finished, timeout=60, interval=0.2, what="the finished recording")
        now = int(time.time())
        good = mint(self.key_file, ["view:cam1"], now + 600)
        other = mint(self.key_file, ["view:cam2"], now + 600)
        for path in (rec["playlist"], rec["mp4"]):
            self.assert_refused(path, 401, "viewer token")
            self.assert_refused(f"{path}?vt={other}", 403, "not for this stream")
        code, headers, body = self.get(f"{rec['playlist']}?vt={good}")
        self.assertEqual(code, 200, body)
        uris = [line for line in body.decode().splitlines() if line and not line.startswith("#")]
        uris += re.findall(r'URI="([^"]+)"', body.decode())
        self.assertTrue(uris)
        base = rec["playlist"].rsplit("/", 1)[0]
        for uri in uris:
            self.assertIn(f"vt={good}", uri)
            code, _, _ = self.get(f"{base}/{uri}")
            self.assertEqual(code, 200, uri)
            self.assert_refused(f"{base}/{uri.split('?')[0]}", 401, "viewer token")
        code, _, data = self.get(f"{rec['mp4']}?vt={good}")
        self.assertEqual(code, 200)
        self.assertEqual(data[4:8], b"ftyp")


class OpenMode(StreamAuthBase):
    def test_open_mode_plays_without_token(self):
        self.start_stream(Env(self, extra=["stream.publish_keys=*:k1", "stream.viewers=open"]))
        self.publish("cam1")
        text = self.wait_live("cam1")
        pl = llhls_check.check(text)
        self.assertNotIn("vt=", text)
        seg = pl.complete_segments[-1]
        code, headers, _ = self.get(f"/live/cam1/{seg.uri}")
        self.assertEqual(code, 200)
        self.assertIn("max-age=3600", headers["cache-control"])
        # A token is ignored (not checked, not copied into the playlist).
        code, _, body = self.get("/live/cam1/index.m3u8?vt=whatever")
        self.assertEqual(code, 200)
        self.assertNotIn(b"vt=", body)


class KeyRequired(unittest.TestCase):
    def test_token_mode_refuses_to_start_without_a_safe_key(self):
        env = Env(self)
        missing = run([binary("collab-stream"), "-c", env.config, "-o", "auth.key_file=/nonexistent/token.key"],
                      timeout=60)
        self.assertEqual(missing.returncode, 78, missing.stderr)
        self.assertIn("/nonexistent/token.key", missing.stderr)
        key = os.path.join(env.dir, "token.key")
        os.chmod(key, 0o644)
        unsafe = run([binary("collab-stream"), "-c", env.config], timeout=60)
        self.assertEqual(unsafe.returncode, 77, unsafe.stderr)
        # Open mode needs no key at all.
        self.assertEqual(run([binary("collab-stream"), "-c", env.config, "-o", "stream.viewers=open",
                              "-o", "auth.key_file=/nonexistent/token.key", "-t"]).returncode, 0)


class WatchUrl(StreamAuthBase):
    """chatd signs the URL; collab-stream (same config and key) accepts it."""

    def setUp(self):
        super().setUp()
        env = Env(self, extra=["stream.publish_keys=*:k1", "stream.open_streams=lobby"])
        self.start_stream(env)
        self.chatd = env.start(self, "chatd", "-o", f"chatd.public_stream_url=http://{self.host}:{self.port}")
        ctl = Control(env.socket_path("chatd"))
        self.addCleanup(ctl.close)
        r = ctl.call("user.add_many", {"users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}]})
        self.assertTrue(r["ok"], r)
        chat_host, chat_port = self.chatd.http_address()
        self.anon = Api(chat_host, chat_port)
        self.users = {u: Api(chat_host, chat_port, ctl.call("user.session", {"id": u})["result"]["token"])
                      for u in ("alice", "bob")}

    def test_watch_needs_login_and_gives_everyone_the_same_url(self):
        anon = self.anon
        r = anon.get("/api/v1/streams/cam1/watch")
        self.assertEqual(r.status, 401, r)
        r = anon.get("/api/v1/streams/cam1/watch", headers={"Cookie": "collab_session=bogus"})
        self.assertEqual(r.status, 401, r)
        a = self.users["alice"].get("/api/v1/streams/cam1/watch")
        b = self.users["bob"].get("/api/v1/streams/cam1/watch")
        self.assertEqual((a.status, b.status), (200, 200), (a, b))
        self.assertEqual(a.headers.get("cache-control"), "no-store")
        self.assertEqual(a.json["url"], b.json["url"])
        self.assertFalse(a.json["open"])
        now = time.time()
        exp = a.json["exp"]
        # Valid for one to two 6-hour buckets, ending on a bucket boundary.
        self.assertEqual(exp % BUCKET_S, 0)
        self.assertGreater(exp - now, BUCKET_S - 5)
        self.assertLessEqual(exp - now, 2 * BUCKET_S + 5)
        self.assertTrue(a.json["expires_at"].endswith("Z"), a.json)
        url = urllib.parse.urlsplit(a.json["url"])
        self.assertEqual(url.path, "/live/cam1/index.m3u8")
        self.assertEqual((url.hostname, url.port), (self.host, self.port))
        vt = urllib.parse.parse_qs(url.query)["vt"][0]
        # Another stream's URL differs and does not open this one.
        c = self.users["alice"].get("/api/v1/streams/cam2/watch")
        self.assertNotEqual(c.json["url"], a.json["url"])
        # It plays at collab-stream.
        self.publish("cam1")
        text = self.wait_live("cam1", f"?vt={vt}")
        self.assertTrue(all(u.endswith(f"?vt={vt}") for u in playlist_uris(text)))
        other_vt = urllib.parse.parse_qs(urllib.parse.urlsplit(c.json["url"]).query)["vt"][0]
        self.assertEqual(self.get(f"/live/cam1/index.m3u8?vt={other_vt}")[0], 403)

    def test_open_stream_url_needs_no_login_and_bad_names_are_refused(self):
        r = self.anon.get("/api/v1/streams/lobby/watch")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["open"])
        self.assertIsNone(r.json["exp"])
        self.assertTrue(r.json["url"].endswith("/live/lobby/index.m3u8"), r.json)
        r = self.users["alice"].get("/api/v1/streams/bad.name/watch")
        self.assertEqual(r.status, 400, r)


if __name__ == "__main__":
    unittest.main()
