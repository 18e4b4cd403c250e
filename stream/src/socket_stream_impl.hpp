#pragma once
// SocketStream: the Stream over a connected blocking Asio socket (TCP or Unix), shared by
// the connect functions (socket_stream.cpp) and the listeners (socket_listener.cpp).
// Private to stream/src: Asio never leaks into public headers.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <asio.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "netref/stream/error.hpp"
#include "netref/stream/stream.hpp"

namespace netref::detail {

/// The io_context every socket is registered with. Blocking sockets never run it; it only
/// has to outlive them, so it is leaked on purpose (no static destruction order problem).
asio::io_context& socket_context();

/// "127.0.0.1:80" or "[::1]:80".
std::string format_host_port(const std::string& host, std::uint16_t port);

/// "tcp 127.0.0.1:80" for a TCP endpoint.
std::string describe(const asio::ip::tcp::endpoint& endpoint);

/// An error_code's message with its first letter in lower case, for "...: connection refused".
std::string lower_message(const asio::error_code& ec);

/// Waits for events on one fd, retrying on EINTR with the remaining time; a negative timeout
/// waits forever. Returns the revents (0 on timeout), or -1 with errno set.
int poll_fd(int fd, short events, std::chrono::milliseconds timeout);

/// A connected socket in blocking mode. One reader and one writer may run concurrently:
/// both only read socket_'s descriptor and state, never change them. close() touches only
/// the fd (shutdown) and the flag, so it is safe from any thread; the fd itself is closed
/// by the destructor, when nobody can be blocked on it any more.
template <class Protocol>
class SocketStream final : public Stream {
 public:
  using socket_type = typename Protocol::socket;

  SocketStream(socket_type socket, std::string name)
      : socket_(std::move(socket)), fd_(socket_.native_handle()), name_(std::move(name)) {}

  ~SocketStream() override {
    asio::error_code ignored;
    socket_.close(ignored);
  }

  void read_exact(std::span<std::uint8_t> buffer) override {
    std::size_t done = 0;
    while (done < buffer.size()) {
      if (closed()) throw_closed_locally();
      asio::error_code ec;
      const std::size_t n =
          socket_.read_some(asio::buffer(buffer.data() + done, buffer.size() - done), ec);
      done += n;
      if (!ec) continue;
      if (ec == asio::error::interrupted || ec == asio::error::would_block) continue;
      throw_failure("read", ec);
    }
  }

  void write_all(std::span<const std::span<const std::uint8_t>> pieces) override {
    if (closed()) throw_closed_locally();
    // A channel frame is 3 pieces: a fixed array keeps the hot path free of allocation.
    constexpr std::size_t kInline = 8;
    if (pieces.size() <= kInline) {
      std::array<asio::const_buffer, kInline> buffers;
      for (std::size_t i = 0; i < pieces.size(); ++i)
        buffers[i] = asio::const_buffer(pieces[i].data(), pieces[i].size());
      write_buffers(std::span<asio::const_buffer>(buffers.data(), pieces.size()));
    } else {
      std::vector<asio::const_buffer> buffers;
      buffers.reserve(pieces.size());
      for (const auto& piece : pieces) buffers.emplace_back(piece.data(), piece.size());
      write_buffers(buffers);
    }
  }

  bool poll(std::chrono::milliseconds timeout) override {
    if (closed()) throw_closed_locally();
    const int revents = poll_fd(fd_, POLLIN, timeout);
    if (closed()) throw_closed_locally();
    if (revents < 0) {
      throw ConnectionClosed("poll failed on " + name_ + ": " +
                             lower_message(asio::error_code(errno, asio::system_category())));
    }
    return revents != 0;
  }

  void close() noexcept override {
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    // shutdown wakes a thread blocked in recv, send or poll on this fd; closing the fd here
    // would not, and would let the number be reused under that thread's feet.
    ::shutdown(fd_, SHUT_RDWR);
  }

  bool closed() const noexcept override { return closed_.load(std::memory_order_acquire); }
  std::string peer_name() const override { return name_; }
  int native_handle() const noexcept override { return fd_; }

 private:
  // Writes every byte of buffers; advances through them itself so EINTR can resume.
  void write_buffers(std::span<asio::const_buffer> buffers) {
    std::size_t first = 0;
    while (first < buffers.size() && buffers[first].size() == 0) ++first;
    while (first < buffers.size()) {
      if (closed()) throw_closed_locally();
      asio::error_code ec;
      // One sendmsg (with MSG_NOSIGNAL: a dead peer gives EPIPE, never SIGPIPE).
      std::size_t n = socket_.write_some(buffers.subspan(first), ec);
      while (n > 0 && first < buffers.size()) {
        const std::size_t take = std::min(n, buffers[first].size());
        buffers[first] += take;
        n -= take;
        if (buffers[first].size() == 0) ++first;
      }
      while (first < buffers.size() && buffers[first].size() == 0) ++first;
      if (!ec) continue;
      if (ec == asio::error::interrupted || ec == asio::error::would_block) continue;
      throw_failure("write", ec);
    }
  }

  [[noreturn]] void throw_closed_locally() const {
    throw ConnectionClosed("connection closed locally (" + name_ + ")");
  }

  [[noreturn]] void throw_failure(const char* what, const asio::error_code& ec) const {
    if (closed()) throw_closed_locally();
    if (ec == asio::error::eof || ec == asio::error::broken_pipe ||
        ec == asio::error::shut_down) {
      throw ConnectionClosed("connection closed by peer (" + name_ + ")");
    }
    if (ec == asio::error::connection_reset) {
      throw ConnectionClosed("connection reset by peer (" + name_ + ")");
    }
    throw ConnectionClosed(std::string(what) + " failed on " + name_ + ": " + lower_message(ec));
  }

  socket_type socket_;
  const int fd_;
  const std::string name_;
  std::atomic<bool> closed_{false};
};

}  // namespace netref::detail
