// Listeners for TCP and Unix-domain sockets: accept() blocks in poll on the listening fd
// and an eventfd, so close() from any thread wakes it without touching the listening fd.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>

#include "netref/stream/socket_stream.hpp"
#include "resolver.hpp"
#include "socket_stream_impl.hpp"

namespace netref {
namespace {

using namespace std::chrono_literals;

// How long accept() waits after running out of descriptors or memory before trying again:
// long enough not to spin on a connection stuck in the backlog, short enough to recover.
constexpr auto kAcceptBackoff = 20ms;

// Errors that concern one pending connection (or a passing shortage), not the listener.
// Linux's accept(2) asks callers to retry the network errors as well. Both classifiers look
// at the errno value alone (accept only reports system errors): comparing categories would
// be a virtual call that UBSan can only verify with a pipe, which fails under EMFILE.
bool retry_at_once(int error) {
  switch (error) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

bool retry_after_backoff(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

// A listening socket, owning listen_fd; tcp: it is TCP (accepted sockets get TCP_NODELAY and
// are named after their peer), not Unix-domain.
class SocketListener final : public Listener {
 public:
  SocketListener(int listen_fd, bool tcp, std::string name, std::uint16_t port)
      : listen_fd_(listen_fd), tcp_(tcp), name_(std::move(name)), port_(port) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
      const int error = errno;
      ::close(listen_fd_);
      throw ConnectError("cannot listen on " + name_ + ": eventfd: " + detail::lower_message(error));
    }
  }

  ~SocketListener() override {
    ::close(listen_fd_);
    ::close(wake_fd_);
  }

  StreamPtr accept() override {
    const int listen_fd = listen_fd_;
    for (;;) {
      if (closed_.load(std::memory_order_acquire)) return nullptr;
      pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
        throw ConnectionClosed("accept failed on " + name_ + ": poll: " + detail::lower_message(errno));
      }
      if (closed_.load(std::memory_order_acquire)) return nullptr;
      // Raw accept4: CLOEXEC on the new fd, and errors classified by errno alone.
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) return make_stream(fd);
      const int error = errno;
      if (retry_at_once(error)) continue;
      if (retry_after_backoff(error)) {
        // Out of descriptors: the connection stays in the backlog and poll would report it
        // again at once. Wait, but let close() cut the wait short.
        (void)detail::poll_fd(wake_fd_, POLLIN, kAcceptBackoff);
        continue;
      }
      if (closed_.load(std::memory_order_acquire)) return nullptr;
      throw ConnectionClosed("accept failed on " + name_ + ": " + detail::lower_message(error));
    }
  }

  void close() noexcept override {
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    // On Linux, shutdown of a listening socket stops listening at once (new connects are
    // refused) while the descriptor stays valid for a thread still polling it.
    ::shutdown(listen_fd_, SHUT_RDWR);
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
  }

  std::uint16_t port() const noexcept override { return port_; }
  std::string local_name() const override { return name_; }

 private:
  // accept4 without SOCK_NONBLOCK gives a blocking socket: reads and writes block.
  StreamPtr make_stream(int fd) {
    std::string peer = name_;
    if (tcp_) {
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // best effort, as before
      detail::SocketAddress remote;
      remote.length = sizeof remote.storage;
      if (::getpeername(fd, reinterpret_cast<sockaddr*>(&remote.storage), &remote.length) == 0) {
        peer = detail::describe(remote);
      }
    }
    return std::make_unique<detail::SocketStream>(fd, std::move(peer), tcp_);
  }

  const int listen_fd_;
  const bool tcp_;
  const std::string name_;
  const std::uint16_t port_;
  int wake_fd_ = -1;
  std::atomic<bool> closed_{false};
};

// A non-blocking listening socket bound to address, or ConnectError naming the step that failed.
int open_listener(const sockaddr* address, socklen_t length, int backlog, bool reuse, const std::string& where) {
  const auto fail = [&](const char* step, int fd) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    throw ConnectError("cannot listen on " + where + ": " + step + ": " + detail::lower_message(error));
  };
  const int fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) fail("socket", fd);
  const int on = 1;
  if (reuse && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) fail("SO_REUSEADDR", fd);
  if (::bind(fd, address, length) != 0) fail("bind", fd);
  if (::listen(fd, backlog) != 0) fail("listen", fd);
  return fd;
}

}  // namespace

std::unique_ptr<Listener> listen_tcp(const std::string& host, std::uint16_t port, int backlog) {
  const std::string where = "tcp " + detail::format_host_port(host, port);
  const auto resolution = detail::resolve_tcp(host.empty() ? "0.0.0.0" : host, port, std::chrono::milliseconds(-1), true);
  if (!resolution.failure.empty()) throw ConnectError("cannot listen on " + where + ": " + resolution.failure);
  const auto& address = resolution.addresses.front();
  const int fd = open_listener(address.get(), address.length, backlog, true, where);
  detail::SocketAddress local;
  local.length = sizeof local.storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local.storage), &local.length) != 0) {
    const int error = errno;
    ::close(fd);
    throw ConnectError("cannot listen on " + where + ": " + detail::lower_message(error));
  }
  const std::uint16_t bound_port =
      ntohs(local.family() == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&local.storage)->sin6_port
                                       : reinterpret_cast<const sockaddr_in*>(&local.storage)->sin_port);
  return std::make_unique<SocketListener>(fd, true, detail::describe(local), bound_port);
}

std::unique_ptr<Listener> listen_unix(const std::string& path, int backlog) {
  const std::string where = "unix " + path;
  const sockaddr_un address = detail::unix_address(path, "listen on");
  // Replace a stale socket left by a dead server, but never delete anything else.
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) ::unlink(path.c_str());
  const int fd = open_listener(reinterpret_cast<const sockaddr*>(&address), sizeof address, backlog, false, where);
  return std::make_unique<SocketListener>(fd, false, where, 0);
}

}  // namespace netref
