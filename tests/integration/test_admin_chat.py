"""collab-admin's chat verbs against a real collab-chatd: users, CSV import, rooms, tokens,
retention, audit, backup and restore, and their docs/completions."""
import base64
import datetime
import glob
import hashlib
import hmac
import json
import os
import pty
import select
import signal
import time
import unittest

from harness import SOURCE_DIR, Control, Daemon, Env, binary, run, wait_for
from test_docs import fish_has_option, has_option, help_options, rendered_man

NEW_SUBCOMMANDS = (
    ["user", "add"], ["user", "list"], ["user", "show"], ["user", "disable"], ["user", "enable"],
    ["user", "set-role"], ["user", "passwd"], ["user", "import"], ["user", "token"], ["user", "ldap-sync"],
    ["room", "create"], ["room", "list"], ["room", "show"], ["room", "archive"], ["room", "unarchive"],
    ["room", "members", "add"], ["room", "members", "remove"], ["room", "set"],
    ["retention", "apply"], ["backup"], ["restore"], ["audit"], ["token"],
)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def future_rfc3339(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ChatAdmin(unittest.TestCase):
    """Helpers shared by the tests below (no tests of its own)."""

    def start(self):
        self.env = Env(self)
        self.chatd = self.env.start(self, "chatd")
        return self.chatd

    def admin(self, *args, input=None):
        return run([binary("collab-admin"), "-c", self.env.config, *args], input=input)

    def ok(self, *args, input=None):
        r = self.admin(*args, input=input)
        self.assertEqual(r.returncode, 0, f"collab-admin {' '.join(args)}: {r.stderr}")
        return r

    def json_lines(self, *args):
        return [json.loads(l) for l in self.ok("--json", *args).stdout.splitlines() if l.strip()]

    def api(self, method, path, token=None, body=None):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = "Bearer " + token
        code, _, data = self.chatd.http(method, path, body=json.dumps(body).encode() if body is not None else None,
                                        headers=headers)
        return code, (json.loads(data) if data else None)

    def login(self, user, password):
        return self.api("POST", "/api/v1/login", body={"username": user, "password": password})[0]

    def messages(self, token, room):
        code, doc = self.api("GET", f"/api/v1/rooms/{room}/messages", token)
        self.assertEqual(code, 200, doc)
        return [m["text"] for m in doc["messages"]]

    def post(self, token, room, text):
        code, doc = self.api("POST", f"/api/v1/rooms/{room}/messages", token, {"text": text})
        self.assertIn(code, (200, 201), doc)


class Users(ChatAdmin):
    def test_add_list_show_role_disable_enable_passwd(self):
        self.start()
        r = self.admin("user", "add", "Alice", "--name", "Alice Example", "--department", "Eng", "--email",
                       "alice@example.jp", "--password-stdin", input="pw-alice-1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("added user alice", r.stdout)
        # Not a terminal and no password option: refuse rather than guess.
        self.assertEqual(self.admin("user", "add", "bob", input="").returncode, 64)
        self.assertEqual(self.admin("user", "add", "alice", "--no-password").returncode, 73)
        self.assertEqual(self.admin("user", "add", "Bad Id", "--no-password").returncode, 65)
        self.assertEqual(self.admin("user", "add", "x1", "--no-password", "--role", "root").returncode, 64)
        self.ok("user", "add", "bob", "--no-password", "--name", "ボブ")

        users = {u["id"]: u for u in self.json_lines("user", "list")}
        self.assertEqual(set(users), {"alice", "bob"})
        self.assertEqual(users["alice"]["name"], "Alice Example")
        self.assertEqual(users["bob"]["name"], "ボブ")
        table = self.ok("user", "list").stdout.splitlines()
        self.assertEqual(table[0].split("\t")[:4], ["ID", "NAME", "DEPARTMENT", "ROLE"])
        self.assertEqual(len(table), 3)

        show = json.loads(self.ok("--json", "user", "show", "alice").stdout)
        self.assertEqual((show["department"], show["role"], show["disabled"]), ("Eng", "user", False))
        self.assertIn("department  Eng", self.ok("user", "show", "alice").stdout)
        self.assertEqual(self.admin("user", "show", "nobody").returncode, 67)

        self.ok("user", "set-role", "alice", "admin")
        self.assertEqual(json.loads(self.ok("user", "show", "alice", "--json").stdout)["role"], "admin")
        self.assertEqual(self.admin("user", "set-role", "alice", "root").returncode, 64)

        self.assertEqual(self.login("alice", "pw-alice-1"), 200)
        token = self.ok("user", "token", "alice").stdout.strip()
        self.assertEqual(self.api("GET", "/api/v1/me", token)[0], 200)
        self.ok("user", "disable", "alice")
        self.assertIn(self.login("alice", "pw-alice-1"), (401, 403))
        self.assertEqual(self.api("GET", "/api/v1/me", token)[0], 401)
        self.assertEqual(self.admin("user", "token", "alice").returncode, 77)
        self.ok("user", "enable", "alice")
        self.assertEqual(self.login("alice", "pw-alice-1"), 200)

        self.ok("user", "passwd", "alice", "--password-stdin", input="pw-alice-2\n")
        self.assertIn(self.login("alice", "pw-alice-1"), (401, 403))
        self.assertEqual(self.login("alice", "pw-alice-2"), 200)
        self.assertEqual(self.admin("user", "passwd", "alice", "--password-stdin", input="\n").returncode, 65)
        # No directory configured: a configuration error, not a crash.
        self.assertEqual(self.admin("user", "ldap-sync").returncode, 78)

    def test_password_prompt_on_a_terminal(self):
        self.start()

        def on_tty(args, answers):
            # pty.fork makes the pty the child's controlling terminal, as a login shell has.
            exe = binary("collab-admin")
            pid, fd = pty.fork()
            if pid == 0:
                try:
                    os.execv(exe, ["collab-admin", "-c", self.env.config, *args])
                finally:
                    os._exit(127)
            seen = b""
            try:
                for answer in answers:
                    deadline = time.monotonic() + 30
                    while not seen.rstrip().endswith(b":") and time.monotonic() < deadline:
                        if select.select([fd], [], [], 1)[0]:
                            seen += os.read(fd, 1024)
                    self.assertTrue(seen.rstrip().endswith(b":"), seen)
                    os.write(fd, answer.encode() + b"\n")
                    seen = b""
                out = b""
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    if not select.select([fd], [], [], 1)[0]:
                        continue
                    try:
                        chunk = os.read(fd, 1024)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
            finally:
                # Bounded: a child still waiting for input after 10 s is killed (by its PID), not waited on forever.
                deadline = time.monotonic() + 10
                done, status = os.waitpid(pid, os.WNOHANG)
                while done == 0 and time.monotonic() < deadline:
                    time.sleep(0.05)
                    done, status = os.waitpid(pid, os.WNOHANG)
                if done == 0:
                    os.kill(pid, signal.SIGKILL)
                    _, status = os.waitpid(pid, 0)
                os.close(fd)
            return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

        code, out = on_tty(["user", "add", "tty1", "--name", "端末"], ["pw-tty-1", "pw-tty-1"])
        self.assertEqual(code, 0, out)
        self.assertNotIn("pw-tty-1", out)  # typed without echo
        self.assertEqual(self.login("tty1", "pw-tty-1"), 200)
        code, out = on_tty(["user", "passwd", "tty1"], ["pw-a", "pw-b"])
        self.assertEqual(code, 65, out)
        self.assertIn("differ", out)
        self.assertEqual(self.login("tty1", "pw-tty-1"), 200)

    def test_import_csv_with_japanese_names_and_a_bad_row(self):
        self.start()
        path = os.path.join(self.env.dir, "staff.csv")
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            f.write("id,name,department,email,role,password\r\n"
                    "yamada,山田 太郎,営業部,yamada@example.jp,user,\r\n"
                    "sato,\"佐藤, 花子\",総務部,,admin,pw-sato-1\r\n"
                    "bad id,壊れた行,,,user,\r\n"
                    "suzuki,鈴木 一郎,開発部,,,\r\n")
        r = self.admin("user", "import", path)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("staff.csv:4:", r.stderr)
        self.assertIn("3 added", r.stdout)
        users = {u["id"]: u for u in self.json_lines("user", "list")}
        self.assertEqual(set(users), {"yamada", "sato", "suzuki"})
        self.assertEqual(users["yamada"]["name"], "山田 太郎")
        self.assertEqual(users["yamada"]["department"], "営業部")
        self.assertEqual(users["sato"]["name"], "佐藤, 花子")
        self.assertEqual(users["sato"]["role"], "admin")
        self.assertEqual(self.login("sato", "pw-sato-1"), 200)

        # Again: nothing new, existing accounts are counted, the bad row still fails the run.
        r = self.admin("--json", "user", "import", path)
        self.assertEqual(r.returncode, 65)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["added"], doc["existing"], doc["bad"]), (0, 3, 1))
        self.assertEqual(doc["problems"][0]["line"], 4)

        good = os.path.join(self.env.dir, "good.csv")
        with open(good, "w", encoding="utf-8") as f:
            f.write("ID,Name\nito,伊藤 美咲\n")
        self.assertEqual(self.admin("user", "import", good).returncode, 0)
        bad_header = os.path.join(self.env.dir, "bad.csv")
        with open(bad_header, "w") as f:
            f.write("login,name\nx,y\n")
        r = self.admin("user", "import", bad_header)
        self.assertEqual(r.returncode, 65)
        self.assertIn("login", r.stderr)
        self.assertEqual(self.admin("user", "import", os.path.join(self.env.dir, "missing.csv")).returncode, 66)


class Rooms(ChatAdmin):
    def test_create_list_show_members_set_archive(self):
        self.start()
        for u in ("bob", "carol", "dave"):
            self.ok("user", "add", u, "--no-password")
        room = json.loads(self.ok("--json", "room", "create", "開発チーム", "--kind", "private", "--owner", "bob",
                                  "--member", "carol", "--topic", "設計の相談").stdout)
        rid = room["id"]
        self.assertEqual((room["name"], room["kind"]), ("開発チーム", "private"))
        self.assertEqual(self.admin("room", "create", "x", "--kind", "dm").returncode, 64)
        self.assertEqual(self.admin("room", "create", "y", "--owner", "nobody").returncode, 67)
        self.ok("room", "create", "general")

        rooms = {r["name"]: r for r in self.json_lines("room", "list")}
        self.assertEqual(set(rooms), {"開発チーム", "general"})
        self.assertEqual(rooms["開発チーム"]["id"], rid)
        self.assertIn("開発チーム", self.ok("room", "list").stdout)

        # By name or by id.
        shown = json.loads(self.ok("--json", "room", "show", "開発チーム").stdout)
        members = {m["user"]: m["role"] for m in shown["members"]}
        self.assertEqual(members.get("bob"), "owner")
        self.assertIn("carol", members)
        self.assertEqual(self.admin("room", "show", "no such room").returncode, 67)
        self.assertEqual(self.admin("room", "show", "raaaaaaaaaaaaaaaa").returncode, 67)

        self.ok("room", "members", "add", rid, "dave")
        r = self.admin("room", "members", "add", rid, "ghost")
        self.assertEqual(r.returncode, 65, r.stderr)
        self.ok("room", "members", "remove", "開発チーム", "carol")
        members = {m["user"] for m in json.loads(self.ok("--json", "room", "show", rid).stdout)["members"]}
        self.assertIn("dave", members)
        self.assertNotIn("carol", members)
        self.assertEqual(set(json.loads(self.ok("--json", "user", "show", "dave").stdout)["rooms"]), {rid})

        s = json.loads(self.ok("--json", "room", "set", rid, "--retention-days", "30", "--read-only", "true",
                               "--mass-mention-role", "owner").stdout)
        self.assertEqual((s["retention_message_days"], s["read_only"], s["mass_mention_role"]), (30, True, "owner"))
        self.assertEqual(self.admin("room", "set", rid).returncode, 64)
        self.assertEqual(self.admin("room", "set", rid, "--read-only", "maybe").returncode, 64)

        self.ok("room", "archive", rid)
        self.assertTrue(json.loads(self.ok("--json", "room", "show", rid).stdout)["archived"])
        self.ok("room", "unarchive", rid)
        self.assertFalse(json.loads(self.ok("--json", "room", "show", rid).stdout)["archived"])

        # Live completion values from the running daemon.
        self.assertEqual(set(self.ok("__complete", "users").stdout.split()), {"bob", "carol", "dave"})
        self.assertIn(rid, self.ok("__complete", "rooms").stdout.split())


class Retention(ChatAdmin):
    def test_token_post_retention_and_audit(self):
        self.start()
        self.ok("user", "add", "alice", "--no-password", "--name", "Alice")
        rid = json.loads(self.ok("--json", "room", "create", "general", "--member", "alice").stdout)["id"]
        token_doc = json.loads(self.ok("--json", "user", "token", "alice", "--ttl", "600").stdout)
        self.assertEqual(token_doc["expires_in_s"], 600)
        token = self.ok("user", "token", "alice").stdout.strip()
        code, me = self.api("GET", "/api/v1/me", token)
        self.assertEqual(code, 200)
        self.assertEqual(me["id"] if "id" in me else me["user"]["id"], "alice")
        for i in range(3):
            self.post(token, rid, f"古いメッセージ {i}")
        self.assertEqual(len(self.messages(token, rid)), 3)

        # No retention configured: nothing to delete, even far in the future.
        doc = json.loads(self.ok("--json", "retention", "apply", "--dry-run", "--as-of", future_rfc3339(30)).stdout)
        self.assertEqual(doc["messages"], 0)

        self.ok("room", "set", "general", "--retention-days", "1")
        doc = json.loads(self.ok("--json", "retention", "apply", "--dry-run").stdout)
        self.assertEqual((doc["dry_run"], doc["messages"]), (True, 0))
        doc = json.loads(self.ok("--json", "retention", "apply", "--dry-run", "--as-of", future_rfc3339(2)).stdout)
        self.assertEqual(doc["messages"], 3)
        self.assertEqual(doc["rooms"][0]["room"], rid)
        self.assertEqual(len(self.messages(token, rid)), 3)

        r = self.ok("retention", "apply", "--as-of", future_rfc3339(2))
        self.assertIn("deleted 3 messages", r.stdout)
        self.assertEqual(self.messages(token, rid), [])
        self.assertEqual(self.admin("retention", "apply", "--as-of", "tomorrow").returncode, 64)
        self.assertEqual(self.admin("retention", "apply", "--as-of", "2030-01-01").returncode, 0)

        actions = [l["action"] for l in self.json_lines("audit")]
        for a in ("user.add", "user.session", "room.set", "retention.dry_run", "retention.apply"):
            self.assertIn(a, actions)
        self.assertEqual(len(self.json_lines("audit", "--limit", "2")), 2)
        self.assertEqual(self.json_lines("audit", "--since", future_rfc3339(1)), [])
        self.assertGreater(len(self.json_lines("audit", "--since", "1h")), 3)
        self.assertEqual(self.admin("audit", "--since", "soon").returncode, 64)
        self.assertIn("retention.apply", self.ok("audit").stdout)

        self.assertEqual(self.chatd.stop(signal.SIGTERM), 0)
        r = self.admin("retention", "apply")
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertEqual(self.admin("user", "list").returncode, 69)
        self.assertEqual(self.ok("__complete", "users").stdout, "")


class BackupRestore(ChatAdmin):
    def test_online_backup_then_restore_into_stopped_daemon(self):
        self.start()
        self.ok("user", "add", "alice", "--no-password")
        rid = json.loads(self.ok("--json", "room", "create", "general", "--member", "alice").stdout)["id"]
        token = self.ok("user", "token", "alice").stdout.strip()
        self.post(token, rid, "バックアップ前 1")
        self.post(token, rid, "バックアップ前 2")

        dest = os.path.join(self.env.dir, "backups", "b1")
        doc = json.loads(self.ok("--json", "backup", dest).stdout)
        self.assertEqual(doc["dest"], dest)
        self.assertIn("collab-chatd", doc["method"])
        self.assertGreater(doc["files"], 0)
        self.assertTrue(os.path.exists(os.path.join(dest, "CURRENT")))
        self.assertEqual(os.stat(dest).st_mode & 0o077, 0)
        db = os.path.join(self.env.dir, "state", "chat.db")
        self.assertEqual(glob.glob(db + ".backup-*"), [], "temporary checkpoint left behind")
        self.assertEqual(self.admin("backup", dest).returncode, 73)
        self.assertIn("backup.checkpoint", [l["action"] for l in self.json_lines("audit")])

        self.post(token, rid, "バックアップ後")
        r = self.admin("restore", "--force", dest)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("running", r.stderr)
        self.assertEqual(self.chatd.stop(signal.SIGTERM), 0)

        # Stopped daemon: backup opens the database itself.
        dest2 = os.path.join(self.env.dir, "backups", "b2")
        r = self.ok("backup", dest2)
        self.assertIn("stopped", r.stdout)
        notdb = os.path.join(self.env.dir, "notdb")
        os.makedirs(notdb)
        self.assertEqual(self.admin("restore", "--force", notdb).returncode, 65)
        self.assertEqual(self.admin("restore", "--force", os.path.join(self.env.dir, "nothing")).returncode, 66)
        self.assertEqual(self.admin("restore", dest).returncode, 73)
        doc = json.loads(self.ok("--json", "restore", "--force", dest).stdout)
        self.assertTrue(doc["moved_aside"].startswith(db + ".before-restore-"))
        self.assertTrue(os.path.isdir(doc["moved_aside"]))
        self.assertTrue(os.path.exists(os.path.join(db, "CURRENT")))

        self.chatd = self.env.start(self, "chatd")
        token = self.ok("user", "token", "alice").stdout.strip()
        self.assertEqual(self.messages(token, rid), ["バックアップ前 1", "バックアップ前 2"])

        # While a daemon holds the lock, an offline checkpoint is refused as "in use" (75).
        self.assertEqual(self.chatd.stop(signal.SIGTERM), 0)
        other_sock = os.path.join(self.env.dir, "x.sock")
        d = Daemon(self.env, "chatd", ["-o", "chatd.control_socket=" + other_sock])
        self.addCleanup(d.kill)

        def answers():
            self.assertTrue(d.alive(), d.read_log())
            try:
                Control(other_sock, timeout=2).close()
                return True
            except OSError:
                return False

        wait_for(answers, what="collab-chatd on another control socket")
        r = self.admin("backup", os.path.join(self.env.dir, "backups", "b3"))
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn("in use", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.env.dir, "backups", "b3")))


class Token(ChatAdmin):
    def test_minted_token_verifies_with_the_key_file(self):
        self.env = Env(self)
        tok = self.ok("token", "--user", "encoder1", "--scope", "stream:live1", "--scope", "room:abc",
                      "--ttl", "600").stdout.strip()
        version, claims_b64, mac_b64 = tok.split(".")
        self.assertEqual(version, "v1")
        key = bytes.fromhex(read(os.path.join(self.env.dir, "token.key")).strip())
        mac = hmac.new(key, f"v1.{claims_b64}".encode(), hashlib.sha256).digest()
        self.assertEqual(base64.urlsafe_b64encode(mac).rstrip(b"=").decode(), mac_b64)
        claims = json.loads(base64.urlsafe_b64decode(claims_b64 + "=" * (-len(claims_b64) % 4)))
        self.assertEqual(claims["sub"], "encoder1")
        self.assertEqual(claims["scope"], ["stream:live1", "room:abc"])
        self.assertAlmostEqual(claims["exp"] - time.time(), 600, delta=30)
        doc = json.loads(self.ok("--json", "token", "--user", "bot").stdout)
        self.assertEqual(doc["sub"], "bot")
        self.assertEqual(self.admin("token").returncode, 64)
        self.assertEqual(self.admin("token", "--user", "x", "--ttl", "0").returncode, 64)
        os.chmod(os.path.join(self.env.dir, "token.key"), 0o644)
        self.assertEqual(self.admin("token", "--user", "x").returncode, 77)


class Docs(unittest.TestCase):
    def test_new_verbs_are_documented_and_completed(self):
        prog = "collab-admin"
        man = rendered_man(os.path.join(SOURCE_DIR, "man", prog + ".8"))
        bash = read(os.path.join(SOURCE_DIR, "completions", "bash", prog))
        zsh = read(os.path.join(SOURCE_DIR, "completions", "zsh", "_" + prog))
        fish = read(os.path.join(SOURCE_DIR, "completions", "fish", prog + ".fish"))
        for sub in NEW_SUBCOMMANDS:
            r = run([binary(prog), *sub, "--help"])
            self.assertEqual(r.returncode, 0, (sub, r.stderr))
            for o in sorted(help_options(r.stdout)):
                with self.subTest(verb=" ".join(sub), option=o):
                    self.assertTrue(has_option(man, o), f"{o} missing from man/{prog}.8")
                    self.assertTrue(has_option(bash, o), f"{o} missing from bash completion")
                    self.assertTrue(has_option(zsh, o), f"{o} missing from zsh completion")
                    self.assertTrue(fish_has_option(fish, o), f"{o} missing from fish completion")
            for word in sub:
                self.assertTrue(has_option(man, word) or word in man, f"{word} missing from the man page")

    def test_completion_kinds_and_cron_guard(self):
        admin = binary("collab-admin")
        self.assertIn("apply", run([admin, "__complete", "verbs:retention"]).stdout.split())
        areas = run([admin, "__complete", "areas"]).stdout.split()
        for a in ("user", "room", "retention", "backup", "restore", "audit", "token"):
            self.assertIn(a, areas)
        self.assertEqual(run([admin, "__complete", "verbs:members"]).stdout.split(), ["add", "remove"])
        cron = read(os.path.join(SOURCE_DIR, "conf", "cron.d", "collab-retention"))
        self.assertIn("collab-admin retention apply", cron)

    def test_man_page_lints_clean(self):
        r = run(["mandoc", "-T", "lint", "-W", "warning", os.path.join(SOURCE_DIR, "man", "collab-admin.8")])
        problems = [l for l in (r.stdout + r.stderr).splitlines() if "referenced manual not found" not in l]
        self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main()
