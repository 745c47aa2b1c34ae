"""collab-stream's slate: while the publisher is away the playlist keeps growing with the last
picture (dimmed) and silence, in real time, between two discontinuities; ffprobe reads it; the
publisher's return brings the live media back. With stream.slate=false the playlist stops."""
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time

import llhls_check
from harness import SOURCE_DIR, wait_for
from test_stream import StreamTest, probe, tfdt_by_track

HLS_JS = os.path.join(SOURCE_DIR, "web", "vendor", "hls.min.js")
# A bare hls.js player (low-latency mode) on a page of collab-stream's own origin; it answers
# every line on stdin with the video's state as one JSON line.
PLAYER_JS = """
import { launch } from '%s';
import { createInterface } from 'node:readline';
const cfg = JSON.parse(process.env.SLATE_PLAYER);
const { context, close } = await launch(['--autoplay-policy=no-user-gesture-required']);
try {
  const page = await context.newPage();
  await page.goto(cfg.base + '/api/v1/streams');
  await page.addScriptTag({ path: cfg.hls });
  await page.evaluate((src) => {
    window.E = { fatal: [], errors: [] };
    const v = document.createElement('video');
    v.muted = true;
    document.body.append(v);
    const hls = new Hls({ lowLatencyMode: true });
    hls.on(Hls.Events.ERROR, (_, d) => (d.fatal ? E.fatal : E.errors).push(d.details));
    hls.loadSource(src);
    hls.attachMedia(v);
    v.play().catch(() => {});
    window.V = v;
  }, cfg.src);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'quit') break;
    const s = await page.evaluate(() => ({ t: V.currentTime, w: V.videoWidth, fatal: E.fatal, errors: E.errors }));
    console.log(JSON.stringify(s));
  }
} finally {
  await close();
}
"""


def decode_errors(data):
    """ffmpeg's complaints while decoding every frame of an fMP4 init + segment."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(data)
        f.flush()
        r = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", f.name, "-f", "null", "-"],
                           capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr


class Slate(StreamTest):
    def metric(self, name):
        _, _, body = self.get("/metrics")
        m = re.search(r"^" + name + r" (\d+)$", body.decode(), re.M)
        return int(m.group(1)) if m else None

    def watch(self, prev, until, timeout=40):
        """Reloads the playlist, checking every version and its continuity, until until(pl)."""
        state = {"prev": prev}

        def step():
            _, _, text = self.playlist("cam1")
            cur = llhls_check.check(text)
            if state["prev"] is not None:
                llhls_check.check_continuity(state["prev"], cur)
            state["prev"] = cur
            return cur if until(cur) else None
        return wait_for(step, timeout=timeout, interval=0.1, what="playlist condition")

    def media(self, seg):
        _, _, init = self.get(f"/live/cam1/{seg.map_uri}")
        code, _, data = self.get(f"/live/cam1/{seg.uri}")
        self.assertEqual(code, 200)
        return init, data

    def test_slate_fills_the_gap_until_the_publisher_returns(self):
        self.start("stream.window_segments=30")
        pub = self.publish("cam1", "k1", seconds=5)
        _, first = self.wait_playlist("cam1", segments=1)
        pub.wait(timeout=60)
        wait_for(lambda: not (self.stream_info("cam1") or {}).get("live", True), what="publisher gone")
        wait_for(lambda: self.stream_info("cam1")["slate"], timeout=20, what="the slate to start")
        self.assertEqual(self.metric("collab_stream_slate_active"), 1)
        self.assertRegex(self.d.read_log(), r"stream 'cam1': showing a slate \(the last picture, dimmed, silent audio\)")

        # The playlist keeps growing with parts, after a discontinuity, in real time.
        def slate_segments(pl):
            disc = [s for s in pl.segments if s.discontinuity]
            return [s for s in pl.segments if disc and s.msn >= disc[0].msn and s.uri]
        started = time.monotonic()
        pl = self.watch(first, lambda pl: len(slate_segments(pl)) >= 2)
        start_total = sum(s.duration or sum(p.duration for p in s.parts) for s in pl.segments)
        t0 = time.monotonic()
        pl = self.watch(pl, lambda pl: time.monotonic() - t0 >= 4.0)
        grown = sum(s.duration or sum(p.duration for p in s.parts) for s in pl.segments) - start_total
        self.assertAlmostEqual(grown, time.monotonic() - t0, delta=1.2)  # paced by the clock, not a burst
        self.assertLess(time.monotonic() - started, 30)
        slate = slate_segments(pl)
        live_segments = [s for s in pl.segments if s.uri and s.msn < slate[0].msn]
        self.assertEqual(sum(1 for s in pl.segments if s.discontinuity), 1)
        self.assertNotEqual(slate[0].map_uri, live_segments[-1].map_uri, "the slate needs its own EXT-X-MAP")
        self.assertEqual(slate[0].map_uri, slate[1].map_uri)
        self.assertTrue(slate[0].parts[0].independent)
        self.assertGreater(slate[0].program_date_time, live_segments[-1].program_date_time)

        # ffprobe reads the slate: H.264 at the publisher's size and AAC, ~9 frames a second.
        init, data = self.media(slate[1])
        codecs = probe(init + data)
        self.assertEqual(codecs["video"]["codec_name"], "h264")
        self.assertEqual((codecs["video"]["width"], codecs["video"]["height"]), (640, 360))
        self.assertEqual(codecs["audio"]["codec_name"], "aac")
        self.assertAlmostEqual(int(codecs["video"]["nb_read_packets"]), slate[1].duration * 9, delta=2)
        self.assertAlmostEqual(int(codecs["audio"]["nb_read_packets"]), slate[1].duration * 44100 / 1024, delta=3)
        rc, err = decode_errors(init + data)
        self.assertEqual((rc, err), (0, ""))
        _, live_data = self.media(live_segments[-1])
        # Timestamps go on from the live media (no step back at the discontinuity).
        _, first_slate = self.media(slate[0])
        for track in (1, 2):
            self.assertGreater(tfdt_by_track(first_slate)[track], tfdt_by_track(live_data)[track])
        # A still picture costs little: the slate segment is a fraction of the live one.
        self.assertLess(len(data), len(live_data) / 2)

        # The publisher returns: another discontinuity, then the live media again.
        pub = self.publish("cam1", "k1", seconds=30)

        def back(pl):
            disc = [s for s in pl.segments if s.discontinuity]
            return len(disc) == 2 and len([s for s in pl.segments if s.msn >= disc[1].msn and s.uri]) >= 2
        pl = self.watch(pl, back)
        disc = [s for s in pl.segments if s.discontinuity]
        returned = [s for s in pl.segments if s.msn >= disc[1].msn and s.uri]
        self.assertNotEqual(returned[0].map_uri, slate[0].map_uri)
        init, data = self.media(returned[1])
        codecs = probe(init + data)
        self.assertAlmostEqual(int(codecs["video"]["nb_read_packets"]), returned[1].duration * 30, delta=2)
        _, data = self.media(returned[0])
        info = self.stream_info("cam1")
        self.assertTrue(info["live"])
        self.assertFalse(info["slate"])
        self.assertEqual(self.metric("collab_stream_slate_active"), 0)
        _, last_slate_data = self.media([s for s in pl.segments if s.uri and s.msn < disc[1].msn][-1])
        for track in (1, 2):
            self.assertGreater(tfdt_by_track(data)[track], tfdt_by_track(last_slate_data)[track])
        self.assertIn("slate ended: the publisher is back", self.d.read_log())

    def test_kicked_publisher_gets_a_slate_that_stops_after_slate_max_s(self):
        self.start("stream.slate_max_s=3")
        self.publish("cam1", "k1", seconds=60)
        self.wait_playlist("cam1", segments=1)
        reply = self.control("stream.kick", {"name": "cam1"})
        self.assertTrue(reply["result"]["kicked"], reply)
        wait_for(lambda: self.stream_info("cam1")["slate"], timeout=20, what="the slate to start")
        wait_for(lambda: not self.stream_info("cam1")["slate"], timeout=20, what="the slate to end")
        self.assertIn("slate ended: shown for stream.slate_max_s", self.d.read_log())
        _, _, text = self.playlist("cam1")
        pl = llhls_check.check(text)
        self.assertEqual(sum(1 for s in pl.segments if s.discontinuity), 1)

    def test_without_slate_the_playlist_stops_while_the_publisher_is_away(self):
        self.start("stream.slate=false")
        pub = self.publish("cam1", "k1", seconds=4)
        self.wait_playlist("cam1", segments=1)
        pub.wait(timeout=60)
        wait_for(lambda: not (self.stream_info("cam1") or {}).get("live", True), what="publisher gone")
        _, _, text = self.playlist("cam1")
        last = llhls_check.check(text).last_part()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # watching for growth that must not happen
            self.assertEqual(llhls_check.parse(self.playlist("cam1")[2]).last_part(), last)
            time.sleep(0.2)
        self.assertFalse(self.stream_info("cam1")["slate"])
        self.assertEqual(self.metric("collab_stream_slate_active"), 0)
        self.assertNotIn("showing a slate", self.d.read_log())


class SlateInBrowser(StreamTest):
    def setUp(self):
        super().setUp()
        if not shutil.which("node") or not os.path.exists("/usr/bin/chromium") or not os.path.exists(HLS_JS):
            self.skipTest("node, chromium or web/vendor/hls.min.js missing")

    def player(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        script = os.path.join(tmp.name, "player.mjs")
        with open(script, "w") as f:
            f.write(PLAYER_JS % ("file://" + os.path.join(SOURCE_DIR, "tests", "e2e", "browser.mjs")))
        base = f"http://{self.host}:{self.port}"
        env = dict(os.environ, SLATE_PLAYER=json.dumps({"base": base, "hls": HLS_JS, "src": "/live/cam1/index.m3u8"}))
        proc = subprocess.Popen(["node", script], cwd=SOURCE_DIR, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def stop():
            if proc.poll() is None:
                try:
                    proc.stdin.write("quit\n")
                    proc.stdin.flush()
                    proc.wait(timeout=20)
                except (BrokenPipeError, subprocess.TimeoutExpired):
                    proc.kill()
                    proc.wait(timeout=20)
            for f in (proc.stdin, proc.stdout, proc.stderr):
                f.close()
        self.addCleanup(stop)

        def state():
            proc.stdin.write("?\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            self.assertTrue(ready, "the player script did not answer")
            line = proc.stdout.readline()
            if not line:
                self.fail(f"the player script ended: {proc.stderr.read()}")
            s = json.loads(line)
            self.assertEqual(s["fatal"], [], s)
            return s
        return state

    def advances(self, state, seconds, what):
        start = state()["t"]

        def moved():
            s = state()
            return s if s["t"] >= start + seconds else None
        return wait_for(moved, timeout=seconds + 25, interval=0.5, what=what)

    def test_hlsjs_keeps_playing_through_the_slate_and_back_to_live(self):
        self.start()
        pub = self.publish("cam1", "k1", seconds=120)
        self.wait_playlist("cam1", segments=1)
        state = self.player()
        self.advances(state, 2, "playback to start")
        pub.kill()
        wait_for(lambda: self.stream_info("cam1")["slate"], timeout=20, what="the slate to start")
        # Well past the media the publisher sent: the player plays the slate instead of stalling.
        self.advances(state, 6, "playback through the slate")
        self.publish("cam1", "k1", seconds=120)
        wait_for(lambda: self.stream_info("cam1")["live"], timeout=20, what="the publisher to return")
        s = self.advances(state, 6, "playback after the publisher returned")
        self.assertEqual(s["w"], 640)
        _, _, text = self.playlist("cam1")
        self.assertEqual(sum(1 for seg in llhls_check.parse(text).segments if seg.discontinuity), 2)

