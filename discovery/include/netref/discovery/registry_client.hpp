#pragma once
/// A client of RPyC's registry (rpyc/utils/registry.py), byte for byte: what a server uses to
/// register its names and a client to find the servers of a name. Works against Python's
/// rpyc_registry (5.x and 6.x) and netref_registry alike.
///
/// Each request is one brine tuple ("RPYC", COMMAND, args), sent in one UDP datagram or over
/// one TCP connection (the reply is the rest of that connection). The registry records the
/// request's source address as the server's host.
#include "netref/export.hpp"
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netref/discovery/errors.hpp"

namespace netref {

/// rpyc's REGISTRY_PORT.
inline constexpr std::uint16_t default_registry_port = 18811;

enum class RegistryTransport { udp, tcp };

/// Which registry to ask, and how long to wait for it.
struct NETREF_API RegistryConfig {
  RegistryTransport transport = RegistryTransport::udp;
  /// The registry's address (IPv4 or a name). A UDP address with a "255" part is a
  /// broadcast, as in rpyc (any registry on the network may answer); rpyc's default.
  std::string host = "255.255.255.255";
  std::uint16_t port = default_registry_port;
  /// Each request waits this long for its reply (rpyc's timeout=2).
  std::chrono::milliseconds timeout = std::chrono::seconds(2);
  /// Send from this local address (rpyc's `interface`): the registry records the source as
  /// the server's host, so a server bound to one address registers that one. Empty: the
  /// system picks.
  std::string local_host;
};

/// A server of a service: where the registry says it listens.
struct NETREF_API ServiceAddress {
  std::string host;
  std::uint16_t port = 0;
  friend bool operator==(const ServiceAddress&, const ServiceAddress&) = default;
  friend auto operator<=>(const ServiceAddress&, const ServiceAddress&) = default;
};

/// "udp://host:port" or "tcp://host:port", for messages and logs.
NETREF_API std::string to_string(const RegistryConfig& registry);

/// Talks to one registry. Each call is one request; the client keeps no socket between
/// calls, so it is cheap to copy and safe to use from several threads at once.
class NETREF_API RegistryClient {
 public:
  explicit RegistryClient(RegistryConfig config = {});

  /// REGISTER: aliases (upper-cased by the registry) served at port, from this host. Returns
  /// when the registry acknowledged with "OK". Throws RegistryUnreachable (no acknowledgement
  /// within the timeout) or RegistryReplyError.
  void register_service(const std::vector<std::string>& aliases, std::uint16_t port) const;
  /// UNREGISTER every name this host registered at port. Fire and forget, as in rpyc: the
  /// registry does not acknowledge. Throws RegistryUnreachable only when the request could
  /// not be sent (a TCP registry refused the connection).
  void unregister_service(std::uint16_t port) const;
  /// QUERY: the servers registered under name (any case), oldest registration first; empty
  /// when none. Throws RegistryUnreachable or RegistryReplyError.
  std::vector<ServiceAddress> query(const std::string& name) const;
  /// LIST: the names registered, or only those with a server on filter_host. Throws
  /// ListingForbidden when the registry does not allow listing, RegistryUnreachable,
  /// RegistryReplyError.
  std::vector<std::string> list(const std::optional<std::string>& filter_host = std::nullopt) const;

  const RegistryConfig& config() const noexcept { return config_; }

 private:
  RegistryConfig config_;
};

}  // namespace netref
