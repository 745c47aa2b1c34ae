"""-t, -T and -o on every daemon, against files made by collab-admin init."""
import os
import unittest

from harness import DAEMONS, Env, binary, run


class CheckConfig(unittest.TestCase):
    def test_good_config_is_ok_for_every_daemon(self):
        env = Env(self)
        for d in DAEMONS:
            r = run([binary(f"collab-{d}"), "-c", env.config, "-t"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("configuration OK", r.stdout)

    def test_syntax_error_names_file_and_line(self):
        env = Env(self)
        with open(env.config, "a") as f:
            f.write("\n[chatd\nlisten = 1\n")
        lines = open(env.config).read().count("\n")
        for d in DAEMONS:
            r = run([binary(f"collab-{d}"), "-c", env.config, "-t"])
            self.assertEqual(r.returncode, 78, r.stderr)
            self.assertIn(f"{env.config}:{lines - 1}:", r.stderr)

    def test_unknown_key_names_key_and_line(self):
        env = Env(self)
        with open(env.config) as f:
            lines = f.read().split("\n")
        at = lines.index("[sfu]") + 1
        lines.insert(at, 'lisen = "x"')
        with open(env.config, "w") as f:
            f.write("\n".join(lines))
        line = at + 1
        r = run([binary("collab-sfu"), "-c", env.config, "-t"])
        self.assertEqual(r.returncode, 78)
        self.assertIn(f"{env.config}:{line}:", r.stderr)
        self.assertIn("lisen", r.stderr)

    def test_bad_value_type_is_rejected(self):
        env = Env(self)
        text = open(env.config).read().replace("max_body_bytes = 1048576", 'max_body_bytes = "big"', 1)
        open(env.config, "w").write(text)
        r = run([binary("collab-chatd"), "-c", env.config, "-t"])
        self.assertEqual(r.returncode, 78)
        self.assertIn("max_body_bytes", r.stderr)

    def test_bad_metrics_range_names_file_line_and_entry(self):
        env = Env(self)
        with open(env.config) as f:
            lines = f.read().split("\n")
        start = lines.index("[stream]")
        at = next(i for i in range(start, len(lines)) if lines[i].startswith("metrics_allow ="))
        lines[at] = 'metrics_allow = ["127.0.0.0/8", "10.1.2.3/8"]'
        with open(env.config, "w") as f:
            f.write("\n".join(lines))
        r = run([binary("collab-stream"), "-c", env.config, "-t"])
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(f"{env.config}:{at + 1}:", r.stderr)
        self.assertIn("metrics_allow", r.stderr)
        self.assertIn("10.1.2.3/8", r.stderr)
        self.assertIn("bits set after the first 8", r.stderr)

    def test_missing_file_is_a_config_error(self):
        r = run([binary("collab-stream"), "-c", "/nonexistent/collab.toml", "-t"])
        self.assertEqual(r.returncode, 78)
        self.assertIn("/nonexistent/collab.toml", r.stderr)

    def test_bad_usage_exits_64(self):
        r = run([binary("collab-chatd"), "--no-such-flag"])
        self.assertEqual(r.returncode, 64)
        r = run([binary("collab-admin"), "frobnicate"])
        self.assertEqual(r.returncode, 64)


class DumpConfig(unittest.TestCase):
    def test_dump_round_trips(self):
        env = Env(self)
        first = run([binary("collab-chatd"), "-c", env.config, "-T"])
        self.assertEqual(first.returncode, 0, first.stderr)
        dumped = os.path.join(env.dir, "dumped.toml")
        open(dumped, "w").write(first.stdout)
        second = run([binary("collab-chatd"), "-c", dumped, "-T"])
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(first.stdout, second.stdout)
        self.assertIn("[chatd]", first.stdout)
        self.assertIn("[stream]", first.stdout)

    def test_override_changes_dump_and_unknown_override_fails(self):
        env = Env(self)
        r = run([binary("collab-chatd"), "-c", env.config, "-o", "chatd.max_body_bytes=4096", "-o",
                 "log.level=debug", "-T"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("max_body_bytes = 4096", r.stdout)
        self.assertIn('level = "debug"', r.stdout)
        r = run([binary("collab-chatd"), "-c", env.config, "-o", "chatd.nope=1", "-t"])
        self.assertEqual(r.returncode, 78)
        self.assertIn("chatd.nope", r.stderr)
        r = run([binary("collab-chatd"), "-c", env.config, "-o", "chatd.max_body_bytes=lots", "-t"])
        self.assertEqual(r.returncode, 78)

    def test_admin_config_verbs(self):
        env = Env(self)
        r = env.admin("config", "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = env.admin("config", "show", "--non-default")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("state_dir", r.stdout)
        self.assertNotIn("max_body_bytes", r.stdout)
        r = env.admin("--json", "config", "show")
        self.assertEqual(r.returncode, 0, r.stderr)
        import json
        doc = json.loads(r.stdout)
        self.assertEqual(doc["chatd"]["max_body_bytes"], 1048576)
        r = env.admin("config", "defaults")
        self.assertEqual(r.returncode, 0)
        self.assertIn("# ", r.stdout)
        defaults = os.path.join(env.dir, "defaults.toml")
        open(defaults, "w").write(r.stdout)
        r = run([binary("collab-chatd"), "-c", defaults, "-t"])
        self.assertEqual(r.returncode, 0, r.stderr)


class Init(unittest.TestCase):
    def test_init_creates_key_with_mode_0600_and_refuses_overwrite(self):
        env = Env(self)
        key = os.path.join(env.dir, "token.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertEqual(len(open(key).read().strip()), 64)
        self.assertTrue(os.path.isdir(os.path.join(env.dir, "state")))
        before = open(key).read()
        r = env.admin("init")
        self.assertEqual(r.returncode, 73)
        self.assertIn("--force", r.stderr)
        r = env.admin("init", "--force", "--key-file", key)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(open(key).read(), before, "an existing key must be kept")


if __name__ == "__main__":
    unittest.main()
