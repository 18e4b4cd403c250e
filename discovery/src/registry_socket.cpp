#include "registry_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace netref::detail {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

[[noreturn]] void unreachable(const RegistryConfig& config, const std::string& why) {
  throw RegistryUnreachable("registry " + to_string(config) + " unreachable: " + why);
}

int milliseconds_until(RegistryClock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - RegistryClock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

// Waits for events on fd until deadline; false at the deadline.
bool wait_for(int fd, short events, RegistryClock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, milliseconds_until(deadline));
    if (n > 0) return true;
    if (n == 0) {
      if (RegistryClock::now() >= deadline) return false;
      continue;
    }
    if (errno != EINTR) return false;
  }
}

void bind_local(int fd, const RegistryConfig& config) {
  if (config.local_host.empty()) return;
  sockaddr_in local = resolve_ipv4(config.local_host, 0);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    unreachable(config, "cannot send from " + config.local_host + ": " + errno_text(errno));
  }
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

sockaddr_in resolve_ipv4(const std::string& host, std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (host.empty()) return address;  // INADDR_ANY
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) == 1) return address;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || !found) {
    throw RegistryUnreachable("cannot resolve the registry host " + host + ": " + ::gai_strerror(rc));
  }
  address.sin_addr = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
  ::freeaddrinfo(found);
  return address;
}

std::string ipv4_text(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
  return text;
}

bool is_broadcast(const std::string& host) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = host.find('.', start);
    if (host.substr(start, dot - start) == "255") return true;
    if (dot == std::string::npos) return false;
    start = dot + 1;
  }
}

UdpExchange::UdpExchange(const RegistryConfig& config)
    : config_(config), registry_(resolve_ipv4(config.host, config.port)), broadcast_(is_broadcast(config.host)),
      fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
  if (fd_.get() < 0) unreachable(config, "cannot open a UDP socket: " + errno_text(errno));
  bind_local(fd_.get(), config);
  if (broadcast_) {
    const int on = 1;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_BROADCAST, &on, sizeof on);
  } else if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&registry_), sizeof registry_) != 0) {
    // Connected: the kernel drops datagrams from anyone but the registry, and reports a
    // refusal (ICMP port unreachable) instead of leaving us to time out.
    unreachable(config, errno_text(errno));
  }
}

void UdpExchange::send(const WireBytes& request) {
  const ssize_t sent = ::sendto(fd_.get(), request.data(), request.size(), MSG_NOSIGNAL,
                                broadcast_ ? reinterpret_cast<const sockaddr*>(&registry_) : nullptr,
                                broadcast_ ? sizeof registry_ : 0);
  if (sent < 0) unreachable(config_, errno_text(errno));
}

std::optional<WireBytes> UdpExchange::receive(RegistryClock::time_point deadline, std::size_t max_bytes) {
  for (;;) {
    if (!wait_for(fd_.get(), POLLIN, deadline)) return std::nullopt;
    WireBytes data(max_bytes);
    sockaddr_in from{};
    socklen_t from_size = sizeof from;
    const ssize_t n = ::recvfrom(fd_.get(), data.data(), data.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &from_size);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (errno == ECONNREFUSED) unreachable(config_, "nothing listens on UDP port " + std::to_string(config_.port));
      unreachable(config_, errno_text(errno));
    }
    if (broadcast_ && ntohs(from.sin_port) != config_.port) continue;  // as rpyc: only the registry's port
    data.resize(static_cast<std::size_t>(n));
    return data;
  }
}

WireBytes tcp_exchange(const RegistryConfig& config, const WireBytes& request, bool want_reply,
                   RegistryClock::time_point deadline, std::size_t max_bytes) {
  const sockaddr_in registry = resolve_ipv4(config.host, config.port);
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) unreachable(config, "cannot open a TCP socket: " + errno_text(errno));
  bind_local(fd.get(), config);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&registry), sizeof registry) != 0) {
    if (errno != EINPROGRESS) unreachable(config, errno_text(errno));
    if (!wait_for(fd.get(), POLLOUT, deadline)) unreachable(config, "connecting timed out");
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) unreachable(config, errno_text(error));
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd.get(), POLLOUT, deadline)) unreachable(config, "sending the request timed out");
    } else {
      unreachable(config, "sending the request failed: " + errno_text(errno));
    }
  }
  WireBytes reply;
  if (!want_reply) return reply;
  // rpyc's registry sends its reply and closes: the reply is everything up to the close.
  for (;;) {
    if (!wait_for(fd.get(), POLLIN, deadline)) {
      throw RegistryUnreachable("registry " + to_string(config) + " did not answer within " +
                                std::to_string(config.timeout.count()) + " ms");
    }
    std::uint8_t buffer[2048];
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n == 0) return reply;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (!reply.empty()) return reply;  // a reset after the reply: rpyc closes without reading on
      unreachable(config, "the connection failed: " + errno_text(errno));
    }
    reply.insert(reply.end(), buffer, buffer + n);
    if (reply.size() > max_bytes) {
      throw RegistryReplyError("the registry at " + to_string(config) + " sent a reply of more than " +
                               std::to_string(max_bytes) + " bytes");
    }
  }
}

}  // namespace netref::detail
