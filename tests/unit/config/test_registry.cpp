// A registry with a key of every type, for behaviour the real registry has no key for yet.
#include <vector>

#include "lib/config/registry.hpp"

namespace collab::config::testing {

const std::vector<KeyDef>& TestRegistry() {
  static const std::vector<KeyDef> registry = [] {
    std::vector<KeyDef> r;
    KeyDef s;
    s.section = "t";
    s.name = "s";
    s.default_value = std::string("plain");
    s.doc = "a string";
    r.push_back(s);

    KeyDef n;
    n.section = "t";
    n.name = "n";
    n.type = KeyType::kInt;
    n.default_value = int64_t{5};
    n.doc = "an integer";
    n.min = 1;
    n.max = 10;
    r.push_back(n);

    KeyDef b;
    b.section = "t";
    b.name = "b";
    b.type = KeyType::kBool;
    b.default_value = false;
    b.doc = "a boolean";
    r.push_back(b);

    KeyDef l;
    l.section = "u";
    l.name = "l";
    l.type = KeyType::kStringList;
    l.default_value = StringList{"x", "y"};
    l.doc = "a list";
    r.push_back(l);

    KeyDef c;
    c.section = "u";
    c.name = "c";
    c.type = KeyType::kStringList;
    c.default_value = StringList{};
    c.doc = "a list of choices";
    c.choices = {"red", "green"};
    r.push_back(c);

    KeyDef p;
    p.section = "t";  // after a [u] key: must still be dumped and documented under [t]
    p.name = "p";
    p.is_path = true;
    p.default_value = std::string("rel/dir");
    p.doc = "a path";
    r.push_back(p);
    return r;
  }();
  return registry;
}

}  // namespace collab::config::testing
