#include <catch2/catch.hpp>

#include "lib/base/exit_codes.hpp"
#include "lib/config/config.hpp"

using namespace collab::config;
using collab::base::kExitConfig;

namespace collab::config::testing {
const std::vector<KeyDef>& TestRegistry();
}
using collab::config::testing::TestRegistry;

namespace {

std::string OverrideError(std::string_view arg, const std::vector<KeyDef>& registry = Registry()) {
  auto r = ParseOverrideIn(registry, arg);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kExitConfig);
  return r.error().message;
}

Value Applied(std::string_view arg) {
  auto o = ParseOverrideIn(TestRegistry(), arg);
  REQUIRE(o.ok());
  auto c = LoadStringIn(TestRegistry(), "", "", {*o});
  REQUIRE(c.ok());
  return c->Get(o->key);
}

}  // namespace

TEST_CASE("ParseOverride splits section.key=value and keeps the value text", "[config][override]") {
  auto o = ParseOverride("chatd.listen=[::1]:8080");
  REQUIRE(o.ok());
  CHECK(o->key == "chatd.listen");
  CHECK(o->value == "[::1]:8080");
  auto eq = ParseOverride("control.group=a=b");  // only the first '=' splits
  REQUIRE(eq.ok());
  CHECK(eq->value == "a=b");
  auto sp = ParseOverride(" log.level =debug");
  REQUIRE(sp.ok());
  CHECK(sp->key == "log.level");
  auto empty = ParseOverride("control.group=");
  REQUIRE(empty.ok());
  CHECK(empty->value == "");
}

TEST_CASE("Override values are read by the key's type", "[config][override]") {
  // string: literally, spaces and quotes included.
  CHECK(Applied("t.s= a \"b\" \\c ") == Value{std::string(" a \"b\" \\c ")});
  CHECK(Applied("t.s=日本語") == Value{std::string("日本語")});
  // int: decimal.
  CHECK(Applied("t.n=7") == Value{int64_t{7}});
  CHECK(Applied("t.n=10") == Value{int64_t{10}});
  // bool: the usual spellings.
  for (const char* t : {"true", "yes", "on", "1", "TRUE", "Yes"})
    CHECK(Applied(std::string("t.b=") + t) == Value{true});
  for (const char* f : {"false", "no", "off", "0", "Off"}) CHECK(Applied(std::string("t.b=") + f) == Value{false});
  // list: comma separated or a TOML array.
  CHECK(Applied("u.l=a,b , c") == Value{StringList{"a", "b", "c"}});
  CHECK(Applied("u.l=one") == Value{StringList{"one"}});
  CHECK(Applied("u.l=") == Value{StringList{}});
  CHECK(Applied("u.l=[]") == Value{StringList{}});
  CHECK(Applied("u.l=[\"a,b\", 'c\\d', \"東京\"]") == Value{StringList{"a,b", "c\\d", "東京"}});
  CHECK(Applied("u.c=red,green") == Value{StringList{"red", "green"}});
}

TEST_CASE("Bad overrides are errors naming the argument", "[config][override][bad-input]") {
  CHECK(OverrideError("chatd.listen") == "-o chatd.listen: expected section.key=value");
  CHECK(OverrideError("listen=1") == "-o listen=1: expected section.key=value, not 'listen'");
  CHECK(OverrideError("chatd.lisen=x") == "-o chatd.lisen=x: unknown key 'chatd.lisen' (did you mean 'chatd.listen'?)");
  CHECK(OverrideError("nope.nothing=x") == "-o nope.nothing=x: unknown key 'nope.nothing'");
  CHECK(OverrideError("chatd.max_body_bytes=big") ==
        "-o chatd.max_body_bytes=big: 'chatd.max_body_bytes' must be an integer");
  CHECK(OverrideError("chatd.max_body_bytes=12") ==
        "-o chatd.max_body_bytes=12: 'chatd.max_body_bytes' must be at least 1024");
  CHECK(OverrideError("chatd.max_body_bytes=99999999999999999999") ==
        "-o chatd.max_body_bytes=99999999999999999999: 'chatd.max_body_bytes' is out of range");
  CHECK(OverrideError("log.level=loud") ==
        "-o log.level=loud: 'log.level' must be one of error, warning, notice, info, debug");
  CHECK(OverrideError("sfu.listen=1.2.3.4:65536") ==
        "-o sfu.listen=1.2.3.4:65536: 'sfu.listen' must have a port from 0 to 65535");
  CHECK(ParseOverride("sfu.listen=127.0.0.1:0").ok());  // 0: a free port, shown by status
  CHECK(OverrideError("control.group=\xff") == "-o control.group=\\xff: 'control.group' must be valid UTF-8");
  // A newline is allowed in a string (dumps escape it), a NUL is not.
  CHECK(ParseOverride("control.group=a\nb").ok());
  CHECK(OverrideError(std::string_view("control.group=a\0b", 17)) ==
        "-o control.group=a\\x00b: 'control.group' must not contain a NUL character");

  const auto& t = TestRegistry();
  for (const char* n : {"t.n=", "t.n= 5", "t.n=5 ", "t.n=+5", "t.n=0x10", "t.n=1e3", "t.n=-"}) {
    INFO(n);
    CHECK(OverrideError(n, t).find("'t.n' must be an integer") != std::string::npos);
  }
  CHECK(OverrideError("t.n=0", t) == "-o t.n=0: 't.n' must be from 1 to 10");
  CHECK(OverrideError("t.n=11", t) == "-o t.n=11: 't.n' must be from 1 to 10");
  CHECK(OverrideError("t.b=maybe", t) == "-o t.b=maybe: 't.b' must be true or false (or yes/no, on/off, 1/0)");
  CHECK(OverrideError("t.b=", t).find("must be true or false") != std::string::npos);
  CHECK(OverrideError("u.l=a,,b", t) == "-o u.l=a,,b: 'u.l' has an empty element (write \"\" for an empty list)");
  CHECK(OverrideError("u.l=a,", t).find("has an empty element") != std::string::npos);
  CHECK(OverrideError("u.l=[1, 2]", t) == "-o u.l=[1, 2]: 'u.l' must be an array of strings");
  CHECK(OverrideError("u.l=[\"a\"", t).rfind("-o u.l=[\"a\": 'u.l' must be a TOML array of strings: ", 0) == 0);
  // A newline must not smuggle another key into the parsed document.
  CHECK(OverrideError("u.l=[\"a\"]\nw = 1", t) == "-o u.l=[\"a\"]\\x0aw = 1: 'u.l' must be an array of strings");
  CHECK(OverrideError("u.c=red,blue", t) == "-o u.c=red,blue: 'u.c' has 'blue', which is not one of red, green");
}

TEST_CASE("Overrides apply after the file, in order, and remember where they came from", "[config][override]") {
  std::vector<Override> ovs;
  for (const char* a : {"log.level=debug", "chatd.max_body_bytes=4096", "log.level=warning"}) {
    auto o = ParseOverride(a);
    REQUIRE(o.ok());
    ovs.push_back(*o);
  }
  auto r = LoadString("[log]\nlevel = \"error\"\n[chatd]\nmax_body_bytes = 2048\n", "f.toml", ovs);
  REQUIRE(r.ok());
  CHECK(r->GetString("log.level") == "warning");
  CHECK(r->Origin("log.level") == "-o log.level=warning");
  CHECK(r->GetInt("chatd.max_body_bytes") == 4096);
  auto d = LoadDefaults(ovs);
  REQUIRE(d.ok());
  CHECK(d->GetString("log.level") == "warning");
  CHECK(d->source_path().empty());
}

TEST_CASE("Overrides are checked again when applied", "[config][override][bad-input]") {
  // Callers may build an Override by hand; it gets the same checks as ParseOverride.
  auto r = LoadDefaults({Override{"chatd.max_body_bytes", "1"}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kExitConfig);
  CHECK(r.error().message == "-o chatd.max_body_bytes=1: 'chatd.max_body_bytes' must be at least 1024");
  auto u = LoadDefaults({Override{"chatd.x", "1"}});
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().message == "-o chatd.x=1: unknown key 'chatd.x'");
  // Cross-key rules see the override and blame it.
  auto tls = LoadString("[chatd]\ntls_cert = \"c\"\ntls_key = \"k\"\n", "f.toml", {Override{"chatd.tls_key", ""}});
  REQUIRE_FALSE(tls.ok());
  CHECK(tls.error().message == "f.toml:2:1: 'chatd.tls_cert' and 'chatd.tls_key' must both be set or both be empty");
  auto tls2 = LoadDefaults({Override{"sfu.tls_cert", "c.pem"}});
  REQUIRE_FALSE(tls2.ok());
  CHECK(tls2.error().message ==
        "-o sfu.tls_cert=c.pem: 'sfu.tls_cert' and 'sfu.tls_key' must both be set or both be empty");
  // A file error wins over overrides: the file is read first.
  auto f = LoadString("[chatd]\nnope = 1\n", "f.toml", {Override{"chatd.y", "1"}});
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().message == "f.toml:2:1: unknown key 'chatd.nope'");
}
