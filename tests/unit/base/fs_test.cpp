#include <catch2/catch.hpp>

#include <cstdlib>
#include <sys/stat.h>

#include "lib/base/fs.hpp"

using namespace collab::base;

namespace {
std::string TempDir() {
  char tmpl[] = "/tmp/collab-fs-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}
}  // namespace

TEST_CASE("WriteFileAtomic sets the mode and ReadFile reads it back", "[fs]") {
  std::string dir = TempDir();
  std::string path = dir + "/key";
  REQUIRE(WriteFileAtomic(path, "secret", 0600).ok());
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto r = ReadFile(path);
  REQUIRE(r.ok());
  CHECK(*r == "secret");
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("ReadFile of a missing file names the path", "[fs][bad-input]") {
  auto r = ReadFile("/nonexistent/collab/file");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == kExitNoInput);
  CHECK(r.error().message.find("/nonexistent/collab/file") != std::string::npos);
}

TEST_CASE("MakeDirs creates nested directories and JoinPath resolves relative paths", "[fs]") {
  std::string dir = TempDir();
  REQUIRE(MakeDirs(dir + "/a/b/c").ok());
  CHECK(PathExists(dir + "/a/b/c"));
  REQUIRE(WriteFileAtomic(dir + "/file", "x").ok());
  CHECK_FALSE(MakeDirs(dir + "/file/sub").ok());
  CHECK(JoinPath("/etc/collab", "key") == "/etc/collab/key");
  CHECK(JoinPath("/etc/collab", "/abs") == "/abs");
  CHECK(DirName("/etc/collab/collab.toml") == "/etc/collab");
  CHECK(DirName("collab.toml") == ".");
  std::system(("rm -rf " + dir).c_str());
}
