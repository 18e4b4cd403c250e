#pragma once
// Helpers for the discovery tests: raw loopback sockets for hostile peers, and waiting on a
// condition with a deadline (never a fixed sleep).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "netref/discovery/discovery.hpp"

namespace netref::test {

/// Polls condition every 10 ms until it holds or timeout passes; its last answer.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

inline sockaddr_in loopback(std::uint16_t port, const char* host = "127.0.0.1") {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, host, &a.sin_addr);
  return a;
}

/// A socket of ours, closed at scope end.
struct RawSocket {
  int fd;
  explicit RawSocket(int type, const char* bind_host = nullptr) : fd(::socket(AF_INET, type, 0)) {
    if (fd < 0) throw std::runtime_error("socket failed");
    if (bind_host) {
      const auto a = loopback(0, bind_host);
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind failed");
    }
  }
  ~RawSocket() { ::close(fd); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  std::uint16_t port() const {
    sockaddr_in a{};
    socklen_t size = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size);
    return ntohs(a.sin_port);
  }
  void send_to(std::uint16_t port, const std::vector<std::uint8_t>& data) const {
    const auto a = loopback(port);
    ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  }
  bool connect_to(std::uint16_t port) const {
    const auto a = loopback(port);
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  }
};

/// A registry on a free loopback port, serving in the background.
inline RegistryServerConfig lab_registry(RegistryTransport transport) {
  RegistryServerConfig config;
  config.transport = transport;
  config.host = "127.0.0.1";
  config.port = 0;
  return config;
}

inline RegistryConfig registry_at(RegistryTransport transport, std::uint16_t port,
                                  std::chrono::milliseconds timeout = std::chrono::milliseconds(1000)) {
  RegistryConfig config;
  config.transport = transport;
  config.host = "127.0.0.1";
  config.port = port;
  config.timeout = timeout;
  return config;
}

}  // namespace netref::test
