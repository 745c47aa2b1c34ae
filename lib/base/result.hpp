// Result<T>: a value or an Error, returned across every lib/ API.
// Errors carry a sysexits(3)-style code so a program can exit with it directly, and a
// human message. No exceptions cross a lib API; this type is how failures travel instead.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "lib/base/exit_codes.hpp"

namespace collab::base {

struct Error {
  int code = kExitSoftware;  // a sysexits code (lib/base/exit_codes.hpp)
  std::string message;

  // Prefixes context, keeping the code: Wrap("reading foo") -> "reading foo: <message>".
  [[nodiscard]] Error Wrap(const std::string& context) const {
    return Error{code, context + ": " + message};
  }
};

inline Error MakeError(int code, std::string message) { return Error{code, std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;
inline Status Ok() { return Status(); }

}  // namespace collab::base

// Early-return helpers. COLLAB_TRY(expr) returns the error of a failed Result/Status.
#define COLLAB_CONCAT_INNER(a, b) a##b
#define COLLAB_CONCAT(a, b) COLLAB_CONCAT_INNER(a, b)
#define COLLAB_TRY(expr)                                   \
  do {                                                     \
    auto&& collab_try_r_ = (expr);                         \
    if (!collab_try_r_.ok()) return collab_try_r_.error(); \
  } while (0)
#define COLLAB_ASSIGN_OR_RETURN(lhs, expr)                                 \
  auto COLLAB_CONCAT(collab_r_, __LINE__) = (expr);                        \
  if (!COLLAB_CONCAT(collab_r_, __LINE__).ok())                            \
    return COLLAB_CONCAT(collab_r_, __LINE__).error();                     \
  lhs = std::move(COLLAB_CONCAT(collab_r_, __LINE__)).value()
