// A coroutine client of the counter service (samples/counter/server.cpp): netref calls
// co_awaited in an asio::awaitable, one of them raced against a timer and cancelled.
// Usage: coro_client PORT
#include <netref/asio.hpp>
#include <netref/netref.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <iostream>
#include <system_error>

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<void> run(netref::Proxy root, std::shared_future<void> callback_may_return, std::promise<void>& release) {
  // Each co_await sends the request and suspends; the coroutine resumes on this io_context's
  // thread once the background serving thread has read the reply.
  auto sum = co_await netref::async_call(root->attr("add"), asio::use_awaitable, 2, 3);
  std::cout << "add(2, 3) = " << sum.as<std::int64_t>() << "\n";

  auto counter = co_await netref::async_call(root->attr("make_counter"), asio::use_awaitable, 10);
  co_await netref::async_call(counter->attr("add"), asio::use_awaitable, 5);
  std::cout << "counter.value = " << counter->attr("value")->get().as<std::int64_t>() << "\n";  // 15

  // apply calls our callback back; this one does not return until released, so the call is
  // still running when a 100 ms timer fires: the timer wins and the call is cancelled.
  auto slow = netref::local([callback_may_return](std::int64_t x) {
    callback_may_return.wait();
    return x * 2;
  });
  auto apply = root->attr("apply")->async_call(slow, 21);
  asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
  auto winner = co_await (netref::async_wait(apply, asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
  if (winner.index() == 1) {
    std::cout << "apply(slow callback, 21) against a 100 ms timer: the timer won, the call was cancelled ("
              << (apply.error() ? "its AsyncCall settled with Cancelled" : "?") << ")\n";
  } else {
    std::cout << "apply(slow callback, 21) = " << std::get<0>(winner).as<std::int64_t>() << "\n";
  }
  release.set_value();  // the callback returns; the server's late reply is dropped

  // The same race, the other way round: the call wins and the timer is cancelled.
  asio::steady_timer patient(co_await asio::this_coro::executor, 10s);
  auto doubled = netref::local([](std::int64_t x) { return x * 2; });
  auto result = co_await (netref::async_call(root->attr("apply"), asio::use_awaitable, doubled, 21) ||
                          patient.async_wait(asio::use_awaitable));
  std::cout << "apply(x * 2, 21) against a 10 s timer = " << std::get<0>(result).as<std::int64_t>() << "\n";  // 42

  try {
    co_await netref::async_call(root->attr("no_such_function"), asio::use_awaitable);
  } catch (const netref::AttributeError& e) {
    std::cout << "an unexposed name, co_awaited: " << e.what() << "\n";
  }
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: coro_client PORT\n";
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  auto conn = netref::connect("127.0.0.1", port);
  // What serves the connection while coroutines wait: replies (and apply's callbacks into
  // us) are read on this thread, then each coroutine resumes on the io_context.
  netref::BackgroundServingThread serving(conn.connection_ptr());

  asio::io_context io;
  std::promise<void> release;
  auto done = asio::co_spawn(io, run(conn->root(), release.get_future().share(), release), asio::use_future);
  io.run();
  try {
    done.get();
  } catch (const std::exception& e) {
    std::cerr << "coro_client: " << e.what() << "\n";
    return 1;
  }
  serving.stop();
  conn.close();
}
