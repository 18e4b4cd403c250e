// Connecting TCP and Unix-domain socket streams, and the helpers the listeners share.
#include "netref/stream/socket_stream.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <memory>

#include "socket_stream_impl.hpp"

namespace netref {
namespace detail {

asio::io_context& socket_context() {
  static auto* context = new asio::io_context(1);
  return *context;
}

std::string format_host_port(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string describe(const asio::ip::tcp::endpoint& endpoint) {
  return "tcp " + format_host_port(endpoint.address().to_string(), endpoint.port());
}

std::string lower_message(const asio::error_code& ec) {
  // errno text without a virtual call: under EMFILE, UBSan cannot verify a vptr (its check
  // needs a pipe), and this runs exactly when descriptors have run out.
  std::string message;
  if (ec.category() == asio::system_category()) {
    char buffer[256];
    message = ::strerror_r(ec.value(), buffer, sizeof buffer);  // GNU form: returns the text
  } else {
    message = ec.message();
  }
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

using asio::ip::tcp;
using namespace std::chrono_literals;

// Starts a non-blocking connect and waits for it up to the deadline. asio's own sync
// connect ignores non-blocking mode and waits as long as the OS does, hence the raw call.
asio::error_code connect_with_deadline(tcp::socket& socket, const tcp::endpoint& endpoint,
                                       std::chrono::milliseconds timeout) {
  asio::error_code ec;
  socket.open(endpoint.protocol(), ec);
  if (ec) return ec;
  socket.non_blocking(true, ec);
  if (ec) return ec;
  const int fd = socket.native_handle();
  if (::connect(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) {
      return asio::error_code(errno, asio::system_category());
    }
    const int revents = detail::poll_fd(fd, POLLOUT, timeout);
    if (revents == 0) return asio::error::timed_out;
    if (revents < 0) return asio::error_code(errno, asio::system_category());
    int so_error = 0;
    socklen_t length = sizeof so_error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length) != 0) {
      return asio::error_code(errno, asio::system_category());
    }
    if (so_error != 0) return asio::error_code(so_error, asio::system_category());
  }
  socket.non_blocking(false, ec);
  if (ec) return ec;
  socket.set_option(tcp::no_delay(true), ec);
  return ec;
}

std::string connect_reason(const asio::error_code& ec, std::chrono::milliseconds timeout) {
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::timed_out) {
    return "timed out after " + std::to_string(timeout.count()) + " ms";
  }
  return detail::lower_message(ec);
}

}  // namespace

StreamPtr connect_tcp(const std::string& host, std::uint16_t port,
                      std::chrono::milliseconds timeout) {
  const std::string where = detail::format_host_port(host, port);
  asio::error_code ec;
  tcp::resolver resolver(detail::socket_context());
  // TODO(perf): getaddrinfo cannot be interrupted, so the timeout does not cover resolving.
  const auto results =
      resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    throw ConnectError("cannot connect to " + where + ": name resolution failed (" +
                       (ec ? detail::lower_message(ec) : std::string("no addresses")) + ")");
  }
  using clock = std::chrono::steady_clock;
  const bool forever = timeout.count() < 0;
  const auto deadline = clock::now() + (forever ? 0ms : timeout);
  asio::error_code last;
  for (const auto& entry : results) {
    auto left = -1ms;
    if (!forever) {
      left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      if (left <= 0ms) {
        last = asio::error::timed_out;
        break;
      }
    }
    tcp::socket socket(detail::socket_context());
    last = connect_with_deadline(socket, entry.endpoint(), left);
    if (!last) {
      auto name = detail::describe(entry.endpoint());
      return std::make_unique<detail::SocketStream<tcp>>(std::move(socket), std::move(name));
    }
    if (last == asio::error::timed_out) break;
  }
  throw ConnectError("cannot connect to " + where + ": " + connect_reason(last, timeout));
}

StreamPtr connect_unix(const std::string& path) {
  using asio::local::stream_protocol;
  const std::string where = "unix " + path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw ConnectError("cannot connect to " + where + ": path of " +
                       std::to_string(path.size()) + " bytes does not fit a socket address");
  }
  stream_protocol::socket socket(detail::socket_context());
  asio::error_code ec;
  socket.connect(stream_protocol::endpoint(path), ec);
  if (ec) throw ConnectError("cannot connect to " + where + ": " + detail::lower_message(ec));
  return std::make_unique<detail::SocketStream<stream_protocol>>(std::move(socket), where);
}

}  // namespace netref
