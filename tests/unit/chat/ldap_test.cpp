// LdapDirectory against a real slapd started by tests/tools/slapd_fixture.py (command mode).
#include "lib/chat/ldap.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace collab;
using chat::DirectoryEntry;
using chat::LdapConfig;
using chat::LdapDirectory;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

fs::path FixtureScript() {
  const char* env = std::getenv("COLLAB_SOURCE_DIR");
  if (env != nullptr && *env != '\0') return fs::path(env) / "tests/tools/slapd_fixture.py";
  std::error_code ec;
  // ctest runs us inside the build tree, which lives under the source tree (build/<name>).
  for (fs::path start : {fs::current_path(ec), fs::read_symlink("/proc/self/exe", ec).parent_path()}) {
    for (fs::path p = start; !p.empty(); p = p.parent_path()) {
      if (fs::exists(p / "tests/tools/slapd_fixture.py")) return p / "tests/tools/slapd_fixture.py";
      if (p == p.parent_path()) break;
    }
  }
  return {};
}

// One slapd for one test: the fixture script in --stdin mode, driven by tab-separated commands.
// Closing its stdin makes it stop slapd and exit; a fixture that does not exit gets SIGTERM, then
// SIGKILL, by PID.
class SlapdProcess {
 public:
  explicit SlapdProcess(bool tls = false) {
    std::signal(SIGPIPE, SIG_IGN);  // as the daemon does; libldap may write to a closed socket
    fs::path script = FixtureScript();
    REQUIRE_FALSE(script.empty());
    char tmpl[] = "/tmp/collab-ldap-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    int in[2], out[2];
    REQUIRE(pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::string s = script.string(), d = dir_.string();
    const char* argv[] = {"python3", s.c_str(), "run", d.c_str(), "--stdin", tls ? "--tls" : nullptr, nullptr};
    int rc = posix_spawnp(&pid_, "python3", &fa, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
    REQUIRE(rc == 0);
    std::string first = ReadLine(std::chrono::seconds(20));
    INFO("fixture said: " << first);
    std::istringstream words(first);
    std::string w;
    while (words >> w) {
      auto eq = w.find('=');
      if (eq != std::string::npos) fields_[w.substr(0, eq)] = w.substr(eq + 1);
    }
    REQUIRE(fields_.count("uri") == 1);
  }

  ~SlapdProcess() {
    if (to_ >= 0) close(to_);
    if (pid_ > 0) {
      bool exited = WaitExit(std::chrono::seconds(10));
      if (!exited) {
        kill(pid_, SIGTERM);
        exited = WaitExit(std::chrono::seconds(5));
      }
      if (!exited) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    if (from_ >= 0) close(from_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  LdapConfig Config() const {
    LdapConfig c;
    c.uri = fields_.at("uri");
    c.base_dn = fields_.at("base_dn");
    c.bind_dn = fields_.at("bind_dn");
    c.bind_password = fields_.at("bind_password");
    c.disabled_filter = "(employeeType=disabled)";
    c.timeout_s = 2;
    return c;
  }

  std::string Field(const std::string& name) const {
    auto it = fields_.find(name);
    return it == fields_.end() ? std::string() : it->second;
  }

  // Runs one fixture command ("rename\tsato\t..."); true when it answered "ok".
  bool Command(const std::string& line) {
    std::string msg = line + "\n";
    if (write(to_, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) return false;
    std::string reply = ReadLine(std::chrono::seconds(20));
    INFO("fixture: " << line << " -> " << reply);
    CHECK(reply == "ok");
    return reply == "ok";
  }

 private:
  std::string ReadLine(std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (true) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return "<timeout>";
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[512];
      ssize_t n = read(from_, chunk, sizeof chunk);
      if (n <= 0) return "<eof>";
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  bool WaitExit(std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  fs::path dir_;
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_;
  std::map<std::string, std::string> fields_;
};

const DirectoryEntry* Find(const std::vector<DirectoryEntry>& v, const std::string& id) {
  auto it = std::find_if(v.begin(), v.end(), [&](const DirectoryEntry& e) { return e.id == id; });
  return it == v.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("EscapeFilterValue escapes RFC 4515 specials and non-printables", "[chat][ldap]") {
  CHECK(chat::EscapeFilterValue("yamada") == "yamada");
  CHECK(chat::EscapeFilterValue("") == "");
  CHECK(chat::EscapeFilterValue("*") == "\\2a");
  CHECK(chat::EscapeFilterValue("*)(uid=*") == "\\2a\\29\\28uid=\\2a");
  CHECK(chat::EscapeFilterValue("a\\b") == "a\\5cb");
  CHECK(chat::EscapeFilterValue(std::string("a\0b", 3)) == "a\\00b");
  CHECK(chat::EscapeFilterValue("tab\there\n") == "tab\\09here\\0a");
  CHECK(chat::EscapeFilterValue("\x7f") == "\\7f");
  CHECK(chat::EscapeFilterValue("山") == "\\e5\\b1\\b1");
  CHECK(chat::EscapeFilterValue("o'neil.k-1@x") == "o'neil.k-1@x");
  // Nothing that survives escaping can open or close a filter component.
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::string esc = chat::EscapeFilterValue(all);
  CHECK(esc.find('(') == std::string::npos);
  CHECK(esc.find(')') == std::string::npos);
  CHECK(esc.find('*') == std::string::npos);
  CHECK(esc.size() == 256 + 2 * (256 - (0x7f - 0x20) + 4));
}

TEST_CASE("LDAP login returns the directory's Japanese attributes exactly", "[chat][ldap]") {
  SlapdProcess slapd;
  LdapDirectory dir(slapd.Config());
  auto r = dir.Authenticate("yamada", "Yamada-pass1");
  REQUIRE(r.ok());
  CHECK(r->id == "yamada");
  CHECK(r->dn == "uid=yamada,ou=people,dc=example,dc=jp");
  CHECK(r->name == "山田 太郎");
  CHECK(r->department == "総務課");
  CHECK(r->email == "yamada@example.jp");
  CHECK_FALSE(r->disabled);

  // Ids match case-insensitively and come back in the directory's spelling, ASCII lower-cased.
  REQUIRE(slapd.Command("add\tWatanabe.K\t渡辺 恵\t情報政策課\t渡辺のパスワード"));
  auto w = dir.Authenticate("WATANABE.k", "渡辺のパスワード");
  REQUIRE(w.ok());
  CHECK(w->id == "watanabe.k");
  CHECK(w->name == "渡辺 恵");
  CHECK(w->department == "情報政策課");
  auto w2 = dir.Lookup("watanabe.K");
  REQUIRE(w2.ok());
  REQUIRE(w2->has_value());
  CHECK((*w2)->dn == "uid=Watanabe.K,ou=people,dc=example,dc=jp");
}

TEST_CASE("LDAP login failures do not tell which ids exist", "[chat][ldap]") {
  SlapdProcess slapd;
  LdapDirectory dir(slapd.Config());
  auto wrong = dir.Authenticate("sato", "not-her-password");
  auto unknown = dir.Authenticate("nobody", "Sato-pass2");
  REQUIRE_FALSE(wrong.ok());
  REQUIRE_FALSE(unknown.ok());
  CHECK(wrong.error().code == base::kExitNoPerm);
  CHECK(wrong.error().code == unknown.error().code);
  CHECK(wrong.error().message == "invalid user name or password");
  CHECK(wrong.error().message == unknown.error().message);

  // An empty password would be an unauthenticated bind that succeeds: refused up front.
  auto empty = dir.Authenticate("sato", "");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == base::kExitNoPerm);
  CHECK(empty.error().message == "invalid user name or password");
  auto no_id = dir.Authenticate("", "Sato-pass2");
  REQUIRE_FALSE(no_id.ok());
  CHECK(no_id.error().code == base::kExitNoPerm);

  auto huge = dir.Authenticate(std::string(10000, 'a'), std::string(10000, 'b'));
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().message == "invalid user name or password");

  // Filter injection: the id is a literal value, so it matches nobody.
  for (const char* evil : {"*", "*)(uid=*", "sato)(|(uid=*", "sato*", "*)(objectClass=*))(|(uid=*"}) {
    INFO(evil);
    auto inj = dir.Authenticate(evil, "Sato-pass2");
    REQUIRE_FALSE(inj.ok());
    CHECK(inj.error().message == "invalid user name or password");
    auto look = dir.Lookup(evil);
    REQUIRE(look.ok());
    CHECK_FALSE(look->has_value());
  }
  // The right password still works afterwards on the same object.
  CHECK(dir.Authenticate("sato", "Sato-pass2").ok());
}

TEST_CASE("LDAP directory changes show up in Lookup and ListAll", "[chat][ldap]") {
  SlapdProcess slapd;
  LdapDirectory dir(slapd.Config());

  auto all = dir.ListAll();
  REQUIRE(all.ok());
  CHECK(all->size() == 6);  // the reader account is not a staff entry
  for (const char* id : {"yamada", "sato", "suzuki", "takahashi", "tanaka", "ito"}) {
    INFO(id);
    const DirectoryEntry* e = Find(*all, id);
    REQUIRE(e != nullptr);
    CHECK_FALSE(e->disabled);
    CHECK_FALSE(e->name.empty());
  }
  CHECK(Find(*all, "ito")->name == "伊藤 さくら");
  CHECK(Find(*all, "sato")->department == "情報政策課");

  REQUIRE(slapd.Command("rename\tsato\t佐藤 花子（広報）"));
  REQUIRE(slapd.Command("department\tsato\t広報課"));
  auto s = dir.Lookup("sato");
  REQUIRE(s.ok());
  REQUIRE(s->has_value());
  CHECK((*s)->name == "佐藤 花子（広報）");
  CHECK((*s)->department == "広報課");

  REQUIRE(slapd.Command("disable\tsuzuki"));
  auto dis = dir.Authenticate("suzuki", "Suzuki-pass3");
  REQUIRE_FALSE(dis.ok());
  CHECK(dis.error().code == base::kExitNoPerm);
  CHECK(dis.error().message == "account disabled in the directory");
  // A wrong password on a disabled account says nothing about it being disabled.
  auto dis_wrong = dir.Authenticate("suzuki", "guess");
  REQUIRE_FALSE(dis_wrong.ok());
  CHECK(dis_wrong.error().message == "invalid user name or password");
  auto look = dir.Lookup("suzuki");
  REQUIRE(look.ok());
  REQUIRE(look->has_value());
  CHECK((*look)->disabled);

  REQUIRE(slapd.Command("delete\ttanaka"));
  auto gone = dir.Lookup("tanaka");
  REQUIRE(gone.ok());
  CHECK_FALSE(gone->has_value());
  CHECK_FALSE(dir.Authenticate("tanaka", "Tanaka-pass5").ok());

  all = dir.ListAll();
  REQUIRE(all.ok());
  CHECK(all->size() == 5);
  CHECK(Find(*all, "tanaka") == nullptr);
  REQUIRE(Find(*all, "suzuki") != nullptr);
  CHECK(Find(*all, "suzuki")->disabled);
  CHECK_FALSE(Find(*all, "yamada")->disabled);
  CHECK(Find(*all, "sato")->name == "佐藤 花子（広報）");

  // Without a disabled_filter nobody is disabled.
  LdapConfig plain = slapd.Config();
  plain.disabled_filter.clear();
  LdapDirectory dir2(plain);
  CHECK(dir2.Authenticate("suzuki", "Suzuki-pass3").ok());
}

TEST_CASE("LDAP directories on several worker threads at once", "[chat][ldap]") {
  // As the daemon runs them: one LdapDirectory per uv worker thread.
  SlapdProcess slapd;
  LdapConfig cfg = slapd.Config();
  std::vector<std::thread> threads;
  std::vector<int> good(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      LdapDirectory dir(cfg);
      for (int i = 0; i < 10; ++i) {
        auto a = dir.Authenticate("takahashi", "Takahashi-pass4");
        auto b = dir.Authenticate("takahashi", "wrong");
        if (a.ok() && a->name == "高橋 美咲" && !b.ok() && b.error().code == base::kExitNoPerm) ++good[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(good == std::vector<int>(4, 10));
}

TEST_CASE("LDAP missing attributes give empty strings and the name falls back to the id", "[chat][ldap]") {
  SlapdProcess slapd;
  LdapConfig cfg = slapd.Config();
  cfg.attr_name = "givenName";  // not set on anyone
  cfg.attr_department = "";
  LdapDirectory dir(cfg);
  auto e = dir.Lookup("ito");
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  CHECK((*e)->name == "ito");
  CHECK((*e)->department.empty());
  CHECK((*e)->email == "ito@example.jp");
}

TEST_CASE("LDAP ListAll pages past the page size and the server's size limit", "[chat][ldap]") {
  SlapdProcess slapd;
  // 1200 > two pages of 500, and > slapd's default size limit of 500 for a plain search.
  REQUIRE(slapd.Command("bulk\tstaff\t1200"));
  REQUIRE(slapd.Command("disable\tstaff0777"));
  LdapDirectory dir(slapd.Config());
  auto all = dir.ListAll();
  INFO((all.ok() ? std::string() : all.error().message));
  REQUIRE(all.ok());
  CHECK(all->size() == 1206);
  REQUIRE(Find(*all, "staff1199") != nullptr);
  CHECK(Find(*all, "staff1199")->name == "staff 1199");
  REQUIRE(Find(*all, "staff0777") != nullptr);
  CHECK(Find(*all, "staff0777")->disabled);
  CHECK(std::count_if(all->begin(), all->end(), [](const DirectoryEntry& e) { return e.disabled; }) == 1);
}

TEST_CASE("LDAP server down is unavailable within the timeout, and a restart is picked up", "[chat][ldap]") {
  SlapdProcess slapd;
  LdapConfig cfg = slapd.Config();
  LdapDirectory dir(cfg);
  REQUIRE(dir.Authenticate("ito", "Ito-pass6").ok());  // caches the service connection

  // A restart between calls: the cached connection is dead, the next call reconnects.
  REQUIRE(slapd.Command("stop"));
  REQUIRE(slapd.Command("start"));
  auto again = dir.Lookup("ito");
  REQUIRE(again.ok());
  CHECK(again->has_value());

  REQUIRE(slapd.Command("stop"));
  auto t0 = Clock::now();
  auto down = dir.Authenticate("ito", "Ito-pass6");
  auto elapsed = Clock::now() - t0;
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code == base::kExitUnavailable);
  CHECK(down.error().message.find(cfg.uri) != std::string::npos);
  CHECK(elapsed < std::chrono::seconds(cfg.timeout_s + 1));
  auto down_list = dir.ListAll();
  REQUIRE_FALSE(down_list.ok());
  CHECK(down_list.error().code == base::kExitUnavailable);

  REQUIRE(slapd.Command("start"));
  auto back = dir.Authenticate("ito", "Ito-pass6");
  REQUIRE(back.ok());
  CHECK(back->name == "伊藤 さくら");
}

TEST_CASE("LDAP server that accepts but never answers times out as unavailable", "[chat][ldap]") {
  std::signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(s >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(s, 8) == 0);  // the kernel completes the handshake; nobody ever reads
  socklen_t len = sizeof a;
  REQUIRE(getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);

  LdapConfig cfg;
  cfg.uri = "ldap://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  cfg.base_dn = "dc=example,dc=jp";
  cfg.bind_dn = "cn=reader,dc=example,dc=jp";
  cfg.bind_password = "x";
  cfg.timeout_s = 1;
  LdapDirectory dir(cfg);
  auto t0 = Clock::now();
  auto r = dir.Lookup("yamada");
  auto elapsed = Clock::now() - t0;
  close(s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == base::kExitUnavailable);
  CHECK(r.error().message.find(cfg.uri) != std::string::npos);
  CHECK(elapsed < std::chrono::milliseconds(2500));
}

TEST_CASE("LDAP configuration mistakes are reported as such", "[chat][ldap]") {
  SlapdProcess slapd;
  LdapConfig bad_pw = slapd.Config();
  bad_pw.bind_password = "wrong";
  auto r = LdapDirectory(bad_pw).Lookup("yamada");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == base::kExitConfig);
  CHECK(r.error().message.find("cn=reader") != std::string::npos);

  LdapConfig bad_base = slapd.Config();
  bad_base.base_dn = "dc=nowhere,dc=jp";
  auto b = LdapDirectory(bad_base).ListAll();
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().code == base::kExitConfig);

  LdapConfig bad_uri = slapd.Config();
  bad_uri.uri = "gopher://x";
  auto u = LdapDirectory(bad_uri).Lookup("yamada");
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().code == base::kExitConfig);
}

TEST_CASE("LDAP over StartTLS and ldaps verifies the server against ca_file", "[chat][ldap]") {
  SlapdProcess slapd(/*tls=*/true);
  REQUIRE_FALSE(slapd.Field("ca_file").empty());
  REQUIRE_FALSE(slapd.Field("ldaps_uri").empty());

  LdapConfig starttls = slapd.Config();
  starttls.starttls = true;
  starttls.ca_file = slapd.Field("ca_file");
  auto a = LdapDirectory(starttls).Authenticate("sato", "Sato-pass2");
  INFO((a.ok() ? std::string() : a.error().message));
  REQUIRE(a.ok());
  CHECK(a->name == "佐藤 花子");

  LdapConfig ldaps = slapd.Config();
  ldaps.uri = slapd.Field("ldaps_uri");
  ldaps.ca_file = slapd.Field("ca_file");
  LdapDirectory over_ldaps(ldaps);
  auto b = over_ldaps.Authenticate("suzuki", "Suzuki-pass3");
  INFO((b.ok() ? std::string() : b.error().message));
  REQUIRE(b.ok());
  CHECK(b->department == "総務課");
  auto all = over_ldaps.ListAll();
  REQUIRE(all.ok());
  CHECK(all->size() == 6);

  // The test CA is in no system store: without ca_file the server is not trusted.
  LdapConfig untrusted = slapd.Config();
  untrusted.uri = slapd.Field("ldaps_uri");
  auto c = LdapDirectory(untrusted).Lookup("sato");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == base::kExitUnavailable);
  CHECK(c.error().message.find(untrusted.uri) != std::string::npos);
  LdapConfig untrusted_starttls = slapd.Config();
  untrusted_starttls.starttls = true;
  auto d = LdapDirectory(untrusted_starttls).Lookup("sato");
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().code == base::kExitUnavailable);
  CHECK(d.error().message.find("StartTLS") != std::string::npos);
}
