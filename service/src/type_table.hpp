#pragma once
// The members of one exposed type (or of a Service), and the Objects that lend them.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "netref/protocol/object.hpp"
#include "netref/service/function.hpp"
#include "netref/service/registry.hpp"

namespace netref::detail {

/// One exposed name: a method (overloads non-empty) or a property (getter set).
struct Member {
  std::string name;
  std::vector<FunctionRecord> overloads;  ///< a method's overloads, in def order
  std::optional<FunctionRecord> getter;   ///< a property's getter (no arguments)
  std::optional<FunctionRecord> setter;   ///< a writable property's setter (one argument)
  bool is_method() const noexcept { return !overloads.empty(); }
};

/// Written by defs before serving, read-only afterwards (no locks).
struct TypeTable {
  std::string name;                        ///< the type name peers see
  const std::type_info* type = nullptr;    ///< the C++ type (null for a Service)
  std::uint64_t type_id = 0;               ///< id_pack[1]
  std::vector<std::unique_ptr<Member>> members;            ///< def order (dir, inspect)
  std::unordered_map<std::string_view, Member*> index;     ///< keys view Member::name

  /// The member called name, else null (the connection strips rpyc's exposed prefix).
  const Member* find(std::string_view wanted) const noexcept;
  /// The member called name, created (empty) if new.
  Member& member(std::string member_name);
};

/// A new type id, unique within this process. Small on purpose: id_pack[1] travels in
/// every request that names an object, as one byte while it is below 160 (brine's immediate
/// ints) and as decimal text after that.
std::uint64_t make_type_id() noexcept;

/// The exceptions of one Registry (register_exception), newest first when describing.
struct RegisteredExceptions final : ExceptionMap {
  std::vector<ExceptionRecord> records;  ///< registration order
  bool describe(const std::exception_ptr& error, ExceptionInfo& info) const noexcept override;
  std::exception_ptr raise(ExceptionInfo& info) const override;
};

struct RegistryImpl {
  std::unordered_map<std::type_index, std::unique_ptr<TypeTable>> types;
  std::unordered_map<std::string, const TypeTable*> by_name;
  DrainLimits drain_limits;  ///< Registry::set_drain_limits
  RegisteredExceptions exceptions;  ///< Registry::register_exception
};

struct RegistryAccess {
  static const std::shared_ptr<RegistryImpl>& impl(const Registry& r) noexcept { return r.impl_; }
};

/// Calls the method or property getter of member; self is the instance (null for services).
Value invoke_getter(const Member& member, void* self, const ConvertContext& ctx);

/// An instance of an exposed type (or a Service's root, with no instance).
class BoundObject final : public Object {
 public:
  /// table is kept alive by its own (aliasing) owner; registry converts results.
  BoundObject(std::shared_ptr<const TypeTable> table, std::shared_ptr<void> instance, Registry registry);

  const std::type_info* type() const noexcept { return table_->type; }
  const std::shared_ptr<void>& instance() const noexcept { return instance_; }
  const TypeTable& table() const noexcept { return *table_; }

  std::string_view type_name() const noexcept override { return table_->name; }
  std::uint64_t type_id() const noexcept override { return table_->type_id; }
  Value getattr(std::string_view name) override;
  void setattr(std::string_view name, Value value) override;
  void delattr(std::string_view name) override;
  Value call(Args args, Kwargs kwargs) override;
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override;
  std::string repr() override;
  std::string str() override;
  std::int64_t hash() override;
  std::vector<std::string> dir() override;
  std::vector<MethodInfo> inspect() override;
  Value compare(std::string_view op, const Value& other) override;
  std::vector<Value> next_items(std::size_t count) override;

 private:
  ConvertContext context() const noexcept { return ConvertContext{&registry_, &instance_}; }
  const Member& require(std::string_view name) const;
  Value call_dunder(const Member& member, Args args);

  std::shared_ptr<const TypeTable> table_;
  std::shared_ptr<void> instance_;
  Registry registry_;
};

/// A function: a bound method (with self), a Service function, or a local() callable.
class FunctionObject final : public Object {
 public:
  FunctionObject(std::shared_ptr<const Member> member, std::shared_ptr<void> self,
                 std::optional<Registry> registry, std::string_view owner_type);

  std::string_view type_name() const noexcept override { return "builtins.builtin_function_or_method"; }
  Value getattr(std::string_view name) override;
  Value call(Args args, Kwargs kwargs) override;
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override;
  std::string repr() override;
  std::vector<std::string> dir() override;
  std::vector<MethodInfo> inspect() override;

 private:
  std::shared_ptr<const Member> member_;
  std::shared_ptr<void> self_;
  std::optional<Registry> registry_;
  std::string_view owner_type_;  // views the owning table's name (kept alive by member_)
};

}  // namespace netref::detail
