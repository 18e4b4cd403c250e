// ReconnectingClient: a dropped connection is replaced (same instance or another), old netrefs
// throw StaleReference, calls in flight fail with ConnectionClosed and are sent once only,
// call_idempotent sends once more, on_reconnect runs once per reconnect, and a server killed
// with SIGKILL mid-call (a Python rpyc child) fails that call while the next one goes on.
// Nothing sleeps: root() waits for the reconnect itself, on a short backoff.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <future>
#include <memory>
#include <vector>

#include "interop/child_process.hpp"
#include "netref/netref.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

// A server answering whoami() with its "host:port"; counts its calls; on request drops the
// connection of the call it is serving (the call is then in flight on the client's side).
struct Instance {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<int>> drops_left = std::make_shared<std::atomic<int>>(0);
  struct Subscribers {
    std::mutex mutex;
    std::vector<Proxy> fns;
  };
  std::shared_ptr<Subscribers> subscribers = std::make_shared<Subscribers>();
  std::unique_ptr<ThreadedServer> server;

  explicit Instance(std::uint16_t port = 0) {
    Service svc;
    auto name = std::make_shared<std::string>();
    svc.def("whoami", [name] { return *name; });
    // Counted; while drops_left > 0 it drops its caller's connection instead of answering.
    svc.def("work", [calls = calls, drops_left = drops_left] {
      calls->fetch_add(1);
      if (drops_left->fetch_sub(1) > 0) Connection::current()->abort("the test drops the link mid-call");
      return std::int64_t{42};
    });
    // Callbacks: subscribe(fn) keeps fn; notify(x) calls each kept fn with x, back over the
    // subscriber's connection.
    svc.def("subscribe", [subscribers = subscribers](Proxy fn) {
      std::lock_guard lk(subscribers->mutex);
      subscribers->fns.push_back(std::move(fn));
    });
    svc.def("notify", [subscribers = subscribers](std::int64_t x) {
      std::vector<Proxy> fns;
      {
        std::lock_guard lk(subscribers->mutex);
        fns = subscribers->fns;
      }
      for (const Proxy& fn : fns) fn->call(x);
      return static_cast<std::int64_t>(fns.size());
    });
    ServerConfig config;
    config.host = "127.0.0.1";
    config.port = port;
    server = std::make_unique<ThreadedServer>(svc, config);
    server->start();
    *name = "127.0.0.1:" + std::to_string(server->port());
  }
  ServiceAddress address() const { return {"127.0.0.1", server->port()}; }
  std::string name() const { return "127.0.0.1:" + std::to_string(server->port()); }
};

std::string whoami(const Proxy& root) { return root->attr("whoami")->call().as<std::string>(); }

// Counts events reported on another thread (on_disconnect) and waits for them.
struct Events {
  std::mutex mutex;
  std::condition_variable cv;
  int count = 0;
  void add() {
    std::lock_guard lk(mutex);
    ++count;
    cv.notify_all();
  }
  // True once n have happened (bounded: a failure, never the normal way out).
  bool reached(int n) {
    std::unique_lock lk(mutex);
    return cv.wait_for(lk, 10s, [&] { return count >= n; });
  }
};

// Short backoff: a refused instance is tried again within milliseconds.
ReconnectConfig quick(ReconnectConfig config = {}) {
  config.balancer.backoff = {.initial = 5ms, .multiplier = 1.6, .jitter = 0.0, .max = 40ms};
  config.reconnect_wait = 10s;  // a bound on a failure, never reached when things work
  return config;
}

InstanceSource listing(std::vector<ServiceAddress> addresses) {
  return [addresses = std::move(addresses)] { return addresses; };
}

// The exception a call threw, for checking its exact type.
std::exception_ptr thrown_by(const std::function<void()>& fn) {
  try {
    fn();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

bool is_stale(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const StaleReference&) {
    return true;
  } catch (...) {
    return false;
  }
}

bool is_closed(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const ConnectionClosed&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

TEST_CASE("a stopped server's client reconnects to another instance, and old proxies throw StaleReference") {
  auto a = std::make_unique<Instance>();
  Instance b;
  const std::string a_name = a->name();
  std::atomic<int> reconnects{0};
  std::string reconnected_to;  // written by on_reconnect before root() returns the new root
  Events drops;
  ReconnectConfig config = quick();
  config.on_reconnect = [&](Proxy root) {
    reconnected_to = whoami(root);
    ++reconnects;
  };
  config.on_disconnect = [&](const std::string&) { drops.add(); };
  ReconnectingClient client(listing({a->address(), b.address()}), config);
  const Proxy old_root = client.root();
  const Proxy old_whoami = old_root->attr("whoami");
  CHECK(whoami(old_root) == a_name);
  CHECK(client.epoch() == 1);
  CHECK(reconnects == 0);

  a->server->stop();  // closes its connections; its port refuses from now on
  a.reset();
  REQUIRE(drops.reached(1));         // the client noticed (its background thread read the EOF)
  const Proxy root = client.root();  // waits for the reconnect
  CHECK(whoami(root) == b.name());
  CHECK(client.epoch() == 2);
  CHECK(reconnects == 1);
  CHECK(reconnected_to == b.name());
  CHECK(*client.instance() == b.address());

  const auto error = thrown_by([&] { old_whoami->call(); });
  REQUIRE(error);
  CHECK(is_stale(error));
  CHECK_THROWS_WITH_AS(old_root->attr("whoami")->call(), doctest::Contains("is stale"), StaleReference);
  CHECK_THROWS_WITH_AS(old_root->attr("whoami")->call(), doctest::Contains(b.name().c_str()), StaleReference);
  CHECK(whoami(client.root()) == b.name());  // the new root still works
  CHECK(reconnects == 1);
}

TEST_CASE("an instance restarted on its port is reconnected to, and on_reconnect runs once per reconnect") {
  auto a = std::make_unique<Instance>();
  const std::uint16_t port = a->server->port();
  std::atomic<int> reconnects{0};
  Events drops;
  ReconnectConfig config = quick();
  config.on_reconnect = [&](Proxy) { ++reconnects; };
  config.on_disconnect = [&](const std::string&) { drops.add(); };
  ReconnectingClient client(listing({a->address()}), config);
  CHECK(whoami(client.root()) == a->name());
  for (int round = 1; round <= 2; ++round) {
    a->server->stop();
    a.reset();
    a = std::make_unique<Instance>(port);  // the reconnect may fail a few times until now
    REQUIRE(drops.reached(round));
    CHECK(whoami(client.root()) == a->name());
    CHECK(reconnects == round);
    CHECK(client.epoch() == static_cast<std::uint64_t>(round + 1));
  }
}

TEST_CASE("a call in flight when the connection drops fails with ConnectionClosed and is never sent again") {
  Instance a;
  *a.drops_left = 1;
  ReconnectingClient client(listing({a.address()}), quick());
  const auto error = thrown_by([&] { client.root()->attr("work")->call(); });
  REQUIRE(error);
  CHECK(is_closed(error));
  CHECK_FALSE(is_stale(error));  // the call's own connection dropped: not a stale reference
  // The next call goes over a new connection; the dropped one reached the server once only.
  CHECK(client.root()->attr("work")->call().as<std::int64_t>() == 42);
  CHECK(*a.calls == 2);
  CHECK(client.epoch() == 2);
}

TEST_CASE("call_idempotent sends a call once more on the new connection, and only once") {
  Instance a;
  ReconnectingClient client(listing({a.address()}), quick());
  auto work = [](Proxy root) { return root->attr("work")->call().as<std::int64_t>(); };

  *a.drops_left = 1;  // the first try drops; the second answers
  CHECK(client.call_idempotent(work) == 42);
  CHECK(*a.calls == 2);
  CHECK(client.epoch() == 2);

  *a.calls = 0;
  *a.drops_left = 2;  // both tries drop: the second failure reaches the caller
  CHECK_THROWS_AS(client.call_idempotent(work), ConnectionClosed);
  CHECK(*a.calls == 2);

  *a.calls = 0;  // a call that does not drop runs once
  CHECK(client.call_idempotent(work) == 42);
  CHECK(*a.calls == 1);
}

TEST_CASE("a server killed with SIGKILL mid-call: the call fails with ConnectionClosed, the next reaches another instance") {
  ChildProcess python({"/usr/bin/env", "-u", "PYTHONPATH", "/usr/bin/python3",
                       std::string(NETREF_SOURCE_DIR) + "/tests/discovery/py_discovery.py", "instance"});
  std::string line;
  const std::uint16_t port = read_ready_port(python, line);
  REQUIRE_MESSAGE(port != 0, "the Python instance did not start: " << line);
  Instance b;
  ReconnectingClient client(listing({{"127.0.0.1", port}, b.address()}), quick());
  REQUIRE(whoami(client.root()) == "python");  // (else nothing would print "hanging")

  auto call = std::async(std::launch::async, [root = client.root()] {
    return thrown_by([&] { root->attr("hang")->call(); });
  });
  while (python.read_line(line) && line != "hanging") {
  }  // (rpyc's log lines come first)
  REQUIRE(line == "hanging");  // the call is being served now
  REQUIRE(::kill(python.pid(), SIGKILL) == 0);
  CHECK(python.wait() == 128 + SIGKILL);
  const auto error = call.get();
  REQUIRE(error);
  CHECK(is_closed(error));
  CHECK_FALSE(is_stale(error));
  CHECK(whoami(client.root()) == b.name());
  CHECK(client.epoch() == 2);
}

TEST_CASE("no instance to reconnect to: root() gives up after reconnect_wait naming the last error, and close() ends it") {
  auto a = std::make_unique<Instance>();
  ReconnectConfig config = quick();
  config.reconnect_wait = 300ms;
  Events drops;
  config.on_disconnect = [&](const std::string&) { drops.add(); };
  ReconnectingClient client(listing({a->address()}), config);
  CHECK(client.connected());
  a->server->stop();
  a.reset();
  REQUIRE(drops.reached(1));
  CHECK_THROWS_WITH_AS(client.root(), doctest::Contains("no instance of the service accepted"), ServiceUnavailable);
  CHECK_FALSE(client.connected());
  CHECK(drops.count == 1);
  client.close();
  CHECK_THROWS_WITH_AS(client.root(), doctest::Contains("closed"), ConnectionClosed);
  client.close();  // idempotent
}

TEST_CASE("threads calling through a reconnect see answers, ConnectionClosed or the stopping server's refusal, then reach the new instance") {
  Instance a, b;
  ReconnectingClient client(listing({a.address(), b.address()}), quick());
  REQUIRE(whoami(client.root()) == a.name());
  std::vector<std::future<std::string>> workers;  // what each saw: "" when all went well
  for (int i = 0; i < 3; ++i) {
    workers.push_back(std::async(std::launch::async, [&] {
      const auto deadline = std::chrono::steady_clock::now() + 10s;  // a bound on a failure only
      while (std::chrono::steady_clock::now() < deadline) {
        try {
          if (whoami(client.root()) == b.name()) return std::string();
        } catch (const ConnectionClosed&) {
          // a root taken just before the drop (StaleReference once replaced): take it again
        } catch (const RemoteError& e) {
          // A call that reached the server as it stopped: refused, never run. Another goes.
          if (std::string(e.what()).rfind("ConnectionRefusedError: the server is shutting down", 0) != 0) {
            return std::string("unexpected error: ") + e.what();
          }
        } catch (const std::exception& e) {
          return std::string("unexpected error: ") + e.what();
        }
      }
      return std::string("never reached the new instance");
    }));
  }
  a.server->stop();  // the workers' connection drops under them
  for (auto& w : workers) CHECK(w.get() == "");
  CHECK(client.epoch() == 2);
}

TEST_CASE("discovery failing during a reconnect is asked again on the backoff until it answers") {
  auto a = std::make_unique<Instance>();
  Instance b;
  std::atomic<bool> discovery_down{false};
  Events asked_while_down, drops;
  ReconnectConfig config = quick();
  config.on_disconnect = [&](const std::string&) { drops.add(); };
  std::vector<ServiceAddress> listed{a->address(), b.address()};
  ReconnectingClient client(
      [&] {
        if (discovery_down) {
          asked_while_down.add();
          throw std::runtime_error("the directory is down");  // not even a netref error
        }
        return listed;
      },
      config);
  discovery_down = true;
  a->server->stop();
  a.reset();
  REQUIRE(drops.reached(1));
  REQUIRE(asked_while_down.reached(3));  // asked again and again, the thread still alive
  discovery_down = false;
  CHECK(whoami(client.root()) == b.name());
  CHECK(client.epoch() == 2);
}

TEST_CASE("on_reconnect subscribes a callback again, and the new instance calls it back") {
  auto a = std::make_unique<Instance>();
  Instance b;
  std::atomic<std::int64_t> received{0};
  auto subscribe = [&](const Proxy& root) {
    root->attr("subscribe")->call(local([&received](std::int64_t x) {
      received += x;
      return x;
    }));
  };
  Events drops;
  ReconnectConfig config = quick();
  config.on_reconnect = subscribe;
  config.on_disconnect = [&](const std::string&) { drops.add(); };
  ReconnectingClient client(listing({a->address(), b.address()}), config);
  subscribe(client.root());
  CHECK(client.root()->attr("notify")->call(1).as<std::int64_t>() == 1);  // a calls us back
  CHECK(received == 1);
  a->server->stop();
  a.reset();
  REQUIRE(drops.reached(1));
  CHECK(client.root()->attr("notify")->call(10).as<std::int64_t>() == 1);  // b knows our callback
  CHECK(received == 11);
}

TEST_CASE("the example in reconnecting_client.hpp runs") {
  RegistryServer registry({.host = "127.0.0.1", .port = 0});
  registry.start();
  const RegistryConfig where{.host = "127.0.0.1", .port = registry.port()};
  Service svc;
  svc.def("add", [](std::int64_t x, std::int64_t y) { return x + y; });
  svc.def("size", [] { return 3; });
  ServerConfig server_config;
  server_config.host = "127.0.0.1";
  server_config.port = 0;
  ThreadedServer server(svc, server_config);
  server.start();
  RegistryClient(where).register_service({"CALCULATOR"}, server.port());
  int resubscribed = 0;
  auto resubscribe = [&](const netref::Proxy&) { ++resubscribed; };

  netref::ReconnectingClient calc(netref::registry_instances("CALCULATOR", where),
                                  {.on_reconnect = [&](netref::Proxy root) { resubscribe(root); }});
  auto sum = calc.root()->attr("add")->call(1, 2).as<std::int64_t>();
  auto n = calc.call_idempotent([](netref::Proxy root) { return root->attr("size")->call().as<int>(); });
  CHECK(sum == 3);
  CHECK(n == 3);
  CHECK(resubscribed == 0);
}
