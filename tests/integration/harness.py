"""Test harness: real collab binaries on temp dirs and loopback ports.

Every daemon is started by the test that needs it and stopped by PID. Waits poll for a
condition with a deadline instead of sleeping a fixed time.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest

BIN_DIR = os.environ.get("COLLAB_BIN_DIR", "")
SOURCE_DIR = os.environ.get("COLLAB_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
DAEMONS = ("chatd", "sfu", "stream")


def binary(name):
    path = os.path.join(BIN_DIR, name)
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"{path} not built (set COLLAB_BIN_DIR)")
    return path


def wait_for(cond, timeout=30.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def start_publisher(test, url, fmt="flv", size="640x360", seconds=20.0, tone="sine", extra_args=()):
    """ffmpeg publishing a test pattern (30 fps, libx264 with a keyframe a second) and a tone (AAC)
    to `url` in real time, as `fmt`; the test's cleanup kills it if it still runs. stderr is a
    pipe the test may read after the process ended."""
    args = [shutil.which("ffmpeg") or "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30", "-f", "lavfi", "-i", tone,
            "-t", str(seconds), "-c:v", "libx264", "-g", "30", "-tune", "zerolatency", "-preset", "ultrafast",
            "-c:a", "aac", *extra_args, "-f", fmt, url]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop():
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)
        p.stderr.close()
    test.addCleanup(stop)
    return p


def run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(args, **kw)


class Control:
    """A control-socket client speaking collab-ipc(7)."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("rb")
        self.hello = json.loads(self.rfile.readline())
        self.send_line(json.dumps({"hello": "collab-ipc", "version": 1}).encode())
        self.next_id = 1

    def send_line(self, data: bytes):
        self.sock.sendall(data + b"\n")

    def read_reply(self):
        line = self.rfile.readline()
        if not line:
            raise ConnectionError("control socket closed")
        return json.loads(line)

    def call(self, verb, args=None):
        req = {"id": self.next_id, "verb": verb, "args": args or {}}
        self.next_id += 1
        self.send_line(json.dumps(req).encode())
        return self.read_reply()

    def close(self):
        self.rfile.close()
        self.sock.close()


class Env:
    """A temp dir with a config made by `collab-admin init`, listeners on free ports."""

    def __init__(self, test, tls=False, extra=()):
        self.dir = tempfile.mkdtemp(prefix="collab-it-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.config = os.path.join(self.dir, "collab.toml")
        overrides = []
        for d in DAEMONS:
            overrides += ["-o", f"{d}.listen=127.0.0.1:0"]
        # collab-sfu's WebRTC ports default to a fixed port; tests run in parallel.
        overrides += ["-o", "sfu.rtc_udp_listen=127.0.0.1:0", "-o", "sfu.rtc_tcp_listen=127.0.0.1:0"]
        # ...and so does collab-stream's RTMP ingest.
        overrides += ["-o", "stream.rtmp_listen=127.0.0.1:0"]
        for e in extra:
            overrides += ["-o", e]
        r = self.admin(*overrides, "init", "--state-dir", os.path.join(self.dir, "state"),
                       "--run-dir", os.path.join(self.dir, "run"), "--web-dir", os.path.join(SOURCE_DIR, "web"),
                       "--key-file", os.path.join(self.dir, "token.key"), check=True)
        self.init_output = r.stdout

    def admin(self, *args, check=False):
        r = run([binary("collab-admin"), "-c", self.config, *args])
        if check and r.returncode != 0:
            raise AssertionError(f"collab-admin {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r

    def socket_path(self, daemon):
        return os.path.join(self.dir, "run", f"collab-{daemon}.sock")

    def start(self, test, daemon, *args):
        d = Daemon(self, daemon, args)
        test.addCleanup(d.kill)
        d.wait_ready()
        return d


class Daemon:
    def __init__(self, env, name, args=()):
        self.env = env
        self.name = name
        self.log_path = os.path.join(env.dir, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary(f"collab-{name}"), "-c", env.config, *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.status = None

    def read_log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def try_status(self):
        if not self.alive():
            raise AssertionError(f"collab-{self.name} exited {self.proc.returncode}:\n{self.read_log()}")
        try:
            c = Control(self.env.socket_path(self.name), timeout=2)
        except OSError:
            return None
        try:
            reply = c.call("status")
            return reply["result"] if reply.get("ok") else None
        finally:
            c.close()

    def wait_ready(self):
        self.status = wait_for(self.try_status, what=f"collab-{self.name} control socket")
        return self.status

    def http_address(self):
        for l in self.status["listeners"]:
            if l["kind"] == "http":
                host, port = l["address"].rsplit(":", 1)
                return host.strip("[]"), int(port)
        raise AssertionError("no http listener in status")

    def http(self, method, path, body=None, headers=None, tls_ca=None, timeout=10):
        host, port = self.http_address()
        if tls_ca:
            ctx = ssl.create_default_context(cafile=tls_ca)
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data
        finally:
            conn.close()

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.close()


def ws_send(s, payload: bytes, opcode=1):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
