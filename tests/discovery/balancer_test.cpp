// Balancer: pick_first and round_robin over the instances discovery lists, gRPC's backoff
// for instances that fail to connect (on a clock the test moves), and the errors it throws.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "netref/netref.hpp"

using namespace netref;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// A server that answers whoami() with its port.
struct Instance {
  std::unique_ptr<ThreadedServer> server;
  explicit Instance() {
    Service svc;
    auto port = std::make_shared<std::uint16_t>(0);
    svc.def("whoami", [port] { return static_cast<std::int64_t>(*port); });
    ServerConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    server = std::make_unique<ThreadedServer>(svc, config);
    server->start();
    *port = server->port();
  }
  ServiceAddress address() const { return {"127.0.0.1", server->port()}; }
};

// Loopback ports nobody listens on (connecting is refused at once), n different ones.
std::vector<ServiceAddress> dead_addresses(std::size_t n) {
  std::vector<std::unique_ptr<Listener>> held;  // all open at once: the ports differ
  std::vector<ServiceAddress> out;
  for (std::size_t i = 0; i < n; ++i) {
    held.push_back(listen_tcp("127.0.0.1", 0));
    out.push_back({"127.0.0.1", held.back()->port()});
  }
  return out;  // closed when held goes
}

ServiceAddress dead_address() { return dead_addresses(1).front(); }

std::int64_t whoami(Client& client) { return client->root()->attr("whoami")->call().as<std::int64_t>(); }

// A clock the test moves by hand.
struct ManualClock {
  std::shared_ptr<Clock::time_point> at = std::make_shared<Clock::time_point>(Clock::now());
  std::function<Clock::time_point()> source() const {
    return [at = at] { return *at; };
  }
  void advance(std::chrono::milliseconds by) const { *at += by; }
};

}  // namespace

TEST_CASE("backoff delays follow gRPC's schedule: 1 s, then x1.6 each failure, capped at 120 s, spread by +-20%") {
  const Backoff grpc;
  CHECK(detail::backoff_delay(grpc, 1, 0.5) == 1000ms);
  CHECK(detail::backoff_delay(grpc, 2, 0.5) == 1600ms);
  CHECK(detail::backoff_delay(grpc, 3, 0.5) == 2560ms);
  CHECK(detail::backoff_delay(grpc, 30, 0.5) == 120000ms);
  CHECK(detail::backoff_delay(grpc, 1000000, 0.5) == 120000ms);  // no overflow on a long outage
  CHECK(detail::backoff_delay(grpc, 1, 0.0) == 800ms);
  CHECK(detail::backoff_delay(grpc, 1, 1.0) == 1200ms);
  const Backoff custom{.initial = 10ms, .multiplier = 2.0, .jitter = 0.0, .max = 50ms};
  CHECK(detail::backoff_delay(custom, 3, 0.9) == 40ms);
  CHECK(detail::backoff_delay(custom, 4, 0.1) == 50ms);
}

TEST_CASE("pick_first takes discovery's first instance that accepts, and skips one backing off without trying it") {
  Instance a, b;
  const ServiceAddress dead = dead_address();
  ManualClock clock;
  Balancer balancer([&] { return std::vector<ServiceAddress>{dead, a.address(), b.address()}; },
                    {.now = clock.source()});
  auto first = balancer.connect();
  CHECK(whoami(first) == a.server->port());
  REQUIRE(balancer.state().size() == 1);
  CHECK(balancer.state()[0].address == dead);
  CHECK(balancer.state()[0].failures == 1);
  const auto retry_at = balancer.state()[0].retry_at;
  CHECK(retry_at - *clock.at >= 800ms);
  CHECK(retry_at - *clock.at <= 1200ms);

  auto second = balancer.connect();  // dead is backing off: not tried, still one failure
  CHECK(whoami(second) == a.server->port());
  CHECK(balancer.state()[0].failures == 1);

  clock.advance(1201ms);  // past any jitter: dead is tried again and fails a second time
  auto third = balancer.connect();
  CHECK(whoami(third) == a.server->port());
  CHECK(balancer.state()[0].failures == 2);
  CHECK(balancer.state()[0].retry_at - *clock.at >= 1280ms);  // 1.6 s -20%
  CHECK(*balancer.last_instance() == a.address());
}

TEST_CASE("round_robin turns through the instances, skipping one that fails") {
  Instance a, b, c;
  const ServiceAddress dead = dead_address();
  std::vector<ServiceAddress> listed{a.address(), dead, b.address(), c.address()};
  Balancer balancer([&] { return listed; }, {.policy = BalancePolicy::round_robin});
  std::vector<std::int64_t> seen;
  std::vector<Client> clients;  // each connection a session of its own, all kept open
  for (int i = 0; i < 6; ++i) {
    clients.push_back(balancer.connect());
    seen.push_back(whoami(clients.back()));
  }
  const std::int64_t pa = a.server->port(), pb = b.server->port(), pc = c.server->port();
  CHECK(seen == std::vector<std::int64_t>{pa, pb, pc, pa, pb, pc});
}

TEST_CASE("an instance that recovers is used again once its backoff ends, and forgets its failures") {
  ManualClock clock;
  std::uint16_t port;
  {
    Instance probe;
    port = probe.server->port();
  }  // nobody listens on port now
  Balancer balancer([&] { return std::vector<ServiceAddress>{{"127.0.0.1", port}}; },
                    {.backoff = {.initial = 100ms, .multiplier = 1.6, .jitter = 0.0, .max = 1s}, .now = clock.source()});
  CHECK_THROWS_AS(balancer.connect(), ServiceUnavailable);
  REQUIRE(balancer.state().size() == 1);
  // Backing off: refused at once, saying so, without a connection attempt.
  CHECK_THROWS_WITH_AS(balancer.connect(), doctest::Contains("backing off for 100 ms"), ServiceUnavailable);
  CHECK(balancer.state()[0].failures == 1);

  Service svc;
  svc.def("whoami", [] { return std::int64_t{7}; });
  ServerConfig config;
  config.host = "127.0.0.1";
  config.port = port;
  ThreadedServer revived(svc, config);
  revived.start();
  clock.advance(100ms);
  auto client = balancer.connect();
  CHECK(whoami(client) == 7);
  CHECK(balancer.state().empty());
}

TEST_CASE("no instance listed is ServiceNotFound, and every instance failing is ServiceUnavailable naming each") {
  Balancer empty([] { return std::vector<ServiceAddress>{}; });
  CHECK_THROWS_AS(empty.connect(), ServiceNotFound);

  const auto dead = dead_addresses(2);
  const ServiceAddress d1 = dead[0], d2 = dead[1];
  Balancer all_dead([&] { return std::vector<ServiceAddress>{d1, d2}; });
  try {
    all_dead.connect();
    FAIL("connected to a dead instance");
  } catch (const ServiceUnavailable& e) {
    const std::string text = e.what();
    CHECK(text.find("127.0.0.1:" + std::to_string(d1.port)) != std::string::npos);
    CHECK(text.find("127.0.0.1:" + std::to_string(d2.port)) != std::string::npos);
  }
  CHECK(all_dead.state().size() == 2);
}

TEST_CASE("what discovery throws is what connect throws, and an instance no longer listed is forgotten") {
  bool registry_down = true;
  const ServiceAddress dead = dead_address();
  Instance a;
  std::vector<ServiceAddress> listed{dead, a.address()};
  Balancer balancer([&] {
    if (registry_down) throw RegistryUnreachable("no registry answered");
    return listed;
  });
  CHECK_THROWS_AS(balancer.connect(), RegistryUnreachable);
  registry_down = false;
  auto client = balancer.connect();
  CHECK(balancer.state().size() == 1);
  listed = {a.address()};
  auto again = balancer.connect();
  CHECK(balancer.state().empty());
}

TEST_CASE("a Balancer over an RPyC registry: registry_instances asks it at each connect") {
  RegistryServer registry({.host = "127.0.0.1", .port = 0});
  registry.start();
  const RegistryConfig where{.host = "127.0.0.1", .port = registry.port()};
  Instance a;
  RegistryClient(where).register_service({"WHO"}, a.server->port());
  Balancer balancer(registry_instances("who", where));
  auto client = balancer.connect();
  CHECK(whoami(client) == a.server->port());
}
