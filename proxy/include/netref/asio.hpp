#pragma once
/// netref calls as Asio asynchronous operations (optional: needs standalone Asio; link
/// netref::asio, which adds it). Any completion token works:
///
///   asio::awaitable<void> run(netref::Proxy root) {
///     auto sum = co_await netref::async_call(root->attr("add"), asio::use_awaitable, 2, 3);
///     std::cout << sum.as<std::int64_t>() << "\n";  // 5, resumed on this coroutine's executor
///   }
///
/// - The handler runs on its associated executor (the coroutine's; without one, Asio's
///   system executor), posted there: never on the thread that read the reply, never inside
///   the initiating call.
/// - Completion signature void(std::exception_ptr, Proxy): with use_awaitable or use_future
///   a remote error is rethrown as its own type (netref::ValueError, a registered type...).
/// - Cancellation through the handler's cancellation slot (a timer racing the call with
///   asio::experimental::awaitable_operators' ||, asio::bind_cancellation_slot): the
///   AsyncCall is cancelled (AsyncCall::cancel) and the operation completes at once with
///   std::system_error(asio::error::operation_aborted).
/// - Something must serve the connection so the reply arrives: a BackgroundServingThread
///   on a client's connection, or the server's loop for calls made from a handler. The
///   io_context's threads never read the connection.
///
/// A bound function may answer from an awaitable without holding a thread while it waits:
///
///   svc.def("slow_add", [&io](std::int64_t a, std::int64_t b) {
///     return netref::spawn_deferred(io.get_executor(), slow_add(a, b));  // Deferred<int64_t>
///   });
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

#include "netref/proxy/future.hpp"
#include "netref/proxy/proxy.hpp"
#include "netref/service/deferred.hpp"

namespace netref {

//! \cond detail
namespace detail {

/// One call awaited through Asio: the user's handler, the call, and a promise of work on the
/// handler's executor. Held by the call's then-callback until it settles, then by the
/// completion posted to the executor; the cancellation slot holds it weakly.
template <class Handler>
class AsioCallOperation : public std::enable_shared_from_this<AsioCallOperation<Handler>> {
 public:
  AsioCallOperation(Handler handler, AsyncCall call)
      : handler_(std::move(handler)),
        call_(std::move(call)),
        work_(asio::prefer(asio::get_associated_executor(handler_), asio::execution::outstanding_work.tracked)) {}

  void start() {
    auto slot = asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) {
      slot.assign([weak = this->weak_from_this()](asio::cancellation_type type) {
        if (type == asio::cancellation_type::none) return;
        if (auto self = weak.lock()) self->abort();
      });
    }
    // Runs on the thread that settles the call (netref's reader, or this one when it is
    // settled already): only a hop to the handler's executor happens there.
    call_.then([self = this->shared_from_this()](const AsyncCall&) { self->settled(); });
  }

 private:
  void abort() {
    aborted_.store(true, std::memory_order_release);  // before cancel(): complete() reads it
    call_.cancel();  // settles now (then-callbacks run here) unless the reply won the race
  }

  void settled() {
    // Always posted, never dispatched: the settling thread is netref's reader, or the one
    // initiating the operation, or one inside a cancellation signal or inside a wait on the
    // connection; the handler runs on none of them, even when it is the executor's own.
    asio::post(work_, [self = this->shared_from_this()]() mutable { self->complete(); });
  }

  void complete() {
    auto slot = asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) slot.clear();
    std::exception_ptr error = call_.error();
    Proxy value;
    if (!error) {
      value = call_.value();  // settled: does not wait
    } else if (aborted_.load(std::memory_order_acquire) && is_cancelled(error)) {
      error = std::make_exception_ptr(std::system_error(asio::error::operation_aborted));  // as Asio's own
    }
    auto handler = std::move(handler_);
    std::move(handler)(std::move(error), std::move(value));
  }

  static bool is_cancelled(const std::exception_ptr& error) noexcept {
    try {
      std::rethrow_exception(error);
    } catch (const Cancelled&) {
      return true;
    } catch (...) {
      return false;  // the reply (or the connection's end) won the race: its own error
    }
  }

  Handler handler_;
  AsyncCall call_;
  std::decay_t<decltype(asio::prefer(std::declval<asio::associated_executor_t<Handler>>(),
                                     asio::execution::outstanding_work.tracked))>
      work_;
  std::atomic<bool> aborted_{false};
};

struct InitiateCallWait {
  template <class Handler>
  void operator()(Handler&& handler, AsyncCall call) const {
    auto operation = std::make_shared<AsioCallOperation<std::decay_t<Handler>>>(std::forward<Handler>(handler),
                                                                                  std::move(call));
    operation->start();
  }
};

}  // namespace detail
//! \endcond

/// Waits for call as an Asio operation with signature void(std::exception_ptr, Proxy).
template <class CompletionToken>
auto async_wait(AsyncCall call, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(std::exception_ptr, Proxy)>(detail::InitiateCallWait{}, token,
                                                                                std::move(call));
}

/// Calls callee(args...) (Proxy::async_call: the request leaves now) and completes through
/// token: `co_await netref::async_call(root->attr("add"), asio::use_awaitable, 2, 3)`.
template <class CompletionToken, class... Ts>
auto async_call(const Proxy& callee, CompletionToken&& token, Ts&&... args) {
  return async_wait(callee.async_call(std::forward<Ts>(args)...), std::forward<CompletionToken>(token));
}

/// Runs work on executor and returns a Deferred<T> that settles with its result or its
/// exception: what a bound function returns to answer from a coroutine without holding a
/// thread while it waits. The coroutine runs on executor's threads (an io_context the
/// program runs), not on the server's.
template <class Executor, class T>
Deferred<T> spawn_deferred(const Executor& executor, asio::awaitable<T> work) {
  Deferred<T> reply;
  if constexpr (std::is_void_v<T>) {
    asio::co_spawn(executor, std::move(work), [reply](std::exception_ptr error) {
      if (error) reply.reject(std::move(error));
      else reply.resolve();
    });
  } else {
    asio::co_spawn(executor, std::move(work), [reply](std::exception_ptr error, T value) {
      if (error) reply.reject(std::move(error));
      else reply.resolve(std::move(value));
    });
  }
  return reply;
}

}  // namespace netref
