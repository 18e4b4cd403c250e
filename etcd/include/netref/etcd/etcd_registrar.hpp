#pragma once
/// Registration in etcd: while a server serves, its address is kept under
/// `netref/services/<NAME>/<host:port>` with a lease, in etcd's endpoint JSON (what
/// gRPC-go's etcd resolver reads): {"Op":0,"Addr":"host:port","Metadata":...}. Plug it into
/// ServerConfig::registrar:
///
///   netref::ServerConfig config;
///   config.registrar = netref::etcd_registrar({.names = {"CALCULATOR"},
///                                              .etcd = {.endpoints = {"http://10.0.0.5:2379"}}});
///   netref::ThreadPoolServer server(service, config);
///
/// At start a lease of ttl is granted and the keys put with it; the lease is renewed every
/// third of its TTL; a lease etcd no longer has is granted again and the keys put back; stop()
/// revokes it (removing the keys). All on the registrar's thread: the server serves whether
/// or not etcd is up, and registers when etcd comes.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netref/export.hpp"
#include "netref/etcd/etcd_client.hpp"
#include "netref/service/server.hpp"

namespace netref {

struct EtcdRegistrarConfig {
  /// The names clients find the server by; upper-cased (ASCII), as the RPyC registry does, so
  /// lookups match in any case. At least one; no '/'.
  std::vector<std::string> names;
  EtcdConfig etcd;
  /// The lease's TTL: how long etcd keeps the keys of a server that stopped renewing.
  std::chrono::seconds ttl = std::chrono::seconds(10);
  /// The host to publish; empty: ServerConfig::host, or this machine's name when the server
  /// binds a wildcard (0.0.0.0).
  std::string advertised_host;
  /// The port to publish; 0: the port the server bound.
  std::uint16_t advertised_port = 0;
  /// JSON published as the endpoint's Metadata; empty: null. Checked at construction.
  std::string metadata_json;
  /// After a failed registration, try again this much later; after a failed renewal, this
  /// or a third of the TTL, whichever is shorter.
  std::chrono::milliseconds retry_interval = std::chrono::seconds(1);
};

/// A registrar for ServerConfig::registrar. Throws std::invalid_argument for no names, a
/// name with '/' or empty, or metadata that is not JSON. One registrar serves one server.
NETREF_API std::shared_ptr<ServerRegistrar> etcd_registrar(EtcdRegistrarConfig config);

/// Where a server of name at address is kept: `"netref/services/<NAME>/<host:port>"`.
NETREF_API std::string etcd_service_key(std::string_view name, std::string_view address);
/// The prefix of every server of name: `"netref/services/<NAME>/"`.
NETREF_API std::string etcd_service_prefix(std::string_view name);

}  // namespace netref
