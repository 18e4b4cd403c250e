// Proxy: attribute chains, one round trip between netref peers, get/set/as, async calls.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <future>
#include <optional>

using namespace netref;

namespace {

struct Leaf {
  std::int64_t base = 0;
  std::int64_t twice(std::int64_t x) const { return base + 2 * x; }
};
struct Branch {
  std::shared_ptr<Leaf> leaf = std::make_shared<Leaf>();
};
struct Trunk {
  std::shared_ptr<Branch> branch = std::make_shared<Branch>();
};

struct Fixture {
  Registry types;
  Service svc{types};
  std::unique_ptr<ThreadedServer> server;

  Fixture() {
    types.expose<Leaf>("Leaf").def("twice", &Leaf::twice).def_readwrite("base", &Leaf::base);
    types.expose<Branch>("Branch").def_readonly("leaf", &Branch::leaf);
    types.expose<Trunk>("Trunk").def_readonly("branch", &Trunk::branch);
    auto trunk = std::make_shared<Trunk>();
    svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
    svc.def("tree", [trunk] { return trunk; });
    svc.attr("trunk", trunk);
    ServerConfig cfg;
    cfg.port = 0;
    server = std::make_unique<ThreadedServer>(svc, cfg);
    server->start();
  }
};

}  // namespace

TEST_CASE("a chain of attributes and a call costs one round trip between netref peers") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  REQUIRE(conn->connection().peer_is_netref());
  auto root = conn->root();
  auto before = conn->connection().stats().frames_out;
  CHECK(root->attr("trunk")->attr("branch")->attr("leaf")->attr("twice")->call(5).as<std::int64_t>() == 10);
  CHECK(conn->connection().stats().frames_out - before == 1);
  before = conn->connection().stats().frames_out;
  CHECK(root->attr("trunk")->attr("branch")->attr("leaf")->attr("base")->get().as<std::int64_t>() == 0);
  CHECK(conn->connection().stats().frames_out - before == 1);
}

TEST_CASE("without the extension the same chain falls back to standard handlers") {
  Fixture f;
  ClientConfig cfg;
  cfg.negotiate_extensions = false;
  auto conn = connect("127.0.0.1", f.server->port(), cfg);
  REQUIRE_FALSE(conn->connection().peer_is_netref());
  auto root = conn->root();
  const auto before = conn->connection().stats().frames_out;
  CHECK(root->attr("trunk")->attr("branch")->attr("leaf")->attr("twice")->call(5).as<std::int64_t>() == 10);
  // three GETATTRs and a CALLATTR, and a DEL for each intermediate netref released on the way
  CHECK(conn->connection().stats().frames_out - before == 7);
}

TEST_CASE("get, set and as on a netref's attribute") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto leaf = conn->root()->attr("tree")->call()->attr("branch")->attr("leaf")->get();
  CHECK(leaf.is_netref());
  leaf->attr("base")->set(100);
  CHECK(leaf->attr("base")->get().as<std::int64_t>() == 100);
  CHECK(leaf->attr("twice")->call(1).as<std::int64_t>() == 102);
  CHECK_THROWS_AS(conn->root()->attr("trunk")->attr("branch")->set(1), AttributeError);  // read-only
  // A local conversion's failure: nothing the peer raised, so not a RemoteError.
  CHECK_THROWS_AS(leaf->attr("base")->get().as<std::string>(), ConversionError);
  bool remote = true;
  try {
    leaf->attr("base")->get().as<std::string>();
  } catch (const RemoteError&) {
  } catch (const ConversionError&) {
    remote = false;
  }
  CHECK_FALSE(remote);
}

TEST_CASE("async_call delivers through value() and then()") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto root = conn->root();
  auto a = root->attr("add")->async_call(1, 2);
  CHECK(a.value().as<std::int64_t>() == 3);
  std::atomic<std::int64_t> seen{0};
  auto b = root->attr("add")->async_call(20, 22);
  b.then([&](const AsyncCall& r) { seen = r.value().as<std::int64_t>(); });
  CHECK(b.wait(std::chrono::seconds(10)));
  CHECK(seen == 42);
}

TEST_CASE("a background serving thread delivers async replies while the caller waits for nothing") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto root = conn->root();
  BackgroundServingThread bg(conn->connection_ptr());
  std::promise<std::int64_t> got;
  root->attr("add")->async_call(2, 2).then([&](const AsyncCall& r) { got.set_value(r.value().as<std::int64_t>()); });
  auto fut = got.get_future();
  CHECK(fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(fut.get() == 4);
  CHECK(root->attr("add")->call(1, 1).as<std::int64_t>() == 2);  // sync calls still work beside it
}

TEST_CASE("connecting to a closed port names the address") {
  std::uint16_t port;
  {
    auto l = listen_tcp("127.0.0.1", 0);
    port = l->port();
  }
  const std::string address = "127.0.0.1:" + std::to_string(port);
  CHECK_THROWS_WITH_AS(connect("127.0.0.1", port), doctest::Contains(address.c_str()), ConnectError);
}

TEST_CASE("a server survives a client that sends garbage, and serves the next client") {
  Fixture f;
  {
    auto raw = connect_tcp("127.0.0.1", f.server->port());
    const std::vector<std::uint8_t> junk = {'G', 'E', 'T', ' ', '/', '\r', '\n', '\r', '\n'};
    raw->write_all(junk);
    std::uint8_t byte;
    CHECK_THROWS_AS(raw->read_exact(std::span(&byte, 1)), ConnectionClosed);  // the server hung up
  }
  auto conn = connect("127.0.0.1", f.server->port());
  CHECK(conn->root()->attr("add")->call(2, 2).as<std::int64_t>() == 4);
}

TEST_CASE("on_connect and on_disconnect run once per connection") {
  Service svc;
  std::atomic<int> connected{0};
  std::promise<std::string> disconnected;
  svc.def("ping", [] { return 1; });
  svc.on_connect([&](Connection&) { ++connected; });
  svc.on_disconnect([&](Connection& c) { disconnected.set_value(c.name()); });
  ServerConfig cfg;
  cfg.port = 0;
  ThreadedServer server(svc, cfg);
  server.start();
  auto conn = connect("127.0.0.1", server.port());
  CHECK(conn->root()->attr("ping")->call().as<int>() == 1);
  CHECK(connected == 1);
  conn->close();
  auto fut = disconnected.get_future();
  REQUIRE(fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK_FALSE(fut.get().empty());
}

TEST_CASE("an on_connect hook that throws refuses the client and the server keeps serving") {
  Service svc;
  std::atomic<int> calls{0};
  svc.def("ping", [] { return 1; });
  svc.on_connect([&](Connection&) {
    if (calls++ == 0) throw std::runtime_error("not you");
  });
  ServerConfig cfg;
  cfg.port = 0;
  ThreadedServer server(svc, cfg);
  server.start();
  CHECK_THROWS_AS(connect("127.0.0.1", server.port()), ConnectionClosed);
  auto conn = connect("127.0.0.1", server.port());
  CHECK(conn->root()->attr("ping")->call().as<int>() == 1);
}

TEST_CASE_TEMPLATE("a server shares its service: the Service it was given may go first", ServerT, ThreadedServer,
                   ThreadPoolServer) {
  std::promise<void> disconnected;
  std::optional<ServerT> server;
  {
    Service svc;
    svc.def("twice", [](int x) { return 2 * x; });
    svc.on_disconnect([&](Connection&) { disconnected.set_value(); });
    ServerConfig cfg;
    cfg.port = 0;
    server.emplace(svc, cfg);
  }  // the caller's Service is gone; the server's copy is the same service
  server->start();
  auto conn = connect("127.0.0.1", server->port());
  CHECK(conn->root()->attr("twice")->call(21).template as<int>() == 42);
  conn->close();
  auto done = disconnected.get_future();
  CHECK(done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);  // its hook still runs
  server->stop();
}
