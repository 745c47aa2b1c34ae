// A small JSON value with a strict RFC 8259 parser and a serializer.
// Used for HTTP bodies, control-socket frames and `--json` output. Objects keep insertion
// order so output is stable. Deliberately no schema/reflection magic: callers read fields by
// name and report their own errors. The parser enforces size/depth limits since it takes
// untrusted bytes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::base {

class Json {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  struct ParseLimits {
    size_t max_depth = 64;
    size_t max_bytes = 16 * 1024 * 1024;
  };

  Json() = default;                                   // null
  Json(std::nullptr_t) {}                             // NOLINT
  Json(bool b) : type_(Type::kBool), b_(b) {}         // NOLINT
  Json(int v) : type_(Type::kInt), i_(v) {}           // NOLINT
  Json(long v) : type_(Type::kInt), i_(v) {}          // NOLINT
  Json(long long v) : type_(Type::kInt), i_(v) {}     // NOLINT
  Json(unsigned v) : type_(Type::kInt), i_(v) {}      // NOLINT
  Json(unsigned long v) : type_(Type::kInt), i_(static_cast<int64_t>(v)) {}       // NOLINT
  Json(unsigned long long v) : type_(Type::kInt), i_(static_cast<int64_t>(v)) {}  // NOLINT
  Json(double v) : type_(Type::kDouble), d_(v) {}     // NOLINT
  Json(const char* s) : type_(Type::kString), s_(s) {}           // NOLINT
  Json(std::string s) : type_(Type::kString), s_(std::move(s)) {}  // NOLINT
  Json(std::string_view s) : type_(Type::kString), s_(s) {}      // NOLINT

  static Json MakeArray() { Json j; j.type_ = Type::kArray; return j; }
  static Json MakeObject() { Json j; j.type_ = Type::kObject; return j; }
  // Json::Obj({{"a", 1}, {"b", "x"}})
  static Json Obj(std::initializer_list<Member> members);
  static Json Arr(std::initializer_list<Json> items);

  // Parses exactly one JSON text (whitespace around it allowed). Errors name the byte offset.
  static Result<Json> Parse(std::string_view text, const ParseLimits& limits);
  static Result<Json> Parse(std::string_view text) { return Parse(text, ParseLimits{}); }

  // Compact output; with indent > 0, pretty output. Non-ASCII UTF-8 is emitted as-is;
  // control characters are escaped.
  std::string Dump(int indent = 0) const;

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kDouble; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool as_bool() const { return b_; }
  // A double outside int64's range saturates (NaN gives 0): the cast alone would be undefined.
  int64_t as_int() const {
    if (type_ != Type::kDouble) return i_;
    if (d_ != d_) return 0;
    if (d_ >= 9223372036854775808.0) return INT64_MAX;
    if (d_ < -9223372036854775808.0) return INT64_MIN;
    return static_cast<int64_t>(d_);
  }
  double as_double() const { return type_ == Type::kInt ? static_cast<double>(i_) : d_; }
  const std::string& as_string() const { return s_; }
  const Array& as_array() const { return a_; }
  Array& as_array() { return a_; }
  const Object& as_object() const { return o_; }
  Object& as_object() { return o_; }

  // Object access. Find returns nullptr when absent or when this is not an object.
  const Json* Find(std::string_view key) const;
  Json* Find(std::string_view key);
  // Inserts (or replaces) a member; turns a null into an object.
  Json& Set(std::string_view key, Json value);
  // Returns the member, inserting null if absent; turns a null into an object.
  Json& operator[](std::string_view key);
  // Appends to an array; turns a null into an array.
  void Push(Json value);
  size_t size() const;

  // Typed lookups with defaults, for reading request fields.
  std::string GetString(std::string_view key, std::string_view def = "") const;
  int64_t GetInt(std::string_view key, int64_t def = 0) const;
  bool GetBool(std::string_view key, bool def = false) const;

  bool operator==(const Json& other) const;

 private:
  void DumpTo(std::string& out, int indent, int level) const;

  Type type_ = Type::kNull;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  Array a_;
  Object o_;
};

// Appends s as a JSON string literal (with quotes) to out.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace collab::base
