"""collab-stream's ABR ladder (stream.ladder): ffmpeg publishes a 320x240 test pattern over RTMP;
with a 120p rung, /live/NAME/master.m3u8 lists the source and the rung with BANDWIDTH,
RESOLUTION, CODECS and FRAME-RATE; the rung's playlist passes the LL-HLS checker, holds blocking
reloads, and its segments are H.264 at 120 lines with the source's AAC, cut where the source's are. With viewer tokens every
URI in the master and the rung's playlist carries vt. Without a ladder master.m3u8 is 404."""
import json
import time

import llhls_check
from harness import Env, wait_for
from test_stream import StreamTest, probe, tfdt_by_track
from test_stream_auth import URI_ATTR, mint

LADDER = "stream.ladder=120p:150k"


def variants(text):
    """[(attributes, uri)] of a multivariant playlist."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    out = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:") and i + 1 < len(lines):
            out.append((llhls_check.attributes(line.split(":", 1)[1]), lines[i + 1]))
    return out


class LadderBase(StreamTest):
    def publish_small(self, name, key, seconds=40):
        # 320x240 at 15 fps, a keyframe a second: small enough for two shared cores.
        return self.publish(name, key, seconds=seconds,
                            extra_args=["-vf", "scale=320:240,fps=15", "-g", "15", "-b:v", "400k"])

    def wait_master(self, name, query="", count=2):
        def ready():
            code, _, body = self.get(f"/live/{name}/master.m3u8{query}")
            if code != 200:
                return None
            v = variants(body.decode())
            # FRAME-RATE comes once a few frames were seen; wait for the complete picture.
            return (body.decode(), v) if len(v) >= count and all("FRAME-RATE" in a for a, _ in v) else None
        return wait_for(ready, timeout=60, interval=0.2, what=f"a master playlist with {count} variants")

    def wait_rung(self, name, rung, segments=2, query=""):
        def ready():
            code, _, body = self.get(f"/live/{name}/{rung}/index.m3u8{query}")
            if code != 200:
                return None
            pl = llhls_check.parse(body.decode())
            return (body.decode(), pl) if len(pl.complete_segments) >= segments else None
        return wait_for(ready, timeout=60, interval=0.2, what=f"{segments} segments of {name}/{rung}")



class Ladder(LadderBase):
    def test_master_lists_the_rung_which_plays_like_the_source(self):
        self.start(LADDER)
        self.publish_small("cam1", "k1")
        text, vs = self.wait_master("cam1")
        self.assertEqual(len(vs), 2, text)
        (src, src_uri), (rung, rung_uri) = vs
        self.assertEqual(src_uri, "index.m3u8")
        self.assertEqual(rung_uri, "r120/index.m3u8")
        self.assertEqual(src["RESOLUTION"], "320x240")
        self.assertEqual(rung["RESOLUTION"], "160x120")
        for v in (src, rung):
            self.assertGreater(int(v["BANDWIDTH"]), 0)
            codecs = v["CODECS"].split(",")
            self.assertRegex(codecs[0], r"^avc1\.[0-9a-f]{6}$")
            self.assertEqual(codecs[1], "mp4a.40.2")
            self.assertAlmostEqual(float(v["FRAME-RATE"]), 15, delta=1.5)

        # The rung's media playlist obeys the same LL-HLS rules as the source's.
        rtext, _ = self.wait_rung("cam1", "r120", segments=2)
        pl = llhls_check.check(rtext)
        seg = pl.complete_segments[-1]
        _, _, init = self.get(f"/live/cam1/r120/{seg.map_uri}")
        code, headers, data = self.get(f"/live/cam1/r120/{seg.uri}")
        self.assertEqual(code, 200)
        self.assertIn("immutable", headers["cache-control"])
        streams = probe(init + data)
        self.assertEqual(streams["video"]["codec_name"], "h264")
        self.assertEqual(streams["video"]["height"], 120)
        self.assertEqual(streams["audio"]["codec_name"], "aac")
        self.assertGreater(int(streams["video"]["nb_read_packets"]), 5)

        # IDRs where the source has keyframes: the rung's segments have the source's numbers,
        # durations and start times, so a player switches between them at segment boundaries.
        _, _, body = self.get("/live/cam1/index.m3u8")
        src_segs = {x.msn: x for x in llhls_check.parse(body.decode()).complete_segments}
        common = [x for x in pl.complete_segments if x.msn in src_segs]
        self.assertTrue(common)
        for x in common[-2:]:
            self.assertAlmostEqual(x.duration, src_segs[x.msn].duration, delta=0.002)
            self.assertEqual(tfdt_by_track(self.get(f"/live/cam1/r120/{x.uri}")[2]),
                             tfdt_by_track(self.get(f"/live/cam1/{src_segs[x.msn].uri}")[2]))

        # Measured bandwidths once segments are complete: AVERAGE-BANDWIDTH appears.
        text, vs = self.wait_master("cam1")
        self.assertIn("AVERAGE-BANDWIDTH", vs[1][0], text)
        self.assertLess(int(vs[1][0]["AVERAGE-BANDWIDTH"]), int(vs[0][0]["AVERAGE-BANDWIDTH"]) * 2)

        # Blocking reload on the rung: held until the next part exists, then answered.
        _, _, body = self.get("/live/cam1/r120/index.m3u8")
        msn, part = llhls_check.check(body.decode()).last_part()
        t0 = time.monotonic()
        code, headers, body = self.get(f"/live/cam1/r120/index.m3u8?_HLS_msn={msn}&_HLS_part={part + 1}")
        elapsed = time.monotonic() - t0
        self.assertEqual(code, 200, body)
        self.assertGreater(llhls_check.check(body.decode()).last_part(), (msn, part))
        self.assertLess(elapsed, 3.0)
        self.assertIn("max-age", headers["cache-control"])
        # A rung that is not configured, and the stream list's renditions.
        self.assertEqual(self.get("/live/cam1/r360/index.m3u8")[0], 404)
        _, _, body = self.get("/api/v1/streams")
        info = [s for s in json.loads(body)["streams"] if s["name"] == "cam1"][0]
        self.assertEqual(info["master"], "/live/cam1/master.m3u8")
        self.assertEqual([r["name"] for r in info["renditions"]], ["r120"])
        self.assertTrue(info["renditions"][0]["live"])
        self.assertEqual(info["renditions"][0]["playlist"], "/live/cam1/r120/index.m3u8")
        # Two cores keep up with a 120p rung of a 15 fps source: nothing dropped.
        metrics = self.get("/metrics")[2].decode()
        self.assertIn('collab_stream_stream_ladder_dropped_frames_total{stream="cam1"} 0\n', metrics)

    def test_without_a_ladder_master_is_404(self):
        self.start()
        self.publish_small("cam1", "k1", seconds=20)
        self.wait_playlist("cam1", segments=1)
        code, _, body = self.get("/live/cam1/master.m3u8")
        self.assertEqual(code, 404, body)
        self.assertEqual(self.get("/live/cam1/r120/index.m3u8")[0], 404)
        _, _, body = self.get("/api/v1/streams")
        info = [s for s in json.loads(body)["streams"] if s["name"] == "cam1"][0]
        self.assertNotIn("renditions", info)


class LadderTokens(LadderBase):
    def start(self, *extra):
        # Viewer tokens (the default mode) instead of StreamTest's open streams.
        self.env = Env(self, extra=["stream.rtmp_listen=127.0.0.1:0", f"stream.publish_keys={self.KEYS}", *extra])
        self.d = self.env.start(self, "stream")
        self.rtmp_port = int(self.d.status["rtmp"]["address"].rsplit(":", 1)[1])
        self.host, self.port = self.d.http_address()
        return self.d

    def test_master_and_rung_uris_carry_the_token(self):
        self.start(LADDER)
        self.publish_small("cam1", "k1")
        vt = mint(f"{self.env.dir}/token.key", ["view:cam1"], int(time.time()) + 600)
        self.assertEqual(self.get("/live/cam1/master.m3u8")[0], 401)
        self.assertEqual(self.get("/live/cam1/r120/index.m3u8")[0], 401)
        text, vs = self.wait_master("cam1", f"?vt={vt}")
        for _, uri in vs:
            self.assertTrue(uri.endswith(f"?vt={vt}"), uri)
        rtext, _ = self.wait_rung("cam1", "r120", segments=1, query=f"?vt={vt}")
        pl = llhls_check.check(rtext)
        uris = [l for l in rtext.splitlines() if l and not l.startswith("#")]
        for line in rtext.splitlines():
            if line.startswith("#EXT"):
                uris += URI_ATTR.findall(line)
        self.assertTrue(uris)
        for uri in uris:
            self.assertTrue(uri.endswith(f"vt={vt}"), uri)
        code, _, _ = self.get(f"/live/cam1/r120/{pl.complete_segments[-1].uri}")
        self.assertEqual(code, 200)
