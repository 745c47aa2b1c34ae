// Password hashing for local accounts: argon2id through libsodium's crypto_pwhash_str, whose
// output string carries its own salt and cost parameters. Deliberately nothing about accounts,
// lockout or LDAP here; this only turns passwords into hashes and checks them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/base/result.hpp"

namespace collab::auth {

inline constexpr size_t kMaxPasswordBytes = 1024;

struct PasswordParams {
  uint64_t opslimit = 0;
  size_t memlimit = 0;  // bytes
};
// libsodium's OPSLIMIT/MEMLIMIT_INTERACTIVE (2 passes, 64 MiB): the default.
PasswordParams InteractivePasswordParams();
// The smallest argon2id costs libsodium accepts: for tests only, never for real accounts.
PasswordParams MinimumPasswordParams();

// Rejects (kExitDataErr) empty passwords, passwords over kMaxPasswordBytes and out-of-range
// params; kExitSoftware if libsodium fails (e.g. cannot allocate memlimit).
base::Result<std::string> HashPassword(std::string_view password,
                                       const PasswordParams& params = InteractivePasswordParams());
// False on mismatch, on a malformed hash, and on empty/oversized passwords.
bool VerifyPassword(std::string_view hash, std::string_view password);
// True when the hash was made with other params (or is not one of ours): rehash on next login.
bool NeedsRehash(std::string_view hash, const PasswordParams& params = InteractivePasswordParams());

// sodium_init, once per process; safe from any thread. Called by everything here that needs it.
void EnsureSodium();

}  // namespace collab::auth
