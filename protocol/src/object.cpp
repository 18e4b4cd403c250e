// Object's defaults: what an object that exposes nothing in particular answers.
#include "netref/protocol/object.hpp"

#include <functional>

#include "netref/protocol/detail/identity_hash.hpp"
#include "netref/protocol/errors.hpp"
#include "netref/protocol/remote_ref.hpp"

namespace netref {

std::uint64_t Object::type_id() const noexcept {
  return std::hash<std::string_view>()(type_name()) & 0x7fffffffffffffffull;
}

Value Object::getattr(std::string_view name) {
  throw AttributeError("'" + std::string(type_name()) + "' object has no exposed attribute '" + std::string(name) + "'");
}

void Object::setattr(std::string_view name, Value) {
  throw AttributeError("cannot set attribute '" + std::string(name) + "' of '" + std::string(type_name()) + "'");
}

void Object::delattr(std::string_view name) {
  throw AttributeError("cannot delete attribute '" + std::string(name) + "' of '" + std::string(type_name()) + "'");
}

Value Object::call(Args, Kwargs) {
  throw TypeError("'" + std::string(type_name()) + "' object is not callable");
}

Value Object::callattr(std::string_view name, Args args, Kwargs kwargs) {
  return call_value(getattr(name), std::move(args), std::move(kwargs));
}

std::string Object::repr() { return "<" + std::string(type_name()) + " object>"; }

std::string Object::str() { return repr(); }

std::int64_t Object::hash() { return detail::identity_hash(this); }

std::vector<std::string> Object::dir() { return {}; }

std::vector<MethodInfo> Object::inspect() { return {}; }

Value Object::compare(std::string_view op, const Value& other) {
  const auto* mine = other.get_if<ObjectPtr>();
  const bool same = mine != nullptr && mine->get() == this;
  if (op == "__eq__") return Value(same);
  if (op == "__ne__") return Value(!same);
  return Value(NotImplemented{});
}

std::vector<Value> Object::next_items(std::size_t) {
  throw TypeError("'" + std::string(type_name()) + "' object is not an iterator");
}

Value kwargs_to_value(Kwargs kwargs) {
  Tuple t;
  t.items.reserve(kwargs.size());
  for (auto& [name, value] : kwargs) t.items.push_back(tuple_of(std::move(name), std::move(value)));
  return Value(std::move(t));
}

Value call_value(const Value& callee, Args args, Kwargs kwargs) {
  if (const auto* local = callee.get_if<ObjectPtr>(); local != nullptr && *local) {
    return (*local)->call(std::move(args), std::move(kwargs));
  }
  if (const auto* remote = callee.get_if<RemoteRefPtr>(); remote != nullptr && *remote) {
    return (*remote)->call(std::move(args), std::move(kwargs));
  }
  throw TypeError("'" + std::string(callee.type_name()) + "' object is not callable");
}

}  // namespace netref
