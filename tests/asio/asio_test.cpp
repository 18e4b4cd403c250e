// <netref/asio.hpp>, client side: calls co_awaited in an asio::awaitable, resumed on the
// coroutine's executor; remote errors typed; Asio cancellation; the std::future forms.
#include <doctest/doctest.h>

#include <netref/asio.hpp>
#include <netref/netref.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <variant>

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

/// A server with add, fail (ValueError) and block (returns once release is called), and a
/// client whose connection a BackgroundServingThread serves.
struct Fixture {
  netref::Registry types;
  netref::Service svc{types};
  std::unique_ptr<netref::ThreadedServer> server;
  std::promise<void> release_promise;
  std::shared_future<void> released = release_promise.get_future().share();
  std::optional<netref::Client> client;
  std::optional<netref::BackgroundServingThread> serving;

  Fixture() {
    svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
    svc.def("fail", [](std::string why) -> std::int64_t { throw netref::ValueError(why); });
    svc.def("block", [this] {
      released.wait();
      return std::int64_t{7};
    });
    svc.def("release", [this] { release(); });
    netref::ServerConfig cfg;
    cfg.port = 0;
    server = std::make_unique<netref::ThreadedServer>(svc, cfg);
    server->start();
    client.emplace(netref::connect("127.0.0.1", server->port()));
    serving.emplace(client->connection_ptr());
  }
  ~Fixture() {
    release();
    serving.reset();
    client->close();
    server->stop();
  }
  void release() {
    try {
      release_promise.set_value();
    } catch (const std::future_error&) {
      // released already
    }
  }
  netref::Proxy root() const { return (*client)->root(); }
};

/// Runs coro on io until it ends, on this thread; rethrows what it threw.
void run(asio::io_context& io, asio::awaitable<void> coro) {
  auto done = asio::co_spawn(io, std::move(coro), asio::use_future);
  io.run();
  done.get();
}

}  // namespace

TEST_CASE("co_await of a call resumes on the io_context's thread, not on the thread that read the reply") {
  Fixture f;
  auto other = netref::connect("127.0.0.1", f.server->port());
  asio::io_context io;
  std::thread::id reader, resumed;
  std::int64_t result = 0;
  run(io, [&]() -> asio::awaitable<void> {
    auto call = f.root()->attr("block")->async_call();
    call.then([&](const netref::AsyncCall&) { reader = std::this_thread::get_id(); });
    other->root()->attr("release")->call();  // its reply is read by the serving thread
    auto value = co_await netref::async_wait(call, asio::use_awaitable);
    resumed = std::this_thread::get_id();
    result = value.as<std::int64_t>();
  }());
  CHECK(result == 7);
  CHECK(resumed == std::this_thread::get_id());  // io.run() ran here
  CHECK(reader != std::thread::id());
  CHECK(reader != resumed);
}

TEST_CASE("awaited calls return their values, and a remote exception arrives as its own type") {
  Fixture f;
  asio::io_context io;
  std::int64_t a = 0, b = 0;
  std::string error;
  run(io, [&]() -> asio::awaitable<void> {
    auto add = f.root()->attr("add");
    a = (co_await netref::async_call(add, asio::use_awaitable, 2, 3)).as<std::int64_t>();
    b = (co_await netref::async_call(add, asio::use_awaitable, a, 10)).as<std::int64_t>();
    try {
      co_await netref::async_call(f.root()->attr("fail"), asio::use_awaitable, std::string("no good"));
    } catch (const netref::ValueError& e) {
      error = e.what();
    }
  }());
  CHECK(a == 5);
  CHECK(b == 15);
  CHECK(error.find("no good") != std::string::npos);
}

TEST_CASE("a timer that wins the race cancels the call, which ends with operation_aborted while the server still runs it") {
  Fixture f;
  asio::io_context io;
  std::optional<netref::AsyncCall> call;
  std::size_t winner = 99;
  run(io, [&]() -> asio::awaitable<void> {
    call.emplace(f.root()->attr("block")->async_call());
    asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
    auto result = co_await (netref::async_wait(*call, asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    winner = result.index();
  }());
  CHECK(winner == 1);
  REQUIRE(call->ready());  // settled by the cancellation, not by a reply: block is still running
  CHECK_THROWS_AS(std::rethrow_exception(call->error()), netref::Cancelled);
  CHECK(f.released.wait_for(0s) == std::future_status::timeout);  // nobody released it
}

TEST_CASE("a cancellation signal completes the operation with operation_aborted and cancels the AsyncCall") {
  Fixture f;
  asio::io_context io;
  asio::cancellation_signal signal;
  auto call = f.root()->attr("block")->async_call();
  std::error_code code;
  bool completed = false;
  std::thread::id completed_on;
  netref::async_wait(call, asio::bind_cancellation_slot(signal.slot(), asio::bind_executor(io, [&](std::exception_ptr e, netref::Proxy) {
    completed = true;
    completed_on = std::this_thread::get_id();
    try {
      if (e) std::rethrow_exception(e);
    } catch (const std::system_error& error) {
      code = error.code();
    }
  })));
  asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
  io.run();
  CHECK(completed);
  CHECK(completed_on == std::this_thread::get_id());
  CHECK(code == asio::error::operation_aborted);
  CHECK_THROWS_AS(std::rethrow_exception(call.error()), netref::Cancelled);
}

TEST_CASE("a call that wins the race cancels the timer") {
  Fixture f;
  asio::io_context io;
  std::int64_t sum = 0;
  std::size_t pending_waits = 99;
  run(io, [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
    auto result = co_await (netref::async_call(f.root()->attr("add"), asio::use_awaitable, 40, 2) ||
                            timer.async_wait(asio::use_awaitable));
    REQUIRE(result.index() == 0);
    sum = std::get<0>(result).as<std::int64_t>();
    pending_waits = timer.cancel();  // the race cancelled its wait already
  }());
  CHECK(sum == 42);
  CHECK(pending_waits == 0);
}

TEST_CASE("asio::use_future and netref::to_future give the value or the remote exception") {
  Fixture f;
  auto add = f.root()->attr("add");
  auto via_asio = netref::async_call(add, asio::use_future, 20, 22);
  auto via_netref = netref::to_future(add->async_call(1, 2));
  CHECK(via_asio.get().as<std::int64_t>() == 42);
  CHECK(via_netref.get().as<std::int64_t>() == 3);
  auto failing = netref::async_call(f.root()->attr("fail"), asio::use_future, std::string("bad"));
  CHECK_THROWS_AS(failing.get(), netref::ValueError);
  CHECK_THROWS_AS(netref::to_future(f.root()->attr("fail")->async_call(std::string("bad"))).get(), netref::ValueError);
}

TEST_CASE("a call settled before it is awaited still completes on the executor, not inside the initiating call") {
  Fixture f;
  asio::io_context io;
  auto call = f.root()->attr("add")->async_call(1, 1);
  REQUIRE(call.wait(10s));
  bool completed = false;
  netref::async_wait(call, asio::bind_executor(io, [&](std::exception_ptr, netref::Proxy value) {
    completed = value.as<std::int64_t>() == 2;
  }));
  CHECK(!completed);  // posted, not run inline
  io.run();
  CHECK(completed);
}

TEST_CASE("a completion handler without an executor of its own runs on Asio's system executor, not on the thread that read the reply") {
  Fixture f;
  auto other = netref::connect("127.0.0.1", f.server->port());
  auto call = f.root()->attr("block")->async_call();
  std::promise<std::thread::id> reader;
  call.then([&reader](const netref::AsyncCall&) { reader.set_value(std::this_thread::get_id()); });
  std::promise<std::pair<std::thread::id, std::int64_t>> handled;
  netref::async_wait(call, [&handled](std::exception_ptr, netref::Proxy value) {
    handled.set_value({std::this_thread::get_id(), value.as<std::int64_t>()});
  });
  other->root()->attr("release")->call();
  const auto [handler_thread, value] = handled.get_future().get();
  CHECK(value == 7);
  CHECK(handler_thread != reader.get_future().get());
  CHECK(handler_thread != std::this_thread::get_id());
}
