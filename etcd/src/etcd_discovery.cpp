#include "netref/etcd/etcd_discovery.hpp"

#include "gateway_json.hpp"
#include "netref/etcd/etcd_registrar.hpp"

namespace netref {

std::vector<ServiceAddress> etcd_discover(const std::string& name, const EtcdConfig& etcd) {
  EtcdClient client(etcd);
  std::vector<ServiceAddress> servers;
  for (const auto& kv : client.range_prefix(etcd_service_prefix(name)).kvs) {
    if (auto server = detail::parse_endpoint(kv.value)) servers.push_back(std::move(*server));
  }
  if (servers.empty()) {
    throw ServiceNotFound("no servers of '" + name + "' under " + etcd_service_prefix(name) + " in etcd");
  }
  return servers;
}

Client etcd_connect_by_service(const std::string& name, const EtcdConfig& etcd, const ClientConfig& config) {
  const auto servers = etcd_discover(name, etcd);
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

}  // namespace netref
