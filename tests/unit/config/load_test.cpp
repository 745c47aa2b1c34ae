#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "lib/base/exit_codes.hpp"
#include "lib/config/config.hpp"

using namespace collab::config;
using collab::base::kExitConfig;

namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/collab-config-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  REQUIRE(f.good());
}

// The message of a load that must fail with exit 78.
std::string LoadError(const std::string& text) {
  auto r = LoadString(text, "f.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kExitConfig);
  return r.error().message;
}

}  // namespace

TEST_CASE("A good file sets its keys and leaves the rest at defaults", "[config][load]") {
  const std::string text =
      "# collab test config\n"
      "[paths]\n"
      "state_dir = \"state\"\n"
      "run_dir = \"/tmp/r\"\n"
      "\n"
      "[log]\n"
      "level = \"debug\"\n"
      "\n"
      "[control]\n"
      "group = \"情報システム部\"\n"
      "\n"
      "[chatd]\n"
      "listen = \"[::1]:9000\"\n"
      "max_body_bytes = 2_048\n"
      "tls_cert = \"cert.pem\"\n"
      "tls_key = \"/etc/k.pem\"\n"
      "\n"
      "[sfu]\n"
      "listen = \"0.0.0.0:65535\"\n"
      "[stream]\n"
      "listen = \"media.example.org:1\"\n";
  auto r = LoadString(text, "/etc/collab/collab.toml");
  REQUIRE(r.ok());
  const Config& c = *r;
  CHECK(c.source_path() == "/etc/collab/collab.toml");
  CHECK(c.GetString("paths.state_dir") == "state");
  CHECK(c.GetPath("paths.state_dir") == "/etc/collab/state");
  CHECK(c.GetPath("paths.run_dir") == "/tmp/r");
  CHECK(c.GetString("log.level") == "debug");
  CHECK(c.GetString("control.group") == "情報システム部");
  CHECK(c.GetString("chatd.listen") == "[::1]:9000");
  CHECK(c.GetInt("chatd.max_body_bytes") == 2048);
  CHECK(c.GetPath("chatd.tls_cert") == "/etc/collab/cert.pem");
  CHECK(c.GetPath("chatd.tls_key") == "/etc/k.pem");
  CHECK(c.GetString("sfu.listen") == "0.0.0.0:65535");
  CHECK(c.GetString("stream.listen") == "media.example.org:1");
  CHECK(c.GetInt("sfu.max_body_bytes") == 1048576);
  CHECK_FALSE(c.IsDefault("log.level"));
  CHECK(c.IsDefault("paths.web_dir"));
  CHECK(c.Origin("log.level") == "/etc/collab/collab.toml:7:1");
  CHECK(c.Origin("paths.web_dir") == "");
  CHECK(c.ControlSocketPath("chatd") == "/tmp/r/collab-chatd.sock");
}

TEST_CASE("Setting a key to its default value counts as default", "[config][load]") {
  auto r = LoadString("[log]\nlevel = \"info\"\n", "f.toml");
  REQUIRE(r.ok());
  CHECK(r->IsDefault("log.level"));
  CHECK(r->Origin("log.level") == "f.toml:2:1");
}

TEST_CASE("TOML syntax errors carry file:line:col", "[config][load][bad-input]") {
  CHECK(LoadError("[chatd]\nlisten = \"127.0.0.1:80\n") ==
        "f.toml:2:23: Error while parsing string: unescaped control characters other than TAB (U+0009) are "
        "explicitly prohibited");
  CHECK(LoadError("[log]\nlevel = \"info\"\nlevel = \"debug\"\n").rfind("f.toml:3:", 0) == 0);
  CHECK(LoadError("[log\n").rfind("f.toml:1:", 0) == 0);
  CHECK(LoadError("[chatd]\nmax_body_bytes = 99999999999999999999\n").rfind("f.toml:2:", 0) == 0);
  CHECK(LoadError("[log]\nlevel = \"\xff\"\n").rfind("f.toml:2:", 0) == 0);
}

TEST_CASE("Unknown keys and sections are errors naming them, at the key", "[config][load][bad-input]") {
  CHECK(LoadError("[chatd]\n  lisen = \"x\"\n") ==
        "f.toml:2:3: unknown key 'chatd.lisen' (did you mean 'chatd.listen'?)");
  CHECK(LoadError("[chatd]\nfrobnicate = 1\n") == "f.toml:2:1: unknown key 'chatd.frobnicate'");
  CHECK(LoadError("[foo]\nx = 1\n") == "f.toml:1:2: unknown section [foo]");
  CHECK(LoadError("[log]\nlvl = 1\n") == "f.toml:2:1: unknown key 'log.lvl' (did you mean 'log.level'?)");
  CHECK(LoadError("\n[chatt]\n") == "f.toml:2:2: unknown section [chatt] (did you mean [chatd]?)");
  CHECK(LoadError("[chatd.tls]\ncert = \"x\"\n") == "f.toml:1:8: unknown key 'chatd.tls'");
  CHECK(LoadError("listen = \"x\"\n") == "f.toml:1:1: key 'listen' must be inside a section such as [paths]");
  CHECK(LoadError("chatd = 1\n") == "f.toml:1:1: 'chatd' is a section: write [chatd]");
  CHECK(LoadError("[[chatd]]\n") == "f.toml:1:3: [[chatd]] must be written [chatd]");
  CHECK(LoadError("[\"a\\u0001b\"]\n") == "f.toml:1:2: unknown section [a\\x01b]");
}

TEST_CASE("The error reported is the first in the file, not in key order", "[config][load][bad-input]") {
  // toml++ iterates tables sorted by name; [chatd] would come first.
  CHECK(LoadError("[sfu]\nzzz = 1\n[chatd]\naaa = 1\n") == "f.toml:2:1: unknown key 'sfu.zzz'");
}

TEST_CASE("Wrong types and values are errors at the value", "[config][load][bad-input]") {
  CHECK(LoadError("[chatd]\nmax_body_bytes = \"big\"\n") == "f.toml:2:18: 'chatd.max_body_bytes' must be an integer");
  CHECK(LoadError("[chatd]\nmax_body_bytes = 1.5\n") == "f.toml:2:18: 'chatd.max_body_bytes' must be an integer");
  CHECK(LoadError("[chatd]\nmax_body_bytes = 1023\n") == "f.toml:2:18: 'chatd.max_body_bytes' must be at least 1024");
  CHECK(LoadError("[sfu]\nmax_ws_message_bytes = -1\n") ==
        "f.toml:2:24: 'sfu.max_ws_message_bytes' must be at least 1024");
  CHECK(LoadError("[chatd]\nlisten = 8080\n") == "f.toml:2:10: 'chatd.listen' must be a string");
  CHECK(LoadError("[log]\nlevel = \"loud\"\n") ==
        "f.toml:2:9: 'log.level' must be one of error, warning, notice, info, debug");
  CHECK(LoadError("[paths]\nstate_dir = \"\"\n") == "f.toml:2:13: 'paths.state_dir' must not be empty");
  CHECK(LoadError("[control]\ngroup = \"a\\u0000b\"\n") ==
        "f.toml:2:9: 'control.group' must not contain a NUL character");
}

TEST_CASE("listen must be HOST:PORT with a valid port", "[config][load][bad-input]") {
  const std::string form = "must be HOST:PORT, with an IPv6 address in brackets as [::1]:8080";
  auto bad = [](const std::string& v) { return LoadError("[chatd]\nlisten = \"" + v + "\"\n"); };
  CHECK(bad("127.0.0.1") == "f.toml:2:10: 'chatd.listen' " + form);
  CHECK(bad("::1:8080") == "f.toml:2:10: 'chatd.listen' " + form);
  CHECK(bad(":8080") == "f.toml:2:10: 'chatd.listen' " + form + " (0.0.0.0 or [::] for every address)");
  CHECK(bad("127.0.0.1:65536") == "f.toml:2:10: 'chatd.listen' must have a port from 0 to 65535");
  CHECK(bad("127.0.0.1:http") == "f.toml:2:10: 'chatd.listen' must have a port from 0 to 65535");
  CHECK(bad("127.0.0.1:+80") == "f.toml:2:10: 'chatd.listen' must have a port from 0 to 65535");
  CHECK(bad("127.0.0.1:") == "f.toml:2:10: 'chatd.listen' must have a port from 0 to 65535");
  CHECK(bad("[::1]") == "f.toml:2:10: 'chatd.listen' " + form);
  CHECK(bad("[::g]:80") == "f.toml:2:10: 'chatd.listen' has an invalid IPv6 address '::g'");
  CHECK(bad("[]:80") == "f.toml:2:10: 'chatd.listen' " + form);
  CHECK(bad("a b:80") == "f.toml:2:10: 'chatd.listen' has an invalid host name 'a b'");
  for (const char* good : {"[::]:1", "[::1]:8080", "localhost:443", "10.0.0.1:08080", "[fe80::1]:9"}) {
    INFO(good);
    CHECK(LoadString(std::string("[chatd]\nlisten = \"") + good + "\"\n", "f.toml").ok());
  }
}

TEST_CASE("tls_cert and tls_key must be set together", "[config][load][bad-input]") {
  CHECK(LoadError("[chatd]\nlisten = \"127.0.0.1:1\"\ntls_cert = \"c.pem\"\n") ==
        "f.toml:3:1: 'chatd.tls_cert' and 'chatd.tls_key' must both be set or both be empty");
  CHECK(LoadError("[stream]\n\ntls_key = \"k.pem\"\n") ==
        "f.toml:3:1: 'stream.tls_cert' and 'stream.tls_key' must both be set or both be empty");
  CHECK(LoadString("[sfu]\ntls_key = \"k.pem\"\ntls_cert = \"c.pem\"\n", "f.toml").ok());
}

TEST_CASE("A control socket path too long for sun_path is an error naming it", "[config][load][bad-input]") {
  std::string dir(100, 'd');
  std::string msg = LoadError("[paths]\nrun_dir = \"/" + dir + "\"\n");
  CHECK(msg.rfind("f.toml:2:1: control socket path '/" + dir + "/collab-chatd.sock' is 119 bytes", 0) == 0);
  CHECK(msg.find("shorten 'paths.run_dir' or set 'chatd.control_socket'") != std::string::npos);
  std::string sock = "/" + std::string(110, 's');
  CHECK(LoadError("[sfu]\ncontrol_socket = \"" + sock + "\"\n").rfind("f.toml:2:1: control socket path '" + sock, 0) ==
        0);
  // 107 bytes fit.
  std::string fits = "/" + std::string(106, 's');
  CHECK(LoadString("[sfu]\ncontrol_socket = \"" + fits + "\"\n", "f.toml").ok());
}

TEST_CASE("LoadFile: a missing or unreadable file is a config error naming the path", "[config][load][bad-input]") {
  auto r = LoadFile("/nonexistent/collab/collab.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kExitConfig);
  CHECK(r.error().message == "cannot open /nonexistent/collab/collab.toml: No such file or directory");
  std::string dir = TempDir();
  auto d = LoadFile(dir);  // a directory
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().code == kExitConfig);
  CHECK(d.error().message.find(dir) != std::string::npos);
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("LoadFile resolves relative paths against the file's directory", "[config][load][paths]") {
  std::string dir = TempDir();
  WriteText(dir + "/collab.toml",
            "[paths]\nstate_dir = \"var/state\"\nrun_dir = \"run\"\nweb_dir = \"/abs/web\"\n"
            "[auth]\nkey_file = \"../token.key\"\n"
            "[sfu]\ncontrol_socket = \"s.sock\"\n");
  auto r = LoadFile(dir + "/collab.toml");
  REQUIRE(r.ok());
  const Config& c = *r;
  CHECK(c.source_path() == dir + "/collab.toml");
  CHECK(c.GetString("paths.state_dir") == "var/state");
  CHECK(c.GetPath("paths.state_dir") == dir + "/var/state");
  CHECK(c.GetPath("paths.web_dir") == "/abs/web");
  CHECK(c.GetPath("auth.key_file") == dir + "/../token.key");
  CHECK(c.GetPath("chatd.tls_cert") == "");  // empty stays empty
  CHECK(c.ControlSocketPath("chatd") == dir + "/run/collab-chatd.sock");
  CHECK(c.ControlSocketPath("sfu") == dir + "/s.sock");
  CHECK(c.ControlSocketPath("stream") == dir + "/run/collab-stream.sock");
  // Not a path key: returned as written.
  CHECK(c.GetPath("chatd.listen") == "127.0.0.1:8080");

  // A relative config path still gives absolute results: the program may chdir later.
  char old[4096];
  REQUIRE(getcwd(old, sizeof old) != nullptr);
  REQUIRE(chdir(dir.c_str()) == 0);
  auto rel = LoadFile("collab.toml");
  REQUIRE(chdir(old) == 0);
  REQUIRE(rel.ok());
  CHECK(rel->source_path() == "collab.toml");
  CHECK(rel->GetPath("paths.state_dir") == dir + "/var/state");

  WriteText(dir + "/bad.toml", "[chatd]\n\nmax_body_bytes = 1\n");
  auto bad = LoadFile(dir + "/bad.toml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == kExitConfig);
  CHECK(bad.error().message == dir + "/bad.toml:3:18: 'chatd.max_body_bytes' must be at least 1024");
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("LoadString without a source name leaves relative paths alone", "[config][load][paths]") {
  auto r = LoadString("[paths]\nstate_dir = \"st\"\n", "");
  REQUIRE(r.ok());
  CHECK(r->source_path() == "");
  CHECK(r->GetPath("paths.state_dir") == "st");
  auto rel = LoadString("[paths]\nstate_dir = \"st\"\n", "conf/collab.toml");
  REQUIRE(rel.ok());
  CHECK(rel->GetPath("paths.state_dir") == "conf/st");
  auto bad = LoadString("[x]\n", "");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "<config>:1:2: unknown section [x]");
}
