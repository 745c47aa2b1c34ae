#include <catch2/catch.hpp>

#include "lib/config/config.hpp"

using namespace collab::config;

namespace collab::config::testing {
const std::vector<KeyDef>& TestRegistry();
}
using collab::config::testing::TestRegistry;

namespace {

// Loads text, dumps it, loads the dump and dumps again: both dumps must be identical.
std::string RoundTrip(const std::string& text, const DumpOptions& options = {},
                      const std::vector<KeyDef>& registry = Registry()) {
  auto first = LoadStringIn(registry, text, "/etc/collab/collab.toml");
  REQUIRE(first.ok());
  std::string dump = Dump(*first, options);
  auto second = LoadStringIn(registry, dump, "/etc/collab/collab.toml");
  INFO(dump);
  REQUIRE(second.ok());
  CHECK(Dump(*second, options) == dump);
  // Every value survives, not only the text.
  for (const KeyDef& k : registry) {
    if (options.resolve_paths && k.is_path)
      CHECK(second->GetPath(k.FullName()) == first->GetPath(k.FullName()));
    else
      CHECK(second->Get(k.FullName()) == first->Get(k.FullName()));
  }
  return dump;
}

}  // namespace

TEST_CASE("Dump of the defaults is the documented TOML", "[config][dump]") {
  const std::string expected =
      "[paths]\n"
      "state_dir = \"/var/lib/collab\"\n"
      "run_dir = \"/run/collab\"\n"
      "web_dir = \"/usr/share/collab/web\"\n"
      "\n"
      "[log]\n"
      "level = \"info\"\n"
      "\n"
      "[auth]\n"
      "key_file = \"/etc/collab/token.key\"\n"
      "\n"
      "[control]\n"
      "group = \"\"\n"
      "\n"
      "[chatd]\n"
      "listen = \"127.0.0.1:8080\"\n"
      "control_socket = \"\"\n"
      "tls_cert = \"\"\n"
      "tls_key = \"\"\n"
      "max_body_bytes = 1048576\n"
      "max_ws_message_bytes = 262144\n";
  // The rest of the sections change with every new key; check their shape, not every line.
  const std::string dump = Dump(Config());
  CHECK(dump.compare(0, expected.size(), expected) == 0);
  for (const char* line : {"\n[sfu]\nlisten = \"127.0.0.1:8081\"\n", "\nmax_echo_peers = 16\n",
                           "\n[stream]\nlisten = \"127.0.0.1:8082\"\n", "\nauth_source = \"local\"\n",
                           "\nretention_keep_pinned = true\n", "\nldap_attr_name = \"displayName\"\n"})
    CHECK(dump.find(line) != std::string::npos);
  CHECK(RoundTrip("") == dump);
}

TEST_CASE("Dump round-trips Japanese text, quotes, backslashes and control characters", "[config][dump]") {
  const std::string text =
      "[control]\n"
      "group = \"情報システム部 \\\"本社\\\" C:\\\\tmp\\\\ 'x' \\t\\n\\r\\b\\f\\u001b\\u007f é 🎉\"\n"
      "[paths]\n"
      "state_dir = '''C:\\raw\\path with \"quotes\"'''\n"
      "web_dir = \"\"\"\n"
      "multi\n"
      "line\"\"\"\n"
      "[chatd]\n"
      "max_body_bytes = 0x10000\n"
      "tls_cert = \"証明書/サーバー.pem\"\n"
      "tls_key = \"鍵.pem\"\n";
  std::string dump = RoundTrip(text);
  CHECK(dump.find("group = \"情報システム部 \\\"本社\\\" C:\\\\tmp\\\\ 'x' \\t\\n\\r\\b\\f\\u001B\\u007F é 🎉\"\n") !=
        std::string::npos);
  CHECK(dump.find("state_dir = \"C:\\\\raw\\\\path with \\\"quotes\\\"\"\n") != std::string::npos);
  CHECK(dump.find("web_dir = \"multi\\nline\"\n") != std::string::npos);
  CHECK(dump.find("max_body_bytes = 65536\n") != std::string::npos);
  CHECK(dump.find("tls_cert = \"証明書/サーバー.pem\"\n") != std::string::npos);
}

TEST_CASE("Dump writes every type and round-trips them", "[config][dump]") {
  const std::string text =
      "[t]\ns = \"a\\\"b\"\nn = 10\nb = true\np = \"/abs\"\n"
      "[u]\nl = [\"一\", \"two, three\", \"\\\\\", \"\"]\nc = [\"green\"]\n";
  std::string dump = RoundTrip(text, {}, TestRegistry());
  CHECK(dump ==
        "[t]\ns = \"a\\\"b\"\nn = 10\nb = true\np = \"/abs\"\n"
        "\n[u]\nl = [\"一\", \"two, three\", \"\\\\\", \"\"]\nc = [\"green\"]\n");
  std::string defaults = RoundTrip("", {}, TestRegistry());
  CHECK(defaults == "[t]\ns = \"plain\"\nn = 5\nb = false\np = \"rel/dir\"\n\n[u]\nl = [\"x\", \"y\"]\nc = []\n");
}

TEST_CASE("FormatValue writes TOML values", "[config][dump]") {
  CHECK(FormatValue(Value{std::string("")}) == "\"\"");
  CHECK(FormatValue(Value{std::string("a\"\\\x01")}) == "\"a\\\"\\\\\\u0001\"");
  CHECK(FormatValue(Value{int64_t{-9223372036854775807 - 1}}) == "-9223372036854775808");
  CHECK(FormatValue(Value{false}) == "false");
  CHECK(FormatValue(Value{StringList{}}) == "[]");
  CHECK(FormatValue(Value{StringList{"a", "b"}}) == "[\"a\", \"b\"]");
}

TEST_CASE("non_default_only omits default keys and empty sections", "[config][dump]") {
  DumpOptions opts;
  opts.non_default_only = true;
  CHECK(Dump(Config(), opts) == "");
  CHECK(RoundTrip("", opts) == "");
  // Setting a key to its default does not make it show up.
  const std::string text =
      "[log]\nlevel = \"info\"\n"
      "[sfu]\nmax_body_bytes = 2048\nlisten = \"[::1]:8081\"\n"
      "[paths]\nstate_dir = \"st\"\n";
  std::string dump = RoundTrip(text, opts);
  CHECK(dump == "[paths]\nstate_dir = \"st\"\n\n[sfu]\nlisten = \"[::1]:8081\"\nmax_body_bytes = 2048\n");
}

TEST_CASE("with_docs puts each key's doc above it and still loads", "[config][dump]") {
  DumpOptions opts;
  opts.with_docs = true;
  std::string dump = RoundTrip("", opts);
  CHECK(dump.rfind("[paths]\n# state directory: databases, uploads, recordings\nstate_dir = \"/var/lib/collab\"\n\n"
                   "# directory for control sockets",
                   0) == 0);
  CHECK(dump.find("[log]\n# lowest priority logged; each -v raises it one step\n"
                  "# one of: error, warning, notice, info, debug\nlevel = \"info\"\n") != std::string::npos);
  CHECK(dump.find("# largest HTTP request body accepted, in bytes\n# at least 1024\nmax_body_bytes = 1048576\n") !=
        std::string::npos);
  // Every key is documented.
  for (const KeyDef& k : Registry()) CHECK(dump.find("# " + k.doc + "\n") != std::string::npos);
}

TEST_CASE("resolve_paths writes path keys as the programs see them", "[config][dump]") {
  DumpOptions opts;
  opts.resolve_paths = true;
  std::string dump = RoundTrip("[paths]\nstate_dir = \"st\"\n[chatd]\nlisten = \"[::1]:1\"\n", opts);
  CHECK(dump.find("state_dir = \"/etc/collab/st\"\n") != std::string::npos);
  CHECK(dump.find("tls_cert = \"\"\n") != std::string::npos);
  CHECK(dump.find("listen = \"[::1]:1\"\n") != std::string::npos);

  // Found by the fuzzer: "token.key" beside /etc/collab/collab.toml resolves to the default,
  // so with non_default_only it must be left out, or the dump of the dump would differ.
  opts.non_default_only = true;
  CHECK(RoundTrip("[auth]\nkey_file = \"token.key\"\n[paths]\nweb_dir = \"w\"\n", opts) ==
        "[paths]\nweb_dir = \"/etc/collab/w\"\n");
}
