// Fuzzes collab.toml loading and the dump round trip: any bytes either load or give a config
// error (exit 78), never a crash; and whatever loads must dump to TOML that loads again and
// dumps to the same bytes, in every dump mode. The first line is also tried as a -o argument.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lib/base/exit_codes.hpp"
#include "lib/config/config.hpp"

using namespace collab::config;

namespace {

// The real registry has no boolean or list keys yet; this one has every type, a path, choices
// and limits, so their parsing and dumping are fuzzed too.
const std::vector<KeyDef>& AllTypesRegistry() {
  static const std::vector<KeyDef> registry = [] {
    std::vector<KeyDef> r(5);
    r[0].section = "a";
    r[0].name = "s";
    r[0].default_value = std::string("x");
    r[0].choices = {};
    r[1].section = "a";
    r[1].name = "n";
    r[1].type = KeyType::kInt;
    r[1].default_value = int64_t{0};
    r[1].min = -5;
    r[1].max = 1000;
    r[2].section = "b";
    r[2].name = "f";
    r[2].type = KeyType::kBool;
    r[2].default_value = true;
    r[3].section = "b";
    r[3].name = "l";
    r[3].type = KeyType::kStringList;
    r[3].default_value = StringList{"d"};
    r[4].section = "a";
    r[4].name = "p";
    r[4].is_path = true;
    r[4].default_value = std::string("");
    for (KeyDef& k : r) k.doc = "fuzz";
    return r;
  }();
  return registry;
}

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void CheckRoundTrip(const std::vector<KeyDef>& registry, const Config& config, const std::string& name) {
  for (int mode = 0; mode < 8; ++mode) {
    DumpOptions options;
    options.non_default_only = mode & 1;
    options.with_docs = mode & 2;
    options.resolve_paths = mode & 4;
    std::string dump = Dump(config, options);
    auto again = LoadStringIn(registry, dump, name);
    if (!again.ok()) Fail("a dump does not load again", again.error().message + "\n--- dump:\n" + dump);
    std::string dump2 = Dump(*again, options);
    if (dump2 != dump) Fail("a dump changes when loaded and dumped again", dump + "\n--- second dump:\n" + dump2);
  }
}

void CheckError(const collab::base::Error& e) {
  if (e.code != collab::base::kExitConfig || e.message.empty()) Fail("config error without code 78", e.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string name = "/etc/collab/collab.toml";
  for (const std::vector<KeyDef>* registry : {&Registry(), &AllTypesRegistry()}) {
    auto config = LoadStringIn(*registry, text, name);
    if (config.ok())
      CheckRoundTrip(*registry, *config, name);
    else
      CheckError(config.error());
  }

  const std::string_view line = text.substr(0, text.find('\n'));
  for (const std::vector<KeyDef>* registry : {&Registry(), &AllTypesRegistry()}) {
    auto o = ParseOverrideIn(*registry, line);
    if (!o.ok()) {
      CheckError(o.error());
      continue;
    }
    auto config = LoadStringIn(*registry, "", name, {*o});
    if (!config.ok()) {
      CheckError(config.error());  // cross-key rules may still reject it
      continue;
    }
    CheckRoundTrip(*registry, *config, name);
  }
  return 0;
}
