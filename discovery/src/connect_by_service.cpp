#include "netref/discovery/connect_by_service.hpp"

namespace netref {

std::vector<ServiceAddress> discover(const std::string& name, const RegistryConfig& registry) {
  auto servers = RegistryClient(registry).query(name);
  if (servers.empty()) {
    throw ServiceNotFound("no servers exposing '" + name + "' were found by the registry at " + to_string(registry));
  }
  return servers;
}

Client detail::connect_first(const std::string& name, const std::vector<ServiceAddress>& servers,
                             const ClientConfig& config) {
  std::string failures;
  for (const auto& server : servers) {
    try {
      return connect(server.host, server.port, config);
    } catch (const ConnectionClosed& e) {  // ConnectError, or the peer closed during the hello
      failures += "\n  " + server.host + ":" + std::to_string(server.port) + ": " + e.what();
    }
  }
  throw ServiceUnavailable("every server of '" + name + "' failed:" + failures);
}

Client connect_by_service(const std::string& name, const RegistryConfig& registry, const ClientConfig& config) {
  return detail::connect_first(name, discover(name, registry), config);
}

}  // namespace netref
