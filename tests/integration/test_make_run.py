"""`make run`'s script on a temp dir: prints URLs that answer, and Ctrl-C stops everything with 0."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest
import urllib.request

from harness import BIN_DIR, SOURCE_DIR, binary, wait_for


class MakeRun(unittest.TestCase):
    def test_run_script_starts_suite_and_ctrl_c_stops_it(self):
        binary("collab-chatd")
        var = tempfile.mkdtemp(prefix="collab-run-")
        self.addCleanup(shutil.rmtree, var, True)
        env = dict(os.environ, COLLAB_BIN_DIR=BIN_DIR, COLLAB_VAR_DIR=var,
                   COLLAB_RUN_INIT_ARGS="-o chatd.listen=127.0.0.1:0 -o sfu.listen=127.0.0.1:0 -o stream.listen=127.0.0.1:0 "
                   "-o sfu.rtc_udp_listen=127.0.0.1:0 -o sfu.rtc_tcp_listen=127.0.0.1:0 -o stream.rtmp_listen=127.0.0.1:0")
        proc = subprocess.Popen([os.path.join(SOURCE_DIR, "scripts", "run.sh")], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        out = []
        reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
        reader.start()
        urls = wait_for(lambda: re.findall(r"(http://127\.0\.0\.1:\d+/)", "".join(out)) if "Ctrl-C" in "".join(out)
                        else (proc.poll() is not None and self.fail("".join(out))), what="printed URLs")
        self.assertEqual(len(urls), 3, "".join(out))
        for u in urls:
            with urllib.request.urlopen(u + "api/v1/health", timeout=10) as r:
                self.assertEqual(json.loads(r.read())["status"], "ok")
        with urllib.request.urlopen(urls[0], timeout=10) as r:
            self.assertIn(b"<html", r.read().lower())
        self.assertTrue(os.path.exists(os.path.join(var, "collab.toml")))
        self.assertEqual(os.stat(os.path.join(var, "token.key")).st_mode & 0o777, 0o600)
        # The first administrator can log in to the web app with the password make run kept.
        pwfile = os.path.join(var, "admin-password")
        self.assertEqual(os.stat(pwfile).st_mode & 0o777, 0o600)
        with open(pwfile) as f:
            password = f.read().strip()
        req = urllib.request.Request(urls[0] + "api/v1/login", method="POST",
                                     data=json.dumps({"username": "admin", "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            self.assertEqual(json.loads(r.read())["user"]["role"], "admin")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        self.assertEqual(proc.wait(timeout=60), 0, "".join(out))
        reader.join(timeout=10)
        self.assertIn("collab stopped", "".join(out))
        self.assertEqual(os.listdir(os.path.join(var, "run")), [], "control sockets must be removed")


if __name__ == "__main__":
    unittest.main()
