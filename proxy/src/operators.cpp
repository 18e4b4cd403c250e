// Python's operators on a Proxy: each is the request rpyc's own netref makes for it, sent
// through the proxy's attribute path (one CALLCHAIN between netref peers), or done locally
// for the plain values a call returns.
#include <ostream>
#include <string>

#include "netref/proxy/proxy.hpp"

namespace netref {
namespace {

// Code points of UTF-8 text: Python's len(str).
std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Python's truth of a plain value (a reference is true here: the caller asks its owner).
bool plain_truth(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::none: return false;
    case Value::Kind::boolean: return *v.get_if<bool>();
    case Value::Kind::integer: return *v.get_if<std::int64_t>() != 0;
    case Value::Kind::big_integer: return true;  // outside int64: never zero
    case Value::Kind::floating: return *v.get_if<double>() != 0.0;
    case Value::Kind::complex: return *v.get_if<std::complex<double>>() != std::complex<double>();
    case Value::Kind::bytes: return !v.get_if<Bytes>()->data.empty();
    case Value::Kind::string: return !v.get_if<std::string>()->empty();
    case Value::Kind::tuple: return !v.get_if<Tuple>()->items.empty();
    case Value::Kind::frozenset: return !v.get_if<FrozenSet>()->items.empty();
    default: return true;
  }
}

bool is_reference(const Value& v) {
  if (const auto* r = v.get_if<RemoteRefPtr>()) return *r != nullptr;
  if (const auto* l = v.get_if<ObjectPtr>()) return *l != nullptr;
  return false;
}

[[noreturn]] void unsupported(const char* what, const Value& v) {
  throw TypeError(std::string(what) + " is not supported by a plain '" + std::string(v.type_name()) + "' value");
}

// The comparison with its operands swapped: a < b is b > a.
std::string_view reflected(std::string_view op) {
  if (op == "__lt__") return "__gt__";
  if (op == "__gt__") return "__lt__";
  if (op == "__le__") return "__ge__";
  if (op == "__ge__") return "__le__";
  return op;  // __eq__, __ne__
}

// Orders two plain numbers, strings or bytes; nullopt when Python would refuse.
std::optional<int> plain_order(const Value& a, const Value& b) {
  auto number = [](const Value& v) -> std::optional<double> {
    if (const auto* i = v.get_if<std::int64_t>()) return static_cast<double>(*i);
    if (const auto* d = v.get_if<double>()) return *d;
    if (const auto* f = v.get_if<bool>()) return *f ? 1.0 : 0.0;
    return std::nullopt;
  };
  if (const auto* x = a.get_if<std::int64_t>()) {
    if (const auto* y = b.get_if<std::int64_t>()) return (*x > *y) - (*x < *y);
  }
  if (auto x = number(a), y = number(b); x && y) return (*x > *y) - (*x < *y);
  if (const auto* x = a.get_if<std::string>()) {
    if (const auto* y = b.get_if<std::string>()) return x->compare(*y) < 0 ? -1 : x->compare(*y) > 0;
  }
  if (const auto* x = a.get_if<Bytes>()) {
    if (const auto* y = b.get_if<Bytes>()) return x->data.compare(y->data) < 0 ? -1 : x->data.compare(y->data) > 0;
  }
  return std::nullopt;
}

bool plain_compare(std::string_view op, const Value& a, const Value& b) {
  if (op == "__eq__") return a == b;
  if (op == "__ne__") return !(a == b);
  const auto order = plain_order(a, b);
  if (!order) {
    throw TypeError("'" + std::string(op) + "' is not supported between '" + std::string(a.type_name()) +
                    "' and '" + std::string(b.type_name()) + "'");
  }
  if (op == "__lt__") return *order < 0;
  if (op == "__le__") return *order <= 0;
  if (op == "__gt__") return *order > 0;
  return *order >= 0;  // __ge__
}

// A tuple's item at a Python index (negative counts from the end).
const Value& tuple_item(const std::vector<Value>& items, const Value& key) {
  const auto* index = key.get_if<std::int64_t>();
  if (index == nullptr) throw TypeError("tuple indices must be integers, not " + std::string(key.type_name()));
  const auto size = static_cast<std::int64_t>(items.size());
  const std::int64_t at = *index < 0 ? *index + size : *index;
  if (at < 0 || at >= size) throw IndexError("tuple index out of range");
  return items[static_cast<std::size_t>(at)];
}

}  // namespace

Value Proxy::call_method(std::string_view name, Args args) const {
  return attr(name).invoke(std::span<Value>(args), Kwargs{});
}

std::size_t Proxy::size() const {
  if (path_.empty() && !is_reference(target_)) {
    if (const auto* t = target_.get_if<Tuple>()) return t->items.size();
    if (const auto* f = target_.get_if<FrozenSet>()) return f->items.size();
    if (const auto* s = target_.get_if<std::string>()) return code_points(*s);
    if (const auto* b = target_.get_if<Bytes>()) return b->data.size();
    unsupported("len()", target_);
  }
  const Value n = call_method("__len__", {});
  const auto* count = n.get_if<std::int64_t>();
  if (count == nullptr || *count < 0) throw TypeError("__len__ returned " + std::string(n.type_name()) + ", not a count");
  return static_cast<std::size_t>(*count);
}

bool Proxy::contains_value(Value x) const {
  if (path_.empty() && !is_reference(target_)) {
    auto among = [&](const std::vector<Value>& items) {
      for (const auto& item : items) {
        if (item == x) return true;
      }
      return false;
    };
    if (const auto* t = target_.get_if<Tuple>()) return among(t->items);
    if (const auto* f = target_.get_if<FrozenSet>()) return among(f->items);
    if (const auto* s = target_.get_if<std::string>(); s != nullptr && x.get_if<std::string>() != nullptr) {
      return s->find(*x.get_if<std::string>()) != std::string::npos;
    }
    if (const auto* b = target_.get_if<Bytes>(); b != nullptr && x.get_if<Bytes>() != nullptr) {
      return b->data.find(x.get_if<Bytes>()->data) != std::string::npos;
    }
    unsupported("'in'", target_);
  }
  return static_cast<bool>(Proxy(call_method("__contains__", values_of(std::move(x)))));
}

std::string Proxy::str() const {
  Value v = resolve();
  if (auto* r = v.get_if<RemoteRefPtr>(); r != nullptr && *r) return (*r)->str();
  if (auto* l = v.get_if<ObjectPtr>(); l != nullptr && *l) return (*l)->str();
  if (auto* s = v.get_if<std::string>()) return std::move(*s);
  return v.debug_string(static_cast<std::size_t>(-1));
}

Proxy::operator bool() const {
  if (path_.empty() && !is_reference(target_)) return plain_truth(target_);
  // Python's order: __bool__, then __len__, then true.
  try {
    return static_cast<bool>(Proxy(call_method("__bool__", {})));
  } catch (const AttributeError&) {
  }
  try {
    return size() != 0;
  } catch (const AttributeError&) {
  }
  return true;
}

std::int64_t Proxy::hash() const {
  Value v = resolve();
  if (auto* r = v.get_if<RemoteRefPtr>(); r != nullptr && *r) {
    const Value h = (*r)->connection()->sync_request(Handler::hash, values_of(std::move(v)));
    if (const auto* n = h.get_if<std::int64_t>()) return *n;
    if (const auto* big = h.get_if<BigInt>()) return static_cast<std::int64_t>(std::hash<std::string>()(big->digits));
    throw TypeError("the peer's hash is " + std::string(h.type_name()) + ", not an int");
  }
  if (auto* l = v.get_if<ObjectPtr>(); l != nullptr && *l) return (*l)->hash();
  return static_cast<std::int64_t>(std::hash<std::string>()(v.debug_string(static_cast<std::size_t>(-1))));
}

bool Proxy::compare(std::string_view op, const Proxy& other) const {
  return compare_values(op, resolve(), other.resolve(), /*reflect=*/true);
}

bool Proxy::compare_values(std::string_view op, const Value& a, const Value& b, bool reflect) {
  // NotImplemented from the owner: as Python, the other operand's reflected comparison is
  // tried; then == and != fall back to identity, and an ordering is refused.
  auto answer = [&](const Value& result) {
    if (result.kind() != Value::Kind::not_implemented) return static_cast<bool>(Proxy(result));
    if (reflect && is_reference(b)) return compare_values(reflected(op), b, a, /*reflect=*/false);
    if (op == "__eq__") return a == b;
    if (op == "__ne__") return !(a == b);
    throw TypeError("'" + std::string(op) + "' is not supported between '" + std::string(a.type_name()) +
                    "' and '" + std::string(b.type_name()) + "'");
  };
  if (auto* r = a.get_if<RemoteRefPtr>(); r != nullptr && *r) {
    const auto conn = (*r)->connection();
    return answer(conn->sync_request(Handler::cmp, values_of(a, b, Value(std::string(op)))));
  }
  if (auto* l = a.get_if<ObjectPtr>(); l != nullptr && *l) return answer((*l)->compare(op, b));
  if (is_reference(b)) return compare_values(reflected(op), b, a, /*reflect=*/false);
  return plain_compare(op, a, b);
}

std::ostream& operator<<(std::ostream& out, const Proxy& p) { return out << p.str(); }

Proxy ItemProxy::get() const {
  if (container_.path_.empty() && !is_reference(container_.target_)) {
    if (const auto* t = container_.target_.get_if<Tuple>()) return Proxy(tuple_item(t->items, key_));
    unsupported("subscripting", container_.target_);
  }
  return Proxy(container_.call_method("__getitem__", values_of(key_)));
}

void ItemProxy::store(Value value) const {
  if (container_.path_.empty() && !is_reference(container_.target_)) unsupported("item assignment", container_.target_);
  container_.call_method("__setitem__", values_of(key_, std::move(value)));
}

void ItemProxy::del() const {
  if (container_.path_.empty() && !is_reference(container_.target_)) unsupported("item deletion", container_.target_);
  container_.call_method("__delitem__", values_of(key_));
}

}  // namespace netref
