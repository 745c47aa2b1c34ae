#!/usr/bin/env python3
"""A throwaway OpenLDAP slapd with a small Japanese staff directory, for tests.

Starts Debian's slapd (packages `slapd` and `ldap-utils`) on a free 127.0.0.1 port with its own
slapd.conf and mdb database under a temporary directory, loads a few staff entries and a read-only
service account, and changes entries with ldapmodify/ldapadd/ldapdelete. It never touches the
system slapd, /etc/ldap/slapd.d or any port other than the one it picked.

Python use (stable API; the integration tests import it)::

    sys.path.insert(0, "tests/tools")
    from slapd_fixture import Slapd, STAFF, DISABLED_FILTER
    with Slapd(tmpdir) as ldap:          # started and loaded on construction
        ldap.uri, ldap.base_dn, ldap.bind_dn, ldap.bind_password, ldap.port, ldap.people_dn, ldap.pid
        ldap.add_user("kimura", "木村 次郎", "総務課", "pw")   # mail is uid@example.jp
        ldap.add_users("bulk", 600)           # bulk0000..bulk0599 in one ldapadd (password bulk-pass)
        ldap.rename("kimura", "木村 二郎")      # displayName (and cn)
        ldap.set_department("kimura", "情報政策課")
        ldap.disable("kimura")                # employeeType=disabled; match with DISABLED_FILTER
        ldap.delete("kimura")
        ldap.user_dn("kimura")
        ldap.stop()                           # SIGTERM, SIGKILL after a grace period (by PID)
        ldap.start()                          # again on the same port with the same data
    # leaving the block stops it
    Slapd(tmpdir, tls=True)   # also StartTLS on uri and ldaps on ldap.ldaps_uri, with a private CA
                              # in ldap.ca_file and a certificate for 127.0.0.1 (needs `openssl`)
    Slapd(tmpdir, port=p)     # on an existing tmpdir: reuses its data (no reseeding)

`STAFF` lists the seeded people (uid, name, department, password); mail is uid@example.jp. Every person is an
inetOrgPerson under ou=people; the service account cn=reader (an organizationalRole, so it does not
match (objectClass=inetOrgPerson)) may read everything except passwords; users may bind and read
themselves; anonymous clients may only bind. The reader has no size limit (slapd's default of 500
entries also caps paged searches). The rootdn is cn=admin with ADMIN_PASSWORD.

slapd gets PR_SET_PDEATHSIG, so it dies with the Python thread that started it even if that
process is killed hard (start the fixture from a thread that lives as long as the test).

Command use (the C++ unit tests use this)::

    python3 tests/tools/slapd_fixture.py run DIR [--stdin] [--tls]

prints one line `uri=... base_dn=... bind_dn=... bind_password=... pid=...` (with --tls also
`ldaps_uri=... ca_file=...`; pid is slapd's first one) once the directory answers, then stays in
the foreground until SIGTERM/SIGINT (it then stops slapd and exits 0). With --stdin it also reads
tab-separated commands, one per line, and answers each with one line `ok` or `error MESSAGE`:
add UID NAME DEPT PASSWORD | bulk PREFIX COUNT | rename UID NAME | department UID DEPT |
disable UID | delete UID | stop | start.  End of input stops slapd and exits (so a test that dies
leaves nothing behind).
"""

import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time

SUFFIX = "dc=example,dc=jp"
PEOPLE_DN = "ou=people," + SUFFIX
ADMIN_DN = "cn=admin," + SUFFIX
ADMIN_PASSWORD = "admin-secret"
READER_DN = "cn=reader," + SUFFIX
READER_PASSWORD = "reader-secret"
DISABLED_FILTER = "(employeeType=disabled)"
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")

# The seeded staff directory: (uid, display name, department, password). mail is uid@example.jp.
STAFF = (
    ("yamada", "山田 太郎", "総務課", "Yamada-pass1"),
    ("sato", "佐藤 花子", "情報政策課", "Sato-pass2"),
    ("suzuki", "鈴木 一郎", "総務課", "Suzuki-pass3"),
    ("takahashi", "高橋 美咲", "情報政策課", "Takahashi-pass4"),
    ("tanaka", "田中 健", "総務課", "Tanaka-pass5"),
    ("ito", "伊藤 さくら", "情報政策課", "Ito-pass6"),
)

START_TIMEOUT_S = 10.0
STOP_GRACE_S = 5.0


def ssha(password):
    """userPassword value in the {SSHA} scheme (SHA-1 over password+salt, salt appended)."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def _ldif_line(attr, value):
    # LDIF (RFC 2849) allows only a safe ASCII subset as a plain value; anything else is base64.
    raw = value.encode("utf-8")
    safe = all(0x20 <= b < 0x7F for b in raw) and not value.startswith((" ", ":", "<")) and not value.endswith(" ")
    if safe:
        return "%s: %s\n" % (attr, value)
    return "%s:: %s\n" % (attr, base64.b64encode(raw).decode("ascii"))


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _set_pdeathsig():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except Exception:  # best effort: without it an orphaned slapd needs stop() to end
        pass


class SlapdError(RuntimeError):
    pass


class Slapd:
    """One slapd on 127.0.0.1:port with its data under tmpdir. Starts on construction."""

    def __init__(self, tmpdir, port=None, seed=True, tls=False, ldaps_port=None):
        self.dir = os.path.abspath(tmpdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or _free_port()
        self.tls = tls
        self.ldaps_port = (ldaps_port or _free_port()) if tls else None
        self.ca_file = os.path.join(self.dir, "ca.pem") if tls else None
        self.conf = os.path.join(self.dir, "slapd.conf")
        self.db = os.path.join(self.dir, "db")
        self.log_path = os.path.join(self.dir, "slapd.log")
        self.proc = None
        fresh = not os.path.exists(os.path.join(self.db, "data.mdb"))
        os.makedirs(self.db, exist_ok=True)
        if tls and not os.path.exists(os.path.join(self.dir, "server.pem")):
            self._make_certs()
        self._write_conf()
        self.start()
        if fresh and seed:
            self._seed()

    # -- properties the clients need --------------------------------------------------------
    @property
    def uri(self):
        return "ldap://127.0.0.1:%d" % self.port

    @property
    def ldaps_uri(self):
        return "ldaps://127.0.0.1:%d" % self.ldaps_port if self.tls else None

    @property
    def base_dn(self):
        return SUFFIX

    @property
    def people_dn(self):
        return PEOPLE_DN

    @property
    def bind_dn(self):
        return READER_DN

    @property
    def bind_password(self):
        return READER_PASSWORD

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def user_dn(self, uid):
        return "uid=%s,%s" % (uid, PEOPLE_DN)

    # -- lifecycle -------------------------------------------------------------------------
    def _make_certs(self):
        # A private CA and a server certificate for 127.0.0.1, valid two days: enough for a test run.
        d = self.dir
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for args in (["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                                              "-subj", "/CN=collab test LDAP CA"],
                     ["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
                     ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                      "-out", "server.pem", "-days", "2", "-extfile", "server.ext"]):
            r = subprocess.run(["openssl"] + args, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode != 0:
                raise SlapdError("openssl %s failed: %s" % (args[0], r.stdout.decode("utf-8", "replace")))

    def _write_conf(self):
        lines = ["include /etc/ldap/schema/%s.schema" % s for s in SCHEMAS]
        if self.tls:
            lines += ["TLSCACertificateFile %s/ca.pem" % self.dir,
                      "TLSCertificateFile %s/server.pem" % self.dir,
                      "TLSCertificateKeyFile %s/server.key" % self.dir]
        lines += [
            "pidfile %s/slapd.pid" % self.dir,
            "argsfile %s/slapd.args" % self.dir,
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            "database mdb",
            "maxsize 67108864",
            "dbnosync",  # a test directory need not survive a power cut; keeps bulk loads fast
            'suffix "%s"' % SUFFIX,
            'rootdn "%s"' % ADMIN_DN,
            "rootpw %s" % ssha(ADMIN_PASSWORD),
            "directory %s" % self.db,
            "index objectClass,uid eq",
            # As a real deployment must: slapd's default size limit (500) also caps paged searches.
            'limits dn.exact="%s" size=unlimited time=unlimited' % READER_DN,
            # Passwords: only usable for binding (and by their owner), never readable by the reader.
            'access to attrs=userPassword by self write by anonymous auth by * none',
            'access to * by dn.exact="%s" read by self read by * none' % READER_DN,
        ]
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        """Starts slapd (again) on self.port and waits until it answers a search (max 10 s)."""
        if self.proc and self.proc.poll() is None:
            return
        log = open(self.log_path, "ab")
        urls = "ldap://127.0.0.1:%d/" % self.port
        if self.tls:
            urls += " ldaps://127.0.0.1:%d/" % self.ldaps_port
        try:
            self.proc = subprocess.Popen(
                ["slapd", "-d", "0", "-h", urls, "-f", self.conf],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_set_pdeathsig)
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SlapdError("slapd exited with %d; see %s" % (self.proc.returncode, self.log_path))
            r = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", self.uri, "-o", "nettimeout=1",
                                "-b", "", "-s", "base", "1.1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        self.stop()
        raise SlapdError("slapd did not answer on %s within %.0f s" % (self.uri, START_TIMEOUT_S))

    def stop(self):
        """SIGTERM, then SIGKILL after a grace period; only our own child, by PID."""
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- changes ---------------------------------------------------------------------------
    def _ldap(self, tool, ldif):
        args = [tool, "-x", "-H", self.uri, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD]
        if tool != "ldapdelete":
            args += ["-f", "/dev/stdin"]
        r = subprocess.run(args, input=ldif.encode("utf-8"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        if r.returncode != 0:
            raise SlapdError("%s failed (%d): %s" % (tool, r.returncode,
                                                      r.stderr.decode("utf-8", "replace").strip()))

    def _person_ldif(self, uid, name, dept, password):
        family = name.split(" ")[0] if name else uid
        return ("dn: %s\n" % self.user_dn(uid) + "objectClass: inetOrgPerson\n" + _ldif_line("uid", uid)
                + _ldif_line("cn", name or uid) + _ldif_line("sn", family) + _ldif_line("displayName", name)
                + _ldif_line("departmentNumber", dept) + _ldif_line("mail", "%s@example.jp" % uid.lower())
                + _ldif_line("userPassword", ssha(password)) + "\n")

    def _seed(self):
        ldif = ("dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n" % SUFFIX
                + "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n" % PEOPLE_DN
                + "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
                  "cn: reader\nuserPassword: %s\n\n" % (READER_DN, ssha(READER_PASSWORD)))
        for uid, name, dept, password in STAFF:
            ldif += self._person_ldif(uid, name, dept, password)
        self._ldap("ldapadd", ldif)

    def add_user(self, uid, name, dept, password):
        self._ldap("ldapadd", self._person_ldif(uid, name, dept, password))

    def add_users(self, prefix, count, dept="総務課", password="bulk-pass"):
        """Adds prefix0000 .. prefix<count-1> (name "<prefix> <n>") in one ldapadd, for paging tests."""
        self._ldap("ldapadd", "".join(self._person_ldif("%s%04d" % (prefix, i), "%s %d" % (prefix, i), dept, password)
                                      for i in range(int(count))))

    def _replace(self, uid, attrs):
        ldif = "dn: %s\nchangetype: modify\n" % self.user_dn(uid)
        for attr, value in attrs:
            ldif += "replace: %s\n" % attr + _ldif_line(attr, value) + "-\n"
        self._ldap("ldapmodify", ldif)

    def rename(self, uid, new_name):
        self._replace(uid, [("displayName", new_name), ("cn", new_name)])

    def set_department(self, uid, dept):
        self._replace(uid, [("departmentNumber", dept)])

    def disable(self, uid):
        self._replace(uid, [("employeeType", "disabled")])

    def delete(self, uid):
        self._ldap("ldapdelete", self.user_dn(uid) + "\n")


def _command(ldap, line):
    f = line.rstrip("\n").split("\t")
    cmds = {
        "add": (4, lambda a: ldap.add_user(*a)),
        "bulk": (2, lambda a: ldap.add_users(*a)),
        "rename": (2, lambda a: ldap.rename(*a)),
        "department": (2, lambda a: ldap.set_department(*a)),
        "disable": (1, lambda a: ldap.disable(*a)),
        "delete": (1, lambda a: ldap.delete(*a)),
        "stop": (0, lambda a: ldap.stop()),
        "start": (0, lambda a: ldap.start()),
    }
    if f[0] not in cmds or len(f) - 1 != cmds[f[0]][0]:
        return "error unknown command or wrong argument count: %r" % line.strip()
    try:
        cmds[f[0]][1](f[1:])
        return "ok"
    except (SlapdError, subprocess.SubprocessError, OSError) as e:
        return "error " + str(e).replace("\n", " ")


def main(argv):
    if len(argv) < 3 or argv[1] != "run" or any(a not in ("--stdin", "--tls") for a in argv[3:]):
        sys.stderr.write("usage: %s run DIR [--stdin] [--tls]\n" % argv[0])
        return 64
    done = []

    def on_signal(signum, frame):
        done.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ldap = None
    try:
        ldap = Slapd(argv[2], tls="--tls" in argv[3:])
        tls = " ldaps_uri=%s ca_file=%s" % (ldap.ldaps_uri, ldap.ca_file) if ldap.tls else ""
        print("uri=%s base_dn=%s bind_dn=%s bind_password=%s pid=%d%s"
              % (ldap.uri, ldap.base_dn, ldap.bind_dn, ldap.bind_password, ldap.pid, tls), flush=True)
        if "--stdin" in argv[3:]:
            for line in sys.stdin:
                print(_command(ldap, line), flush=True)
        else:
            while True:
                signal.pause()
    except KeyboardInterrupt:
        pass
    except SlapdError as e:
        sys.stderr.write("slapd_fixture: %s\n" % e)
        return 69
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if ldap:
            ldap.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
