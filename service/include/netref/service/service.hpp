#pragma once
/// Service: the root object a peer gets from GETROOT (`conn.root` in Python).
/// ```cpp
/// netref::Service calc(types);
/// calc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
/// calc.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
/// calc.attr("version", "1.0");
/// ```
/// Python calls `c.root.add(2, 3)` (or `c.root.exposed_add(2, 3)`); a C++ peer calls
/// `root->callattr("add", {2, 3})`. Functions follow the same rules as methods of exposed
/// types (overloads tried in order, netref::arg names and defaults, TypeError listing the
/// signatures). A default-constructed Service, with nothing defined, is what a client lends
/// when it offers nothing (RPyC's VoidService). Every service also answers rpyc's
/// `get_service_name()` and `get_service_aliases()` (see set_aliases).
#include "netref/export.hpp"
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netref/protocol/connection.hpp"
#include "netref/service/convert.hpp"
#include "netref/service/function.hpp"
#include "netref/service/local.hpp"
#include "netref/service/registry.hpp"

namespace netref {

namespace detail {
struct ServiceState;
}

/// A set of functions and attributes lent as the root object. A cheap handle: copies share
/// one service, and the root object keeps the definitions alive, so a Service may go before
/// the connections that use it. Define everything before serving; afterwards the service is
/// read-only and safe to use from any number of connections and threads.
class NETREF_API Service {
 public:
  /// A service whose results convert with types; name is the type name peers see.
  explicit Service(Registry types = Registry(), std::string name = "netref.Service");

  /// A function peers may call; several defs with one name are overloads, tried in order.
  /// Extra: netref::arg names (one per parameter) for keyword arguments and defaults. A def
  /// of get_service_name or get_service_aliases replaces the built-in one.
  template <class F, class... Extra>
  Service& def(std::string name, F&& f, const Extra&... extra) {
    replace_builtin(name);
    detail::add_method(table(), detail::make_record<false, void>(std::move(name), std::forward<F>(f), extra...));
    return *this;
  }

  /// Exceptions both ways on this service's Registry (Registry::register_exception).
  template <class E>
  Service& register_exception(const std::string& python_class) {
    state_registry().template register_exception<E>(python_class);
    return *this;
  }

  /// rpyc's service aliases, upper-cased as rpyc does (rpyc's ALIASES). By default one,
  /// derived from the name as rpyc derives it from the class name: its last dotted part,
  /// upper-cased, without a trailing "SERVICE" ("calc.CalcService" -> "CALC"; the bare
  /// "netref.Service" -> "SERVICE", since an empty alias names nothing). Every service
  /// answers `get_service_aliases()` with them and `get_service_name()` with the first, as
  /// every rpyc service does. Throws std::invalid_argument for no alias or an empty one.
  Service& set_aliases(std::vector<std::string> aliases);
  /// The aliases in force.
  const std::vector<std::string>& aliases() const noexcept;
  /// aliases()[0], what get_service_name answers.
  const std::string& service_name() const noexcept;

  /// A constant attribute (converted once, now; exposed types are lent).
  template <class V>
  Service& attr(std::string name, V&& value) {
    add_constant(std::move(name), detail::to_value_of(std::forward<V>(value), ConvertContext{&registry(), nullptr}));
    return *this;
  }

  /// A computed attribute: getter takes no argument; setter (optional) takes the new value.
  template <class G>
  Service& def_property(std::string name, G&& getter) {
    detail::add_property(table(), name, detail::make_record<false, void>(name, std::forward<G>(getter)), std::nullopt);
    return *this;
  }
  template <class G, class S>
  Service& def_property(std::string name, G&& getter, S&& setter) {
    detail::add_property(table(), name, detail::make_record<false, void>(name, std::forward<G>(getter)),
                         detail::make_record<false, void>(name, std::forward<S>(setter)));
    return *this;
  }

  /// Called by servers for each new connection before it serves (exceptions propagate to
  /// the server, which then drops that connection).
  Service& on_connect(std::function<void(Connection&)> hook);
  /// Called by servers once a connection has closed.
  Service& on_disconnect(std::function<void(Connection&)> hook);
  /// Runs the on_connect hook, if any.
  void handle_connect(Connection& connection) const;
  /// Runs the on_disconnect hook, if any.
  void handle_disconnect(Connection& connection) const;

  /// The object to lend as the root (the same one every time; shared by all connections).
  ObjectPtr root_object() const noexcept { return root_; }
  /// The types results convert with.
  const Registry& registry() const noexcept;
  /// The type name peers see.
  std::string_view name() const noexcept;
  /// The names defined so far (functions, attributes, properties), in def order: the method
  /// labels a server's metrics count apart.
  std::vector<std::string> names() const;

 private:
  detail::TypeTable& table() noexcept;
  Registry& state_registry() noexcept;
  void add_constant(std::string name, Value value);
  void replace_builtin(const std::string& name);

  std::shared_ptr<detail::ServiceState> state_;
  ObjectPtr root_;  // holds state_ alive on its own; state_ does not hold it (no cycle)
};

}  // namespace netref
