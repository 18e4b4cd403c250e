#pragma once
/// Client: what netref::connect returns. Owns a share of the connection.
#include "netref/export.hpp"
#include <cstdint>
#include <string>

#include "netref/proxy/proxy.hpp"
#include "netref/service/connect.hpp"

namespace netref {

/// A client's connection. Cheap to copy; the connection closes when close() is called or when
/// the last Client and the last netref of it are gone.
class NETREF_API Client {
 public:
  explicit Client(ConnectionPtr conn) : conn_(std::move(conn)) {}

  /// Itself, so `conn->root()` reads like RPyC's `conn.root`.
  const Client* operator->() const noexcept { return this; }

  /// The server's root object (one GETROOT the first time).
  Proxy root() const { return Proxy(Value(conn_->root())); }
  /// The protocol-level connection (serve, ping, stats, close...).
  Connection& connection() const noexcept { return *conn_; }
  const ConnectionPtr& connection_ptr() const noexcept { return conn_; }
  /// Serves incoming requests and replies for up to timeout; true if one was served.
  bool serve(std::chrono::milliseconds timeout = std::chrono::seconds(1)) const { return conn_->serve(timeout); }
  void ping() const { conn_->ping(); }
  void close() const noexcept { conn_->close(); }
  bool closed() const noexcept { return conn_->closed(); }

 private:
  ConnectionPtr conn_;
};

/// Connects to a netref or rpyc server over TCP, or over TLS when config.tls is set. The rpyc
/// generation the server speaks (5.x or 6.x) is found out unless config.connection.generation
/// says it. Throws ConnectError naming the address (and, for TLS, why the handshake failed).
NETREF_API Client connect(const std::string& host, std::uint16_t port, const ClientConfig& config = {});
/// Connects over a Unix-domain socket.
NETREF_API Client connect_unix(const std::string& path, const ClientConfig& config = {});

}  // namespace netref
