"""WHIP ingest into collab-stream (RFC 9725): the signalling rules with plain HTTP (201 with an
SDP answer and a session URL, 401/403 for keys, 409 for a name in use, 400 with a reason for a bad
offer, DELETE ends the session, PATCH 405, CORS preflight), and a real publisher: headless
Chromium with its fake camera and microphone POSTs an H.264 + Opus offer inside a network
namespace of its own; the LL-HLS playlist appears and validates, and ffprobe finds H.264 and AAC
(transcoded from Opus) in a segment.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import llhls_check
from harness import SOURCE_DIR, Control, Env, run, wait_for
from test_rtc_echo import NsDaemon, netns_available

FFPROBE = shutil.which("ffprobe")
FFMPEG = shutil.which("ffmpeg")
FP = "sha-256 " + ":".join(["AB"] * 32)


def offer(video=True, audio=True, h264=True):
    """An offer as a WHIP client makes it (sendonly, bundled); no DTLS happens with it."""
    lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    mids = (["0"] if audio else []) + (["1"] if video else [])
    lines.append("a=group:BUNDLE " + " ".join(mids))
    common = ["c=IN IP4 0.0.0.0", "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx",
              "a=fingerprint:" + FP, "a=setup:actpass", "a=rtcp-mux", "a=sendonly"]
    if audio:
        lines += ["m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", *common, "a=rtpmap:111 opus/48000/2",
                  "a=fmtp:111 minptime=10;useinbandfec=1"]
    if video:
        if h264:
            lines += ["m=video 9 UDP/TLS/RTP/SAVPF 96 102 106", "a=mid:1", *common, "a=rtpmap:96 VP8/90000",
                      "a=rtpmap:102 H264/90000",
                      "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
                      "a=rtcp-fb:102 nack pli", "a=rtpmap:106 H264/90000",
                      "a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                      "a=rtcp-fb:106 nack pli"]
        else:
            lines += ["m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:1", *common, "a=rtpmap:96 VP8/90000"]
    return ("\r\n".join(lines) + "\r\n").encode()


class WhipSignalling(unittest.TestCase):
    def start(self, keys="cam1:k1"):
        # Open to viewers: these tests are about ingest (test_stream_auth.py: tokens).
        self.env = Env(self, extra=([f"stream.publish_keys={keys}"] if keys else []) + ["stream.viewers=open"])
        self.d = self.env.start(self, "stream")
        return self.d

    def post(self, name, body, key=None, ctype="application/sdp", headers=None):
        h = {"Content-Type": ctype, **(headers or {})}
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        return self.d.http("POST", f"/whip/{name}", body=body, headers=h)

    def live(self, name):
        c = Control(self.env.socket_path("stream"))
        try:
            for s in c.call("stream.list")["result"]["streams"]:
                if s["name"] == name:
                    return s["live"]
        finally:
            c.close()
        return False

    def test_answer_location_and_delete(self):
        d = self.start()
        status, headers, body = self.post("cam1", offer(), key="k1")
        self.assertEqual(status, 201, body)
        self.assertEqual(headers["content-type"], "application/sdp")
        sdp = body.decode()
        self.assertIn("a=ice-lite", sdp)
        self.assertIn("a=recvonly", sdp)
        self.assertNotIn("a=sendrecv", sdp)
        self.assertIn("a=rtpmap:106 H264/90000", sdp)  # constrained baseline preferred
        self.assertNotIn("VP8", sdp)
        self.assertIn("opus/48000/2", sdp)
        self.assertIn("typ host", sdp)
        location = headers["location"]
        self.assertRegex(location, r"^/whip/cam1/[0-9a-f]{32}$")
        self.assertTrue(self.live("cam1"))
        self.assertEqual(d.try_status()["whip"]["sessions"], 1)
        # The same name again is in use.
        status, _, body = self.post("cam1", offer(), key="k1")
        self.assertEqual(status, 409, body)
        # Trickle ICE is not offered.
        status, headers, _ = d.http("PATCH", location, body=b"a=end-of-candidates\r\n",
                                    headers={"Content-Type": "application/trickle-ice-sdpfrag"})
        self.assertEqual(status, 405)
        self.assertIn("DELETE", headers.get("allow", ""))
        # DELETE ends the session and frees the name.
        status, _, _ = d.http("DELETE", location)
        self.assertEqual(status, 200)
        self.assertFalse(self.live("cam1"))
        self.assertEqual(d.try_status()["whip"]["sessions"], 0)
        status, _, _ = d.http("DELETE", location)
        self.assertEqual(status, 404)
        status, _, body = self.post("cam1", offer(), key="k1")
        self.assertEqual(status, 201, body)
        self.assertTrue(d.alive())

    def test_keys(self):
        self.start()
        status, headers, _ = self.post("cam1", offer())
        self.assertEqual(status, 401)
        self.assertIn("Bearer", headers.get("www-authenticate", ""))
        status, _, _ = self.post("cam1", offer(), key="wrong")
        self.assertEqual(status, 403)
        status, _, _ = self.post("cam2", offer(), key="k1")  # the key is for cam1 only
        self.assertEqual(status, 403)
        self.assertFalse(self.live("cam1"))

    def test_loopback_without_keys(self):
        self.start(keys="")
        status, _, body = self.post("any", offer())
        self.assertEqual(status, 201, body)

    def test_bad_offers_get_400_with_a_reason(self):
        d = self.start()
        cases = [
            (b"", "SDP"),
            (b"v=0\r\nbogus\r\n", "SDP"),
            (offer(h264=False), "H.264"),
            (offer(video=False), "H.264"),
            (offer().replace(b"a=fingerprint:" + FP.encode() + b"\r\n", b""), "fingerprint"),
        ]
        for body, why in cases:
            status, _, reply = self.post("cam1", body, key="k1")
            self.assertEqual(status, 400, (body, reply))
            self.assertIn(why, json.loads(reply)["error"]["message"], body)
        status, _, _ = self.post("cam1", offer(), key="k1", ctype="application/json")
        self.assertEqual(status, 415)
        status, _, _ = self.post("bad%21name", offer(), key="k1")
        self.assertEqual(status, 400)
        self.assertTrue(d.alive())
        self.assertEqual(d.try_status()["whip"]["sessions"], 0)
        self.assertFalse(self.live("cam1"))

    def test_cors_preflight_and_exposed_location(self):
        d = self.start()
        status, headers, _ = d.http("OPTIONS", "/whip/cam1", headers={
            "Origin": "https://chat.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        self.assertEqual(status, 204)
        self.assertIn("POST", headers["access-control-allow-methods"])
        self.assertIn("Authorization", headers["access-control-allow-headers"])
        self.assertEqual(headers.get("access-control-allow-origin"), "*")
        self.assertEqual(headers.get("accept-post"), "application/sdp")
        status, headers, _ = self.post("cam1", offer(), key="k1", headers={"Origin": "https://chat.example"})
        self.assertEqual(status, 201)
        self.assertIn("Location", headers["access-control-expose-headers"])
        self.assertEqual(headers.get("access-control-allow-origin"), "*")

    def test_kick_ends_the_session(self):
        d = self.start()
        status, headers, _ = self.post("cam1", offer(), key="k1")
        self.assertEqual(status, 201)
        c = Control(self.env.socket_path("stream"))
        try:
            reply = c.call("stream.kick", {"name": "cam1"})
        finally:
            c.close()
        self.assertTrue(reply["result"]["kicked"], reply)
        self.assertEqual(d.try_status()["whip"]["sessions"], 0)
        status, _, _ = d.http("DELETE", headers["location"])
        self.assertEqual(status, 404)


# Runs in the namespace: publishes the fake camera and microphone to WHIP, prints one JSON line
# when connected, keeps publishing until stdin closes (or DURATION ms), then DELETEs.
PUBLISH_MJS = textwrap.dedent("""\
    import { launch } from 'BROWSER_MJS';
    const [url, key, durationMs] = [process.argv[2], process.argv[3], Number(process.argv[4])];
    const { context, close } = await launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection']);
    const out = { ok: false, errors: [] };
    try {
      const page = await context.newPage();
      page.on('pageerror', (e) => out.errors.push(String(e)));
      await page.goto(new URL('/metrics', url).href);  // any page of the origin: a secure context
      const r = await page.evaluate(async ([url, key]) => {
        const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360, frameRate: 30 } });
        const pc = new RTCPeerConnection({ iceServers: [] });
        for (const t of media.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [media] });
        await pc.setLocalDescription(await pc.createOffer());
        const res = await fetch(url, { method: 'POST', body: pc.localDescription.sdp,
          headers: { 'Content-Type': 'application/sdp', Authorization: 'Bearer ' + key } });
        if (res.status !== 201) return { status: res.status, body: await res.text() };
        await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
        window.pc = pc;
        window.location_ = new URL(res.headers.get('Location'), url).href;
        for (let i = 0; i < 300 && pc.connectionState !== 'connected'; ++i) await new Promise((r) => setTimeout(r, 50));
        const codecs = [];
        (await pc.getStats()).forEach((s) => { if (s.type === 'codec') codecs.push(s.mimeType); });
        return { status: 201, state: pc.connectionState, location: window.location_, codecs };
      }, [url, key]);
      out.publish = r;
      console.log(JSON.stringify(out));
      if (r.state === 'connected') {
        await page.waitForTimeout(durationMs);
        out.deleted = await page.evaluate(async () => (await fetch(window.location_, { method: 'DELETE' })).status);
        out.ok = true;
      }
    } catch (e) {
      out.errors.push(String(e));
    } finally {
      await close();
    }
    console.log(JSON.stringify(out));
    process.exit(out.ok ? 0 : 1);
    """)


def ns_http(ns, url):
    """GET inside the namespace: (status, body bytes)."""
    code = ("import sys,urllib.request,urllib.error,base64,json\n"
            "try:\n r=urllib.request.urlopen(sys.argv[1],timeout=15); s,b=r.status,r.read()\n"
            "except urllib.error.HTTPError as e:\n s,b=e.code,e.read()\n"
            "print(json.dumps([s,base64.b64encode(b).decode()]))\n")
    r = run(["ip", "netns", "exec", ns, sys.executable, "-c", code, url], timeout=30)
    if r.returncode != 0:
        return 0, r.stderr.encode()
    s, b = json.loads(r.stdout)
    return s, base64.b64decode(b)


@unittest.skipUnless(shutil.which("node") and os.path.exists("/usr/bin/chromium") and FFPROBE
                     and os.path.isdir(os.path.join(SOURCE_DIR, "node_modules", "playwright-core")),
                     "chromium, node, ffprobe or playwright-core missing (make deps installs them)")
class WhipBrowser(unittest.TestCase):
    def setUp(self):
        if not netns_available():
            self.skipTest("needs root and `ip netns`")
        self.ns = f"collab-whip-{os.getpid()}-{self.id().rsplit('.', 1)[-1]}"[:60]
        r = run(["ip", "netns", "add", self.ns])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.addCleanup(run, ["ip", "netns", "delete", self.ns])
        run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)

    def test_chromium_publishes_h264_and_opus_and_hls_plays_h264_and_aac(self):
        self.publish_and_check()

    def test_packet_loss_is_repaired_by_keyframe_requests(self):
        status = self.publish_and_check(loss=0.03)
        self.assertGreater(status["video_lost_packets"], 0, status)
        self.assertGreater(status["keyframe_requests"], 0, status)

    def publish_and_check(self, loss=None):
        env = Env(self, extra=["stream.publish_keys=cam1:k1", "stream.part_ms=333", "stream.segment_ms=1000",
                               "stream.viewers=open"])
        d = NsDaemon(env, "stream", self.ns)
        self.addCleanup(d.kill)
        d.wait_ready()
        host, port = d.http_address()
        if loss:
            # Random loss on the way in: the depacketizer must drop broken video until the
            # keyframe it asks for arrives, so every segment still decodes cleanly.
            udp_port = d.status["whip"]["udp"].rsplit(":", 1)[1]
            r = run(["ip", "netns", "exec", self.ns, "iptables", "-A", "INPUT", "-p", "udp", "--dport", udp_port,
                     "-m", "statistic", "--mode", "random", "--probability", str(loss), "-j", "DROP"])
            if r.returncode != 0:
                self.skipTest(f"iptables unusable: {r.stderr.strip()}")
        tmp = tempfile.mkdtemp(prefix="collab-whip-")
        self.addCleanup(shutil.rmtree, tmp, True)
        script = os.path.join(tmp, "publish.mjs")
        with open(script, "w") as f:
            f.write(PUBLISH_MJS.replace("BROWSER_MJS", "file://" + os.path.join(SOURCE_DIR, "tests", "e2e", "browser.mjs")))
        pub = subprocess.Popen(["ip", "netns", "exec", self.ns, "node", script, f"http://{host}:{port}/whip/cam1", "k1",
                                "12000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def stop():
            if pub.poll() is None:
                pub.kill()
            pub.wait(timeout=30)
        self.addCleanup(stop)
        first = json.loads(pub.stdout.readline() or "{}")
        self.assertEqual(first.get("publish", {}).get("status"), 201, f"{first}\n{d.read_log()}")
        self.assertEqual(first["publish"]["state"], "connected", f"{first}\n{d.read_log()}")
        self.assertIn("video/H264", first["publish"]["codecs"], first)

        base = f"http://{host}:{port}/live/cam1/"

        def ready():
            s, body = ns_http(self.ns, base + "index.m3u8")
            if s != 200:
                return None
            pl = llhls_check.parse(body.decode())
            return (body.decode(), pl) if len(pl.complete_segments) >= 2 else None
        text, _ = wait_for(ready, timeout=30, interval=0.2, what=f"two segments\n{d.read_log()}")
        if loss:
            # Let the loss hit a few segments' worth of video before looking.
            wait_for(lambda: d.try_status()["whip"]["list"][0]["video_lost_packets"] > 0, timeout=30,
                     interval=0.2, what="some video lost")
            text, _ = wait_for(ready, timeout=30, interval=0.2, what="playlist")
        # A hole in the video timeline (frames dropped until the keyframe asked for after a loss,
        # or frames Chromium's encoder skips when the machine is short of CPU, as on a loaded
        # 2-core test run) makes the packager end a part early rather than let the sample before
        # the hole overrun the part target: a short part (the 85% rule is a SHOULD of the spec)
        # may appear with or without loss; every other rule must hold.
        pl = llhls_check.parse(text)
        found = [p for p in llhls_check.problems(pl) if "under 85% of PART-TARGET" not in p]
        self.assertEqual(found, [], text)
        seg = pl.complete_segments[-1]
        s, init = ns_http(self.ns, base + seg.map_uri)
        self.assertEqual(s, 200)
        s, media = ns_http(self.ns, base + seg.uri)
        self.assertEqual(s, 200)
        with open(os.path.join(tmp, "seg.mp4"), "wb") as f:
            f.write(init + media)
        r = subprocess.run([FFPROBE, "-v", "error", "-count_packets", "-show_entries",
                            "stream=codec_name,codec_type,sample_rate,nb_read_packets", "-of", "json",
                            os.path.join(tmp, "seg.mp4")], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        streams = {s["codec_type"]: s for s in json.loads(r.stdout)["streams"]}
        self.assertEqual(streams["video"]["codec_name"], "h264", streams)
        self.assertEqual(streams["audio"]["codec_name"], "aac", streams)
        self.assertEqual(streams["audio"]["sample_rate"], "48000", streams)
        # Under loss much of the video may be waiting for its keyframe; some must get through.
        self.assertGreater(int(streams["video"]["nb_read_packets"]), 0 if loss else 10, streams)
        self.assertGreater(int(streams["audio"]["nb_read_packets"]), 10, streams)
        if FFMPEG:
            r = subprocess.run([FFMPEG, "-v", "error", "-i", os.path.join(tmp, "seg.mp4"), "-f", "null", "-"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", "the segment does not decode cleanly")
        # Keyframes come often enough for ~1 s segments (we ask with PLI; browsers do not on their own).
        self.assertLessEqual(max(s.duration for s in pl.complete_segments), 3.0, text)
        status = d.try_status()
        self.assertEqual(status["whip"]["sessions"], 1, status)
        session = status["whip"]["list"][0]
        self.assertTrue(session["connected"], status)
        # The publisher DELETEs its session when done: the stream stops being live.
        out, err = pub.communicate(timeout=60)
        last = json.loads(out.strip().splitlines()[-1])
        self.assertTrue(last["ok"], f"{last}\n{err}")
        self.assertEqual(last["deleted"], 200, last)
        wait_for(lambda: d.try_status()["whip"]["sessions"] == 0, timeout=10, what="session ended")
        self.assertEqual(d.stop(), 0, d.read_log())
        self.assertNotIn("ERROR: AddressSanitizer", d.read_log())
        return session


if __name__ == "__main__":
    unittest.main()
