#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "lib/config/registry.hpp"

using namespace collab::config;

namespace collab::config::testing {
const std::vector<KeyDef>& TestRegistry();
}
using collab::config::testing::TestRegistry;

namespace {

struct Lint {
  int status = -1;
  std::string output;
};

// Embeds the fragment in a minimal collab.toml(5) page and runs mandoc's linter on it.
Lint LintPage(const std::string& fragment) {
  char tmpl[] = "/tmp/collab-mdoc-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  std::string page = dir + "/collab.toml.5";
  {
    std::ofstream f(page);
    f << ".Dd January 1, 2025\n"
         ".Dt COLLAB.TOML 5\n"
         ".Os\n"
         ".Sh NAME\n"
         ".Nm collab.toml\n"
         ".Nd configuration file of the collab daemons\n"
         ".Sh DESCRIPTION\n"
         "Keys by section.\n"
      << fragment;
    REQUIRE(f.good());
  }
  Lint lint;
  std::string cmd = "mandoc -T lint -W warning " + page + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) lint.output.append(buf, n);
  int st = pclose(p);
  lint.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::system(("rm -rf " + dir).c_str());
  return lint;
}

}  // namespace

TEST_CASE("RegistryMdoc documents every key", "[config][mdoc]") {
  std::string m = RegistryMdoc();
  CHECK(m.rfind(".Ss \"\\&[paths]\\&\"\n.Bl -tag -width Ds\n", 0) == 0);
  CHECK(m.find(".It Ic \"\\&state_dir\" Pq Vt \"\\&path\" , No default Ql \"\\&/var/lib/collab\"\n"
               "State directory: databases, uploads, recordings.\n") != std::string::npos);
  CHECK(m.find(".It Ic \"\\&group\" Pq Vt \"\\&string\" , No empty by default\n") != std::string::npos);
  CHECK(m.find(".It Ic \"\\&max_body_bytes\" Pq Vt \"\\&integer\" , No default Ql \"\\&1048576\"\n"
               "Largest HTTP request body accepted, in bytes.\nAt least 1024.\n") != std::string::npos);
  for (const std::string& s : Sections(Registry())) CHECK(m.find(".Ss \"\\&[" + s + "]\\&\"\n") != std::string::npos);
  for (const KeyDef& k : Registry()) CHECK(m.find(".It Ic \"\\&" + k.name + "\"") != std::string::npos);
}

TEST_CASE("RegistryMdoc is clean under mandoc -T lint -W warning", "[config][mdoc]") {
  REQUIRE(std::system("command -v mandoc >/dev/null 2>&1") == 0);  // make deps installs mandoc
  Lint lint = LintPage(RegistryMdoc());
  INFO(lint.output);
  CHECK(lint.status == 0);
  CHECK(lint.output.empty());
}

TEST_CASE("RegistryMdoc escapes awkward docs and defaults", "[config][mdoc]") {
  std::vector<KeyDef> reg = TestRegistry();
  reg[0].default_value = std::string("a \"quoted\" \\back Ql No .dot");
  reg[0].doc = ".starts with a dot and has a \\backslash";
  reg[1].doc = "'starts with a quote";
  std::string m = RegistryMdoc(reg);
  CHECK(m.find("Ql \"\\&a \\(dqquoted\\(dq \\eback Ql No .dot\"\n") != std::string::npos);
  CHECK(m.find("\n\\&.starts with a dot and has a \\ebackslash.\n") != std::string::npos);
  CHECK(m.find("\n\\&'starts with a quote.\n") != std::string::npos);
  CHECK(m.find("Pq Vt \"\\&array of strings\" , No default Ql \"\\&[\\(dqx\\(dq, \\(dqy\\(dq]\"\n") !=
        std::string::npos);
  Lint lint = LintPage(m);
  INFO(m);
  INFO(lint.output);
  CHECK(lint.status == 0);
  CHECK(lint.output.empty());
}
