// Connecting TCP and Unix-domain socket streams, and the helpers the listeners share.
#include "netref/stream/socket_stream.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <memory>

#include "resolver.hpp"
#include "socket_stream_impl.hpp"

namespace netref {
namespace detail {

std::string format_host_port(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

sockaddr_un unix_address(const std::string& path, const char* action) {
  sockaddr_un address{};
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    throw ConnectError(std::string("cannot ") + action + " unix " + path + ": path of " + std::to_string(path.size()) +
                       " bytes does not fit a socket address");
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

std::string lower_message(int error) {
  char buffer[256];
  std::string message = ::strerror_r(error, buffer, sizeof buffer);  // GNU form: returns the text
  if (!message.empty()) {
    message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  }
  return message;
}

int poll_fd(int fd, short events, std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  const bool forever = timeout.count() < 0;
  const auto deadline = forever ? clock::time_point::max() : clock::now() + timeout;
  for (;;) {
    int wait_ms = -1;
    if (!forever) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
    }
    pollfd entry{fd, events, 0};
    const int rc = ::poll(&entry, 1, wait_ms);
    if (rc > 0) return entry.revents;
    if (rc == 0) {
      if (forever || clock::now() >= deadline) return 0;
      continue;  // woke early (clock granularity): wait out the rest
    }
    if (errno != EINTR) return -1;
  }
}

}  // namespace detail

namespace {

using namespace std::chrono_literals;

// A connected TCP socket, or an errno value (ETIMEDOUT when the deadline passed first).
struct Attempt {
  int fd = -1;
  int error = 0;
};

// Starts a non-blocking connect and waits for it up to the timeout (negative: as long as the
// kernel tries).
Attempt connect_with_deadline(const detail::SocketAddress& address, std::chrono::milliseconds timeout) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
  if (fd < 0) return {-1, errno};
  const auto fail = [fd](int error) {
    ::close(fd);
    return Attempt{-1, error};
  };
  if (::connect(fd, address.get(), address.length) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) return fail(errno);
    const int revents = detail::poll_fd(fd, POLLOUT, timeout);
    if (revents == 0) return fail(ETIMEDOUT);
    if (revents < 0) return fail(errno);
    int so_error = 0;
    socklen_t length = sizeof so_error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length) != 0) return fail(errno);
    if (so_error != 0) return fail(so_error);
  }
  const int on = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) return fail(errno);
  return {fd, 0};  // SocketStream makes it blocking
}

std::string connect_reason(int error, std::chrono::milliseconds timeout) {
  if (error == ECONNREFUSED) return "connection refused";
  if (error == ETIMEDOUT) return "timed out after " + std::to_string(timeout.count()) + " ms";
  return detail::lower_message(error);
}

}  // namespace

StreamPtr connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  using clock = std::chrono::steady_clock;
  const std::string where = detail::format_host_port(host, port);
  const bool forever = timeout.count() < 0;
  const auto deadline = clock::now() + (forever ? 0ms : timeout);
  // The timeout covers the name's lookup as well as the connects.
  const auto resolution = detail::resolve_tcp(host, port, timeout);
  if (!resolution.failure.empty()) throw ConnectError("cannot connect to " + where + ": " + resolution.failure);
  int last = ETIMEDOUT;
  for (const auto& address : resolution.addresses) {
    auto left = -1ms;
    if (!forever) {
      left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      if (left <= 0ms) {
        last = ETIMEDOUT;
        break;
      }
    }
    const Attempt attempt = connect_with_deadline(address, left);
    if (attempt.fd >= 0) return std::make_unique<detail::SocketStream>(attempt.fd, detail::describe(address), true);
    last = attempt.error;
    if (last == ETIMEDOUT) break;
  }
  throw ConnectError("cannot connect to " + where + ": " + connect_reason(last, timeout));
}

StreamPtr connect_unix(const std::string& path) {
  const std::string where = "unix " + path;
  const sockaddr_un address = detail::unix_address(path, "connect to");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ConnectError("cannot connect to " + where + ": " + detail::lower_message(errno));
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int error = errno;
    ::close(fd);
    throw ConnectError("cannot connect to " + where + ": " + detail::lower_message(error));
  }
  return std::make_unique<detail::SocketStream>(fd, where, false);
}

}  // namespace netref
