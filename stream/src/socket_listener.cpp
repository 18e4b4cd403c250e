// Listeners for TCP and Unix-domain sockets: accept() blocks in poll on the listening fd
// and an eventfd, so close() from any thread wakes it without touching the listening fd.
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <memory>

#include "netref/stream/socket_stream.hpp"
#include "socket_stream_impl.hpp"

namespace netref {
namespace {

using asio::ip::tcp;
using asio::local::stream_protocol;
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

template <class Protocol>
class SocketListener final : public Listener {
 public:
  using acceptor_type = typename Protocol::acceptor;

  SocketListener(acceptor_type acceptor, Protocol protocol, std::string name, std::uint16_t port)
      : acceptor_(std::move(acceptor)), protocol_(protocol), name_(std::move(name)), port_(port) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
      const asio::error_code ec(errno, asio::system_category());
      throw ConnectError("cannot listen on " + name_ + ": eventfd: " + detail::lower_message(ec));
    }
  }

  ~SocketListener() override {
    asio::error_code ignored;
    acceptor_.close(ignored);
    ::close(wake_fd_);
  }

  StreamPtr accept() override {
    const int listen_fd = acceptor_.native_handle();
    for (;;) {
      if (closed_.load(std::memory_order_acquire)) return nullptr;
      pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
        const asio::error_code ec(errno, asio::system_category());
        throw ConnectionClosed("accept failed on " + name_ + ": poll: " + detail::lower_message(ec));
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
      const asio::error_code ec(error, asio::system_category());
      if (closed_.load(std::memory_order_acquire)) return nullptr;
      throw ConnectionClosed("accept failed on " + name_ + ": " + detail::lower_message(ec));
    }
  }

  void close() noexcept override {
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    // On Linux, shutdown of a listening socket stops listening at once (new connects are
    // refused) while the descriptor stays valid for a thread still polling it.
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
  }

  std::uint16_t port() const noexcept override { return port_; }
  std::string local_name() const override { return name_; }

 private:
  StreamPtr make_stream(int fd) {
    typename Protocol::socket socket(detail::socket_context());
    asio::error_code ec;
    socket.assign(protocol_, fd, ec);
    if (ec) {
      ::close(fd);
      throw ConnectionClosed("accept failed on " + name_ + ": " + detail::lower_message(ec));
    }
    // accept4 without SOCK_NONBLOCK gives a blocking socket: reads and writes block.
    std::string peer = name_;
    if constexpr (std::is_same_v<Protocol, tcp>) {
      socket.set_option(tcp::no_delay(true), ec);
      const auto remote = socket.remote_endpoint(ec);
      if (!ec) peer = detail::describe(remote);
    }
    return std::make_unique<detail::SocketStream<Protocol>>(std::move(socket), std::move(peer));
  }

  acceptor_type acceptor_;
  const Protocol protocol_;  // of accepted sockets (tcp v4 or v6)
  const std::string name_;
  const std::uint16_t port_;
  int wake_fd_ = -1;
  std::atomic<bool> closed_{false};
};

template <class Protocol>
void open_acceptor(typename Protocol::acceptor& acceptor,
                   const typename Protocol::endpoint& endpoint, int backlog, bool reuse,
                   const std::string& where) {
  asio::error_code ec;
  const auto fail = [&](const char* step) {
    throw ConnectError("cannot listen on " + where + ": " + step + ": " +
                       detail::lower_message(ec));
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("socket");
  if (reuse) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) fail("SO_REUSEADDR");
  }
  acceptor.bind(endpoint, ec);
  if (ec) fail("bind");
  acceptor.listen(backlog, ec);
  if (ec) fail("listen");
  acceptor.non_blocking(true, ec);
  if (ec) fail("O_NONBLOCK");
}

}  // namespace

std::unique_ptr<Listener> listen_tcp(const std::string& host, std::uint16_t port, int backlog) {
  const std::string where = "tcp " + detail::format_host_port(host, port);
  asio::error_code ec;
  tcp::resolver resolver(detail::socket_context());
  const auto results = resolver.resolve(host.empty() ? "0.0.0.0" : host, std::to_string(port),
                                        tcp::resolver::passive | tcp::resolver::numeric_service,
                                        ec);
  if (ec || results.empty()) {
    throw ConnectError("cannot listen on " + where + ": name resolution failed (" +
                       (ec ? detail::lower_message(ec) : std::string("no addresses")) + ")");
  }
  tcp::acceptor acceptor(detail::socket_context());
  open_acceptor<tcp>(acceptor, results.begin()->endpoint(), backlog, true, where);
  const auto local = acceptor.local_endpoint(ec);
  if (ec) throw ConnectError("cannot listen on " + where + ": " + detail::lower_message(ec));
  return std::make_unique<SocketListener<tcp>>(std::move(acceptor), local.protocol(),
                                               detail::describe(local), local.port());
}

std::unique_ptr<Listener> listen_unix(const std::string& path, int backlog) {
  const std::string where = "unix " + path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
    throw ConnectError("cannot listen on " + where + ": path of " +
                       std::to_string(path.size()) + " bytes does not fit a socket address");
  }
  // Replace a stale socket left by a dead server, but never delete anything else.
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) ::unlink(path.c_str());
  stream_protocol::acceptor acceptor(detail::socket_context());
  open_acceptor<stream_protocol>(acceptor, stream_protocol::endpoint(path), backlog, false,
                                 where);
  return std::make_unique<SocketListener<stream_protocol>>(std::move(acceptor),
                                                           stream_protocol(), where, 0);
}

}  // namespace netref
