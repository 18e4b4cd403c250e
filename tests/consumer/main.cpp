// Serves a one-function service on a free loopback port, registered with a registry (the
// discovery layer), finds it by name and calls it: exit 0 if 2 + 3 == 5.
#include <netref/netref.hpp>

#include <cstdint>
#include <iostream>

static_assert(netref::version_number() == NETREF_VERSION_NUMBER && !netref::version().empty(),
              "netref/version.hpp comes with the umbrella header");

int main() {
  netref::Service svc;
  svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  netref::RegistryServer registry({.port = 0});
  registry.start();
  const netref::RegistryConfig where{.host = "127.0.0.1", .port = registry.port()};
  netref::ThreadedServer server(svc, {.host = "127.0.0.1", .port = 0});
  server.start();
  netref::RegistryClient(where).register_service({"ADDER"}, server.port());
  auto conn = netref::connect_by_service("adder", where);
  const auto sum = conn->root()->attr("add")->call(2, 3).as<std::int64_t>();
  std::cout << "consumer (netref " << netref::version() << "): add(2, 3) = " << sum << "\n";
  conn->close();
  return sum == 5 ? 0 : 1;
}
