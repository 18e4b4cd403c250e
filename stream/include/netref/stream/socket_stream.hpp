#pragma once
/// TCP and Unix-domain socket streams, and the listeners that accept them.
#include "netref/export.hpp"
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "netref/stream/stream.hpp"

namespace netref {

/// Connects over TCP (TCP_NODELAY on). host may be a name, an IPv4 or an IPv6 literal.
/// Throws ConnectError naming "host:port" on refusal, unreachable host, resolve failure or
/// connect timeout (a negative timeout waits as long as the OS does).
NETREF_API StreamPtr connect_tcp(const std::string& host, std::uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Connects to a Unix-domain stream socket at path. Throws ConnectError naming the path.
NETREF_API StreamPtr connect_unix(const std::string& path);

/// A listening socket (TCP or Unix). accept() blocks; close() from another thread wakes it.
class NETREF_API Listener {
 public:
  virtual ~Listener() = default;
  /// Waits for the next connection; returns nullptr once close() was called. Transient
  /// errors (EMFILE, ECONNABORTED) are retried after a short back-off, never thrown.
  virtual StreamPtr accept() = 0;
  /// Stops accepting; idempotent, thread-safe, wakes a blocked accept().
  virtual void close() noexcept = 0;
  /// The bound port (TCP; 0 for Unix sockets): bind port 0 and ask.
  virtual std::uint16_t port() const noexcept = 0;
  /// "tcp 127.0.0.1:18861" or "unix /path".
  virtual std::string local_name() const = 0;
};

/// Binds and listens on host:port (SO_REUSEADDR on; port 0 picks a free port).
/// Throws ConnectError naming the address when the bind fails.
NETREF_API std::unique_ptr<Listener> listen_tcp(const std::string& host, std::uint16_t port, int backlog = 4096);

/// Binds and listens on a Unix-domain socket path (an existing socket file is replaced).
NETREF_API std::unique_ptr<Listener> listen_unix(const std::string& path, int backlog = 4096);

}  // namespace netref
