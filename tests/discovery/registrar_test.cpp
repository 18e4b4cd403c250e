// Auto-registration: a netref server with ServerConfig::registrar registers its aliases at
// start, retries while the registry is away, and unregisters on stop.
#include <doctest/doctest.h>

#include "discovery/registry_lab.hpp"
#include "netref/netref.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

Service adder() {
  Service svc;
  svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  return svc;
}

}  // namespace

TEST_CASE("a server registers its aliases at start, is found by connect_by_service, and unregisters on stop") {
  for (const auto transport : {RegistryTransport::udp, RegistryTransport::tcp}) {
    RegistryServer registry(lab_registry(transport));
    registry.start();
    const auto where = registry_at(transport, registry.port());
    ServerConfig config;
    config.port = 0;
    config.registrar = registry_registrar({.aliases = {"calc", "adder"}, .registry = where});
    ThreadPoolServer server(adder(), config);
    server.start();
    const RegistryClient client(where);
    REQUIRE(eventually([&] { return client.query("ADDER").size() == 1; }));
    CHECK(client.query("calc") == std::vector<ServiceAddress>{{"127.0.0.1", server.port()}});
    auto conn = connect_by_service("adder", where);
    CHECK(conn->root()->attr("add")->call(20, 22).as<std::int64_t>() == 42);
    conn->close();
    server.stop();
    CHECK(eventually([&] { return client.query("calc").empty(); }));
  }
}

TEST_CASE("a server started before its registry registers once the registry comes up") {
  std::uint16_t port;
  {
    RawSocket probe(SOCK_DGRAM, "127.0.0.1");
    port = probe.port();
  }
  const auto where = registry_at(RegistryTransport::udp, port, 200ms);
  ServerConfig config;
  config.port = 0;
  config.log = [](LogLevel, std::string_view, ConnectionId) {};
  config.registrar = registry_registrar({.aliases = {"LATE"}, .registry = where, .advertised_port = 4321,
                                         .retry_interval = 50ms});
  ThreadedServer server(adder(), config);
  server.start();

  auto registry_config = lab_registry(RegistryTransport::udp);
  registry_config.port = port;
  RegistryServer registry(registry_config);
  registry.start();
  CHECK(eventually([&] { return RegistryClient(where).query("LATE") == std::vector<ServiceAddress>{{"127.0.0.1", 4321}}; }));
}

TEST_CASE("a registrar re-registers on its interval, so pruning never drops a live server") {
  auto registry_config = lab_registry(RegistryTransport::udp);
  registry_config.prune_timeout = 300ms;
  RegistryServer registry(registry_config);
  registry.start();
  const auto where = registry_at(RegistryTransport::udp, registry.port());
  ServerConfig config;
  config.port = 0;
  config.registrar = registry_registrar({.aliases = {"KEPT"}, .registry = where, .reregister_interval = 50ms});
  ThreadedServer server(adder(), config);
  server.start();
  REQUIRE(eventually([&] { return registry.stats().requests >= 8; }));  // several refreshes, 400 ms
  CHECK(registry.stats().pruned == 0);
  CHECK(RegistryClient(where).query("KEPT").size() == 1);
}

TEST_CASE("a registrar without aliases is refused at construction") {
  CHECK_THROWS_AS(registry_registrar({}), std::invalid_argument);
}
