"""Man pages, completions and shipped config files stay true to the binaries."""
import glob
import os
import re
import shutil
import unittest

from harness import SOURCE_DIR, binary, run

PROGRAMS = ("collab-chatd", "collab-sfu", "collab-stream", "collab-admin")
ADMIN_SUBCOMMANDS = (["init"], ["config", "show"], ["status"], ["reload"], ["cert", "ca"], ["cert", "issue"],
                     ["stream", "list"], ["stream", "kick"])
# Subcommands of the daemons with options of their own.
DAEMON_SUBCOMMANDS = {"collab-stream": (["publish"],)}


def help_options(text):
    opts = set()
    for line in text.splitlines():
        m = re.match(r"\s+((?:-[A-Za-z0-9],)?--?[A-Za-z][\w-]*)", line)
        if not m:
            continue
        for o in m.group(1).split(","):
            if o not in ("-h", "--help"):
                opts.add(o)
    return opts


def rendered_man(path):
    r = run(["mandoc", "-T", "ascii", path])
    assert r.returncode == 0, r.stderr
    return re.sub(".\b", "", r.stdout)


def has_option(text, opt):
    return re.search(r"(?<![\w-])" + re.escape(opt) + r"(?![\w-])", text) is not None


def fish_has_option(text, opt):
    if opt.startswith("--"):
        return re.search(r"-l\s+" + re.escape(opt[2:]) + r"\b", text) is not None or has_option(text, opt)
    return re.search(r"-s\s+" + re.escape(opt[1:]) + r"\b", text) is not None or has_option(text, opt)


class ManPages(unittest.TestCase):
    def test_mandoc_lint_is_clean(self):
        pages = sorted(glob.glob(os.path.join(SOURCE_DIR, "man", "*.[578]")))
        self.assertEqual(len(pages), 7, pages)
        for page in pages:
            r = run(["mandoc", "-T", "lint", "-W", "warning", page])
            problems = [l for l in (r.stdout + r.stderr).splitlines() if "referenced manual not found" not in l]
            self.assertEqual(problems, [], page)

    def test_every_help_option_is_documented_and_completed(self):
        for prog in PROGRAMS:
            helps = [run([binary(prog), "--help"]).stdout]
            if prog == "collab-admin":
                helps += [run([binary(prog), *sub, "--help"]).stdout for sub in ADMIN_SUBCOMMANDS]
            helps += [run([binary(prog), *sub, "--help"]).stdout for sub in DAEMON_SUBCOMMANDS.get(prog, ())]
            opts = set()
            for h in helps:
                opts |= help_options(h)
            self.assertIn("--version", opts)
            man = rendered_man(os.path.join(SOURCE_DIR, "man", prog + ".8"))
            bash = open(os.path.join(SOURCE_DIR, "completions", "bash", prog)).read()
            zsh = open(os.path.join(SOURCE_DIR, "completions", "zsh", "_" + prog)).read()
            fish = open(os.path.join(SOURCE_DIR, "completions", "fish", prog + ".fish")).read()
            for o in sorted(opts):
                with self.subTest(program=prog, option=o):
                    self.assertTrue(has_option(man, o), f"{o} missing from man/{prog}.8")
                    self.assertTrue(has_option(bash, o), f"{o} missing from bash completion")
                    self.assertTrue(has_option(zsh, o), f"{o} missing from zsh completion")
                    self.assertTrue(fish_has_option(fish, o), f"{o} missing from fish completion")

    def test_config_page_lists_every_registry_key(self):
        page = open(os.path.join(SOURCE_DIR, "man", "collab.toml.5")).read()
        m = re.search(r'\.\\" BEGIN GENERATED KEYS\n(.*?)\.\\" END GENERATED KEYS', page, re.S)
        self.assertIsNotNone(m, "generated section markers missing")
        r = run([binary("collab-admin"), "__complete", "keys-mdoc"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(m.group(1), r.stdout, "regenerate with scripts/gen-man-keys.sh")


class Completions(unittest.TestCase):
    def test_bash_completions_parse(self):
        for f in glob.glob(os.path.join(SOURCE_DIR, "completions", "bash", "*")):
            r = run(["bash", "-n", f])
            self.assertEqual(r.returncode, 0, f + r.stderr)

    def test_dynamic_values(self):
        r = run([binary("collab-admin"), "__complete", "daemons"])
        self.assertEqual(r.stdout.split(), ["chatd", "sfu", "stream"])
        r = run([binary("collab-admin"), "__complete", "keys"])
        self.assertIn("chatd.listen", r.stdout.split())
        r = run([binary("collab-admin"), "__complete", "nonsense"])
        self.assertEqual(r.returncode, 64)

    @unittest.skipUnless(shutil.which("fish"), "fish not installed")
    def test_fish_completions_parse(self):
        for f in glob.glob(os.path.join(SOURCE_DIR, "completions", "fish", "*.fish")):
            self.assertEqual(run(["fish", "-n", f]).returncode, 0, f)


class ShippedConfig(unittest.TestCase):
    def test_example_config_is_valid(self):
        r = run([binary("collab-chatd"), "-c", os.path.join(SOURCE_DIR, "conf", "collab.toml"), "-t"])
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_systemd_units_are_notify_and_hardened(self):
        for d in ("chatd", "sfu", "stream"):
            unit = open(os.path.join(SOURCE_DIR, "conf", "systemd", f"collab-{d}.service")).read()
            for needle in ("Type=notify", "NoNewPrivileges=yes", "StateDirectory=collab", "RuntimeDirectory=collab",
                           "ExecReload=", f"collab-{d} "):
                self.assertIn(needle, unit, f"collab-{d}.service lacks {needle}")


if __name__ == "__main__":
    unittest.main()
