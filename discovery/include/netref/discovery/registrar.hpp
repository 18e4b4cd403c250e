#pragma once
/// Auto-registration: a server registers its names with an RPyC registry while it serves,
/// on rpyc's schedule. Plug it into ServerConfig::registrar:
///
///   netref::ServerConfig config;
///   config.registrar = netref::registry_registrar({.aliases = {"CALCULATOR"}});
///   netref::ThreadPoolServer server(service, config);
///
/// At start it registers (from ServerConfig::host unless that is a wildcard, so the registry
/// records that address), then re-registers every reregister_interval after a success and
/// retry_interval after a failure (rpyc: 60 s and 1 s); stop() unregisters.
#include "netref/export.hpp"
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netref/discovery/registry_client.hpp"
#include "netref/service/server.hpp"

namespace netref {

struct NETREF_API RegistrarConfig {
  /// The names clients find the service by (rpyc's ALIASES; the registry upper-cases them).
  /// At least one.
  std::vector<std::string> aliases;
  RegistryConfig registry;
  /// The port to register; 0: the port the server bound. Set it when clients reach the
  /// server through a forwarded port.
  std::uint16_t advertised_port = 0;
  std::chrono::milliseconds reregister_interval = std::chrono::seconds(60);
  std::chrono::milliseconds retry_interval = std::chrono::seconds(1);
};

/// A registrar for ServerConfig::registrar. Throws std::invalid_argument when aliases is
/// empty. One registrar serves one server.
NETREF_API std::shared_ptr<ServerRegistrar> registry_registrar(RegistrarConfig config);

}  // namespace netref
