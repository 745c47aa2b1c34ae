"""The daemon skeleton: status, reload, drain, and surviving bad input."""
import json
import os
import signal
import socket
import time
import unittest

from harness import DAEMONS, Control, Env, run, binary, wait_for


class Lifecycle(unittest.TestCase):
    def test_all_daemons_start_and_answer_status_and_health(self):
        env = Env(self)
        daemons = {d: env.start(self, d) for d in DAEMONS}
        r = env.admin("--json", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([l["program"] for l in lines], [f"collab-{d}" for d in DAEMONS])
        for l in lines:
            self.assertTrue(l["running"])
            self.assertEqual(l["config_file"], env.config)
            self.assertGreaterEqual(l["uptime_s"], 0)
            self.assertIn("version", l)
            kinds = {x["kind"] for x in l["listeners"]}
            self.assertEqual(kinds, {"http", "control"})
        r = env.admin("status", "chatd")
        self.assertEqual(r.returncode, 0)
        self.assertIn("collab-chatd", r.stdout)
        for d, proc in daemons.items():
            code, headers, body = proc.http("GET", "/api/v1/health")
            self.assertEqual(code, 200)
            doc = json.loads(body)
            self.assertEqual(doc["program"], f"collab-{d}")
            self.assertEqual(headers.get("cache-control"), "no-store")
            self.assertEqual(headers.get("x-content-type-options"), "nosniff")

    def test_status_of_stopped_daemon_exits_69(self):
        env = Env(self)
        r = env.admin("status", "sfu")
        self.assertEqual(r.returncode, 69)
        self.assertIn("not running", r.stdout)
        r = env.admin("--json", "status", "sfu")
        self.assertEqual(r.returncode, 69)
        self.assertFalse(json.loads(r.stdout)["running"])

    def test_sigterm_drains_exits_0_and_removes_socket(self):
        env = Env(self)
        d = env.start(self, "chatd")
        path = env.socket_path("chatd")
        self.assertTrue(os.path.exists(path))
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o660)
        self.assertEqual(d.stop(signal.SIGTERM), 0, d.read_log())
        self.assertFalse(os.path.exists(path))

    def test_sigint_with_open_websocket_exits_0(self):
        env = Env(self)
        d = env.start(self, "stream")
        host, port = d.http_address()
        # An idle connection must not hold up the drain.
        idle = socket.create_connection((host, port), timeout=5)
        self.addCleanup(idle.close)
        self.assertEqual(d.stop(signal.SIGINT), 0, d.read_log())


class Reload(unittest.TestCase):
    def test_broken_config_keeps_serving_then_good_config_reloads(self):
        env = Env(self)
        d = env.start(self, "chatd")
        good = open(env.config).read()
        with open(env.config, "w") as f:
            f.write(good.replace("[chatd]\n", "[chatd]\nbogus = 1\n", 1))
        r = env.admin("reload", "chatd")
        self.assertEqual(r.returncode, 78)
        self.assertIn("bogus", r.stderr)
        # SIGHUP with the broken file: logged, old config kept, still serving.
        d.send_signal(signal.SIGHUP)
        wait_for(lambda: "keeping the old configuration" in d.read_log(), what="reload error in the log")
        code, _, _ = d.http("GET", "/api/v1/health")
        self.assertEqual(code, 200)
        open(env.config, "w").write(good.replace('level = "info"', 'level = "debug"'))
        r = env.admin("reload", "chatd")
        self.assertEqual(r.returncode, 0, r.stderr)
        status = d.try_status()
        self.assertEqual(status["reloads"], 1)
        d.send_signal(signal.SIGHUP)
        wait_for(lambda: (d.try_status() or {}).get("reloads") == 2, what="second reload")

    def test_reload_all_reports_missing_daemons(self):
        env = Env(self)
        env.start(self, "sfu")
        r = env.admin("reload", "all")
        self.assertEqual(r.returncode, 69)
        self.assertIn("collab-sfu reloaded", r.stdout)
        self.assertIn("collab-chatd", r.stderr)


class BadInput(unittest.TestCase):
    def test_malformed_control_frames_get_errors_and_daemon_stays_up(self):
        env = Env(self)
        d = env.start(self, "sfu")
        c = Control(env.socket_path("sfu"))
        self.addCleanup(c.close)
        self.assertEqual(c.hello["hello"], "collab-ipc")
        self.assertEqual(c.hello["program"], "collab-sfu")
        for garbage in (b"this is not json", b"[1,2,3]", b'{"id":7}', b'{"id":8,"verb":"no-such-verb"}',
                        b'{"id":9,"verb":42}', b"\xff\xfe{", b"{" * 5000):
            c.send_line(garbage)
            reply = c.read_reply()
            self.assertFalse(reply["ok"], garbage)
            self.assertIn(reply["error"]["status"], (64, 65))
            self.assertTrue(reply["error"]["message"])
        reply = c.call("status")
        self.assertTrue(reply["ok"])
        # An oversized frame closes that connection only.
        big = socket.socket(socket.AF_UNIX)
        big.connect(env.socket_path("sfu"))
        big.settimeout(10)
        big.recv(4096)
        try:
            big.sendall(b"x" * (2 << 20))
        except OSError:
            pass
        big.close()
        self.assertIsNotNone(d.try_status())
        self.assertTrue(d.alive())

    def test_body_over_limit_gets_413_and_daemon_stays_up(self):
        # The listener's limit is the larger of max_body_bytes and the upload limit (uploads are
        # the only big bodies); JSON routes check max_body_bytes themselves (test_chat_bad_input).
        env = Env(self, extra=["chatd.max_body_bytes=4096", "chatd.max_file_bytes=4096"])
        d = env.start(self, "chatd")
        code, _, body = d.http("POST", "/api/v1/health", body=b"x" * 100000,
                               headers={"Content-Type": "application/json"})
        self.assertEqual(code, 413)
        self.assertEqual(json.loads(body)["error"]["status"], 413)
        code, _, _ = d.http("GET", "/api/v1/health")
        self.assertEqual(code, 200)

    def test_garbage_http_and_unknown_routes(self):
        env = Env(self)
        d = env.start(self, "stream")
        host, port = d.http_address()
        for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET " + b"a" * 20000 + b"\r\n\r\n"):
            s = socket.create_connection((host, port), timeout=5)
            try:
                s.sendall(junk)
                s.recv(4096)
            except OSError:
                pass
            s.close()
        code, _, body = d.http("GET", "/no/such/route")
        self.assertEqual(code, 404)
        self.assertIn("error", json.loads(body))
        self.assertTrue(d.alive())


if __name__ == "__main__":
    unittest.main()
