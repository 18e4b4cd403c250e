// RegistryClient and connect_by_service against an in-process RegistryServer, over both
// transports, and against registries that are absent, silent or send garbage.
#include <doctest/doctest.h>

#include "discovery/registry_lab.hpp"
#include "netref/netref.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

const RegistryTransport transports[] = {RegistryTransport::udp, RegistryTransport::tcp};

const char* name_of(RegistryTransport t) { return t == RegistryTransport::udp ? "UDP" : "TCP"; }

}  // namespace

TEST_CASE("register, query, list and unregister through a registry, over UDP and over TCP") {
  for (const auto transport : transports) {
    INFO(name_of(transport));
    auto config = lab_registry(transport);
    config.allow_listing = true;
    RegistryServer registry(config);
    registry.start();
    const RegistryClient client(registry_at(transport, registry.port()));

    client.register_service({"calc", "Adder"}, 4000);
    CHECK(client.query("CALC") == std::vector<ServiceAddress>{{"127.0.0.1", 4000}});
    CHECK(client.query("adder") == std::vector<ServiceAddress>{{"127.0.0.1", 4000}});
    CHECK(client.query("nobody").empty());
    CHECK(client.list() == std::vector<std::string>{"ADDER", "CALC"});
    CHECK(client.list(std::string("127.0.0.1")).size() == 2);
    CHECK(client.list(std::string("10.1.1.1")).empty());

    client.unregister_service(4000);
    CHECK(eventually([&] { return client.query("CALC").empty(); }));
    CHECK(registry.stats().entries == 0);
  }
}

TEST_CASE("LIST from a registry that does not allow listing throws ListingForbidden") {
  for (const auto transport : transports) {
    INFO(name_of(transport));
    RegistryServer registry(lab_registry(transport));
    registry.start();
    CHECK_THROWS_AS(RegistryClient(registry_at(transport, registry.port())).list(), ListingForbidden);
  }
}

TEST_CASE("no registry on the port: RegistryUnreachable at once, over UDP and over TCP") {
  std::uint16_t free_port;
  {
    RawSocket probe(SOCK_DGRAM, "127.0.0.1");
    free_port = probe.port();
  }
  for (const auto transport : transports) {
    INFO(name_of(transport));
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(RegistryClient(registry_at(transport, free_port, 2000ms)).query("X"), RegistryUnreachable);
    CHECK(std::chrono::steady_clock::now() - start < 1500ms);  // refused, not timed out
  }
}

TEST_CASE("a registry that never answers: RegistryUnreachable after the timeout") {
  RawSocket silent_udp(SOCK_DGRAM, "127.0.0.1");
  CHECK_THROWS_WITH_AS(RegistryClient(registry_at(RegistryTransport::udp, silent_udp.port(), 100ms)).query("X"),
                       doctest::Contains("within 100 ms"), RegistryUnreachable);
  RawSocket silent_tcp(SOCK_STREAM, "127.0.0.1");
  REQUIRE(::listen(silent_tcp.fd, 4) == 0);
  CHECK_THROWS_WITH_AS(RegistryClient(registry_at(RegistryTransport::tcp, silent_tcp.port(), 100ms)).query("X"),
                       doctest::Contains("did not answer within 100 ms"), RegistryUnreachable);
}

TEST_CASE("a garbage reply (a forged registry) is a RegistryReplyError, never a crash") {
  RawSocket forger(SOCK_DGRAM, "127.0.0.1");
  const RegistryClient client(registry_at(RegistryTransport::udp, forger.port(), 300ms));
  // The forger answers every request with bytes that are not brine.
  std::thread answer([&] {
    for (int i = 0; i < 2; ++i) {
      std::uint8_t buffer[1500];
      sockaddr_in from{};
      socklen_t size = sizeof from;
      if (::recvfrom(forger.fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &size) < 0) return;
      const std::uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef};
      ::sendto(forger.fd, junk, sizeof junk, 0, reinterpret_cast<const sockaddr*>(&from), size);
    }
  });
  CHECK_THROWS_WITH_AS(client.query("X"), doctest::Contains("not a brine value"), RegistryReplyError);
  CHECK_THROWS_WITH_AS(client.register_service({"X"}, 1), doctest::Contains("did not acknowledge"), RegistryReplyError);
  answer.join();
}

TEST_CASE("discover and connect_by_service: no such service, a dead server skipped, then a live one") {
  RegistryServer registry(lab_registry(RegistryTransport::udp));
  registry.start();
  const auto where = registry_at(RegistryTransport::udp, registry.port());
  CHECK_THROWS_WITH_AS(discover("CALC", where), doctest::Contains("no servers exposing 'CALC'"), ServiceNotFound);

  Service svc;
  svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  ThreadedServer server(svc, {.host = "127.0.0.1", .port = 0});
  server.start();

  std::uint16_t dead_port;
  {
    RawSocket probe(SOCK_STREAM, "127.0.0.1");
    dead_port = probe.port();
  }
  const RegistryClient client(where);
  client.register_service({"CALC"}, dead_port);  // registered first: tried first
  CHECK_THROWS_WITH_AS(connect_by_service("calc", where), doctest::Contains(std::to_string(dead_port).c_str()),
                       ServiceUnavailable);
  client.register_service({"CALC"}, server.port());
  CHECK(discover("calc", where).size() == 2);
  auto conn = connect_by_service("calc", where);
  CHECK(conn->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  conn->close();
}
