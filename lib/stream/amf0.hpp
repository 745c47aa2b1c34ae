// AMF0 (Action Message Format 0), the value encoding of RTMP command and data messages:
// a small tagged value type, a bounded decoder and an encoder. Only what RTMP commands use is
// modelled (numbers, booleans, strings, objects, ECMA and strict arrays, null, undefined,
// dates as numbers). Deliberately not here: AMF3, references, typed objects, XML.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/result.hpp"

namespace collab::stream {

class Amf0Value {
 public:
  enum class Type { kNumber, kBool, kString, kObject, kNull, kUndefined, kArray };
  using Property = std::pair<std::string, Amf0Value>;

  Amf0Value() : type_(Type::kNull) {}
  static Amf0Value Number(double v) { Amf0Value a(Type::kNumber); a.num_ = v; return a; }
  static Amf0Value Bool(bool v) { Amf0Value a(Type::kBool); a.num_ = v ? 1 : 0; return a; }
  static Amf0Value String(std::string v) { Amf0Value a(Type::kString); a.str_ = std::move(v); return a; }
  static Amf0Value Null() { return Amf0Value(Type::kNull); }
  static Amf0Value Undefined() { return Amf0Value(Type::kUndefined); }
  static Amf0Value Object(std::vector<Property> props = {}) {
    Amf0Value a(Type::kObject);
    a.props_ = std::move(props);
    return a;
  }
  static Amf0Value Array(std::vector<Amf0Value> items) {
    Amf0Value a(Type::kArray);
    a.items_ = std::move(items);
    return a;
  }

  Type type() const { return type_; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_object() const { return type_ == Type::kObject; }
  double number() const { return num_; }
  bool boolean() const { return num_ != 0; }
  const std::string& string() const { return str_; }
  const std::vector<Property>& properties() const { return props_; }
  const std::vector<Amf0Value>& items() const { return items_; }
  // Object member, nullptr when absent or not an object.
  const Amf0Value* Find(std::string_view key) const;
  // The member's string, "" when absent or not a string.
  std::string GetString(std::string_view key) const;

 private:
  explicit Amf0Value(Type t) : type_(t) {}
  Type type_;
  double num_ = 0;
  std::string str_;
  std::vector<Property> props_;  // objects and ECMA arrays
  std::vector<Amf0Value> items_;  // strict arrays
};

// Decodes values until the input ends. Errors (kExitDataErr) for truncated or unknown values
// and for input nested deeper than 16 levels or holding more than 4096 values in total: a
// command message never needs more, and the limits keep a hostile peer from exhausting memory.
base::Result<std::vector<Amf0Value>> DecodeAmf0(std::string_view data);

// Appends the encoding of v (objects are written as AMF0 objects, arrays as strict arrays).
void EncodeAmf0(const Amf0Value& v, std::string& out);

}  // namespace collab::stream
