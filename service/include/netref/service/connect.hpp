#pragma once
/// Opening client connections (the protocol-level handle; proxy/'s netref::connect wraps it).
#include "netref/export.hpp"
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
struct NETREF_API ClientConfig {
  ConnectionConfig connection;   ///< generation (unset: found out at connect), limits
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
/// With config.connection.generation unset it speaks 6.x first and, if the server answers
/// in 5.x (Python rpyc 5.x), connects again speaking 5.x; a generation set explicitly that
/// the server does not speak throws GenerationMismatch, which names the fix.
NETREF_API ConnectionPtr open_connection(const std::string& host, std::uint16_t port, const ClientConfig& config = {});
/// Connects over a Unix-domain socket.
NETREF_API ConnectionPtr open_unix_connection(const std::string& path, const ClientConfig& config = {});
/// Runs the protocol over an already connected stream (it cannot connect again: a server
/// answering in the other generation throws GenerationMismatch).
NETREF_API ConnectionPtr open_stream_connection(StreamPtr stream, const ClientConfig& config = {});

}  // namespace netref
