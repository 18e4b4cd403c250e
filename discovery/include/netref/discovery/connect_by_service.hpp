#pragma once
/// Finding servers by name (rpyc.discover, rpyc.connect_by_service).
#include "netref/export.hpp"
#include <string>
#include <vector>

#include "netref/discovery/registry_client.hpp"
#include "netref/proxy/client.hpp"

namespace netref {

/// The servers the registry lists for name, oldest registration first. Throws
/// ServiceNotFound when there are none, RegistryUnreachable or RegistryReplyError.
NETREF_API std::vector<ServiceAddress> discover(const std::string& name, const RegistryConfig& registry = {});

/// Connects to the first server of name that accepts, trying them in the registry's order
/// (some may have died since they registered). Throws what discover throws, or
/// ServiceUnavailable listing each server and why it failed. Each server's rpyc generation
/// is found out as open_connection does.
NETREF_API Client connect_by_service(const std::string& name, const RegistryConfig& registry = {},
                          const ClientConfig& config = {});

namespace detail {
/// Connects to the first of servers that accepts (rpyc's order); throws ServiceUnavailable
/// listing each and why. What connect_by_service does once it has the list.
NETREF_API Client connect_first(const std::string& name, const std::vector<ServiceAddress>& servers,
                                const ClientConfig& config);
}  // namespace detail

}  // namespace netref
