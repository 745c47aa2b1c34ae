"""collab-admin stream list|kick against a real collab-stream with a real ffmpeg publisher."""
import json
import shutil
import unittest

from harness import Env, start_publisher, wait_for

FFMPEG = shutil.which("ffmpeg")
KEYS = "cam1:k1,*:anykey"


class AdminStreamTest(unittest.TestCase):
    def setUp(self):
        if not FFMPEG:
            self.skipTest("ffmpeg not installed")
        self.env = Env(self, extra=[f"stream.publish_keys={KEYS}"])

    def start(self):
        self.d = self.env.start(self, "stream")
        self.rtmp_port = int(self.d.status["rtmp"]["address"].rsplit(":", 1)[1])

    def publish(self, name, key, seconds=60):
        url = f"rtmp://127.0.0.1:{self.rtmp_port}/live/{name}?key={key}"
        return start_publisher(self, url, size="320x240", seconds=seconds)

    def list_json(self):
        r = self.env.admin("--json", "stream", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        return {s["name"]: s for s in (json.loads(l) for l in r.stdout.splitlines() if l.strip())}

    def wait_live(self, name):
        def live():
            s = self.list_json().get(name)
            return s if s and s["live"] and s["parts"] > 0 else None
        return wait_for(live, timeout=40, interval=0.1, what=f"{name} live with parts")


class List(AdminStreamTest):
    def test_list_shows_a_live_stream_as_table_and_json_lines(self):
        self.start()
        self.publish("cam1", "k1")
        self.publish("hall", "anykey")
        s = self.wait_live("cam1")
        self.assertEqual(s["publisher"], "127.0.0.1")
        self.assertGreater(s["bytes_in"], 0)
        self.assertEqual(s["playlist"], "/live/cam1/index.m3u8")
        self.wait_live("hall")
        # The table: a header and one tab-separated row per stream (stdout is not a terminal).
        r = self.env.admin("stream", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        header = lines[0].split("\t")
        self.assertEqual(header[:4], ["NAME", "STATE", "PUBLISHER", "SINCE"])
        rows = {l.split("\t")[0]: l.split("\t") for l in lines[1:]}
        self.assertEqual(set(rows), {"cam1", "hall"})
        self.assertEqual(rows["cam1"][1], "live")
        self.assertEqual(rows["cam1"][2], "127.0.0.1")
        self.assertEqual(rows["cam1"][header.index("PLAYLIST")], "/live/cam1/index.m3u8")

    def test_list_without_streams_is_empty_and_succeeds(self):
        self.start()
        r = self.env.admin("--json", "stream", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_daemon_not_running_gives_69(self):
        for args in (["stream", "list"], ["--json", "stream", "list"], ["stream", "kick", "cam1"]):
            r = self.env.admin(*args)
            self.assertEqual(r.returncode, 69, (args, r.stdout, r.stderr))
            self.assertIn("not running", r.stderr)
            self.assertEqual(r.stdout, "")


class Kick(AdminStreamTest):
    def test_kick_ends_the_publish_and_the_stream_shows_no_publisher(self):
        self.start()
        pub = self.publish("cam1", "k1")
        self.wait_live("cam1")
        r = self.env.admin("stream", "kick", "cam1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kicked the publisher of stream cam1", r.stdout)
        # ffmpeg loses its connection and gives up.
        wait_for(lambda: pub.poll() is not None, timeout=30, what="ffmpeg to end after the kick")
        s = self.list_json().get("cam1")
        if s is not None:  # the playlist stays for idle_keep_s, without a publisher
            self.assertFalse(s["live"])
            self.assertIsNone(s["publisher"])
        # Kicking again is not an error: there is nobody to kick.
        r = self.env.admin("--json", "stream", "kick", "cam1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"name": "cam1", "kicked": False})
        r = self.env.admin("stream", "kick", "cam1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no publisher", r.stdout)

    def test_kick_json_reports_the_kick(self):
        self.start()
        self.publish("cam1", "k1")
        self.wait_live("cam1")
        r = self.env.admin("--json", "stream", "kick", "cam1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"name": "cam1", "kicked": True})

    def test_unknown_stream_gives_67(self):
        self.start()
        r = self.env.admin("stream", "kick", "nosuch")
        self.assertEqual(r.returncode, 67, r.stderr)
        self.assertIn("nosuch", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_kick_needs_a_name(self):
        r = self.env.admin("stream", "kick")
        self.assertEqual(r.returncode, 64, r.stderr)


if __name__ == "__main__":
    unittest.main()
