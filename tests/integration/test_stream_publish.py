"""collab-stream publish NAME INPUT: a real ffmpeg child pushing generated files into a real
collab-stream; exit statuses for a clean end, a signal, a refusal, a kick and missing things."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import llhls_check
from harness import Control, Env, binary, run, wait_for

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
KEYS = "cam1:k1,*:anykey"
CLIP_SECONDS = 4


def make_clip(path, seconds, video, audio):
    """A small test file: testsrc + sine, a keyframe every second."""
    r = run([FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds}",
             "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
             *video, "-g", "25", *audio, "-shortest", path], timeout=120)
    if r.returncode != 0:
        raise AssertionError(r.stderr)


class PublishTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not FFMPEG or not FFPROBE:
            raise unittest.SkipTest("ffmpeg/ffprobe not installed")
        cls.media = tempfile.mkdtemp(prefix="collab-publish-media-")
        cls.clip = os.path.join(cls.media, "clip.mp4")  # H.264 + AAC: sent as it is
        make_clip(cls.clip, CLIP_SECONDS, ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
                  ["-c:a", "aac"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.media, True)

    def setUp(self):
        self.env = Env(self, extra=[f"stream.publish_keys={KEYS}", "stream.viewers=open"])

    def start(self):
        self.d = self.env.start(self, "stream")
        return self.d

    def publish(self, *args, env=None):
        """Starts `collab-stream publish ARGS...`; stderr is collected in a file."""
        err = tempfile.TemporaryFile(mode="w+")
        p = subprocess.Popen([binary("collab-stream"), "publish", "-c", self.env.config, *args],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)
        p.err = err

        def stop():
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
            err.close()
        self.addCleanup(stop)
        return p

    def finish(self, p, timeout=60):
        p.wait(timeout=timeout)
        p.err.seek(0)
        return p.returncode, p.err.read()

    def publish_sync(self, *args, timeout=60):
        return self.finish(self.publish(*args), timeout)

    def playlist(self, name):
        code, _, body = self.d.http("GET", f"/live/{name}/index.m3u8")
        return llhls_check.parse(body.decode(errors="replace")) if code == 200 else None

    def wait_segments(self, name, n, timeout=40):
        def ready():
            pl = self.playlist(name)
            return pl if pl and len(pl.complete_segments) >= n else None
        return wait_for(ready, timeout=timeout, interval=0.1, what=f"{n} segments of {name}")

    def stream_info(self, name):
        c = Control(self.env.socket_path("stream"))
        try:
            reply = c.call("stream.list")
        finally:
            c.close()
        self.assertTrue(reply["ok"], reply)
        return next((s for s in reply["result"]["streams"] if s["name"] == name), None)


class Publish(PublishTest):
    def test_file_is_published_to_its_end_and_exits_0(self):
        self.start()
        t0 = time.monotonic()
        p = self.publish("cam1", self.clip)
        pl = self.wait_segments("cam1", 1)
        llhls_check.check(llhls_check_text(self.d, "cam1"))
        self.assertGreater(pl.part_target, 0)
        info = self.stream_info("cam1")
        self.assertTrue(info["live"])
        self.assertEqual(info["publisher"], "127.0.0.1")
        rc, err = self.finish(p)
        self.assertEqual(rc, 0, err)
        self.assertIn("ended", err)
        # Read in real time (-re): it took about as long as the clip, not a burst.
        self.assertGreater(time.monotonic() - t0, CLIP_SECONDS - 1)
        info = self.stream_info("cam1")
        self.assertFalse(info["live"])
        pl = self.playlist("cam1")
        total = sum(s.duration for s in pl.complete_segments)
        self.assertGreaterEqual(total, CLIP_SECONDS - 1.5)

    def test_loop_keeps_the_playlist_advancing_until_sigterm(self):
        self.start()
        p = self.publish("--loop", "cam1", self.clip)
        first = self.wait_segments("cam1", 1)
        # Well past the clip's length it is still live and the playlist still grows.
        deadline = time.monotonic() + 60
        while True:
            pl = self.playlist("cam1")
            parts = self.stream_info("cam1")["parts"]
            if pl and parts * 0.333 > CLIP_SECONDS * 2 + 1:
                break
            self.assertIsNone(p.poll(), "publish ended although --loop was given")
            self.assertLess(time.monotonic(), deadline, "the looped stream did not advance")
            time.sleep(0.2)  # polling interval
        self.assertIsNone(p.poll())
        self.assertTrue(self.stream_info("cam1")["live"])
        self.assertGreater(pl.complete_segments[-1].msn, first.complete_segments[-1].msn)
        p.send_signal(signal.SIGTERM)
        rc, err = self.finish(p, timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertIn("stopped publishing 'cam1'", err)
        wait_for(lambda: not self.stream_info("cam1")["live"], timeout=20, what="stream not live after SIGTERM")

    def test_sigint_stops_it_like_sigterm(self):
        self.start()
        p = self.publish("--loop", "hall", self.clip)
        wait_for(lambda: (self.stream_info("hall") or {}).get("parts", 0) > 0, timeout=40, what="hall has parts")
        p.send_signal(signal.SIGINT)
        rc, err = self.finish(p, timeout=30)
        self.assertEqual(rc, 0, err)

    def test_other_codecs_are_transcoded(self):
        self.start()
        other = os.path.join(self.env.dir, "other.mkv")  # MPEG-4 part 2 + MP2: neither goes into RTMP as is
        make_clip(other, 3, ["-c:v", "mpeg4"], ["-c:a", "mp2"])
        p = self.publish("-v", "--key", "anykey", "hall", other)
        self.wait_segments("hall", 1)
        rc, err = self.finish(p)
        self.assertEqual(rc, 0, err)
        self.assertIn("video mpeg4, audio mp2 -> video libx264, audio aac", err)
        self.assertNotIn("anykey", err)  # the key is masked in the echoed command line

    def test_never_transcode_with_other_codecs_fails_with_65(self):
        self.start()
        other = os.path.join(self.env.dir, "other.mkv")
        make_clip(other, 1, ["-c:v", "mpeg4"], ["-c:a", "mp2"])
        rc, err = self.publish_sync("--transcode", "never", "cam1", other)
        self.assertEqual(rc, 65, err)
        self.assertIn("--transcode", err)


class Refusals(PublishTest):
    def test_wrong_key_exits_69_naming_the_refusal(self):
        self.start()
        rc, err = self.publish_sync("--key", "wrong", "cam1", self.clip)
        self.assertEqual(rc, 69, err)
        self.assertIn("refused", err)
        self.assertIn("wrong publisher key", err)
        self.assertNotIn("key=wrong", err)
        self.assertIsNone(self.stream_info("cam1"))

    def test_name_in_use_exits_69(self):
        self.start()
        first = self.publish("--loop", "cam1", self.clip)
        wait_for(lambda: (self.stream_info("cam1") or {}).get("live"), timeout=40, what="cam1 live")
        rc, err = self.publish_sync("cam1", self.clip)
        self.assertEqual(rc, 69, err)
        self.assertIn("in use", err)
        self.assertIsNone(first.poll())

    def test_kick_ends_the_publish_with_69(self):
        self.start()
        p = self.publish("--loop", "cam1", self.clip)
        wait_for(lambda: (self.stream_info("cam1") or {}).get("parts", 0) > 0, timeout=40, what="cam1 has parts")
        r = self.env.admin("stream", "kick", "cam1")
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, err = self.finish(p, timeout=30)
        self.assertEqual(rc, 69, err)
        self.assertIn("ended the publish", err)

    def test_daemon_not_running_exits_69(self):
        rc, err = self.publish_sync("cam1", self.clip)
        self.assertEqual(rc, 69, err)
        self.assertIn("not running", err)

    def test_nothing_listening_on_the_rtmp_port_exits_69(self):
        # When the control socket is not ours to use, the configured address is used; here
        # nothing listens there.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        args = [binary("collab-stream"), "publish", "-c", self.env.config,
                "-o", f"stream.rtmp_listen=127.0.0.1:{port}", "cam1", "lavfi:testsrc=size=160x120:rate=10"]
        if os.geteuid() == 0:
            # Root may use any socket: publish as nobody beside a running daemon, whose control
            # socket (mode 0660) nobody may not use.
            if not shutil.which("setpriv"):
                self.skipTest("setpriv not installed")
            self.start()
            os.chmod(self.env.dir, 0o755)
            os.chmod(self.env.config, 0o644)
            args = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *args]
        else:
            sock = self.env.socket_path("stream")
            os.makedirs(os.path.dirname(sock), exist_ok=True)
            srv = socket.socket(socket.AF_UNIX)
            self.addCleanup(srv.close)
            srv.bind(sock)
            os.chmod(sock, 0)
        r = run(args, timeout=60)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("not reachable", r.stderr)
        self.assertIn(f"127.0.0.1:{port}", r.stderr)


class BadInput(PublishTest):
    def test_missing_file_exits_66(self):
        rc, err = self.publish_sync("cam1", os.path.join(self.env.dir, "nope.mp4"))
        self.assertEqual(rc, 66, err)
        self.assertIn("nope.mp4", err)

    def test_file_that_is_not_media_exits_65(self):
        self.start()
        junk = os.path.join(self.env.dir, "junk.mp4")
        with open(junk, "wb") as f:
            f.write(b"\x00not a video\x00" * 100)
        rc, err = self.publish_sync("cam1", junk)
        self.assertEqual(rc, 65, err)

    def test_no_key_for_the_name_is_a_config_error(self):
        env = Env(self, extra=["stream.publish_keys=cam1:k1", "stream.viewers=open"])
        r = run([binary("collab-stream"), "publish", "-c", env.config, "hall", self.clip])
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("publish_keys", r.stderr)

    def test_usage_errors_exit_64(self):
        for args in (["bad name", self.clip], ["cam1"], ["--transcode", "sometimes", "cam1", self.clip],
                     ["--loop", "cam1", "rtsp://127.0.0.1:1/x"], ["cam1", "v4l2:"]):
            r = run([binary("collab-stream"), "publish", "-c", self.env.config, *args])
            self.assertEqual(r.returncode, 64, (args, r.stderr))

    def test_bad_config_exits_78(self):
        bad = os.path.join(self.env.dir, "bad.toml")
        with open(bad, "w") as f:
            f.write("[stream]\nno_such_key = 1\n")
        r = run([binary("collab-stream"), "publish", "-c", bad, "cam1", self.clip])
        self.assertEqual(r.returncode, 78, r.stderr)

    def test_ffmpeg_missing_exits_69(self):
        env = dict(os.environ, PATH=os.path.join(self.env.dir, "empty-bin"))
        p = self.publish("cam1", self.clip, env=env)
        rc, err = self.finish(p)
        self.assertEqual(rc, 69, err)
        self.assertIn("ffmpeg", err)

    def test_help_lists_the_options(self):
        r = run([binary("collab-stream"), "publish", "--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for opt in ("--loop", "--key", "--transcode", "--config", "--option", "--verbose"):
            self.assertIn(opt, r.stdout)
        # The daemon's own command line is unchanged.
        r = run([binary("collab-stream"), "--help"])
        self.assertIn("--check-config", r.stdout)


def llhls_check_text(d, name):
    code, _, body = d.http("GET", f"/live/{name}/index.m3u8")
    assert code == 200, code
    return body.decode()


if __name__ == "__main__":
    unittest.main()
