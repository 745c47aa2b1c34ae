"""Intranet TLS: collab-admin cert ca|issue, a daemon serving HTTPS, SIGHUP picking up a renewal."""
import json
import os
import signal
import socket
import ssl
import unittest

from harness import Env, run, wait_for


def peer_cert_der(host, port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


class Tls(unittest.TestCase):
    def make_env(self):
        env = Env(self)
        ca_dir = os.path.join(env.dir, "ca")
        r = env.admin("cert", "ca", "--dir", ca_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(os.path.join(ca_dir, "ca.key")).st_mode & 0o777, 0o600)
        r = env.admin("cert", "ca", "--dir", ca_dir)
        self.assertNotEqual(r.returncode, 0, "an existing CA must not be overwritten")
        cert = os.path.join(env.dir, "tls", "server.crt")
        key = os.path.join(env.dir, "tls", "server.key")
        r = env.admin("cert", "issue", "--dir", ca_dir, "--cert", cert, "--key", key, "localhost", "127.0.0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = open(env.config).read().replace('tls_cert = ""', f'tls_cert = "{cert}"').replace(
            'tls_key = ""', f'tls_key = "{key}"')
        open(env.config, "w").write(text)
        return env, os.path.join(ca_dir, "ca.crt"), ca_dir, cert, key

    def test_https_with_intranet_ca_and_reload_of_renewed_cert(self):
        env, ca, ca_dir, cert, key = self.make_env()
        d = env.start(self, "chatd")
        self.assertTrue([l for l in d.status["listeners"] if l["kind"] == "http"][0]["tls"])
        host, port = d.http_address()
        # The name verified is one of the SANs we issued.
        import http.client
        conn = http.client.HTTPSConnection("localhost", port, timeout=10, context=ssl.create_default_context(cafile=ca))
        conn.request("GET", "/api/v1/health")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertIn("max-age", resp.getheader("strict-transport-security", ""))
        self.assertEqual(json.loads(resp.read())["program"], "collab-chatd")
        conn.close()
        first = peer_cert_der(host, port, ca)
        r = env.admin("cert", "issue", "--dir", ca_dir, "--cert", cert, "--key", key, "localhost", "127.0.0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        d.send_signal(signal.SIGHUP)
        wait_for(lambda: (d.try_status() or {}).get("reloads") == 1, what="reload after renewal")
        second = peer_cert_der(host, port, ca)
        self.assertNotEqual(first, second, "new connections must see the renewed certificate")

    def test_broken_certificate_on_reload_keeps_the_old_one(self):
        env, ca, ca_dir, cert, key = self.make_env()
        d = env.start(self, "stream")
        host, port = d.http_address()
        first = peer_cert_der(host, port, ca)
        open(cert, "w").write("not a certificate\n")
        r = env.admin("reload", "stream")
        self.assertEqual(r.returncode, 78)
        self.assertEqual(peer_cert_der(host, port, ca), first)
        self.assertTrue(d.alive())

    def test_issue_rejects_bad_host_names(self):
        env = Env(self)
        ca_dir = os.path.join(env.dir, "ca")
        self.assertEqual(env.admin("cert", "ca", "--dir", ca_dir).returncode, 0)
        r = env.admin("cert", "issue", "--dir", ca_dir, "bad host")
        self.assertEqual(r.returncode, 64)


if __name__ == "__main__":
    unittest.main()
