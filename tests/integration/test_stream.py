"""collab-stream: RTMP ingest from a real ffmpeg publisher, LL-HLS out (playlist rules checked by
llhls_check), blocking playlist reload, publisher keys, reconnects, control verbs and metrics."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import llhls_check
from harness import Control, Daemon, Env, binary, start_publisher, wait_for

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")


def probe(data):
    """{codec_type: ffprobe's stream entry (codec, size, packets read)} of an fMP4 init + segment."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(data)
        f.flush()
        r = subprocess.run([FFPROBE, "-v", "error", "-count_packets", "-show_entries",
                            "stream=codec_name,codec_type,width,height,nb_read_packets", "-of", "json", f.name],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {s["codec_type"]: s for s in json.loads(r.stdout)["streams"]}


def tfdt_by_track(data):
    """{track_id: baseMediaDecodeTime} of the first moof in an fMP4 fragment."""
    out = {}
    track = None
    i = 0
    while True:
        i = data.find(b"tfhd", i)
        if i < 0:
            break
        track = struct.unpack(">I", data[i + 8:i + 12])[0]
        j = data.find(b"tfdt", i)
        version = data[j + 4]
        out.setdefault(track, struct.unpack(">Q", data[j + 8:j + 16])[0] if version == 1 else
                       struct.unpack(">I", data[j + 8:j + 12])[0])
        i = j
    return out


class StreamTest(unittest.TestCase):
    KEYS = "cam1:k1,*:anykey"

    def setUp(self):
        if not FFMPEG or not FFPROBE:
            self.skipTest("ffmpeg/ffprobe not installed")

    def start(self, *extra):
        # Open to viewers: these tests are about ingest and packaging (test_stream_auth.py: tokens).
        self.env = Env(self, extra=["stream.rtmp_listen=127.0.0.1:0", f"stream.publish_keys={self.KEYS}",
                                    "stream.viewers=open", *extra])
        self.d = self.env.start(self, "stream")
        self.rtmp_port = int(self.d.status["rtmp"]["address"].rsplit(":", 1)[1])
        self.host, self.port = self.d.http_address()
        return self.d

    def publish(self, name, key, seconds=20.0, extra_args=()):
        url = f"rtmp://127.0.0.1:{self.rtmp_port}/live/{name}?key={key}"
        return start_publisher(self, url, seconds=seconds, extra_args=extra_args)

    def get(self, path, headers=None, timeout=15):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def playlist(self, name, query=""):
        code, headers, body = self.get(f"/live/{name}/index.m3u8" + (f"?{query}" if query else ""))
        return code, headers, body.decode(errors="replace")

    def wait_playlist(self, name, segments=1, timeout=40):
        def ready():
            code, _, text = self.playlist(name)
            if code != 200:
                return None
            pl = llhls_check.parse(text)
            return (text, pl) if len(pl.complete_segments) >= segments else None
        return wait_for(ready, timeout=timeout, interval=0.1, what=f"{segments} segments of {name}")

    def control(self, verb, args=None):
        c = Control(self.env.socket_path("stream"))
        try:
            return c.call(verb, args)
        finally:
            c.close()

    def stream_info(self, name):
        reply = self.control("stream.list")
        self.assertTrue(reply["ok"], reply)
        for s in reply["result"]["streams"]:
            if s["name"] == name:
                return s
        return None


class Publish(StreamTest):
    def test_playlist_validates_and_ffprobe_reads_init_and_segment(self):
        self.start()
        pub = self.publish("cam1", "k1", seconds=30)
        text, pl = self.wait_playlist("cam1", segments=2)
        pl = llhls_check.check(text)
        self.assertGreaterEqual(pl.version, 6)
        self.assertAlmostEqual(pl.part_target, 0.334)  # part_ms 333 + 1 ms of timestamp rounding
        # Ten frames of 30 fps video per part, except where a segment ends.
        self.assertGreaterEqual(max(p.duration for s in pl.segments for p in s.parts), 0.333)
        # Reload a few times while it grows: every version valid and continuous with the last.
        prev = pl
        for _ in range(5):
            _, _, text = self.playlist("cam1")
            cur = llhls_check.check(text)
            llhls_check.check_continuity(prev, cur)
            prev = cur
            time.sleep(0.2)  # pacing the reloads, not waiting for a condition
        code, headers, _ = self.playlist("cam1")
        self.assertEqual(headers.get("cache-control"), "no-cache")
        self.assertEqual(headers.get("content-type"), "application/vnd.apple.mpegurl")
        seg = prev.complete_segments[-1]
        code, ih, init = self.get(f"/live/cam1/{seg.map_uri}", headers={"Origin": "https://chat.example"})
        self.assertEqual(code, 200)
        self.assertIn("max-age", ih["cache-control"])
        self.assertEqual(ih.get("access-control-allow-origin"), "*")
        code, sh, media = self.get(f"/live/cam1/{seg.uri}")
        self.assertEqual(code, 200)
        self.assertIn("immutable", sh["cache-control"])
        # Even without an Origin: an HTTP cache may hand this copy to a browser later.
        self.assertEqual(sh.get("access-control-allow-origin"), "*")
        code, _, part = self.get(f"/live/cam1/{seg.parts[0].uri}") if seg.parts else (200, {}, b"")
        self.assertEqual(code, 200)
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(init + media)
            f.flush()
            r = subprocess.run([FFPROBE, "-v", "error", "-count_packets", "-show_entries",
                                "stream=codec_name,codec_type,width,height,nb_read_packets",
                                "-of", "json", f.name], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        codecs = {s["codec_type"]: s for s in info["streams"]}
        self.assertEqual(codecs["video"]["codec_name"], "h264")
        self.assertEqual((codecs["video"]["width"], codecs["video"]["height"]), (640, 360))
        self.assertEqual(codecs["audio"]["codec_name"], "aac")
        # All of the segment is there: 30 fps video, AAC frames of 1024 samples at 44.1 kHz.
        self.assertAlmostEqual(int(codecs["video"]["nb_read_packets"]), seg.duration * 30, delta=2)
        self.assertAlmostEqual(int(codecs["audio"]["nb_read_packets"]), seg.duration * 44100 / 1024, delta=3)
        self.assertIsNone(pub.poll())
        info = self.stream_info("cam1")
        self.assertTrue(info["live"])
        self.assertGreater(info["bytes_in"], 0)
        self.assertEqual(info["publisher"], "127.0.0.1")
        code, _, body = self.get("/api/v1/streams")
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(body)["streams"][0]["name"], "cam1")

    def test_plain_hls_client_plays_the_stream(self):
        self.start()
        self.publish("cam1", "k1", seconds=40)
        self.wait_playlist("cam1", segments=3)
        url = f"http://{self.host}:{self.port}/live/cam1/index.m3u8"
        # ffmpeg's HLS reader knows nothing of parts: it plays the segments as plain HLS.
        r = subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-i", url, "-t", "3", "-map", "0",
                            "-f", "framemd5", "-"], capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        frames = [l for l in r.stdout.splitlines() if l and not l.startswith("#")]
        video = [l for l in frames if l.startswith("0,")]
        audio = [l for l in frames if l.startswith("1,")]
        self.assertGreater(len(video), 60)
        self.assertGreater(len(audio), 100)

    def test_blocking_reload_answers_when_the_next_part_exists(self):
        self.start()
        self.publish("cam1", "k1", seconds=30)
        text, pl = self.wait_playlist("cam1", segments=1)
        waited = []
        for _ in range(3):
            _, _, text = self.playlist("cam1")
            pl = llhls_check.check(text)
            msn, part = pl.last_part()
            nxt = (msn, part + 1)
            t0 = time.monotonic()
            code, headers, body = self.get(f"/live/cam1/index.m3u8?_HLS_msn={nxt[0]}&_HLS_part={nxt[1]}")
            elapsed = time.monotonic() - t0
            self.assertEqual(code, 200, body)
            got = llhls_check.check(body.decode())
            # It waited for a part that did not exist when asked, then answered within about a
            # part time (bound generous for loaded CI machines).
            self.assertGreaterEqual(got.last_part(), nxt if nxt[1] <= 50 else (msn + 1, 0))
            self.assertLess(elapsed, 3.0, f"blocking reload took {elapsed:.2f}s")
            self.assertIn("max-age", headers["cache-control"])
            waited.append(elapsed)
        # Parts come every ~0.3 s and each request asked for the one after the newest: held.
        self.assertGreater(max(waited), 0.05, waited)
        # The preload hint's part can be requested before it exists: the request is held.
        _, _, text = self.playlist("cam1")
        hint = llhls_check.parse(text).preload_hint["URI"]
        t0 = time.monotonic()
        code, _, data = self.get(f"/live/cam1/{hint}")
        self.assertEqual(code, 200)
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertIn(b"moof", data[:64])
        # A msn more than two segments ahead: 400 at once. Malformed directives: 400.
        last = llhls_check.parse(text).segments[-1].msn
        for q in (f"_HLS_msn={last + 3}", f"_HLS_msn={last + 50}&_HLS_part=0", "_HLS_part=1", "_HLS_msn=-1",
                  "_HLS_msn=abc", "_HLS_msn=1&_HLS_part=x"):
            t0 = time.monotonic()
            code, _, _ = self.playlist("cam1", q)
            self.assertEqual(code, 400, q)
            self.assertLess(time.monotonic() - t0, 1.0)
        # Delta update: a playlist asked with _HLS_skip=YES is still a valid playlist.
        code, _, text = self.playlist("cam1", "_HLS_skip=YES")
        self.assertEqual(code, 200)
        llhls_check.check(text)

    def test_blocked_request_gets_503_when_no_part_comes(self):
        # segment_ms 600 -> target duration 1 s, so a held request gives up after about 3 s.
        # No slate: it would make the part.
        self.start("stream.segment_ms=600", "stream.slate=false")
        pub = self.publish("cam1", "k1", seconds=3)
        self.wait_playlist("cam1", segments=1)
        pub.wait(timeout=30)
        wait_for(lambda: not (self.stream_info("cam1") or {}).get("live", True), what="publisher gone")
        _, _, text = self.playlist("cam1")
        pl = llhls_check.parse(text)
        nxt = pl.segments[-1].msn + 1
        t0 = time.monotonic()
        code, _, _ = self.playlist("cam1", f"_HLS_msn={nxt}&_HLS_part=0")
        elapsed = time.monotonic() - t0
        self.assertEqual(code, 503)
        self.assertGreater(elapsed, 2.0)
        self.assertLess(elapsed, 8.0)


class Keys(StreamTest):
    def test_wrong_key_is_refused_and_nothing_is_published(self):
        d = self.start()
        for name, key in (("cam1", "wrong"), ("cam1", "anykeyx"), ("cam1", ""), ("bad.name", "anykey")):
            p = self.publish(name, key, seconds=3)
            rc = p.wait(timeout=60)
            self.assertNotEqual(rc, 0, f"{name}?key={key} was accepted")
        self.assertIn("refused publish of 'cam1'", d.read_log())
        self.assertIn("wrong publisher key", d.read_log())
        code, _, _ = self.playlist("cam1")
        self.assertEqual(code, 404)
        self.assertIsNone(self.stream_info("cam1"))
        # The key of one stream does not open another; the wildcard key opens any name.
        p = self.publish("other", "k1", seconds=3)
        self.assertNotEqual(p.wait(timeout=60), 0)
        p = self.publish("other", "anykey", seconds=2)
        self.assertEqual(p.wait(timeout=60), 0, p.stderr.read().decode())
        self.assertIsNotNone(self.stream_info("other"))

    def test_reloaded_keys_apply_to_the_next_publish(self):
        self.start()
        text = open(self.env.config).read()
        self.assertIn('"cam1:k1"', text)
        with open(self.env.config, "w") as f:
            f.write(text.replace('"cam1:k1"', '"cam1:k2"'))
        r = self.env.admin("reload", "stream")
        self.assertEqual(r.returncode, 0, r.stderr)
        p = self.publish("cam1", "k1", seconds=2)
        self.assertNotEqual(p.wait(timeout=60), 0)
        p = self.publish("cam1", "k2", seconds=2)
        self.assertEqual(p.wait(timeout=60), 0, p.stderr.read().decode())

    def test_name_in_use_is_refused_and_first_publisher_keeps_going(self):
        d = self.start()
        first = self.publish("cam1", "k1", seconds=30)
        self.wait_playlist("cam1", segments=1)
        second = self.publish("cam1", "k1", seconds=3)
        self.assertNotEqual(second.wait(timeout=60), 0)
        self.assertIn("stream name in use", d.read_log())
        self.assertIsNone(first.poll())
        before = llhls_check.parse(self.playlist("cam1")[2]).last_part()
        wait_for(lambda: llhls_check.parse(self.playlist("cam1")[2]).last_part() > before, what="more parts")


class Reconnect(StreamTest):
    def test_publisher_reconnect_keeps_the_playlist_continuous(self):
        # Without the slate (test_stream_slate.py covers a reconnect with it in between).
        self.start("stream.window_segments=20", "stream.slate=false")
        pub = self.publish("cam1", "k1", seconds=5)
        _, first = self.wait_playlist("cam1", segments=1)
        pub.wait(timeout=60)
        wait_for(lambda: not (self.stream_info("cam1") or {}).get("live", True), what="publisher gone")
        _, _, text = self.playlist("cam1")
        before = llhls_check.check(text)
        last_before = before.complete_segments[-1]
        _, _, last_data = self.get(f"/live/cam1/{last_before.uri}")
        end_tfdt = tfdt_by_track(last_data)
        pub = self.publish("cam1", "k1", seconds=30)
        prev = before

        def after_restart():
            nonlocal prev
            _, _, text = self.playlist("cam1")
            cur = llhls_check.check(text)
            llhls_check.check_continuity(prev, cur)
            prev = cur
            return cur if len([s for s in cur.complete_segments if s.msn > last_before.msn]) >= 2 else None
        after = wait_for(after_restart, timeout=40, interval=0.1, what="segments after the reconnect")
        self.assertEqual(after.media_sequence, before.media_sequence)  # window of 20 not full yet
        new = [s for s in after.segments if s.msn > last_before.msn]
        self.assertTrue(new[0].discontinuity, "no EXT-X-DISCONTINUITY where the publisher restarted")
        self.assertFalse(any(s.discontinuity for s in new[1:]))
        self.assertEqual(new[0].msn, last_before.msn + 1)
        self.assertGreater(new[0].program_date_time, last_before.program_date_time)
        _, _, first_new = self.get(f"/live/cam1/{new[0].uri}")
        start_tfdt = tfdt_by_track(first_new)
        for track in (1, 2):
            self.assertGreater(start_tfdt[track], end_tfdt[track], f"track {track} timestamps went back")
        self.assertEqual(self.stream_info("cam1")["sessions"], 2)


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Srt(StreamTest):
    PASS = "srt-secret-42"

    def publish_srt(self, port, passphrase, seconds):
        url = f"srt://127.0.0.1:{port}?mode=caller" + (f"&passphrase={passphrase}" if passphrase else "")
        return start_publisher(self, url, fmt="mpegts", seconds=seconds)

    def test_srt_publisher_with_passphrase_gets_the_same_llhls(self):
        port = free_udp_port()
        d = self.start(f"stream.srt_listen=127.0.0.1:{port}", "stream.srt_stream=hall",
                       f"stream.srt_passphrase={self.PASS}")
        self.assertEqual(d.status["srt"]["address"], f"127.0.0.1:{port}")
        # Without the passphrase the SRT handshake fails: nothing is published.
        bad = self.publish_srt(port, "", seconds=3)
        self.assertNotEqual(bad.wait(timeout=60), 0)
        self.assertIsNone(self.stream_info("hall"))
        self.publish_srt(port, self.PASS, seconds=30)
        text, _ = self.wait_playlist("hall", segments=2)
        pl = llhls_check.check(text)
        seg = pl.complete_segments[-1]
        _, _, init = self.get(f"/live/hall/{seg.map_uri}")
        _, _, media = self.get(f"/live/hall/{seg.uri}")
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(init + media)
            f.flush()
            r = subprocess.run([FFPROBE, "-v", "error", "-show_entries", "stream=codec_name,width,height",
                                "-of", "json", f.name], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = sorted(s["codec_name"] for s in json.loads(r.stdout)["streams"])
        self.assertEqual(names, ["aac", "h264"])
        info = self.stream_info("hall")
        self.assertTrue(info["live"])
        self.assertEqual(info["publisher"], "srt")
        # The SRT stream's name is taken while it is live: RTMP cannot publish over it.
        rtmp = self.publish("hall", "anykey", seconds=3)
        self.assertNotEqual(rtmp.wait(timeout=60), 0)
        # Kick ends the SRT session; the playlist stays.
        reply = self.control("stream.kick", {"name": "hall"})
        self.assertTrue(reply["result"]["kicked"], reply)
        wait_for(lambda: not self.stream_info("hall")["live"], what="srt session dropped")
        self.assertEqual(d.stop(signal.SIGTERM), 0, d.read_log())

    def test_srt_without_passphrase_needs_a_loopback_address(self):
        env = Env(self, extra=["stream.srt_listen=0.0.0.0:9998"])
        r = subprocess.run([binary("collab-stream"), "-c", env.config, "-t"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)  # valid syntax; the policy is checked at start
        d = Daemon(env, "stream")
        self.addCleanup(d.kill)
        self.assertEqual(d.proc.wait(timeout=60), 78)
        self.assertIn("srt_passphrase", d.read_log())


class Admin(StreamTest):
    def test_metrics_only_for_the_allowed_addresses(self):
        self.start("stream.metrics_allow=10.0.0.0/8")  # tests connect from 127.0.0.1
        code, _, body = self.get("/metrics")
        self.assertEqual(code, 403)
        self.assertIn(b"stream.metrics_allow", body)
        self.assertEqual(self.get("/api/v1/streams")[0], 200)  # the rest is served as before

    def test_list_kick_and_metrics(self):
        self.start()
        pub = self.publish("cam1", "k1", seconds=60)
        self.wait_playlist("cam1", segments=1)
        info = self.stream_info("cam1")
        for field in ("name", "live", "publisher", "bytes_in", "parts", "media_sequence", "viewers", "playlist",
                      "sessions", "created_at"):
            self.assertIn(field, info)
        self.assertGreaterEqual(info["viewers"], 1)
        code, headers, body = self.get("/metrics")
        self.assertEqual(code, 200)
        text = body.decode()
        for m in ("collab_stream_streams 1", "collab_stream_live_streams 1", "collab_stream_parts_total",
                  "collab_stream_ingest_bytes_total", "collab_stream_blocked_requests"):
            self.assertIn(m, text)
        # A blocking reload for the next part is held, and its wait shows in the histogram.
        _, _, pl_text = self.playlist("cam1")
        msn, part = llhls_check.check(pl_text).last_part()
        code, _, _ = self.get(f"/live/cam1/index.m3u8?_HLS_msn={msn}&_HLS_part={part + 1}")
        self.assertEqual(code, 200)

        def metrics():
            text = self.get("/metrics")[2].decode()
            return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(collab_stream_\S+) (\S+)$", text, re.M)}
        # Per stream: the publisher's bitrate (a few seconds to fill the window) and its viewers.
        m = wait_for(lambda: (lambda m: m if m.get('collab_stream_stream_ingest_bitrate_bps{stream="cam1"}', 0) > 10000
                              else None)(metrics()), timeout=15, what="a bitrate for cam1")
        self.assertGreaterEqual(m['collab_stream_stream_viewers{stream="cam1"}'], 1)
        held = m['collab_stream_held_seconds_count{kind="playlist"}']
        self.assertGreaterEqual(held, 1)
        self.assertEqual(m['collab_stream_held_seconds_bucket{kind="playlist",le="+Inf"}'], held)
        self.assertLess(m['collab_stream_held_seconds_sum{kind="playlist"}'] / held, 3)
        buckets = [v for k, v in m.items() if k.startswith('collab_stream_held_seconds_bucket{kind="playlist"')]
        self.assertEqual(buckets, sorted(buckets))  # cumulative
        reply = self.control("stream.kick", {"name": "cam1"})
        self.assertTrue(reply["ok"], reply)
        self.assertTrue(reply["result"]["kicked"])
        pub.wait(timeout=30)
        wait_for(lambda: not self.stream_info("cam1")["live"], what="stream not live after kick")
        reply = self.control("stream.kick", {"name": "nope"})
        self.assertFalse(reply["ok"])
        reply = self.control("stream.kick", {})
        self.assertFalse(reply["ok"])
        self.assertEqual(reply["error"]["status"], 64)


class Garbage(StreamTest):
    def test_malformed_rtmp_never_takes_the_daemon_down(self):
        d = self.start()
        payloads = [
            b"\x00" * 100,                                # bad version
            b"\x03" + os.urandom(1536) + os.urandom(1536) + os.urandom(20000),  # handshake then noise
            b"\x03" + b"\x00" * 3072 + b"\x02\x00\x00\x00\x00\x00\x04\x01\x00\x00\x00\x00\x7f\xff\xff\xff",  # chunk size
            b"\x03" + b"\x00" * 3072 + b"\x43\x00\x00\x00",  # fmt 1 on a new chunk stream
            b"\x03" + b"\x00" * 3072 + b"\x03\x00\x00\x00\xff\xff\xff\x14\x00\x00\x00\x00" + b"\x05" * 3000,
            b"\x03" + b"\x00" * 1000,                     # half a handshake, then hang up
        ]
        for data in payloads:
            s = socket.create_connection(("127.0.0.1", self.rtmp_port), timeout=5)
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except OSError:
                pass
            s.close()
        self.assertTrue(d.alive())
        self.assertIsNotNone(d.try_status())
        # Still ingesting afterwards.
        self.publish("cam1", "k1", seconds=20)
        self.wait_playlist("cam1", segments=1)
        self.assertEqual(d.stop(signal.SIGTERM), 0, d.read_log())


if __name__ == "__main__":
    unittest.main()
