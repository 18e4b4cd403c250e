// Handlers that answer later (netref::Deferred, netref::spawn_deferred): the server gives the
// thread back at once and replies when the result settles.
#include <doctest/doctest.h>

#include <netref/asio.hpp>
#include <netref/netref.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// An io_context run by one thread of its own, for the handlers' coroutines.
struct IoThread {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
  ~IoThread() {
    work.reset();
    io.stop();
    thread.join();
  }
};

/// Waits until the handlers parked count reaches n (told by the handlers themselves).
struct Counter {
  std::mutex mutex;
  std::condition_variable cv;
  std::size_t count = 0;
  void bump() {
    {
      std::lock_guard lk(mutex);
      ++count;
    }
    cv.notify_all();
  }
  bool wait_for_count(std::size_t n) {
    std::unique_lock lk(mutex);
    return cv.wait_for(lk, 30s, [&] { return count >= n; });
  }
};

/// Waits on gate (a timer that never expires) until it is cancelled, then answers x. Counted
/// in parked on the io thread, in the same turn as the wait begins: a cancel posted after the
/// count is seen finds the wait.
asio::awaitable<std::int64_t> wait_at_gate(asio::steady_timer& gate, Counter& parked, std::int64_t x) {
  parked.bump();
  try {
    co_await gate.async_wait(asio::use_awaitable);
  } catch (const std::system_error&) {
    // cancelled: the gate opened
  }
  co_return x;
}

asio::awaitable<std::int64_t> throw_after_a_turn(std::string why) {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  throw netref::ValueError(why);
}

}  // namespace

TEST_CASE("deferred: a function returning Deferred answers when another thread resolves it") {
  netref::Registry types;
  netref::Service svc(types);
  std::promise<netref::Deferred<std::int64_t>> handed;
  svc.def("later", [&](std::int64_t x) {
    netref::Deferred<std::int64_t> reply;
    handed.set_value(reply);
    (void)x;
    return reply;
  });
  netref::ServerConfig cfg;
  cfg.port = 0;
  netref::ThreadedServer server(svc, cfg);
  server.start();
  auto client = netref::connect("127.0.0.1", server.port());
  auto call = client->root()->attr("later")->async_call(20);
  auto reply = handed.get_future().get();  // the handler has returned
  CHECK(!call.wait(0ms));                   // nothing to read yet: not settled
  std::thread([reply] { reply.resolve(21 * 2); }).join();
  CHECK(call.value().as<std::int64_t>() == 42);
  client.close();
  server.stop();
}

TEST_CASE("deferred: many calls wait on coroutines at once on a pool that never grows") {
  IoThread io;
  asio::steady_timer gate(io.io, asio::steady_timer::time_point::max());
  Counter parked;
  netref::Registry types;
  netref::Service svc(types);
  svc.def("wait_at_gate", [&](std::int64_t x) {
    return netref::spawn_deferred(io.io.get_executor(), wait_at_gate(gate, parked, x));
  });
  netref::ServerConfig cfg;
  cfg.port = 0;
  cfg.worker_threads = 2;
  cfg.max_threads = 4;
  netref::ThreadPoolServer server(svc, cfg);
  server.start();
  const std::size_t threads_before = server.thread_count();
  constexpr std::size_t n = 300;
  std::vector<netref::Client> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(netref::connect("127.0.0.1", server.port()));
  std::vector<std::unique_ptr<netref::BackgroundServingThread>> serving;
  for (auto& c : clients) serving.push_back(std::make_unique<netref::BackgroundServingThread>(c.connection_ptr()));
  std::vector<netref::AsyncCall> calls;
  for (std::size_t i = 0; i < n; ++i) {
    calls.push_back(clients[i % clients.size()]->root()->attr("wait_at_gate")->async_call(static_cast<std::int64_t>(i)));
  }
  // Every call is waiting in a coroutine, none answered: n waits at once on 2 workers.
  REQUIRE(parked.wait_for_count(n));
  CHECK(server.thread_count() == threads_before);
  CHECK(server.thread_count() <= cfg.max_threads + 1);
  CHECK(server.stats().waiting_handlers == 0);
  asio::post(io.io, [&] { gate.cancel(); });
  std::int64_t sum = 0;
  for (auto& call : calls) sum += call.value().as<std::int64_t>();
  CHECK(sum == static_cast<std::int64_t>(n * (n - 1) / 2));
  CHECK(server.thread_count() == threads_before);
  serving.clear();
  for (auto& c : clients) c.close();
  server.stop();
}

TEST_CASE("deferred: a coroutine that throws answers with the exception's type, and a Deferred dropped unsettled answers RuntimeError") {
  IoThread io;
  netref::Registry types;
  netref::Service svc(types);
  svc.def("throws", [&](std::string why) { return netref::spawn_deferred(io.io.get_executor(), throw_after_a_turn(why)); });
  svc.def("dropped", [] { return netref::Deferred<std::int64_t>(); });
  svc.def("rejected", [] {
    netref::Deferred<std::string> reply;
    reply.reject(std::make_exception_ptr(netref::KeyError("nope")));
    return reply;
  });
  svc.def("ping", [] { return std::int64_t{1}; });
  netref::ServerConfig cfg;
  cfg.port = 0;
  netref::ThreadPoolServer server(svc, cfg);
  server.start();
  auto client = netref::connect("127.0.0.1", server.port());
  auto root = client->root();
  try {
    root->attr("throws")->call(std::string("bad input"));
    FAIL("no exception");
  } catch (const netref::ValueError& e) {
    CHECK(std::string(e.what()).find("bad input") != std::string::npos);
  }
  try {
    root->attr("dropped")->call();
    FAIL("no exception");
  } catch (const netref::RemoteError& e) {
    CHECK(e.class_name() == "RuntimeError");
    CHECK(std::string(e.what()).find("dropped before it settled") != std::string::npos);
  }
  CHECK_THROWS_AS(root->attr("rejected")->call(), netref::KeyError);
  CHECK(root->attr("ping")->call().as<std::int64_t>() == 1);  // the connection serves on
  client.close();
  server.stop();
}

TEST_CASE("deferred: the client's connection closes while a reply is pending, and the late result is dropped") {
  netref::Registry types;
  netref::Service svc(types);
  std::promise<netref::Deferred<std::int64_t>> handed;
  std::promise<void> disconnected;
  svc.def("later", [&] {
    netref::Deferred<std::int64_t> reply;
    handed.set_value(reply);
    return reply;
  });
  svc.def("ping", [] { return std::int64_t{1}; });
  svc.on_disconnect([&](netref::Connection&) { disconnected.set_value(); });
  netref::ServerConfig cfg;
  cfg.port = 0;
  netref::ThreadPoolServer server(svc, cfg);
  server.start();
  std::optional<netref::Deferred<std::int64_t>> reply;
  {
    auto client = netref::connect("127.0.0.1", server.port());
    auto call = client->root()->attr("later")->async_call();
    reply = handed.get_future().get();
    client.close();
    CHECK_THROWS_AS(call.value(), netref::ConnectionClosed);
  }
  disconnected.get_future().get();  // the server's side has closed too
  reply->resolve(5);                // nobody to answer: dropped
  CHECK(reply->settled());
  reply.reset();
  auto canary = netref::connect("127.0.0.1", server.port());
  CHECK(canary->root()->attr("ping")->call().as<std::int64_t>() == 1);
  canary.close();
  server.stop();
}

namespace {
struct Tally {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};
}  // namespace

TEST_CASE("deferred: a Deferred resolved before its function returns, or later with an exposed object, converts as a returned value does") {
  netref::Registry types;
  types.expose<Tally>("Tally").def("add", &Tally::add);
  netref::Service svc(types);
  std::mutex mutex;
  std::vector<netref::Deferred<std::shared_ptr<Tally>>> stash;
  std::vector<netref::Deferred<void>> notes;
  svc.def("tally_now", [](std::int64_t start) {
    netref::Deferred<std::shared_ptr<Tally>> reply;
    reply.resolve(std::make_shared<Tally>(Tally{start}));  // before the registry is known
    return reply;
  });
  svc.def("tally_later", [&] {
    netref::Deferred<std::shared_ptr<Tally>> reply;
    std::lock_guard lk(mutex);
    stash.push_back(reply);
    return reply;
  });
  svc.def("note_later", [&] {
    netref::Deferred<void> reply;
    std::lock_guard lk(mutex);
    notes.push_back(reply);
    return reply;
  });
  netref::ServerConfig cfg;
  cfg.port = 0;
  netref::ThreadedServer server(svc, cfg);
  server.start();
  auto client = netref::connect("127.0.0.1", server.port());
  auto root = client->root();
  CHECK(root->attr("tally_now")->call(10)->attr("add")->call(5).as<std::int64_t>() == 15);

  auto later = root->attr("tally_later")->async_call();
  root->attr("note_later")->oneway_call();  // one way: nothing comes back when it settles
  CHECK(client->connection().peer_has_oneway());
  // One connection is served in order: once this reply is in, both handlers have returned.
  CHECK(root->attr("tally_now")->call(0)->attr("add")->call(0).as<std::int64_t>() == 0);
  {
    auto tally = std::make_shared<Tally>(Tally{100});
    std::lock_guard lk(mutex);
    REQUIRE(stash.size() == 1);
    std::thread([reply = stash[0], tally] { reply.resolve(tally); }).join();
  }
  CHECK(later.value()->attr("add")->call(1).as<std::int64_t>() == 101);
  {
    std::lock_guard lk(mutex);
    REQUIRE(notes.size() == 1);
    notes[0].resolve();
  }
  CHECK(root->attr("tally_now")->call(1)->attr("add")->call(1).as<std::int64_t>() == 2);
  CHECK(client->connection().stats().late_replies == 0);
  client.close();
  server.stop();
}
