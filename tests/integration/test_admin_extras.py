"""collab-admin's webhook and helpdesk verbs against a real collab-chatd: the printed webhook URL
takes a Slack-style post, remove stops it, and helpdesk stats count requests."""

import json
import subprocess
import unittest

from chat_client import ChatEnv


class AdminExtras(unittest.TestCase):
    def setUp(self):
        self.c = ChatEnv(self)
        self.u = self.c.users("tanaka", "agent")
        self.room = self.c.room("運用", "public", "tanaka")["id"]

    def admin(self, *args):
        return self.c.env.admin(*args)

    def test_webhook_add_list_remove(self):
        r = self.admin("--json", "webhook", "add", "運用", "--name", "監視")
        self.assertEqual(r.returncode, 0, r.stderr)
        hook = json.loads(r.stdout)
        host, port = self.c.daemon.http_address()
        # The printed URL uses chatd.listen, which is port 0 in tests: post to the bound port.
        path = hook["url"][hook["url"].index("/hooks/"):]
        post = subprocess.run(["curl", "-s", "-H", "Content-Type: application/json", "-d", '{"text":"disk full"}',
                               f"http://{host}:{port}{path}"], capture_output=True, text=True, timeout=30)
        self.assertEqual(json.loads(post.stdout)["success"], True, post.stdout)
        self.assertEqual(self.u["tanaka"].history(self.room)[-1]["text"], "disk full")
        listed = self.admin("--json", "webhook", "list")
        self.assertEqual(json.loads(listed.stdout.splitlines()[0])["id"], hook["id"])
        self.assertNotIn(hook["token"], listed.stdout)
        self.assertEqual(self.admin("webhook", "remove", hook["id"]).returncode, 0)
        self.assertEqual(self.admin("webhook", "remove", hook["id"]).returncode, 67)
        self.assertEqual(self.admin("webhook", "add", "no-such-room", "--name", "x").returncode, 67)

    def test_helpdesk_add_and_stats(self):
        r = self.admin("helpdesk", "add", "it", "--name", "情報システム課", "--agent", "agent")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.admin("helpdesk", "add", "x", "--agent", "nobody").returncode, 67)
        req = self.u["tanaka"].post("/api/v1/helpdesk/it/requests", {"subject": "PCが遅い", "text": "起動に5分かかります"})
        self.assertEqual(req.status, 201, req)
        stats = json.loads(self.admin("--json", "helpdesk", "stats", "it").stdout)
        self.assertEqual((stats["open"], stats["resolved"]), (1, 0))
        text = self.admin("helpdesk", "stats").stdout
        self.assertIn("open 1", text)
        self.assertIn("情報システム課", self.admin("helpdesk", "list").stdout)


if __name__ == "__main__":
    unittest.main()
