#pragma once
/// Registry: which C++ types a peer may reach, and through which names. pybind11-style:
/// ```cpp
/// netref::Registry types;
/// types.expose<Counter>("Counter")
///     .def("add", &Counter::add, netref::arg("n") = 1)
///     .def_readwrite("value", &Counter::value)
///     .def("__len__", [](const Counter& c) { return c.value; });
/// ```
/// Only what is defined is reachable (docs/FAULTS.md §E): every other name, including
/// dunders nobody defined, is an AttributeError; setattr works only on def_readwrite and on
/// properties with a setter; delattr never works.
///
/// Dunders a binding may define, and what uses them: `__call__` (CALL), `__repr__` (REPR),
/// `__str__` (STR), `__hash__` (HASH), `__eq__`, `__ne__`, `__lt__`, `__le__`, `__gt__`,
/// `__ge__` (CMP), `__next__` (BUFFITER and Python's next()); any other (`__len__`,
/// `__getitem__`, `__iter__`, `__contains__`, `__enter__`...) is a method Python calls by
/// name. INSPECT lists every method, dunders included.
#include "netref/export.hpp"
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "netref/service/convert.hpp"
#include "netref/service/exceptions.hpp"
#include "netref/service/function.hpp"

namespace netref {

namespace detail {
struct TypeTable;     // the members of one exposed type (service/src/type_table.hpp)
struct RegistryImpl;  // the exposed types of one Registry
struct RegistryAccess;

/// Adds an overload of a method (several defs with one name are tried in order).
NETREF_API void add_method(TypeTable& table, FunctionRecord record);
/// Adds a property: getter takes no argument, setter (if any) takes the new value.
NETREF_API void add_property(TypeTable& table, std::string name, FunctionRecord getter,
                  std::optional<FunctionRecord> setter);
}  // namespace detail

/// The builder Registry::expose returns. Every def returns *this for chaining. Define
/// everything before any connection serves: bindings are read without locks.
template <class T>
class ClassBinding {
 public:
  explicit ClassBinding(detail::TypeTable& table) noexcept : table_(&table) {}

  /// A method: `&T::f` (const or not), or a callable whose first parameter is the object
  /// (`T&`, `const T&`, `T*` or `std::shared_ptr<T>`). Extra: netref::arg names, one per
  /// parameter, for keyword arguments and defaults. Several defs with one name are
  /// overloads, tried in order.
  template <class F, class... Extra>
  ClassBinding& def(std::string name, F&& f, const Extra&... extra) {
    detail::add_method(*table_, detail::make_method_record<T>(std::move(name), std::forward<F>(f), extra...));
    return *this;
  }

  /// A data member the peer may read but not assign. An exposed-type member is lent as a
  /// netref that keeps the whole object alive.
  template <class C, class M>
    requires(!std::is_function_v<M>)
  ClassBinding& def_readonly(std::string name, M C::*member) {
    static_assert(std::is_base_of_v<C, T>, "netref: data member of another class");
    auto getter = [member](const T& self) -> const M& { return self.*member; };
    detail::add_property(*table_, name, detail::make_record<true, T>(name, std::move(getter)), std::nullopt);
    return *this;
  }

  /// A data member the peer may read and assign (the value converts to M).
  template <class C, class M>
    requires(!std::is_function_v<M>)
  ClassBinding& def_readwrite(std::string name, M C::*member) {
    static_assert(std::is_base_of_v<C, T>, "netref: data member of another class");
    static_assert(!std::is_const_v<M>, "netref: def_readwrite of a const member; use def_readonly");
    auto getter = [member](const T& self) -> const M& { return self.*member; };
    auto setter = [member](T& self, M value) { self.*member = std::move(value); };
    detail::add_property(*table_, name, detail::make_record<true, T>(name, std::move(getter)),
                         detail::make_record<true, T>(name, std::move(setter)));
    return *this;
  }

  /// A computed attribute: getter is `&T::get` or a callable taking the object; setter
  /// (optional) is `&T::set` or a callable taking the object and the new value.
  template <class G, class S>
  ClassBinding& def_property(std::string name, G&& getter, S&& setter) {
    detail::add_property(*table_, name, detail::make_method_record<T>(name, std::forward<G>(getter)),
                         detail::make_method_record<T>(name, std::forward<S>(setter)));
    return *this;
  }
  /// A read-only computed attribute.
  template <class G>
  ClassBinding& def_property(std::string name, G&& getter) {
    detail::add_property(*table_, name, detail::make_method_record<T>(name, std::forward<G>(getter)), std::nullopt);
    return *this;
  }
  template <class G>
  ClassBinding& def_property_readonly(std::string name, G&& getter) {
    return def_property(std::move(name), std::forward<G>(getter));
  }

 private:
  detail::TypeTable* table_;
};

/// The exposed types. A cheap handle: copies share one set of bindings, and every object
/// lent from it keeps those bindings alive, so a Registry may go before the connections
/// that use it. Owned by main and passed down (no globals).
///
/// Thread-safety: expose and def before any connection serves; after that, everything is
/// read-only and safe from any thread.
class NETREF_API Registry {
 public:
  /// An empty registry.
  Registry();

  /// Exposes T under name (the type name a Python peer sees; "Counter"). Exposing T again
  /// under the same name adds to its bindings; under another name throws std::logic_error,
  /// as does a name already taken by another type.
  template <class T>
  ClassBinding<T> expose(std::string name) {
    static_assert(std::is_class_v<T> && !std::is_const_v<T>, "netref: expose a class type");
    return ClassBinding<T>(expose_type(typeid(T), std::move(name)));
  }

  /// True if type was exposed.
  bool exposes(const std::type_info& type) const noexcept;
  template <class T>
  bool exposes() const noexcept {
    return exposes(typeid(T));
  }
  /// The name type was exposed under ("" if none).
  std::string_view exposed_name(const std::type_info& type) const noexcept;

  /// Exceptions both ways (see netref/service/exceptions.hpp): a thrown E travels as the
  /// Python class python_class ("jobboard.JobStateError"), and a peer's exception of that
  /// class is raised here as E. Types registered later are tried first when describing, so
  /// register a base before its derived types. Throws std::invalid_argument for a name
  /// without "module." and std::logic_error for a type or a name registered twice.
  template <class E>
  Registry& register_exception(const std::string& python_class) {
    add_exception(detail::make_exception_record<E>(python_class));
    return *this;
  }
  /// What connections use to describe and raise the registered exceptions (servers and
  /// clients pass their Service's Registry's on; ConnectionConfig::exceptions).
  std::shared_ptr<const ExceptionMap> exceptions() const noexcept;

  /// Caps on copying a peer's iterable into a container argument of a function bound here
  /// (see DrainLimits for the defaults). Set before any connection serves.
  void set_drain_limits(DrainLimits limits) noexcept;
  /// The caps in force.
  const DrainLimits& drain_limits() const noexcept;

  /// Wraps object as a lendable Object (pass it anywhere a Value goes). Null gives null.
  /// Throws TypeError if T is not exposed.
  template <class T>
  ObjectPtr lend(std::shared_ptr<T> object) const {
    if (!object) return nullptr;
    using D = std::remove_cv_t<T>;
    const ConvertContext ctx{this, nullptr};
    Value v = detail::lend_object(ctx, typeid(D), std::const_pointer_cast<D>(std::move(object)));
    return *v.get_if<ObjectPtr>();
  }

 private:
  friend struct detail::RegistryAccess;
  explicit Registry(std::shared_ptr<detail::RegistryImpl> impl) noexcept;
  detail::TypeTable& expose_type(const std::type_info& type, std::string name);
  void add_exception(detail::ExceptionRecord record);

  std::shared_ptr<detail::RegistryImpl> impl_;
};

/// pybind11's spelling: `netref::register_exception<JobStateError>(types, "jobboard.JobStateError")`.
template <class E>
Registry& register_exception(Registry& types, const std::string& python_class) {
  return types.register_exception<E>(python_class);
}

}  // namespace netref
