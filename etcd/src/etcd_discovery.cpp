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

std::vector<std::pair<std::string, std::vector<ServiceAddress>>> etcd_services(const EtcdConfig& etcd) {
  const std::string root = "netref/services/";
  EtcdClient client(etcd);
  std::vector<std::pair<std::string, std::vector<ServiceAddress>>> services;
  for (const auto& kv : client.range_prefix(root).kvs) {
    // "netref/services/<NAME>/<host:port>": the name is what lies between the slashes.
    const std::string_view rest = std::string_view(kv.key).substr(root.size());
    const std::size_t slash = rest.find('/');
    if (slash == 0 || slash == std::string_view::npos) continue;
    auto server = detail::parse_endpoint(kv.value);
    if (!server) continue;
    const std::string_view name = rest.substr(0, slash);
    if (services.empty() || services.back().first != name) services.emplace_back(std::string(name), std::vector<ServiceAddress>{});
    services.back().second.push_back(std::move(*server));
  }
  return services;
}

Client etcd_connect_by_service(const std::string& name, const EtcdConfig& etcd, const ClientConfig& config) {
  return detail::connect_first(name, etcd_discover(name, etcd), config);
}

}  // namespace netref
