"""collab-stream behind nginx edge caches (issue 7, scale-out): the shipped
conf/nginx/collab-stream-edge.conf runs two Debian nginx edges in front of one origin fed by an
ffmpeg RTMP test pattern. Simulated LL-HLS players follow each edge with blocking playlist
reload and fetch every new part; the edges' access logs show that each part and each blocking
playlist reached the origin at most once per edge, however many players asked for it. A real
player (ffprobe) reads the stream through an edge too. The origin runs in its default token mode
and every player uses the same viewer token, as the web app's players do (lib/auth/viewer_token.hpp):
the edges cache by URL, token included, and still share one copy per part."""
import collections
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import llhls_check
from harness import SOURCE_DIR, Env, wait_for
from test_stream_auth import mint

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
# Debian puts nginx in /usr/sbin, which a non-root PATH may lack.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
EDGE_CONF = os.path.join(SOURCE_DIR, "conf", "nginx", "collab-stream-edge.conf")

STREAM = "cam1"
PLAYERS_PER_EDGE = 10
PLAY_SECONDS = 15.0
# Cache verdicts that mean the edge asked the origin; HIT and UPDATING were served from the cache.
ORIGIN_VERDICTS = {"MISS", "EXPIRED", "STALE", "REVALIDATED", "BYPASS"}
LOG_LINE = re.compile(r'"GET (?P<uri>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \d+ cache=(?P<cache>\S+) ')
PART_URI = re.compile(r"(?:^|/)part(\d+)\.(\d+)\.m4s(?:\?|$)")


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_edge_conf(text, values):
    """The shipped file with the argument of every `# EDIT(name)` line replaced by values[name].
    Each marker must occur exactly once, so a broken or reshaped file fails here, loudly."""
    seen = collections.Counter()
    out = []
    for line in text.splitlines():
        m = re.search(r"#\s*EDIT\(([a-z-]+)\)", line)
        if m:
            name = m.group(1)
            seen[name] += 1
            if name not in values:
                raise AssertionError(f"{EDGE_CONF}: unknown marker EDIT({name})")
            line, n = re.subn(r"^(\s*[a-z_]+\s+)[^\s;#]+", lambda g: g.group(1) + values[name], line, count=1)
            if n != 1:
                raise AssertionError(f"{EDGE_CONF}: no directive argument on the EDIT({name}) line")
        out.append(line)
    if seen != collections.Counter(values.keys()):
        raise AssertionError(f"{EDGE_CONF}: expected one each of EDIT{sorted(values)}, found {dict(seen)}")
    return "\n".join(out) + "\n"


def connections_to(port):
    """Local ends of the loopback TCP connections to port, open or recently closed (TIME_WAIT)."""
    out = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if int(remote.split(":")[1], 16) == port and state != "0A":  # 0A: LISTEN
                out.add(local)
    return out


def percentiles(times):
    times = sorted(times)
    return times[len(times) // 2], times[int(len(times) * 0.95)]


def part_key(uri):
    m = PART_URI.search(uri)
    return (int(m.group(1)), int(m.group(2))) if m else None


def next_part(pl):
    """(_HLS_msn, _HLS_part) of the part after the last one listed: what a player blocks on."""
    last = pl.segments[-1]
    if last.uri is not None:
        return last.msn + 1, 0
    return last.msn, len(last.parts)


class Edge:
    """One nginx edge on a loopback port, configured from the shipped file."""

    def __init__(self, test, name, origin_port):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"collab-edge-{name}-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.port = free_tcp_port()
        self.access_log = os.path.join(self.dir, "access.log")
        self.error_log = os.path.join(self.dir, "error.log")
        cache = os.path.join(self.dir, "cache")
        os.mkdir(cache)
        with open(EDGE_CONF) as f:
            edge = render_edge_conf(f.read(), {
                "origin": f"127.0.0.1:{origin_port}",
                "cache-path": cache,
                "listen": f"127.0.0.1:{self.port}",
                "access-log": self.access_log,
            })
        edge_path = os.path.join(self.dir, "collab-stream-edge.conf")
        with open(edge_path, "w") as f:
            f.write(edge)
        # Debian's nginx has temp paths under /var/lib/nginx compiled in: keep everything here.
        temps = "\n".join(f"    {kind}_temp_path {os.path.join(self.dir, kind)};"
                          for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        main = os.path.join(self.dir, "nginx.conf")
        with open(main, "w") as f:
            # Workers would drop to nobody when started as root, and the temp dir is 0700.
            f.write(("user root;\n" if os.geteuid() == 0 else "") +
                    f"worker_processes 1;\npid {os.path.join(self.dir, 'nginx.pid')};\n"
                    "events { worker_connections 512; }\n"
                    f"http {{\n{temps}\n    include {edge_path};\n}}\n")
        self.out = open(os.path.join(self.dir, "nginx.out"), "wb")
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-e", self.error_log, "-c", main, "-g", "daemon off;"],
                                     stdout=self.out, stderr=subprocess.STDOUT)
        test.addCleanup(self.stop)

    def logs(self):
        text = ""
        for p in (os.path.join(self.dir, "nginx.out"), self.error_log):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    text += f.read()
        return text

    def get(self, path, headers=None, timeout=15):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def wait_ready(self, path):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx edge {self.name} exited {self.proc.returncode}:\n{self.logs()}")
            try:
                code, headers, _ = self.get(path, timeout=5)
            except OSError:
                return None
            return headers if code == 200 else None
        return wait_for(ready, timeout=20, interval=0.05, what=f"edge {self.name} serving {path}")

    def log_entries(self, keep_token=False):
        """[(uri, status, cache verdict)] from the access log, in order; the viewer token (the
        same in every request) is left out of the URIs unless keep_token."""
        entries = []
        with open(self.access_log, errors="replace") as f:
            for line in f:
                m = LOG_LINE.search(line)
                if m:
                    uri = m.group("uri")
                    if not keep_token:
                        path, _, query = uri.partition("?")
                        params = [q for q in query.split("&") if q and not q.startswith("vt=")]
                        uri = path + ("?" + "&".join(params) if params else "")
                    entries.append((uri, int(m.group("status")), m.group("cache")))
        return entries

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # fast shutdown; the workers go with the master
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.out.close()


class Player(threading.Thread):
    """An LL-HLS player without the decoder: plain playlist once, then for each part the preload
    hint (held by the origin until the part exists), the blocking playlist naming that part, and
    any newly listed part it has not fetched yet. One keep-alive connection to its edge."""

    def __init__(self, port, deadline, vt):
        super().__init__(daemon=True)
        self.port = port
        self.deadline = deadline
        self.conn = None
        self.prefix = f"/live/{STREAM}/"
        self.vt = vt  # the playlist URL's token; the playlists add it to every URI they list
        self.parts = []            # part URIs fetched after joining, in order
        self.start_part = None     # last part listed when it joined
        self.last_part = None      # last part listed in its newest playlist
        self.playlists = 0
        self.cache_status = collections.Counter()
        self.blocking_times = []   # seconds per blocking playlist request
        self.hint_times = []       # seconds per preload-hint part request (held until the part exists)
        self.error = None

    def get(self, path):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
            try:
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
                self.cache_status[r.getheader("X-Cache-Status", "none")] += 1
                return r.status, body
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def fetch_part(self, uri, fetched, allow_missing=False):
        code, body = self.get(self.prefix + uri)
        if code == 404 and allow_missing:
            return  # a hinted part the segment ended before; the next playlist lists what came instead
        if code != 200 or not body:
            raise AssertionError(f"GET {uri} through the edge: {code} {body[:200]!r}")
        fetched.add(uri)
        self.parts.append(uri)

    def run(self):
        try:
            self.play()
        except Exception as e:  # reported by the test, which owns the assertions
            self.error = f"{type(e).__name__}: {e}"
        finally:
            if self.conn is not None:
                self.conn.close()

    def play(self):
        code, body = self.get(f"{self.prefix}index.m3u8?vt={self.vt}")
        if code != 200:
            raise AssertionError(f"plain playlist: {code} {body[:200]!r}")
        pl = llhls_check.check(body.decode())
        self.start_part = self.last_part = pl.last_part()
        listed = {p.uri for s in pl.segments for p in s.parts}
        fetched = set()
        while time.monotonic() < self.deadline:
            hint = pl.preload_hint["URI"]
            if hint not in fetched:
                t0 = time.monotonic()
                self.fetch_part(hint, fetched, allow_missing=True)
                self.hint_times.append(time.monotonic() - t0)
            msn, part = next_part(pl)
            t0 = time.monotonic()
            code, body = self.get(f"{self.prefix}index.m3u8?vt={self.vt}&_HLS_msn={msn}&_HLS_part={part}")
            self.blocking_times.append(time.monotonic() - t0)
            if code != 200:
                raise AssertionError(f"blocking playlist {msn}.{part}: {code} {body[:200]!r}")
            pl = llhls_check.check(body.decode())
            self.playlists += 1
            if pl.last_part() < (msn, part) and pl.last_part() < (msn + 1, 0):
                raise AssertionError(f"blocking playlist for {msn}.{part} ends at {pl.last_part()}")
            self.last_part = pl.last_part()
            for s in pl.segments:
                for p in s.parts:
                    if p.uri not in listed and p.uri not in fetched:
                        self.fetch_part(p.uri, fetched)
                    listed.add(p.uri)


@unittest.skipUnless(NGINX, "nginx is not installed (Debian package `nginx`; scripts/deps.sh installs it)")
class EdgeCache(unittest.TestCase):
    def setUp(self):
        if not FFMPEG or not FFPROBE:
            self.skipTest("ffmpeg/ffprobe not installed")
        self.env = Env(self, extra=["stream.rtmp_listen=127.0.0.1:0", "stream.publish_keys=cam1:k1"])
        self.origin = self.env.start(self, "stream")
        self.vt = mint(os.path.join(self.env.dir, "token.key"), [f"view:{STREAM}"], int(time.time()) + 3600)
        self.host, self.port = self.origin.http_address()
        rtmp_port = int(self.origin.status["rtmp"]["address"].rsplit(":", 1)[1])
        self.publisher = subprocess.Popen(
            [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
             "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine",
             "-t", "90", "-c:v", "libx264", "-g", "30", "-tune", "zerolatency", "-preset", "ultrafast",
             "-c:a", "aac", "-f", "flv", f"rtmp://127.0.0.1:{rtmp_port}/live/{STREAM}?key=k1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_publisher)

    def stop_publisher(self):
        if self.publisher.poll() is None:
            self.publisher.kill()
        self.publisher.wait(timeout=30)

    def origin_playlist(self):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", f"/live/{STREAM}/index.m3u8?vt={self.vt}")
            r = conn.getresponse()
            body = r.read()
            return llhls_check.parse(body.decode()) if r.status == 200 else None
        finally:
            conn.close()

    def wait_origin(self, segments):
        return wait_for(lambda: (pl := self.origin_playlist()) and len(pl.complete_segments) >= segments and pl,
                        timeout=40, interval=0.1, what=f"{segments} segments at the origin")

    def start_edges(self, *names):
        edges = [Edge(self, name, self.port) for name in names]
        for e in edges:
            headers = e.wait_ready(f"/live/{STREAM}/index.m3u8?vt={self.vt}")
            # The plain live playlist is never served from the cache.
            self.assertEqual(headers.get("x-cache-status"), "BYPASS", headers)
            self.assertEqual(headers.get("cache-control"), "no-cache")
        return edges

    def test_two_edges_share_each_part_among_their_players(self):
        self.wait_origin(segments=1)
        edges = self.start_edges("a", "b")
        # The edge relays live media only.
        self.assertEqual(edges[0].get("/metrics")[0], 404)

        conns_before = connections_to(self.port)
        deadline = time.monotonic() + PLAY_SECONDS
        players = {e.name: [Player(e.port, deadline, self.vt) for _ in range(PLAYERS_PER_EDGE)] for e in edges}
        for group in players.values():
            for p in group:
                p.start()
        for group in players.values():
            for p in group:
                p.join(timeout=PLAY_SECONDS + 60)
                self.assertFalse(p.is_alive(), "a player did not stop")
        # Keep-alive to the origin: a handful of connections carried every origin request.
        conns = len(connections_to(self.port) - conns_before)
        live = self.origin_playlist().last_part()

        for e in edges:
            group = players[e.name]
            for p in group:
                self.assertIsNone(p.error, f"edge {e.name}: {p.error}\n{e.logs()}")
                # About three parts a second; half of that leaves room for a loaded machine.
                self.assertGreaterEqual(len(p.parts), PLAY_SECONDS * 3 / 2, f"edge {e.name}: {p.parts}")
                keys = [part_key(u) for u in p.parts]
                self.assertEqual(keys, sorted(keys), "parts fetched out of order")
                self.assertGreater(p.last_part, p.start_part)
                # It kept up with the live edge: within two segments of the origin's newest part.
                self.assertGreaterEqual(p.last_part, (live[0] - 2, 0), f"player fell behind: {p.last_part} vs {live}")
            seen = collections.Counter()
            for p in group:
                seen.update(p.cache_status)
            self.assertGreater(seen["HIT"], 0, seen)

            entries = e.log_entries()
            to_origin = collections.defaultdict(list)
            served = collections.Counter()
            for uri, status, cache in entries:
                cacheable = "_HLS_msn=" in uri or not uri.endswith(".m3u8")
                if status == 200 and cacheable:
                    served[uri] += 1
                    if cache in ORIGIN_VERDICTS:
                        to_origin[uri].append(cache)
            # Every part, segment and blocking playlist reached the origin at most once from this
            # edge; the other players' requests waited on the cache lock and were served from it.
            repeated = {u: v for u, v in to_origin.items() if len(v) > 1}
            self.assertEqual(repeated, {}, f"edge {e.name} asked the origin more than once for these")
            parts_served = sum(n for u, n in served.items() if PART_URI.search(u))
            parts_from_origin = sum(1 for u in to_origin if PART_URI.search(u))
            playlists_served = sum(n for u, n in served.items() if "_HLS_msn=" in u)
            playlists_from_origin = sum(1 for u in to_origin if "_HLS_msn=" in u)
            # One origin request per part per edge, not one per viewer: with ten players nearly
            # every part was served ten times for one fetch.
            self.assertGreaterEqual(parts_from_origin, PLAY_SECONDS * 3 / 2)
            self.assertGreaterEqual(parts_served, parts_from_origin * PLAYERS_PER_EDGE * 0.8,
                                    f"edge {e.name}: {parts_served} parts served for {parts_from_origin} fetched")
            self.assertGreaterEqual(playlists_served, playlists_from_origin * PLAYERS_PER_EDGE * 0.5,
                                    f"edge {e.name}: {playlists_served} playlists for {playlists_from_origin} fetched")
            hint_p50, hint_p95 = percentiles([t for p in group for t in p.hint_times])
            reload_p50, reload_p95 = percentiles([t for p in group for t in p.blocking_times])
            # Waiting for a new part through the edge: the first player waits for the origin to
            # make it (<= a part time), the others for nginx's cache-lock check (every 500 ms).
            self.assertLess(hint_p95, 2.0, f"edge {e.name}: preload hints too slow")
            print(f"edge {e.name}: {parts_served} part responses from {parts_from_origin} origin fetches, "
                  f"{playlists_served} blocking playlists from {playlists_from_origin}; preload-hint wait "
                  f"p50 {hint_p50:.3f}s p95 {hint_p95:.3f}s, blocking reload p50 {reload_p50:.3f}s "
                  f"p95 {reload_p95:.3f}s; verdicts {dict(seen)}")

        origin_requests = sum(1 for e in edges for _, _, c in e.log_entries() if c in ORIGIN_VERDICTS)
        print(f"{origin_requests} origin requests from both edges over {conns} new TCP connections")
        self.assertLessEqual(conns, 2 * PLAYERS_PER_EDGE + 4)
        self.assertGreater(origin_requests, 4 * conns)

        # A real player through an edge: ffprobe reads the playlist, the init segment and media.
        url = f"http://127.0.0.1:{edges[1].port}/live/{STREAM}/index.m3u8?vt={self.vt}"
        r = subprocess.run([FFPROBE, "-v", "error", "-show_entries", "stream=codec_name,codec_type,width,height",
                            "-of", "json", url], capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        streams = {s["codec_type"]: s for s in json.loads(r.stdout)["streams"]}
        self.assertEqual(streams["video"]["codec_name"], "h264")
        self.assertEqual((streams["video"]["width"], streams["video"]["height"]), (640, 360))
        self.assertEqual(streams["audio"]["codec_name"], "aac")
        media = [(u, c) for u, s, c in edges[1].log_entries() if s == 200 and re.search(r"/(seg\d+\.m4s|init\d+\.mp4)$", u)]
        self.assertTrue(media, "ffprobe's segment requests are not in the edge's log")
        self.assertTrue(all(c in ("MISS", "HIT") for _, c in media), media)
        self.assertIsNone(self.publisher.poll(), "the publisher stopped early")
        # Every request the players and ffprobe made carried the token: the playlists gave it to them.
        for e in edges:
            unsigned = [u for u, _, _ in e.log_entries(keep_token=True)
                        if u.startswith("/live/") and f"vt={self.vt}" not in u]
            self.assertEqual(unsigned, [], f"edge {e.name}: requests without the viewer token")

    # collab-stream sends Access-Control-Allow-Origin on every /live/ response when cors_origins
    # is "*" (and "Vary: Origin" on every one otherwise), so a cached copy fetched without an
    # Origin still serves browsers.
    def test_cors_header_survives_the_edge_cache(self):
        """A browser's cross-origin request gets Access-Control-Allow-Origin even when the edge
        cached the response for a player that sent no Origin (ffmpeg, a TV, Safari same-origin)."""
        pl = self.wait_origin(segments=1)
        edge = self.start_edges("c")[0]
        path = f"/live/{STREAM}/{pl.complete_segments[-1].uri}"
        code, headers, _ = edge.get(path)
        self.assertEqual((code, headers.get("x-cache-status")), (200, "MISS"))
        code, headers, _ = edge.get(path, headers={"Origin": "https://chat.example"})
        self.assertEqual(code, 200)
        self.assertEqual(headers.get("access-control-allow-origin"), "*", headers)

    def test_edge_serves_nothing_without_the_token(self):
        """Edges do not check tokens, but their cache key holds the query: the same part without
        the token (or with another) is a different key, a miss, which the origin refuses."""
        pl = self.wait_origin(segments=1)
        edge = self.start_edges("d")[0]
        path = f"/live/{STREAM}/{pl.complete_segments[-1].uri}"
        self.assertTrue(path.endswith(f"?vt={self.vt}"), path)
        self.assertEqual(edge.get(path)[0], 200)
        self.assertEqual(edge.get(path)[2] and edge.get(path)[1].get("x-cache-status"), "HIT")
        bare = path.split("?")[0]
        for attempt in range(2):  # twice: the refusal is not cached either
            code, headers, _ = edge.get(bare)
            self.assertEqual((code, headers.get("x-cache-status")), (401, "MISS"), attempt)
        code, headers, _ = edge.get(f"{bare}?vt=v1.forged.token")
        self.assertEqual(code, 401)


if __name__ == "__main__":
    unittest.main()
