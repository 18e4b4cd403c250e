// Hostile input to the registry server: each attack is handled, counted, and a canary
// client still registers and queries afterwards.
#include <doctest/doctest.h>

#include "discovery/registry_lab.hpp"
#include "netref/discovery/detail/registry_wire.hpp"
#include "netref/protocol/brine.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

// A client registers and finds itself: the registry still serves.
void canary(RegistryTransport transport, std::uint16_t port) {
  const RegistryClient client(registry_at(transport, port));
  client.register_service({"CANARY"}, 7);
  CHECK(client.query("canary") == std::vector<ServiceAddress>{{"127.0.0.1", 7}});
}

}  // namespace

TEST_CASE("garbage datagrams get no answer, are counted, and the registry serves on") {
  RegistryServer registry(lab_registry(RegistryTransport::udp));
  registry.start();
  RawSocket attacker(SOCK_DGRAM, "127.0.0.1");
  const std::vector<std::vector<std::uint8_t>> junk = {
      {}, {0xff}, {0x12, 0x08}, brine::encode(tuple_of("RPYC", "SHUTDOWN", tuple_of())),
      brine::encode(tuple_of("RPYC", "QUERY", tuple_of(tuple_of(tuple_of(tuple_of(tuple_of(tuple_of(tuple_of(tuple_of(tuple_of("x")))))))))))};
  for (int round = 0; round < 20; ++round) {
    for (const auto& j : junk) attacker.send_to(registry.port(), j);
  }
  CHECK(eventually([&] { return registry.stats().garbage == 100; }));
  canary(RegistryTransport::udp, registry.port());
  // Nothing was sent back to the attacker.
  std::uint8_t buffer[16];
  CHECK(::recv(attacker.fd, buffer, sizeof buffer, MSG_DONTWAIT) < 0);
}

TEST_CASE("an oversized datagram is dropped unread and counted") {
  RegistryServer registry(lab_registry(RegistryTransport::udp));
  registry.start();
  RawSocket attacker(SOCK_DGRAM, "127.0.0.1");
  std::vector<std::string> names(400, "SOME_LONG_SERVICE_NAME");
  attacker.send_to(registry.port(), detail::encode_register_request(names, 9));  // a valid request, 10 KiB
  CHECK(eventually([&] { return registry.stats().oversized == 1; }));
  CHECK(registry.stats().entries == 0);
  canary(RegistryTransport::udp, registry.port());
}

TEST_CASE("too many names: registrations past the limits are not acknowledged, and the table stays bounded") {
  auto config = lab_registry(RegistryTransport::udp);
  config.max_names = 10;
  config.max_entries = 20;
  RegistryServer registry(config);
  registry.start();
  RawSocket attacker(SOCK_DGRAM, "127.0.0.1");
  for (int i = 0; i < 50; ++i) {
    attacker.send_to(registry.port(), detail::encode_register_request({"N" + std::to_string(i)}, 9));
  }
  CHECK(eventually([&] { return registry.stats().requests == 50; }));
  const auto stats = registry.stats();
  CHECK(stats.names == 10);
  CHECK(stats.refused_registrations == 40);
  // The canary's name does not fit either: it is told nothing, and sees RegistryUnreachable.
  CHECK_THROWS_AS(RegistryClient(registry_at(RegistryTransport::udp, registry.port(), 200ms)).register_service({"NEW"}, 7),
                  RegistryUnreachable);
  // A known name still takes a new server.
  RegistryClient(registry_at(RegistryTransport::udp, registry.port())).register_service({"N0"}, 7);
  CHECK(RegistryClient(registry_at(RegistryTransport::udp, registry.port())).query("N0").size() == 2);
}

TEST_CASE("a silent TCP client does not stall the registry and is closed after the TCP timeout") {
  auto config = lab_registry(RegistryTransport::tcp);
  config.tcp_timeout = 1s;
  RegistryServer registry(config);
  registry.start();
  RawSocket silent(SOCK_STREAM);
  REQUIRE(silent.connect_to(registry.port()));
  RawSocket half(SOCK_STREAM);
  REQUIRE(half.connect_to(registry.port()));
  const auto query = detail::encode_query_request("X");
  ::send(half.fd, query.data(), 5, 0);  // half a request, then silence

  canary(RegistryTransport::tcp, registry.port());
  // Served while the others wait: a registry they stalled would serve the canary only once
  // their timeout had closed them.
  CHECK(registry.stats().tcp_timeouts == 0);
  CHECK(eventually([&] { return registry.stats().tcp_timeouts == 2; }));
  std::uint8_t buffer[16];
  CHECK(::recv(silent.fd, buffer, sizeof buffer, 0) == 0);  // closed by the registry
}

TEST_CASE("TCP clients past max_tcp_clients are closed at accept, and oversized TCP requests dropped") {
  auto config = lab_registry(RegistryTransport::tcp);
  config.max_tcp_clients = 2;
  config.tcp_timeout = 2s;
  RegistryServer registry(config);
  registry.start();
  std::vector<std::unique_ptr<RawSocket>> hogs;
  for (int i = 0; i < 4; ++i) {
    hogs.push_back(std::make_unique<RawSocket>(SOCK_STREAM));
    REQUIRE(hogs.back()->connect_to(registry.port()));
  }
  CHECK(eventually([&] { return registry.stats().refused_tcp_clients == 2; }));
  hogs.clear();  // the two held ones close; their slots free

  RawSocket big(SOCK_STREAM);
  REQUIRE(big.connect_to(registry.port()));
  const std::vector<std::uint8_t> flood(4000, 0x12);
  ::send(big.fd, flood.data(), flood.size(), MSG_NOSIGNAL);
  CHECK(eventually([&] { return registry.stats().oversized == 1; }));
  canary(RegistryTransport::tcp, registry.port());
}

TEST_CASE("an UNREGISTER from another host removes nothing") {
  RegistryServer registry(lab_registry(RegistryTransport::udp));
  registry.start();
  const RegistryClient client(registry_at(RegistryTransport::udp, registry.port()));
  client.register_service({"VICTIM"}, 5000);
  RawSocket spoofer(SOCK_DGRAM, "127.0.0.2");  // another loopback address: another host to the registry
  spoofer.send_to(registry.port(), detail::encode_unregister_request(5000));
  CHECK(eventually([&] { return registry.stats().requests == 2; }));  // the REGISTER and the spoofed UNREGISTER
  CHECK(client.query("VICTIM").size() == 1);
}

TEST_CASE("entries not refreshed are pruned on the registry's own clock, with no query needed") {
  auto config = lab_registry(RegistryTransport::udp);
  config.prune_timeout = 200ms;
  RegistryServer registry(config);
  registry.start();
  RegistryClient(registry_at(RegistryTransport::udp, registry.port())).register_service({"SHORT", "LIVED"}, 5000);
  CHECK(registry.stats().entries == 2);
  CHECK(eventually([&] { return registry.stats().pruned == 2; }, 2s));
  CHECK(registry.stats().names == 0);
}
