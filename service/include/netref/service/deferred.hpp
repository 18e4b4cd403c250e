#pragma once
/// Deferred<T>: a bound function's result that is not ready yet. The function returns it at
/// once and gives its thread back; whoever finishes the work (a timer, another thread, an
/// Asio coroutine: netref::spawn_deferred in netref/asio.hpp) calls resolve() or reject(),
/// and the reply goes to the caller then. No thread waits meanwhile.
///
///   svc.def("later", [&jobs](std::int64_t x) {
///     netref::Deferred<std::int64_t> reply;
///     jobs.push([reply, x] { reply.resolve(x * 2); });  // answered when the job runs
///     return reply;
///   });
///
/// One Deferred answers one request. Dropped unsettled (every copy gone), the caller gets a
/// RuntimeError rather than waiting for ever; settled after the caller's connection closed,
/// the reply is dropped.
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "netref/protocol/deferred_result.hpp"
#include "netref/service/convert.hpp"

namespace netref {

template <class T>
class Deferred {
  static_assert(!std::is_reference_v<T>, "netref: Deferred<T> holds a value; T cannot be a reference");

 public:
  /// An unsettled result. Cheap to copy: copies share it.
  Deferred() : state_(std::make_shared<State>()) {}

  /// Settles with value (converted as the function's result would be). The first of
  /// resolve/reject wins. Any thread.
  template <class U = T>
    requires(!std::is_void_v<U>)
  void resolve(U value) const {
    std::unique_lock lk(state_->mutex);
    if (!state_->bound) {  // the function has not returned it yet: converted when it does
      if (!state_->early && !state_->early_error) state_->early.emplace(std::move(value));
      return;
    }
    auto registry = state_->registry;
    lk.unlock();
    settle_with(state_->result, std::move(value), registry);
  }
  /// Settles a Deferred<void> (the caller receives None).
  template <class U = T>
    requires std::is_void_v<U>
  void resolve() const {
    {
      std::lock_guard lk(state_->mutex);
      if (!state_->bound && state_->early_error) return;  // rejected first
    }
    state_->result->resolve(Value());
  }
  /// Settles with error: the caller receives it as the function's exception.
  void reject(std::exception_ptr error) const {
    {
      std::lock_guard lk(state_->mutex);
      if (!state_->bound) {
        if (!state_->early_error && !has_early()) state_->early_error = std::move(error);
        return;
      }
    }
    state_->result->reject(std::move(error));
  }
  /// True once resolved or rejected (before the function returned it: once it is returned).
  bool settled() const { return state_->result->settled(); }

  /// The Value a bound function's result becomes (Converter<Deferred<T>>). Once only.
  Value bind(const ConvertContext& ctx) const {
    std::unique_lock lk(state_->mutex);
    if (state_->bound) throw std::logic_error("netref: a Deferred answers one request; this one was returned twice");
    state_->bound = true;
    state_->registry = detail::retain_registry(ctx.registry);
    if (state_->early_error) {
      state_->result->reject(std::move(state_->early_error));
    } else if constexpr (!std::is_void_v<T>) {
      if (state_->early) {
        auto value = std::move(*state_->early);
        state_->early.reset();
        lk.unlock();
        settle_with(state_->result, std::move(value), state_->registry);
      }
    }
    return Value(std::static_pointer_cast<Object>(state_->result));
  }

 private:
  struct Empty {};
  using Early = std::conditional_t<std::is_void_v<T>, Empty, T>;
  struct State {
    std::mutex mutex;
    std::shared_ptr<DeferredResult> result = DeferredResult::create();
    bool bound = false;                         // returned by the function: result is listened to
    std::shared_ptr<const Registry> registry;  // set when bound: converts the value
    std::optional<Early> early;                // resolved before it was bound
    std::exception_ptr early_error;            // rejected before it was bound
  };
  bool has_early() const {
    if constexpr (std::is_void_v<T>) return false;
    else return state_->early.has_value();
  }
  template <class U>
  static void settle_with(const std::shared_ptr<DeferredResult>& result, U&& value,
                          const std::shared_ptr<const Registry>& registry) {
    Value converted;
    try {
      converted = Converter<std::decay_t<U>>::to_value(std::forward<U>(value), ConvertContext{registry.get(), nullptr});
    } catch (...) {
      result->reject(std::current_exception());
      return;
    }
    result->resolve(std::move(converted));
  }

  std::shared_ptr<State> state_;
};

/// A bound function returning Deferred<T> answers when it settles; signatures show T.
template <class T>
struct Converter<Deferred<T>> {
  static Value to_value(const Deferred<T>& d, const ConvertContext& ctx) { return d.bind(ctx); }
  static std::string type_name() {
    if constexpr (std::is_void_v<T>) return "None";
    else return Converter<T>::type_name();
  }
};

}  // namespace netref
