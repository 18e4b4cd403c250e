// The Objects service/ lends: exposed instances (and a Service's root), and functions.
#include <cstdio>
#include <functional>
#include <string>

#include "netref/protocol/detail/identity_hash.hpp"
#include "netref/protocol/detail/item_vectors.hpp"
#include "netref/service/convert.hpp"
#include "type_table.hpp"

namespace netref::detail {
namespace {

// A peer-chosen name, made safe and short for an error message (it may be 1 MiB, hold NULs
// or invalid UTF-8).
std::string printable(std::string_view name) {
  constexpr std::size_t max_chars = 80;
  std::string out;
  for (std::size_t i = 0; i < name.size() && out.size() < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (out.size() >= max_chars) out += "...";
  return out;
}

[[noreturn]] void throw_no_attribute(std::string_view type, std::string_view name) {
  throw AttributeError("'" + std::string(type) + "' object has no exposed attribute '" + printable(name) + "'");
}

std::string join_signatures(const Member& m) {
  std::string doc;
  for (const auto& r : m.overloads) {
    if (!doc.empty()) doc += '\n';
    doc += r.signature;
  }
  return doc;
}

bool run_record(const FunctionRecord& record, void* self, const ConvertContext& ctx, Args& args,
                Kwargs& kwargs, Value& result, std::string& mismatch) {
  CallFrame frame{self, args, kwargs, ctx, Value(), std::string(), /*consume=*/true};
  if (!record.invoke(record, frame)) {
    mismatch = std::move(frame.mismatch);
    return false;
  }
  result = std::move(frame.result);
  return true;
}

// Python's binary operators. Python only finds one on a netref if its class lists it, and
// otherwise raises TypeError before asking the server; rpyc lists every operator the remote
// class has and refuses the ones its access policy withholds with AttributeError. INSPECT
// lists those a binding lacks too, so `obj + 1` asks and gets AttributeError, as from rpyc.
// Reflected and in-place forms stay off the list: Python falls back from them to these, and
// `1 + obj` without __radd__ is a TypeError in rpyc too. Probed protocols (__len__, __iter__,
// __bool__, __index__...) stay off as well: listing them would break truthiness and iteration.
constexpr std::string_view binary_operators[] = {
    "__add__",    "__sub__",    "__mul__", "__matmul__", "__truediv__", "__floordiv__", "__mod__",
    "__divmod__", "__pow__",    "__lshift__", "__rshift__", "__and__",    "__xor__",      "__or__"};
constexpr std::string_view withheld_doc = "not exposed";

// The type name without its module part, and the module ("netref" when there is none).
std::pair<std::string_view, std::string_view> split_type_name(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return {"netref", name};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

/// What a peer reading `__class__` gets: a stand-in naming the type and nothing more, never
/// a way to the C++ type's bindings or instances. Lent as builtins.type, which Python clients
/// know without an INSPECT and treat as a class.
class ClassObject final : public Object {
 public:
  explicit ClassObject(std::shared_ptr<const TypeTable> table) : table_(std::move(table)) {}

  std::string_view type_name() const noexcept override { return "builtins.type"; }
  Value getattr(std::string_view name) override {
    const auto [module, short_name] = split_type_name(table_->name);
    if (name == "__name__" || name == "__qualname__") return Value(std::string(short_name));
    if (name == "__module__") return Value(std::string(module));
    if (name == "__doc__") return Value();
    throw_no_attribute("type", name);
  }
  std::string repr() override {
    const auto [module, short_name] = split_type_name(table_->name);
    return "<class '" + std::string(module) + "." + std::string(short_name) + "'>";
  }
  std::vector<std::string> dir() override { return {"__doc__", "__module__", "__name__", "__qualname__"}; }
  std::vector<MethodInfo> inspect() override { return {}; }

 private:
  std::shared_ptr<const TypeTable> table_;
};

}  // namespace

Value invoke_getter(const Member& member, void* self, const ConvertContext& ctx) {
  Args args;
  Kwargs kwargs;
  Value result;
  std::string mismatch;
  if (!run_record(*member.getter, self, ctx, args, kwargs, result, mismatch)) {
    throw ConversionError("cannot read '" + member.name + "': " + mismatch);
  }
  return result;
}

// ---- BoundObject --------------------------------------------------------------------------

BoundObject::BoundObject(std::shared_ptr<const TypeTable> table, std::shared_ptr<void> instance, Registry registry)
    : table_(std::move(table)), instance_(std::move(instance)), registry_(std::move(registry)) {}

const Member& BoundObject::require(std::string_view name) const {
  const Member* m = table_->find(name);
  if (!m) throw_no_attribute(table_->name, name);
  return *m;
}

Value BoundObject::call_dunder(const Member& member, Args args) {
  Kwargs kwargs;
  const ConvertContext ctx = context();
  if (member.is_method()) return call_records(member.overloads, instance_.get(), ctx, args, kwargs);
  return call_value(invoke_getter(member, instance_.get(), ctx), std::move(args));
}

Value BoundObject::getattr(std::string_view name) {
  if (name == "__class__" && table_->find(name) == nullptr) return Value(ObjectPtr(std::make_shared<ClassObject>(table_)));
  const Member& m = require(name);
  if (m.is_method()) {
    // A bound method; Python builds none of these for methods it knows from INSPECT (it
    // sends CALLATTR), so this is the rarer path.
    return Value(ObjectPtr(std::make_shared<FunctionObject>(std::shared_ptr<const Member>(table_, &m), instance_,
                                                            registry_, table_->name)));
  }
  return invoke_getter(m, instance_.get(), context());
}

void BoundObject::setattr(std::string_view name, Value value) {
  const Member& m = require(name);
  if (!m.setter) {
    throw AttributeError("attribute '" + m.name + "' of '" + table_->name + "' is read-only");
  }
  Args args;
  args.push_back(std::move(value));
  Kwargs kwargs;
  Value result;
  std::string mismatch;
  if (!run_record(*m.setter, instance_.get(), context(), args, kwargs, result, mismatch)) {
    throw ConversionError("cannot set '" + m.name + "' of '" + table_->name + "': " + mismatch);
  }
}

void BoundObject::delattr(std::string_view name) {
  const Member& m = require(name);
  throw AttributeError("attribute '" + m.name + "' of '" + table_->name + "' cannot be deleted");
}

Value BoundObject::call(Args args, Kwargs kwargs) {
  const Member* m = table_->find("__call__");
  if (!m) throw TypeError("'" + table_->name + "' object is not callable");
  const ConvertContext ctx = context();
  if (m->is_method()) return call_records(m->overloads, instance_.get(), ctx, args, kwargs);
  return call_value(invoke_getter(*m, instance_.get(), ctx), std::move(args), std::move(kwargs));
}

Value BoundObject::callattr(std::string_view name, Args args, Kwargs kwargs) {
  const Member& m = require(name);
  const ConvertContext ctx = context();
  if (m.is_method()) {
    Value result = call_records(m.overloads, instance_.get(), ctx, args, kwargs);
    detail::give_back_item_vector(args);  // for the next request's arguments on this thread
    return result;
  }
  return call_value(invoke_getter(m, instance_.get(), ctx), std::move(args), std::move(kwargs));
}

std::string BoundObject::repr() {
  if (const Member* m = table_->find("__repr__")) {
    Value v = call_dunder(*m, {});
    if (auto* s = v.get_if<std::string>()) return std::move(*s);
    throw TypeError("__repr__ of '" + table_->name + "' returned " + std::string(v.type_name()) + ", not str");
  }
  return "<" + table_->name + " object>";
}

std::string BoundObject::str() {
  if (const Member* m = table_->find("__str__")) {
    Value v = call_dunder(*m, {});
    if (auto* s = v.get_if<std::string>()) return std::move(*s);
    throw TypeError("__str__ of '" + table_->name + "' returned " + std::string(v.type_name()) + ", not str");
  }
  return repr();
}

std::int64_t BoundObject::hash() {
  if (const Member* m = table_->find("__hash__")) {
    return Converter<std::int64_t>::from_value(call_dunder(*m, {}), context());
  }
  const void* identity = instance_ ? instance_.get() : static_cast<const void*>(this);
  return detail::identity_hash(identity);  // keyed: never the address itself
}

std::vector<std::string> BoundObject::dir() {
  std::vector<std::string> names;
  names.reserve(table_->members.size());
  for (const auto& m : table_->members) names.push_back(m->name);
  return names;
}

std::vector<MethodInfo> BoundObject::inspect() {
  std::vector<MethodInfo> methods;
  for (const auto& m : table_->members) {
    if (m->is_method()) methods.emplace_back(m->name, join_signatures(*m));
  }
  for (const auto op : binary_operators) {
    if (table_->find(op) == nullptr) methods.emplace_back(std::string(op), std::string(withheld_doc));
  }
  return methods;
}

Value BoundObject::compare(std::string_view op, const Value& other) {
  if (const Member* m = table_->find(op); m && op.size() > 4 && op.substr(0, 2) == "__") {
    return call_dunder(*m, Args{other});
  }
  if (op == "__eq__" || op == "__ne__") {
    bool same = false;
    if (const auto* o = other.get_if<ObjectPtr>(); o && *o) {
      if (o->get() == this) {
        same = true;
      } else if (const auto* b = dynamic_cast<const BoundObject*>(o->get())) {
        same = instance_ && b->instance_.get() == instance_.get() && b->table_.get() == table_.get();
      }
    }
    return Value(op == "__eq__" ? same : !same);
  }
  return Value(NotImplemented{});
}

std::vector<Value> BoundObject::next_items(std::size_t count) {
  const Member* m = table_->find("__next__");
  if (!m) throw TypeError("'" + table_->name + "' object is not an iterator");
  std::vector<Value> items;
  try {
    while (items.size() < count) items.push_back(call_dunder(*m, {}));
  } catch (const StopIteration&) {
  }
  return items;
}

// ---- FunctionObject -----------------------------------------------------------------------

FunctionObject::FunctionObject(std::shared_ptr<const Member> member, std::shared_ptr<void> self,
                               std::optional<Registry> registry, std::string_view owner_type)
    : member_(std::move(member)), self_(std::move(self)), registry_(std::move(registry)), owner_type_(owner_type) {}

Value FunctionObject::getattr(std::string_view name) {
  if (name == "__name__") return Value(member_->name);
  if (name == "__doc__") return Value(join_signatures(*member_));
  throw_no_attribute("builtin_function_or_method", name);
}

Value FunctionObject::call(Args args, Kwargs kwargs) {
  const ConvertContext ctx{registry_ ? &*registry_ : nullptr, self_ ? &self_ : nullptr};
  return call_records(member_->overloads, self_.get(), ctx, args, kwargs);
}

Value FunctionObject::callattr(std::string_view name, Args args, Kwargs kwargs) {
  if (name == "__call__") return call(std::move(args), std::move(kwargs));
  return call_value(getattr(name), std::move(args), std::move(kwargs));
}

std::string FunctionObject::repr() {
  if (owner_type_.empty()) return "<built-in function " + member_->name + ">";
  return "<built-in method " + member_->name + " of " + std::string(owner_type_) + " object>";
}

std::vector<std::string> FunctionObject::dir() { return {"__call__", "__doc__", "__name__"}; }

std::vector<MethodInfo> FunctionObject::inspect() { return {{"__call__", join_signatures(*member_)}}; }

// ---- conversions that need the Objects ------------------------------------------------------

Value lend_object(const ConvertContext& ctx, const std::type_info& type, std::shared_ptr<void> instance) {
  if (!instance) return Value();
  if (!ctx.registry) {
    throw ConversionError("cannot lend a " + demangle(type) + ": no Registry to find its bindings in");
  }
  const auto& impl = RegistryAccess::impl(*ctx.registry);
  auto it = impl->types.find(std::type_index(type));
  if (it == impl->types.end()) {
    throw ConversionError("cannot lend a " + demangle(type) + ": the type is not exposed (Registry::expose)");
  }
  return Value(ObjectPtr(std::make_shared<BoundObject>(std::shared_ptr<const TypeTable>(impl, it->second.get()),
                                                       std::move(instance), *ctx.registry)));
}

std::shared_ptr<void> unwrap_object(const Value& value, const std::type_info& type, std::string_view expected,
                                    bool allow_none) {
  if (value.is_none() && allow_none) return nullptr;
  if (const auto* o = value.get_if<ObjectPtr>(); o && *o) {
    if (const auto* b = dynamic_cast<const BoundObject*>(o->get()); b && b->type() && *b->type() == type) {
      return b->instance();
    }
  }
  throw_mismatch(expected, value);
}

ObjectPtr make_function_object(FunctionRecord record, const Registry* registry) {
  auto member = std::make_shared<Member>();
  member->name = record.name;
  member->overloads.push_back(std::move(record));
  std::optional<Registry> reg;
  if (registry) reg = *registry;
  return std::make_shared<FunctionObject>(std::move(member), nullptr, std::move(reg), std::string_view());
}

}  // namespace netref::detail
