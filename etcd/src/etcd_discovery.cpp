#include "netref/etcd/etcd_discovery.hpp"

#include "gateway_json.hpp"
#include "netref/discovery/connect_by_service.hpp"
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
  return detail::connect_first(name, etcd_discover(name, etcd), config);
}

}  // namespace netref
