#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "lib/base/exit_codes.hpp"
#include "lib/config/config.hpp"
#include "lib/config/registry.hpp"

using namespace collab::config;

TEST_CASE("The registry declares every section in order and each key once", "[config][registry]") {
  CHECK(Sections(Registry()) == std::vector<std::string>{"paths", "log", "auth", "control", "chatd", "sfu", "stream"});
  std::vector<std::string> seen;
  for (const KeyDef& k : Registry()) {
    INFO(k.FullName());
    CHECK(std::find(seen.begin(), seen.end(), k.FullName()) == seen.end());
    seen.push_back(k.FullName());
    CHECK_FALSE(k.doc.empty());
    CHECK(k.doc.find('\n') == std::string::npos);
    CHECK(FindKey(k.FullName()) == &k);
  }
  CHECK(FindKey("chatd.lisen") == nullptr);
  CHECK(FindKey("chatd") == nullptr);
  CHECK(FindKey("") == nullptr);
  CHECK(FindKey(".listen") == nullptr);
}

TEST_CASE("A default Config holds the documented defaults", "[config][registry]") {
  Config c;
  CHECK(c.source_path().empty());
  CHECK(c.GetString("paths.state_dir") == "/var/lib/collab");
  CHECK(c.GetString("paths.run_dir") == "/run/collab");
  CHECK(c.GetString("paths.web_dir") == "/usr/share/collab/web");
  CHECK(c.GetString("log.level") == "info");
  CHECK(c.GetString("auth.key_file") == "/etc/collab/token.key");
  CHECK(c.GetString("control.group") == "");
  CHECK(c.GetString("chatd.listen") == "127.0.0.1:8080");
  CHECK(c.GetString("sfu.listen") == "127.0.0.1:8081");
  CHECK(c.GetString("stream.listen") == "127.0.0.1:8082");
  for (const char* p : {"chatd", "sfu", "stream"}) {
    std::string s = p;
    INFO(s);
    CHECK(c.GetString(s + ".control_socket") == "");
    CHECK(c.GetString(s + ".tls_cert") == "");
    CHECK(c.GetString(s + ".tls_key") == "");
    CHECK(c.GetInt(s + ".max_body_bytes") == 1048576);
    CHECK(c.GetInt(s + ".max_ws_message_bytes") == 262144);
    CHECK(c.ControlSocketPath(s) == "/run/collab/collab-" + s + ".sock");
  }
  for (const KeyDef& k : Registry()) {
    CHECK(c.IsDefault(k.FullName()));
    CHECK(c.Origin(k.FullName()).empty());
  }
  // Absolute defaults are returned as they are, empty stays empty.
  CHECK(c.GetPath("paths.state_dir") == "/var/lib/collab");
  CHECK(c.GetPath("chatd.tls_cert") == "");
}

TEST_CASE("LoadDefaults equals a default Config and the defaults pass their own checks", "[config][registry]") {
  auto r = LoadDefaults();
  REQUIRE(r.ok());
  CHECK(Dump(*r) == Dump(Config()));
  auto s = LoadString("", "");
  REQUIRE(s.ok());
  CHECK(Dump(*s) == Dump(Config()));
}

TEST_CASE("Types and constraints are described for docs", "[config][registry]") {
  CHECK(TypeName(*FindKey("paths.state_dir")) == "path");
  CHECK(TypeName(*FindKey("log.level")) == "string");
  CHECK(TypeName(*FindKey("chatd.max_body_bytes")) == "integer");
  CHECK(ConstraintText(*FindKey("chatd.max_body_bytes")) == "at least 1024");
  CHECK(ConstraintText(*FindKey("log.level")) == "one of: error, warning, notice, info, debug");
  CHECK(ConstraintText(*FindKey("chatd.listen")) == "");
}

namespace {
// Runs fn in a child process and reports whether it died of SIGABRT.
template <typename Fn>
bool Aborts(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    // Catch2's handler would report the abort as a failure of this process.
    signal(SIGABRT, SIG_DFL);
    freopen("/dev/null", "w", stderr);
    fn();
    _exit(0);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}
}  // namespace

TEST_CASE("Getters abort on unknown keys and wrong types: a programmer bug", "[config][registry]") {
  Config c;
  CHECK(Aborts([&] { (void)c.GetString("chatd.lisen"); }));
  CHECK(Aborts([&] { (void)c.GetInt("chatd.listen"); }));
  CHECK(Aborts([&] { (void)c.GetString("chatd.max_body_bytes"); }));
  CHECK(Aborts([&] { (void)c.GetBool("chatd.listen"); }));
  CHECK(Aborts([&] { (void)c.GetStringList("chatd.listen"); }));
  CHECK_FALSE(Aborts([&] { (void)c.GetInt("chatd.max_body_bytes"); }));
}
