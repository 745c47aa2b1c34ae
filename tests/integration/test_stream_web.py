"""The live player page (web/live/) in real headless Chromium: collab-chatd serves the page and
names collab-stream in /api/v1/config, collab-stream (CORS for the chatd origin only, viewer
tokens required: the default) packages an ffmpeg RTMP test pattern, the viewer logs in through
the chat app and the page plays the signed URL from GET /api/v1/streams/NAME/watch, and
tests/e2e/live_player.mjs asserts what a viewer sees. One test per scenario; each starts its own
daemons on a temp dir and loopback ports."""
import json
import os
import re
import select
import shutil
import socket
import subprocess
import unittest

from harness import SOURCE_DIR, Control, Env, run, start_publisher, wait_for

E2E = os.path.join(SOURCE_DIR, "tests", "e2e")
FFMPEG = shutil.which("ffmpeg")
HLS_JS = os.path.join(SOURCE_DIR, "web", "vendor", "hls.min.js")


class Catalogs(unittest.TestCase):
    def test_live_strings_exist_in_both_languages(self):
        keys = {}
        for lang in ("en", "ja"):
            with open(os.path.join(SOURCE_DIR, "web", "i18n", f"{lang}.json"), encoding="utf-8") as f:
                keys[lang] = {k for k in json.load(f) if k.startswith("live.")}
        self.assertEqual(keys["en"], keys["ja"])
        used = set()
        for name in os.listdir(os.path.join(SOURCE_DIR, "web", "js", "live")):
            with open(os.path.join(SOURCE_DIR, "web", "js", "live", name), encoding="utf-8") as f:
                used |= set(re.findall(r"'(live\.[a-z_]+)'", f.read()))
        with open(os.path.join(SOURCE_DIR, "web", "live", "index.html"), encoding="utf-8") as f:
            used |= set(re.findall(r'data-i18n[a-z-]*="(live\.[a-z_]+)"', f.read()))
        self.assertEqual(used - keys["en"], set(), "strings used by the live page but missing from the catalogs")


@unittest.skipUnless(shutil.which("node") and os.path.exists("/usr/bin/chromium")
                     and os.path.isdir(os.path.join(SOURCE_DIR, "node_modules", "playwright-core")),
                     "chromium, node or playwright-core missing (make deps installs them)")
@unittest.skipUnless(FFMPEG, "ffmpeg missing (make deps installs it)")
class LivePlayer(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(HLS_JS):
            self.fail(f"{HLS_JS} missing: run scripts/vendor.sh (make deps does)")
        # A short slate, so the offline test sees the page go from paused to offline quickly.
        self.env = Env(self, extra=["stream.publish_keys=*:livekey", "stream.slate_max_s=8", "stream.record=rec1"])
        # collab-stream must allow exactly the chatd origin, and chatd must name collab-stream's
        # port, so chatd's port is chosen first: held by a socket until chatd binds it.
        hold = socket.socket()
        hold.bind(("127.0.0.1", 0))
        chatd_port = hold.getsockname()[1]
        self.origin = f"http://127.0.0.1:{chatd_port}"
        self.stream = self.env.start(self, "stream", "-o", f"stream.cors_origins={self.origin}")
        self.rtmp_port = int(self.stream.status["rtmp"]["address"].rsplit(":", 1)[1])
        host, port = self.stream.http_address()
        self.stream_url = f"http://{host}:{port}"
        hold.close()
        self.chatd = self.env.start(self, "chatd", "-o", f"chatd.listen=127.0.0.1:{chatd_port}",
                                    "-o", f"chatd.public_stream_url={self.stream_url}")
        code, _, body = self.chatd.http("GET", "/api/v1/config")
        self.assertEqual(code, 200, body)
        self.assertEqual(json.loads(body)["stream_url"], self.stream_url)
        # A staff account with a password: the browser logs in through the chat app's form.
        self.password = "live-viewer-pw-1"
        ctl = Control(self.env.socket_path("chatd"))
        try:
            r = ctl.call("user.add", {"id": "viewer", "name": "Viewer", "password": self.password})
            self.assertTrue(r["ok"], r)
        finally:
            ctl.close()

    def publish(self, name, seconds=90):
        url = f"rtmp://127.0.0.1:{self.rtmp_port}/live/{name}?key=livekey"
        return start_publisher(self, url, seconds=seconds, tone="sine=frequency=440",
                               extra_args=["-pix_fmt", "yuv420p", "-b:a", "64k"])

    def e2e_config(self, scenario, stream, **extra):
        return {"url": self.origin + "/", "scenario": scenario, "stream": stream, "user": "viewer",
                "password": self.password, **extra}

    def browser(self, scenario, stream, **extra):
        env = dict(os.environ, COLLAB_E2E=json.dumps(self.e2e_config(scenario, stream, **extra)))
        r = run(["node", os.path.join(E2E, "live_player.mjs")], env=env, timeout=150, cwd=SOURCE_DIR)
        self.assertEqual(r.returncode, 0, f"live_player.mjs {scenario} failed:\n{r.stderr}\n{r.stdout}\n"
                                          f"stream log:\n{self.stream.read_log()[-3000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def assert_clean(self, result):
        self.assertEqual(result["errors"], [], result)
        self.assertIsNone(self.stream.proc.poll(), "collab-stream exited")
        self.assertIsNone(self.chatd.proc.poll(), "collab-chatd exited")

    def test_live_stream_plays_with_badge_viewers_and_latency(self):
        pub = self.publish("cam1")
        r = self.browser("play", "cam1")
        self.assert_clean(r)
        self.assertTrue(r["mse"], "Chromium must play H.264/AAC through MSE")
        self.assertEqual(r["engine"], "hls.js")
        self.assertEqual(r["state"], "live")
        self.assertGreater(r["played"]["to"] - r["played"]["from"], 2.0, r["played"])
        self.assertTrue(r["badge"])
        self.assertEqual(r["badgeText"], "LIVE")
        self.assertFalse(r["overlay"])
        self.assertEqual(r["viewersAlone"], 1)
        self.assertEqual(r["viewers"], 2)
        self.assertEqual(r["viewersText"], "2 watching")
        for s in r["latency"]:
            self.assertEqual(s["ms"], round(s["value"]), s)
            self.assertRegex(s["text"], r"^Latency \d+\.\d s$")
            # Program date-time is the server's wall clock at ingest; both run on this machine.
            self.assertGreater(s["ms"], 0, s)
            self.assertLess(s["ms"], 10000, s)
        self.assertIsNone(pub.poll(), "the publisher must still be running")
        # Both viewers play the same signed URL, so edge caches share one copy per part.
        self.assertRegex(r["watchUrl"], r"^" + re.escape(self.stream_url) + r"/live/cam1/index\.m3u8\?vt=v1\.[\w.-]+$")
        self.assertEqual(r["watchUrl"], r["watchUrl2"])
        print(f"\nlive player: playing {r['liveAfterMs']} ms after load, latency from program date-time "
              f"{', '.join(str(s['ms']) for s in r['latency'])} ms; {r['viewers']} viewer(s); "
              f"hls.js warnings: {r['warnings']}")

    def test_stream_not_live_shows_offline_then_plays_when_published(self):
        proc = subprocess.Popen(["node", os.path.join(E2E, "live_player.mjs")], cwd=SOURCE_DIR,
                                env=dict(os.environ, COLLAB_E2E=json.dumps(
                                    self.e2e_config("offline", "cam2", publishAfter=True))),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            for f in (proc.stdin, proc.stdout, proc.stderr):
                f.close()
        self.addCleanup(stop)

        def step(expect):
            """Waits (bounded) for the script's next progress line."""
            ready, _, _ = select.select([proc.stdout], [], [], 90)
            self.assertTrue(ready, f"live_player.mjs did not report {expect} within 90 s")
            line = proc.stdout.readline()
            if not line:
                proc.wait(timeout=30)
                self.fail(f"live_player.mjs ended before {expect}:\n{proc.stderr.read()}")
            self.assertEqual(json.loads(line), expect)

        def tell(word):
            proc.stdin.write(word + "\n")
            proc.stdin.flush()

        # The script says when the page shows the offline state; then the stream starts...
        step({"offline": True})
        pub = self.publish("cam2")
        tell("published")
        # ...and when it plays; then the publisher leaves.
        step({"live": True})
        pub.kill()
        pub.wait(timeout=30)
        tell("stopped")
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, f"live_player.mjs offline failed:\n{err}\n{out}")
        r = json.loads(out.strip().splitlines()[-1])
        off = r["offline"]
        self.assertEqual(off["errors"], [], off)
        self.assertEqual(off["state"], "offline")
        self.assertGreaterEqual(off["checks"], 3)
        self.assertEqual(off["status"], "Offline — waiting for the publisher")
        self.assertEqual(off["statusJa"], "オフライン — 配信の開始を待っています")
        self.assertRegex(off["retry"], r"^(Checking again in \d+ s)?$")
        self.assertFalse(off["badge"])
        self.assertTrue(off["overlay"])
        self.assertIsNone(off["latencyMs"])
        playing = r["playing"]
        self.assertEqual(playing["state"], "live")
        self.assertTrue(playing["badge"])
        self.assertGreater(playing["played"]["to"] - playing["played"]["from"], 2.0, playing["played"])
        ended = r["ended"]
        self.assertEqual(ended["paused"]["status"], "Paused — the picture resumes when the publisher is back")
        self.assertFalse(ended["paused"]["badge"])
        self.assertEqual(ended["status"], "Offline — waiting for the publisher")
        self.assertFalse(ended["badge"])
        self.assertIsNone(ended["latencyMs"])
        self.assert_clean(r)
        print(f"\nlive player: the waiting page played {playing['liveAfterMs']} ms after the publisher started "
              f"showed paused (slate) {ended['paused']['pausedAfterMs']} ms and offline {ended['offlineAfterMs']} ms "
              f"after it stopped; warnings: {r['warnings']}")

    def test_login_link_then_plays_after_logging_in(self):
        self.publish("cam5")
        r = self.browser("login", "cam5")
        self.assert_clean(r)
        shown = r["shown"]
        self.assertEqual(shown["status"], "Log in to watch this stream.")
        self.assertEqual(shown["statusJa"], "この配信を視聴するにはログインしてください。")
        self.assertEqual((shown["link"], shown["linkJa"]), ("Log in to collab chat", "collab チャットにログイン"))
        self.assertEqual(shown["href"], "/chat/")
        self.assertTrue(shown["linkVisible"])
        self.assertFalse(shown["badge"])
        self.assertEqual(r["state"], "live")
        self.assertIn("?vt=", r["watchUrl"])
        self.assertGreater(r["played"]["to"] - r["played"]["from"], 1.5, r["played"])
        print(f"\nlive player: playing {r['liveAfterLoginMs']} ms after logging in")

    def test_expiring_url_is_renewed_without_a_page_reload(self):
        self.publish("cam6")
        r = self.browser("renew", "cam6")
        self.assert_clean(r)
        self.assertTrue(r["first"].endswith("&first=1"), r["first"])
        self.assertEqual(r["switches"], 1, r)
        self.assertGreaterEqual(r["renewals"], 1)
        self.assertIn("?vt=", r["watchUrl"])
        self.assertFalse(r["watchUrl"].endswith("&first=1"))
        self.assertEqual(r["state"], "live")
        self.assertTrue(r["badge"])
        self.assertGreater(r["played"]["to"] - r["played"]["from"], 2.0, r["played"])

    def test_native_hls_fallback_without_mse(self):
        self.publish("cam4")
        r = self.browser("native", "cam4")
        self.assert_clean(r)
        if not r["canNative"]:
            self.skipTest("this Chromium has no native HLS playback")
        self.assertFalse(r["mse"])
        self.assertEqual(r["engine"], "native")
        self.assertEqual(r["state"], "live")
        self.assertTrue(r["badge"])
        self.assertGreater(r["played"]["to"] - r["played"]["from"], 2.0, r["played"])

    def test_list_links_live_streams_to_their_player(self):
        self.publish("cam3")
        r = self.browser("list", "cam3")
        self.assert_clean(r)
        self.assertEqual(r["names"], ["cam3"])
        self.assertEqual(r["href"], "/live/?s=cam3")
        self.assertTrue(r["url"].endswith("/live/?s=cam3"), r["url"])
        self.assertEqual(r["state"], "live")

    def test_recording_is_listed_and_plays_on_demand(self):
        self.publish("rec1", seconds=5).wait(timeout=60)

        def done():
            code, _, body = self.stream.http("GET", "/api/v1/recordings")
            recs = [r for r in json.loads(body)["recordings"] if r["stream"] == "rec1" and r["mp4"]]
            return recs[0] if recs else None
        rec = wait_for(done, timeout=60, interval=0.2, what="the finished recording")
        r = self.browser("recording", "rec1", recording=rec["id"])
        self.assert_clean(r)
        self.assertEqual(r["state"], "recording")
        self.assertGreater(r["played"]["to"] - r["played"]["from"], 1.5, r["played"])
        self.assertAlmostEqual(r["duration"], rec["duration_s"], delta=1)
        # Only the recording's page offers the MP4, with the viewer token, and it downloads.
        self.assertFalse(r["listDownload"])
        self.assertTrue(r["pageDownload"].startswith(f"{self.stream_url}{rec['mp4']}?download=1&vt="), r["pageDownload"])
        self.assertEqual(r["downloadStatus"], 200)
        self.assertTrue(r["recBadge"])
        self.assertFalse(r["badge"])
        self.assertEqual(r["title"], "Recording of rec1")

    def test_back_to_live_after_seeking_back(self):
        self.publish("cam6")
        r = self.browser("dvr", "cam6")
        self.assert_clean(r)
        self.assertFalse(r["atEdge"])
        self.assertGreater(r["behind"], 5, r)
        self.assertRegex(r["behindText"], r"Back to live\s+\d+ s behind live")
        self.assertGreater(r["stillBehind"], 4, r)
        self.assertLess(r["after"], 3, r)
        self.assertEqual(r["state"], "live")


if __name__ == "__main__":
    unittest.main()
