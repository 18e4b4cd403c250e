#pragma once
// The client side's sockets: one UDP exchange or one TCP connection per request, each bounded
// by a deadline. POSIX sockets and poll(): a registry request is one small message each way.
#include <netinet/in.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "netref/discovery/detail/registry_wire.hpp"

namespace netref::detail {

using RegistryClock = std::chrono::steady_clock;

/// Owns a file descriptor; closes it once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

/// host (a name or IPv4 text) and port as an IPv4 address. Throws RegistryUnreachable when
/// the name does not resolve.
sockaddr_in resolve_ipv4(const std::string& host, std::uint16_t port);
/// The text of an IPv4 address ("127.0.0.1").
std::string ipv4_text(const sockaddr_in& address);

/// True when rpyc would broadcast to host: a UDP address with a "255" part.
bool is_broadcast(const std::string& host);

/// One UDP request: a socket bound to config.local_host (if set), connected to the registry
/// unless broadcasting (then replies are taken from any host, from the registry's port only).
class UdpExchange {
 public:
  explicit UdpExchange(const RegistryConfig& config);
  void send(const WireBytes& request);
  /// The next datagram (up to max_bytes) before deadline; nullopt at the deadline. Throws
  /// RegistryUnreachable when the registry's host refused it (no one listens on the port).
  std::optional<WireBytes> receive(RegistryClock::time_point deadline, std::size_t max_bytes);

 private:
  const RegistryConfig& config_;
  sockaddr_in registry_{};
  bool broadcast_ = false;
  Fd fd_;
};

/// One TCP request: connects (before deadline), sends request, then, when want_reply, reads
/// until the registry closes (at most max_bytes). Throws RegistryUnreachable when the
/// connection fails or the deadline passes.
WireBytes tcp_exchange(const RegistryConfig& config, const WireBytes& request, bool want_reply,
                   RegistryClock::time_point deadline, std::size_t max_bytes);

}  // namespace netref::detail
