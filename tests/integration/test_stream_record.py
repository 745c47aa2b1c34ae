"""collab-stream recordings and DVR: a real ffmpeg publishes RTMP test patterns; recordings appear
on disk and in the listing, their playlists are valid HLS (EVENT while recording, VOD after),
ffprobe reads the HLS recording and the MP4 with the right duration, collab-admin starts and
stops them, reconnects make a new recording, bad names get 4xx, a broken recordings directory
never hurts the live stream, a crash leaves a playable playlist, and the DVR window lists more
than the live window."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

import llhls_check
from harness import Env, wait_for
from test_stream import StreamTest

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")


def probe_duration(target):
    r = subprocess.run([FFPROBE, "-v", "error", "-allowed_extensions", "ALL", "-show_entries",
                        "format=duration:stream=codec_type", "-of", "json", target],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"ffprobe {target}: {r.stderr}")
    info = json.loads(r.stdout)
    return float(info["format"]["duration"]), sorted(s["codec_type"] for s in info["streams"])


def read_event_playlist(target, seconds):
    """Frames per stream index in the first `seconds` of an EVENT playlist. ffmpeg treats one as
    live and would wait for it to grow: it is read from its start and only as far as it goes."""
    r = subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-allowed_extensions", "ALL",
                        "-live_start_index", "0", "-i", target, "-t", str(seconds), "-map", "0", "-f", "framemd5", "-"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"ffmpeg {target}: {r.stderr}")
    frames = [l for l in r.stdout.splitlines() if l and not l.startswith("#")]
    return {"video": len([l for l in frames if l.startswith("0,")]), "audio": len([l for l in frames if l.startswith("1,")])}


def playlist_lines(text):
    return [l for l in text.splitlines() if l.strip()]


class RecordTest(StreamTest):
    KEYS = "cam1:k1,*:anykey"

    def start(self, *extra):
        d = super().start("stream.segment_ms=1000", *extra)
        self.record_dir = os.path.join(self.env.dir, "state", "recordings")
        return d

    def recordings(self):
        code, headers, body = self.get("/api/v1/recordings")
        self.assertEqual(code, 200, body)
        return json.loads(body)["recordings"]

    def wait_recording(self, stream, state="complete", mp4=True, count=1, timeout=60):
        def ready():
            rs = [r for r in self.recordings() if r["stream"] == stream and r["state"] == state]
            if mp4:
                rs = [r for r in rs if r["mp4"]]
            return rs if len(rs) >= count else None
        return wait_for(ready, timeout=timeout, interval=0.2, what=f"{count} {state} recording(s) of {stream}")

    def check_vod_playlist(self, text):
        lines = playlist_lines(text)
        self.assertEqual(lines[0], "#EXTM3U")
        self.assertIn("#EXT-X-PLAYLIST-TYPE:VOD", lines)
        self.assertEqual(lines[-1], "#EXT-X-ENDLIST")
        self.assertTrue(lines.index("#EXT-X-PLAYLIST-TYPE:VOD") < [i for i, l in enumerate(lines) if l.startswith("#EXTINF")][0])
        target = int([l for l in lines if l.startswith("#EXT-X-TARGETDURATION:")][0].split(":")[1])
        durations = [float(l[8:].rstrip(",")) for l in lines if l.startswith("#EXTINF:")]
        self.assertTrue(durations)
        for d in durations:
            self.assertLessEqual(round(d), target)
        self.assertTrue(any(l.startswith("#EXT-X-MAP:URI=\"init") for l in lines))
        self.assertEqual(len([l for l in lines if l.startswith("#EXT-X-PROGRAM-DATE-TIME:")]), len(durations))
        return sum(durations)


class Recording(RecordTest):
    def test_configured_recording_is_listed_played_and_downloadable(self):
        self.start("stream.record=cam1")
        pub = self.publish("cam1", "k1", seconds=6)
        # While it runs: an EVENT playlist that must not be cached.
        rec = self.wait_recording("cam1", state="recording", mp4=False)[0]
        wait_for(lambda: self.get(f"/recordings/cam1/{rec['id']}/index.m3u8")[0] == 200, timeout=30,
                 what="first recorded segment")
        code, headers, body = self.get(f"/recordings/cam1/{rec['id']}/index.m3u8")
        self.assertIn("#EXT-X-PLAYLIST-TYPE:EVENT", body.decode())
        self.assertNotIn("#EXT-X-ENDLIST", body.decode())
        self.assertEqual(headers["cache-control"], "no-cache")
        pub.wait(timeout=60)
        rec = self.wait_recording("cam1")[0]
        self.assertRegex(rec["id"], r"^\d{8}T\d{6}Z$")
        self.assertEqual(rec["playlist"], f"/recordings/cam1/{rec['id']}/index.m3u8")
        self.assertEqual(rec["mp4"], f"/recordings/cam1/{rec['id']}/recording.mp4")
        self.assertAlmostEqual(rec["duration_s"], 6, delta=1)
        self.assertGreater(rec["bytes"], 10000)
        # The files on disk, and the playlist over HTTP with CORS and cache headers.
        rdir = os.path.join(self.record_dir, "cam1", rec["id"])
        self.assertTrue(os.path.exists(os.path.join(rdir, "init0.mp4")))
        code, headers, body = self.get(rec["playlist"], headers={"Origin": "https://chat.example"})
        self.assertEqual(code, 200)
        self.assertEqual(headers["content-type"], "application/vnd.apple.mpegurl")
        self.assertEqual(headers.get("access-control-allow-origin"), "*")
        total = self.check_vod_playlist(body.decode())
        self.assertAlmostEqual(total, 6, delta=1)
        seg = [l for l in playlist_lines(body.decode()) if not l.startswith("#")][0]
        code, headers, _ = self.get(f"/recordings/cam1/{rec['id']}/{seg}")
        self.assertEqual(code, 200)
        self.assertIn("immutable", headers["cache-control"])
        # ffprobe reads the recording over HTTP as HLS, and the MP4.
        base = f"http://{self.host}:{self.port}"
        duration, kinds = probe_duration(base + rec["playlist"])
        self.assertAlmostEqual(duration, 6, delta=1)
        self.assertEqual(kinds, ["audio", "video"])
        duration, kinds = probe_duration(base + rec["mp4"])
        self.assertAlmostEqual(duration, 6, delta=1)
        self.assertEqual(kinds, ["audio", "video"])
        # Faststart: the index comes before the media, so a browser can play while downloading.
        with open(os.path.join(rdir, "recording.mp4"), "rb") as f:
            head = f.read(1 << 20)
        self.assertLess(head.find(b"moov"), head.find(b"mdat"))
        # Range requests let <video> seek in the MP4.
        size = os.path.getsize(os.path.join(rdir, "recording.mp4"))
        code, headers, body = self.get(rec["mp4"], headers={"Range": "bytes=100-199"})
        self.assertEqual(code, 206)
        self.assertEqual(headers["content-range"], f"bytes 100-199/{size}")
        self.assertEqual(len(body), 100)
        self.assertEqual(headers["accept-ranges"], "bytes")
        code, headers, body = self.get(rec["mp4"], headers={"Range": "bytes=-10"})
        self.assertEqual((code, len(body)), (206, 10))
        self.assertEqual(headers["content-range"], f"bytes {size - 10}-{size - 1}/{size}")
        code, headers, _ = self.get(rec["mp4"], headers={"Range": f"bytes={size}-"})
        self.assertEqual(code, 416)
        self.assertEqual(headers["content-range"], f"bytes */{size}")
        code, headers, body = self.get(rec["mp4"] + "?download=1")
        self.assertEqual((code, len(body)), (200, size))
        self.assertIn(f'filename="cam1-{rec["id"]}.mp4"', headers["content-disposition"])
        # Other streams are not recorded.
        self.assertEqual({r["stream"] for r in self.recordings()}, {"cam1"})
        m = self.get("/metrics")[2].decode()
        self.assertRegex(m, r"collab_stream_recordings_started_total 1\b")
        self.assertRegex(m, r"collab_stream_recording_write_errors_total 0\b")

    def test_admin_starts_and_stops_a_recording(self):
        self.start()
        self.publish("cam1", "k1", seconds=60)
        self.wait_playlist("cam1", segments=1)
        r = self.env.admin("stream", "record", "cam1", "start")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("recording stream cam1 as ", r.stdout)
        rec = self.wait_recording("cam1", state="recording", mp4=False)[0]
        wait_for(lambda: [x for x in self.recordings() if x["id"] == rec["id"] and x["segments"] >= 3],
                 timeout=30, what="three recorded segments")
        r = self.env.admin("--json", "stream", "record", "cam1", "stop")
        self.assertEqual(r.returncode, 0, r.stderr)
        reply = json.loads(r.stdout)
        self.assertEqual((reply["id"], reply["recording"], reply["live"]), (rec["id"], False, True))
        rec = self.wait_recording("cam1")[0]
        self.assertGreaterEqual(rec["duration_s"], 2.5)
        duration, _ = probe_duration(f"http://{self.host}:{self.port}{rec['mp4']}")
        self.assertAlmostEqual(duration, rec["duration_s"], delta=1)
        # The live stream went on all the while.
        self.assertTrue(self.stream_info("cam1")["live"])
        r = self.env.admin("--json", "stream", "recordings")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        self.assertEqual([(x["stream"], x["id"], x["state"]) for x in rows], [("cam1", rec["id"], "complete")])
        r = self.env.admin("stream", "recordings")
        self.assertEqual(r.stdout.splitlines()[0].split("\t")[:3], ["STREAM", "ID", "STATE"])
        self.assertEqual(r.stdout.splitlines()[1].split("\t")[:3], ["cam1", rec["id"], "complete"])
        # Stopping again is not an error; bad input is.
        r = self.env.admin("stream", "record", "cam1", "stop")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("not being recorded", r.stdout)
        self.assertEqual(self.env.admin("stream", "record", "bad/name", "start").returncode, 65)
        self.assertEqual(self.env.admin("stream", "record", "cam1", "pause").returncode, 64)

    def test_reconnect_makes_a_second_recording(self):
        self.start("stream.record=*")
        self.publish("hall", "anykey", seconds=3).wait(timeout=60)
        self.wait_recording("hall")
        self.publish("hall", "anykey", seconds=3).wait(timeout=60)
        recs = self.wait_recording("hall", count=2)
        self.assertNotEqual(recs[0]["id"], recs[1]["id"])
        for rec in recs:
            code, _, body = self.get(rec["playlist"])
            self.check_vod_playlist(body.decode())

    def test_bad_names_get_4xx(self):
        self.start("stream.record=*")
        self.publish("cam1", "k1", seconds=3).wait(timeout=60)
        rec = self.wait_recording("cam1")[0]
        good = f"/recordings/cam1/{rec['id']}/"
        self.assertEqual(self.get(good + "index.m3u8")[0], 200)
        for path in [good + "index.m3u8.tmp", good + "recording.mp4.part", good + "..%2F..%2Fcollab.toml",
                     good + "seg99999.m4s", f"/recordings/cam1/..%2F..%2F/index.m3u8", "/recordings/cam1/x/index.m3u8",
                     f"/recordings/cam2/{rec['id']}/index.m3u8", f"/recordings/..%2Fstate/{rec['id']}/index.m3u8",
                     f"/recordings/cam1/{rec['id']}-/index.m3u8", "/recordings/cam1/../../collab.toml"]:
            code, _, _ = self.get(path)
            self.assertTrue(400 <= code < 500, f"{path}: {code}")
        code, _, _ = self.get(good + "recording.mp4", headers={"Range": "bytes=5-2"})  # bad range: whole file
        self.assertEqual(code, 200)


class Failures(RecordTest):
    def test_unwritable_recording_dir_never_hurts_the_live_stream(self):
        self.start("stream.record=*", "stream.record_dir=/dev/null/recordings")
        pub = self.publish("cam1", "k1", seconds=30)
        text, pl = self.wait_playlist("cam1", segments=3)
        llhls_check.check(text)
        self.assertIsNone(pub.poll())
        m = wait_for(lambda: (lambda t: t if re.search(r"collab_stream_recording_write_errors_total [1-9]", t) else None)(
            self.get("/metrics")[2].decode()), timeout=20, what="a counted write error")
        self.assertRegex(m, r"collab_stream_recordings_failed_total 1\b")
        self.assertIn("recording", self.d.read_log())
        self.assertEqual(self.recordings(), [])
        self.assertTrue(self.d.alive())
        code, _, _ = self.get("/live/cam1/index.m3u8")
        self.assertEqual(code, 200)

    def test_crash_leaves_a_playable_playlist_that_the_next_start_finishes(self):
        self.start("stream.record=cam1")
        self.publish("cam1", "k1", seconds=60)
        rec = self.wait_recording("cam1", state="recording", mp4=False)[0]
        rdir = os.path.join(self.record_dir, "cam1", rec["id"])

        def on_disk():
            try:
                with open(os.path.join(rdir, "index.m3u8")) as f:
                    text = f.read()
            except FileNotFoundError:
                return None
            return text if text.count("#EXTINF:") >= 4 else None
        wait_for(on_disk, timeout=30, interval=0.1, what="four segments on disk")
        self.d.send_signal(signal.SIGKILL)
        self.d.proc.wait(timeout=30)
        with open(os.path.join(rdir, "index.m3u8")) as f:
            text = f.read()
        self.assertIn("#EXT-X-PLAYLIST-TYPE:EVENT", text)
        self.assertNotIn("#EXT-X-ENDLIST", text)
        # Well inside what is listed, so the reader never waits for the playlist to grow.
        frames = read_event_playlist(os.path.join(rdir, "index.m3u8"), 2.5)
        self.assertGreaterEqual(frames["video"], 2.4 * 30)  # 30 fps
        self.assertGreater(frames["audio"], 90)  # AAC frames of 1024 samples at 44.1 kHz
        # The next start closes it and makes the MP4.
        self.d = self.env.start(self, "stream")
        self.host, self.port = self.d.http_address()
        rec = self.wait_recording("cam1")[0]
        with open(os.path.join(rdir, "index.m3u8")) as f:
            self.check_vod_playlist(f.read())
        self.assertIn("recovered", self.d.read_log())
        d2, _ = probe_duration(os.path.join(rdir, "recording.mp4"))
        self.assertAlmostEqual(d2, rec["duration_s"], delta=1)

    def test_sigterm_closes_recordings_and_exits_zero(self):
        self.start("stream.record=cam1")
        self.publish("cam1", "k1", seconds=60)
        rec = self.wait_recording("cam1", state="recording", mp4=False)[0]
        wait_for(lambda: [x for x in self.recordings() if x["segments"] >= 2], timeout=30, what="two segments")
        self.assertEqual(self.d.stop(), 0)
        with open(os.path.join(self.record_dir, "cam1", rec["id"], "index.m3u8")) as f:
            self.check_vod_playlist(f.read())

    def test_retention_deletes_old_recordings_at_start(self):
        env = Env(self, extra=["stream.record_keep_days=7"])
        rdir = os.path.join(env.dir, "state", "recordings", "cam1", "20200101T000000Z")
        os.makedirs(rdir)
        with open(os.path.join(rdir, "index.m3u8"), "w") as f:
            f.write("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init0.mp4\"\n"
                    "#EXTINF:2.0,\nseg0.m4s\n#EXT-X-ENDLIST\n")
        with open(os.path.join(rdir, "recording.mp4"), "wb") as f:
            f.write(b"old")
        d = env.start(self, "stream")
        wait_for(lambda: "retention: deleted recording cam1/20200101T000000Z" in d.read_log(), timeout=20,
                 what="the deletion logged")
        self.assertFalse(os.path.exists(rdir))
        self.assertFalse(os.path.exists(os.path.dirname(rdir)))  # the stream's directory, now empty


class Dvr(RecordTest):
    def test_dvr_playlist_is_longer_than_the_live_window(self):
        # Delta updates skip what is older than six target durations (12 s here), so the DVR
        # window must be longer than that for them to matter.
        self.start("stream.dvr_s=16", "stream.window_segments=3")
        self.publish("cam1", "k1", seconds=60)
        text, pl = self.wait_playlist("cam1", segments=15, timeout=60)
        pl = llhls_check.check(text)
        self.assertGreaterEqual(sum(s.duration for s in pl.complete_segments), 14.0)
        self.assertIn("CAN-SKIP-UNTIL=12.0", text)
        # Parts stay near the live edge; old segments are plain.
        self.assertFalse(pl.complete_segments[0].parts)
        # A delta update skips the old part of the window.
        code, _, body = self.get("/live/cam1/index.m3u8?_HLS_skip=YES")
        self.assertEqual(code, 200)
        self.assertIn("#EXT-X-SKIP:SKIPPED-SEGMENTS=", body.decode())
        self.assertLess(body.count(b"#EXTINF:"), len(pl.complete_segments))

    def test_without_dvr_the_window_stays_short(self):
        self.start("stream.window_segments=3")
        self.publish("cam1", "k1", seconds=40)
        _, first = self.wait_playlist("cam1", segments=3)
        start = first.complete_segments[0].msn

        def slid():
            _, _, text = self.playlist("cam1")
            pl = llhls_check.parse(text)
            return pl if pl.complete_segments and pl.complete_segments[0].msn >= start + 3 else None
        pl = wait_for(slid, timeout=30, interval=0.2, what="the live window sliding on")
        self.assertLessEqual(len(pl.complete_segments), 3)


if __name__ == "__main__":
    unittest.main()
