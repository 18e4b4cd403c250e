// What every server does, run against ThreadedServer and ThreadPoolServer alike: serve many
// clients, keep serving while a handler blocks or calls back, stop gracefully.
#include <doctest/doctest.h>

#include <future>

#include "server/lab.hpp"

using namespace netref;
using namespace netref::test;

namespace {

/// The refusal a stopping server answers new requests with.
bool is_shutting_down(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const RemoteError& e) {
    return e.class_name() == "ConnectionRefusedError" &&
           std::string(e.what()).find("shutting down") != std::string::npos;
  } catch (...) {
    return false;
  }
}

/// Calls ping until the server refuses it as shutting down (true) or timeout passes.
bool wait_until_refused(const Client& client, std::chrono::milliseconds timeout = 10s) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    try {
      client.root()->attr("ping")->call();
    } catch (...) {
      if (is_shutting_down(std::current_exception())) return true;
      return false;
    }
  }
  return false;
}

}  // namespace

TEST_CASE_TEMPLATE("a server answers many clients at once, each with its own results", Server, ThreadedServer,
                   ThreadPoolServer) {
  Lab lab;
  Server server(lab.service, loopback_config());
  server.start();
  const std::uint16_t port = server.port();
  std::vector<Client> clients;
  for (int i = 0; i < 40; ++i) clients.push_back(connect("127.0.0.1", port));
  std::vector<std::future<std::int64_t>> sums;
  for (int i = 0; i < 40; ++i) {
    sums.push_back(std::async(std::launch::async, [&, i] {
      std::int64_t total = 0;
      for (int k = 0; k < 50; ++k) total += clients[i]->root()->attr("add")->call(i, k).as<std::int64_t>();
      return total;
    }));
  }
  for (int i = 0; i < 40; ++i) CHECK(sums[i].get() == 50 * i + 49 * 50 / 2);
  CHECK(server.connection_count() == 40);
  CHECK(server.stats().accepted == 40);
}

TEST_CASE_TEMPLATE("a handler that blocks does not stall the other clients", Server, ThreadedServer, ThreadPoolServer) {
  Lab lab;
  auto cfg = loopback_config();
  cfg.worker_threads = 2;
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  auto blocker = connect("127.0.0.1", port);
  auto pending = blocker->root()->attr("block")->async_call();
  REQUIRE(lab.blocked.wait_for(1));
  Canary canary(port);
  CHECK(canary.wait_calls(10));
  lab.gate.open();
  REQUIRE(pending.wait(10s));
  CHECK(pending.value().as<std::string>() == "released");
}

TEST_CASE("a ThreadPoolServer worker takes ready connections in turn: a request that comes while its connection is served waits behind the others") {
  // One worker. While it runs A's blocking call, B sends a request and then A sends another.
  // When the blocking call ends, B's request was ready first: the worker serves it before
  // A's next one instead of reading on down A's connection (which let one busy client hold a
  // worker for many calls while others waited: W6's tail).
  Lab lab;
  auto cfg = loopback_config();
  cfg.worker_threads = 1;
  ThreadPoolServer server(lab.service, cfg);
  server.start();
  auto a = connect("127.0.0.1", server.port());
  auto b = connect("127.0.0.1", server.port());
  auto a_root = a->root();
  auto b_root = b->root();
  auto blocking = a_root->attr("block")->async_call();
  REQUIRE(lab.blocked.wait_for(1));
  // Each call is on the server's socket when async_call returns (loopback delivers within
  // the sender's write).
  auto from_b = b_root->attr("append")->async_call(2);
  auto from_a = a_root->attr("append")->async_call(1);
  lab.gate.open();
  for (auto* call : {&blocking, &from_b, &from_a}) REQUIRE(call->wait(10s));
  CHECK(blocking.value().as<std::string>() == "released");
  std::lock_guard lk(lab.mutex);
  CHECK(lab.log == std::vector<std::int64_t>{2, 1});
}

TEST_CASE_TEMPLATE("a handler that calls back into its client gets the answer on the same connection", Server,
                   ThreadedServer, ThreadPoolServer) {
  Lab lab;
  Server server(lab.service, loopback_config());
  server.start();
  const std::uint16_t port = server.port();
  auto client = connect("127.0.0.1", port);
  Canary canary(port);
  const ObjectPtr triple = local(std::function<std::int64_t(std::int64_t)>([](std::int64_t x) { return 3 * x; }));
  for (int i = 0; i < 20; ++i) CHECK(client->root()->attr("apply")->call(triple, i).as<std::int64_t>() == 3 * i);
  CHECK(canary.wait_calls(3));
  CHECK(canary.failure().empty());
}

TEST_CASE_TEMPLATE("a client's pipelined requests run in the order they were sent", Server, ThreadedServer,
                   ThreadPoolServer) {
  Lab lab;
  Server server(lab.service, loopback_config());
  server.start();
  const std::uint16_t port = server.port();
  auto client = connect("127.0.0.1", port);
  auto append = client->root()->attr("append");
  std::vector<AsyncCall> calls;
  for (int i = 0; i < 200; ++i) calls.push_back(append->async_call(i));
  for (auto& c : calls) REQUIRE(c.wait(10s));
  std::vector<std::int64_t> expected(200);
  for (int i = 0; i < 200; ++i) expected[i] = i;
  CHECK(client->root()->attr("appended")->call().as<std::vector<std::int64_t>>() == expected);
}

TEST_CASE_TEMPLATE("stop(grace) refuses new requests, lets a running one finish, then closes everyone", Server,
                   ThreadedServer, ThreadPoolServer) {
  Lab lab;
  Server server(lab.service, loopback_config());
  server.start();
  const std::uint16_t port = server.port();
  auto busy = connect("127.0.0.1", port);
  auto idle = connect("127.0.0.1", port);
  auto running = busy->root()->attr("block")->async_call();
  REQUIRE(lab.blocked.wait_for(1));

  auto stopping = std::async(std::launch::async, [&] { server.stop(10s); });
  CHECK(wait_until_refused(idle));       // new requests: "the server is shutting down"
  CHECK(connect_fails(port));   // and accepting stopped at once
  lab.gate.open();                       // the running request may finish...
  REQUIRE(running.wait(10s));
  CHECK(running.value().as<std::string>() == "released");  // ...and its reply arrives
  REQUIRE(stopping.wait_for(10s) == std::future_status::ready);
  CHECK_THROWS_AS(idle->root()->attr("ping")->call(), ConnectionClosed);
  CHECK_THROWS_AS(busy->root()->attr("ping")->call(), ConnectionClosed);
}

TEST_CASE_TEMPLATE("a request that outlives the grace period fails with ConnectionClosed when it ends", Server,
                   ThreadedServer, ThreadPoolServer) {
  Lab lab;
  Server server(lab.service, loopback_config());
  server.start();
  const std::uint16_t port = server.port();
  auto busy = connect("127.0.0.1", port);
  auto running = busy->root()->attr("block")->async_call();
  REQUIRE(lab.blocked.wait_for(1));
  const auto start = Clock::now();
  auto stopping = std::async(std::launch::async, [&] { server.stop(200ms); });
  REQUIRE(running.wait(10s));  // the client learns at the grace period, while the handler still runs
  CHECK(Clock::now() - start < 5s);
  try {
    std::rethrow_exception(running.error());
  } catch (const ConnectionClosed& e) {
    CHECK(std::string(e.what()).find("closed") != std::string::npos);
  } catch (...) {
    FAIL("expected ConnectionClosed");
  }
  lab.gate.open();  // stop() waits for the handler itself: user code cannot be interrupted
  CHECK(stopping.wait_for(10s) == std::future_status::ready);
}

TEST_CASE_TEMPLATE("stop() with no grace fails in-flight calls at once", Server, ThreadedServer, ThreadPoolServer) {
  Lab lab;
  Server server(lab.service, loopback_config());
  server.start();
  const std::uint16_t port = server.port();
  auto busy = connect("127.0.0.1", port);
  auto running = busy->root()->attr("block")->async_call();
  REQUIRE(lab.blocked.wait_for(1));
  auto stopping = std::async(std::launch::async, [&] { server.stop(); });
  REQUIRE(running.wait(5s));
  CHECK(running.error() != nullptr);
  lab.gate.open();
  CHECK(stopping.wait_for(10s) == std::future_status::ready);
}
