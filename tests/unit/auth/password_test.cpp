#include "lib/auth/password.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace collab;

TEST_CASE("password hash verifies and rejects mismatches", "[auth]") {
  auto fast = auth::MinimumPasswordParams();
  auto h = auth::HashPassword("correct horse", fast);
  REQUIRE(h.ok());
  CHECK(h->rfind("$argon2id$", 0) == 0);
  CHECK(auth::VerifyPassword(*h, "correct horse"));
  CHECK_FALSE(auth::VerifyPassword(*h, "correct hors"));
  CHECK_FALSE(auth::VerifyPassword(*h, "correct horse "));
  CHECK_FALSE(auth::VerifyPassword(*h, ""));
  // Salted: the same password hashes differently.
  auto h2 = auth::HashPassword("correct horse", fast);
  REQUIRE(h2.ok());
  CHECK(*h2 != *h);
  CHECK(auth::VerifyPassword(*h2, "correct horse"));

  auto jp = auth::HashPassword("パスワード123", fast);
  REQUIRE(jp.ok());
  CHECK(auth::VerifyPassword(*jp, "パスワード123"));

  // Damaged or foreign hashes never verify.
  std::string bad = *h;
  bad.back() = bad.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(auth::VerifyPassword(bad, "correct horse"));
  CHECK_FALSE(auth::VerifyPassword("", "correct horse"));
  CHECK_FALSE(auth::VerifyPassword("$2b$10$abcdefghijklmnopqrstuu", "correct horse"));
  CHECK_FALSE(auth::VerifyPassword(std::string(*h) + std::string(1, '\0'), "correct horse"));
  CHECK_FALSE(auth::VerifyPassword(std::string(500, 'x'), "correct horse"));
}

TEST_CASE("password length limits", "[auth]") {
  auto fast = auth::MinimumPasswordParams();
  CHECK(auth::HashPassword("", fast).error().code == base::kExitDataErr);
  CHECK(auth::HashPassword(std::string(1025, 'a'), fast).error().code == base::kExitDataErr);
  auto max = auth::HashPassword(std::string(1024, 'a'), fast);
  REQUIRE(max.ok());
  CHECK(auth::VerifyPassword(*max, std::string(1024, 'a')));
  CHECK_FALSE(auth::VerifyPassword(*max, std::string(1025, 'a')));
  CHECK_FALSE(auth::HashPassword("x", auth::PasswordParams{0, 0}).ok());
}

TEST_CASE("NeedsRehash follows the configured cost", "[auth]") {
  auto fast = auth::MinimumPasswordParams();
  auto h = auth::HashPassword("pw", fast);
  REQUIRE(h.ok());
  CHECK_FALSE(auth::NeedsRehash(*h, fast));
  CHECK(auth::NeedsRehash(*h));  // default is interactive, stronger
  CHECK(auth::NeedsRehash("garbage"));
  CHECK(auth::NeedsRehash(""));

  auto strong = auth::HashPassword("pw");  // default params (64 MiB)
  REQUIRE(strong.ok());
  CHECK(auth::VerifyPassword(*strong, "pw"));
  CHECK_FALSE(auth::NeedsRehash(*strong));
  CHECK(auth::NeedsRehash(*strong, fast));
}

TEST_CASE("hashing from several threads at once", "[auth]") {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([i, &ok] {
      std::string pw = "pw" + std::to_string(i);
      auto h = auth::HashPassword(pw, auth::MinimumPasswordParams());
      ok[static_cast<size_t>(i)] = h.ok() && auth::VerifyPassword(*h, pw) && !auth::VerifyPassword(*h, "other");
    });
  for (auto& t : threads) t.join();
  CHECK(ok == std::vector<int>{1, 1, 1, 1});
}
