"""Real headless Chromium against the real collab-chatd (static files + JSON route)."""
import json
import os
import shutil
import unittest

from harness import SOURCE_DIR, Env, run


@unittest.skipUnless(shutil.which("node") and os.path.exists("/usr/bin/chromium")
                     and os.path.isdir(os.path.join(SOURCE_DIR, "node_modules", "playwright-core")),
                     "chromium, node or playwright-core missing (make deps installs them)")
class Browser(unittest.TestCase):
    def test_landing_page_loads_and_talks_to_the_api(self):
        env = Env(self)
        d = env.start(self, "chatd")
        host, port = d.http_address()
        r = run(["node", os.path.join(SOURCE_DIR, "tests", "e2e", "landing_page.mjs"), f"http://{host}:{port}/"],
                timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        result = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(result["errors"], [])
        self.assertIn("collab-chatd", result["text"])
        self.assertIn("ok", result["text"])
        self.assertEqual(result["storage"], 0)


if __name__ == "__main__":
    unittest.main()
