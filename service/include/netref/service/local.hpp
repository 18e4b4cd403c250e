#pragma once
/// netref::local: lend something of ours explicitly, typically as an argument.
/// ```cpp
/// auto applied = root->callattr("apply", {netref::local([](std::int64_t x) { return x * 2; }), 21});  // 42
/// ```
#include <memory>
#include <type_traits>
#include <utility>

#include "netref/service/function.hpp"
#include "netref/service/registry.hpp"

namespace netref {

/// Wraps a C++ callable (function, lambda with one fixed signature) as an Object the peer
/// calls like a function: type "builtins.builtin_function_or_method" (no INSPECT round trip
/// for Python), arguments and results converted like a Service function's. Results of
/// exposed types need the Registry they were exposed in.
template <class F>
  requires(!detail::is_specialization_of<std::decay_t<F>, std::shared_ptr>)
ObjectPtr local(F&& f) {
  return detail::make_function_object(detail::make_record<false, void>("<lambda>", std::forward<F>(f)), nullptr);
}
template <class F>
  requires(!detail::is_specialization_of<std::decay_t<F>, std::shared_ptr>)
ObjectPtr local(F&& f, const Registry& types) {
  return detail::make_function_object(detail::make_record<false, void>("<lambda>", std::forward<F>(f)), &types);
}

/// Wraps an instance of an exposed type as an Object (what a result of type
/// std::shared_ptr<T> becomes). Throws TypeError if T is not exposed in types.
template <class T>
ObjectPtr local(std::shared_ptr<T> object, const Registry& types) {
  return types.lend(std::move(object));
}

}  // namespace netref
