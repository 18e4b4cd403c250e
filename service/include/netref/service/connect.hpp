#pragma once
/// Opening client connections (the protocol-level handle; proxy/'s netref::connect wraps it).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "netref/channel/channel.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/service/service.hpp"
#include "netref/stream/tls.hpp"

namespace netref {


/// How a client connects.
struct ClientConfig {
  ConnectionConfig connection;   ///< generation (v6 default; v5 for Debian's rpyc 5.3), limits
  ChannelConfig channel;
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  /// Connect over TLS with this client context (TlsContext::client): whom to trust and, for
  /// mutual TLS, who we are. The server's chain and host name are verified unless the
  /// context says insecure. connect_timeout covers the handshake too.
  std::optional<TlsContext> tls;
  /// Offer netref's extensions at connect (one round trip; a plain rpyc peer declines).
  bool negotiate_extensions = true;
  /// What this side exposes to the server (callbacks by name); none: nothing. A Service is a
  /// handle: the connection shares it, so the original may go first.
  std::optional<Service> service;
  // Registered exception types (Registry::register_exception) come from service's Registry
  // unless connection.exceptions names others: `config.connection.exceptions = types.exceptions();`
};

/// Connects over TCP (TLS when config.tls is set). Throws ConnectError naming the address.
ConnectionPtr open_connection(const std::string& host, std::uint16_t port, const ClientConfig& config = {});
/// Connects over a Unix-domain socket.
ConnectionPtr open_unix_connection(const std::string& path, const ClientConfig& config = {});
/// Runs the protocol over an already connected stream.
ConnectionPtr open_stream_connection(StreamPtr stream, const ClientConfig& config = {});

}  // namespace netref
