// Registry and the tables of exposed members.
#include "netref/service/registry.hpp"

#include <atomic>
#include <stdexcept>

#include "type_table.hpp"

namespace netref {
namespace detail {

const Member* TypeTable::find(std::string_view wanted) const noexcept {
  if (auto it = index.find(wanted); it != index.end()) return it->second;
  // rpyc clients may send the server-side spelling "exposed_add" for "add".
  constexpr std::string_view prefix = "exposed_";
  if (wanted.size() > prefix.size() && wanted.substr(0, prefix.size()) == prefix) {
    if (auto it = index.find(wanted.substr(prefix.size())); it != index.end()) return it->second;
  }
  return nullptr;
}

Member& TypeTable::member(std::string member_name) {
  if (auto it = index.find(member_name); it != index.end()) return *it->second;
  auto m = std::make_unique<Member>();
  m->name = std::move(member_name);
  Member& ref = *m;
  members.push_back(std::move(m));
  index.emplace(std::string_view(ref.name), &ref);
  return ref;
}

std::uint64_t make_type_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void add_method(TypeTable& table, FunctionRecord record) {
  if (record.name.empty()) throw std::invalid_argument("netref: def() with an empty name");
  Member& m = table.member(record.name);
  if (m.getter) {
    throw std::logic_error("netref: '" + m.name + "' of '" + table.name + "' is already an attribute");
  }
  m.overloads.push_back(std::move(record));
}

void add_property(TypeTable& table, std::string name, FunctionRecord getter,
                  std::optional<FunctionRecord> setter) {
  if (name.empty()) throw std::invalid_argument("netref: attribute with an empty name");
  Member& m = table.member(std::move(name));
  if (m.is_method() || m.getter) {
    throw std::logic_error("netref: '" + m.name + "' of '" + table.name + "' is already defined");
  }
  m.getter = std::move(getter);
  m.setter = std::move(setter);
}

}  // namespace detail

Registry::Registry() : impl_(std::make_shared<detail::RegistryImpl>()) {}

Registry::Registry(std::shared_ptr<detail::RegistryImpl> impl) noexcept : impl_(std::move(impl)) {}

detail::TypeTable& Registry::expose_type(const std::type_info& type, std::string name) {
  if (name.empty()) throw std::invalid_argument("netref: expose() with an empty name");
  if (auto it = impl_->types.find(std::type_index(type)); it != impl_->types.end()) {
    if (it->second->name != name) {
      throw std::logic_error("netref: " + detail::demangle(type) + " is already exposed as '" +
                             it->second->name + "', not '" + name + "'");
    }
    return *it->second;
  }
  if (impl_->by_name.count(name)) {
    throw std::logic_error("netref: the name '" + name + "' is already exposed for another type");
  }
  auto table = std::make_unique<detail::TypeTable>();
  table->name = std::move(name);
  table->type = &type;
  table->type_id = detail::make_type_id();
  detail::TypeTable& ref = *table;
  impl_->by_name.emplace(ref.name, &ref);
  impl_->types.emplace(std::type_index(type), std::move(table));
  return ref;
}

bool Registry::exposes(const std::type_info& type) const noexcept {
  return impl_->types.count(std::type_index(type)) != 0;
}

void Registry::set_drain_limits(DrainLimits limits) noexcept { impl_->drain_limits = limits; }

const DrainLimits& Registry::drain_limits() const noexcept { return impl_->drain_limits; }

std::string_view Registry::exposed_name(const std::type_info& type) const noexcept {
  auto it = impl_->types.find(std::type_index(type));
  return it == impl_->types.end() ? std::string_view() : std::string_view(it->second->name);
}

}  // namespace netref
