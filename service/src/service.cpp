// Service: the root object, a BoundObject over the service's own table with no instance.
#include "netref/service/service.hpp"

#include "type_table.hpp"

namespace netref {
namespace detail {

struct ServiceState {
  Registry registry;
  TypeTable table;
  std::function<void(Connection&)> on_connect;
  std::function<void(Connection&)> on_disconnect;
};

}  // namespace detail

Service::Service(Registry types, std::string name) : state_(std::make_shared<detail::ServiceState>()) {
  state_->registry = std::move(types);
  state_->table.name = std::move(name);
  state_->table.type_id = detail::make_type_id();
  root_ = std::make_shared<detail::BoundObject>(std::shared_ptr<const detail::TypeTable>(state_, &state_->table),
                                                nullptr, state_->registry);
}

detail::TypeTable& Service::table() noexcept { return state_->table; }

void Service::add_constant(std::string name, Value value) {
  auto getter = [v = std::move(value)]() { return v; };
  detail::add_property(table(), name, detail::make_record<false, void>(name, std::move(getter)), std::nullopt);
}

Service& Service::on_connect(std::function<void(Connection&)> hook) {
  state_->on_connect = std::move(hook);
  return *this;
}

Service& Service::on_disconnect(std::function<void(Connection&)> hook) {
  state_->on_disconnect = std::move(hook);
  return *this;
}

void Service::handle_connect(Connection& connection) const {
  if (state_->on_connect) state_->on_connect(connection);
}

void Service::handle_disconnect(Connection& connection) const {
  if (state_->on_disconnect) state_->on_disconnect(connection);
}

const Registry& Service::registry() const noexcept { return state_->registry; }

std::string_view Service::name() const noexcept { return state_->table.name; }

std::vector<std::string> Service::names() const {
  std::vector<std::string> out;
  out.reserve(state_->table.members.size());
  for (const auto& m : state_->table.members) out.push_back(m->name);
  return out;
}

}  // namespace netref
