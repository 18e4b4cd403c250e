#pragma once
// Name resolution within a connect timeout. getaddrinfo cannot be interrupted, so a name is
// looked up on a thread of its own and the caller waits for it no longer than its timeout; a
// lookup still running then is left to finish on that thread, which frees its answer unread.
// An IP literal never waits: it is converted on the caller's thread.
// Private to stream/src.
#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace netref::detail {

/// One address to connect to or listen on, as getaddrinfo gave it.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const noexcept { return storage.ss_family; }
};

/// getaddrinfo's signature: the lookup resolve_tcp runs (tests pass one that hangs).
using Lookup = int (*)(const char* host, const char* service, const addrinfo* hints, addrinfo** result);

/// What resolve_tcp found: the addresses in getaddrinfo's order, or why there are none.
struct Resolution {
  std::vector<SocketAddress> addresses;
  std::string failure;  // "name resolution failed (...)" or "name resolution timed out after N ms"
};

/// The TCP addresses of host:port; passive: for a listener (an empty host is then every
/// interface). A name is looked up for at most timeout (negative: as long as getaddrinfo
/// takes). Thread-safe; never throws for a lookup that fails, only for memory.
Resolution resolve_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                       bool passive = false, Lookup lookup = ::getaddrinfo);

/// Lookups still running on their threads, the abandoned ones included (for tests and stats).
std::size_t lookups_running() noexcept;

/// "tcp 127.0.0.1:80" or "tcp [::1]:80".
std::string describe(const SocketAddress& address);

}  // namespace netref::detail
