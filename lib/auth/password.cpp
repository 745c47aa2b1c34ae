#include "lib/auth/password.hpp"

#include <sodium.h>

#include <cstdlib>
#include <mutex>

namespace collab::auth {

using base::Error;

void EnsureSodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Only fails when the OS has no usable randomness; tokens and salts would be predictable.
    if (sodium_init() < 0) std::abort();
  });
}

PasswordParams InteractivePasswordParams() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

PasswordParams MinimumPasswordParams() {
  // argon2id needs at least 1 pass and libsodium's memlimit floor.
  return {crypto_pwhash_OPSLIMIT_MIN < 1 ? 1 : crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

base::Result<std::string> HashPassword(std::string_view password, const PasswordParams& params) {
  if (password.empty()) return Error{base::kExitDataErr, "password is empty"};
  if (password.size() > kMaxPasswordBytes) return Error{base::kExitDataErr, "password longer than 1 KiB"};
  if (params.opslimit < crypto_pwhash_OPSLIMIT_MIN || params.opslimit > crypto_pwhash_OPSLIMIT_MAX ||
      params.memlimit < crypto_pwhash_MEMLIMIT_MIN || params.memlimit > crypto_pwhash_MEMLIMIT_MAX)
    return Error{base::kExitDataErr, "argon2id parameters out of range"};
  EnsureSodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.opslimit, params.memlimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Error{base::kExitSoftware, "argon2id hashing failed (out of memory?)"};
  return std::string(out);
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  if (password.empty() || password.size() > kMaxPasswordBytes) return false;
  // libsodium reads a NUL-terminated string; an embedded NUL would truncate what it sees.
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES || hash.find('\0') != std::string_view::npos)
    return false;
  if (hash.substr(0, 10) != "$argon2id$") return false;
  EnsureSodium();
  std::string h(hash);
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

bool NeedsRehash(std::string_view hash, const PasswordParams& params) {
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES || hash.find('\0') != std::string_view::npos)
    return true;
  EnsureSodium();
  std::string h(hash);
  return crypto_pwhash_str_needs_rehash(h.c_str(), params.opslimit, params.memlimit) != 0;
}

}  // namespace collab::auth
