// Registry and the tables of exposed members.
#include "netref/service/registry.hpp"

#include <atomic>
#include <stdexcept>

#include "type_table.hpp"

namespace netref {
namespace detail {

const Member* TypeTable::find(std::string_view wanted) const noexcept {
  // rpyc's exposed_ prefix is the connection's to strip (ConnectionConfig::exposed_prefix).
  if (auto it = index.find(wanted); it != index.end()) return it->second;
  return nullptr;
}

bool RegisteredExceptions::describe(const std::exception_ptr& error, ExceptionInfo& info) const noexcept {
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (!it->describe(error, info)) continue;
    try {
      info.module = it->module;
      info.class_name = it->class_name;
      return true;
    } catch (...) {
      return false;
    }
  }
  return false;
}

std::exception_ptr RegisteredExceptions::raise(ExceptionInfo& info) const {
  for (const auto& record : records) {
    if (record.class_name == info.class_name && record.module == info.module) return record.raise(info);
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

void Registry::add_exception(detail::ExceptionRecord record) {
  for (const auto& r : impl_->exceptions.records) {
    if (*r.type == *record.type) {
      throw std::logic_error("netref: " + detail::demangle(*record.type) + " is already registered as '" + r.module +
                             "." + r.class_name + "'");
    }
    if (r.module == record.module && r.class_name == record.class_name) {
      throw std::logic_error("netref: the exception class '" + r.module + "." + r.class_name +
                             "' is already registered for " + detail::demangle(*r.type));
    }
  }
  impl_->exceptions.records.push_back(std::move(record));
}

std::shared_ptr<const ExceptionMap> Registry::exceptions() const noexcept {
  return std::shared_ptr<const ExceptionMap>(impl_, &impl_->exceptions);
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
