// Service: the root object, a BoundObject over the service's own table with no instance.
#include "netref/service/service.hpp"

#include <cctype>
#include <stdexcept>
#include <string_view>

#include "type_table.hpp"

namespace netref {
namespace detail {

struct ServiceState {
  Registry registry;
  TypeTable table;
  std::vector<std::string> aliases;  ///< set_aliases; never empty
  bool builtin_name = true;          ///< get_service_name is still ours (no user def)
  bool builtin_aliases = true;       ///< get_service_aliases is still ours
  std::function<void(Connection&)> on_connect;
  std::function<void(Connection&)> on_disconnect;
};

namespace {

constexpr std::string_view service_name_method = "get_service_name";
constexpr std::string_view service_aliases_method = "get_service_aliases";

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// rpyc's get_service_aliases without ALIASES: the class name upper-cased, minus "SERVICE".
std::string default_alias(std::string_view name) {
  if (const auto dot = name.rfind('.'); dot != std::string_view::npos) name.remove_prefix(dot + 1);
  std::string alias = upper(std::string(name));
  constexpr std::string_view suffix = "SERVICE";
  if (alias.size() > suffix.size() && alias.ends_with(suffix)) alias.resize(alias.size() - suffix.size());
  return alias;
}

}  // namespace
}  // namespace detail

Service::Service(Registry types, std::string name) : state_(std::make_shared<detail::ServiceState>()) {
  state_->registry = std::move(types);
  state_->aliases = {detail::default_alias(name)};
  state_->table.name = std::move(name);
  state_->table.type_id = detail::make_type_id();
  // The table lives inside the state, so what it holds may point at the state.
  detail::ServiceState* state = state_.get();
  detail::add_method(table(), detail::make_record<false, void>(std::string(detail::service_name_method),
                                                               [state] { return state->aliases.front(); }));
  detail::add_method(table(), detail::make_record<false, void>(std::string(detail::service_aliases_method),
                                                               [state] { return state->aliases; }));
  root_ = std::make_shared<detail::BoundObject>(std::shared_ptr<const detail::TypeTable>(state_, &state_->table),
                                                nullptr, state_->registry);
}

detail::TypeTable& Service::table() noexcept { return state_->table; }

Registry& Service::state_registry() noexcept { return state_->registry; }

void Service::replace_builtin(const std::string& name) {
  bool* builtin = name == detail::service_name_method      ? &state_->builtin_name
                  : name == detail::service_aliases_method ? &state_->builtin_aliases
                                                           : nullptr;
  if (builtin == nullptr || !*builtin) return;
  table().member(name).overloads.clear();
  *builtin = false;
}

Service& Service::set_aliases(std::vector<std::string> aliases) {
  if (aliases.empty()) throw std::invalid_argument("netref: set_aliases() with no alias");
  for (auto& alias : aliases) {
    if (alias.empty()) throw std::invalid_argument("netref: set_aliases() with an empty alias");
    alias = detail::upper(std::move(alias));
  }
  state_->aliases = std::move(aliases);
  return *this;
}

const std::vector<std::string>& Service::aliases() const noexcept { return state_->aliases; }

const std::string& Service::service_name() const noexcept { return state_->aliases.front(); }

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
