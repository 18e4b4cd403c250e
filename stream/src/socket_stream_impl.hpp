#pragma once
#include <sys/un.h>
// SocketStream: the Stream over a connected blocking socket (TCP or Unix), shared by the
// connect functions (socket_stream.cpp) and the listeners (socket_listener.cpp). Every call is
// the system call itself: there is no I/O library between the channel and the kernel.
// Private to stream/src.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
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

/// "127.0.0.1:80" or "[::1]:80".
std::string format_host_port(const std::string& host, std::uint16_t port);

/// errno's text with its first letter in lower case, for "...: connection refused". Plain
/// integers: this runs when descriptors may have run out, where even a sanitizer's check of
/// an error_category's virtual call can fail.
std::string lower_message(int error);

/// The socket address of a Unix-domain path; ConnectError "cannot <action> unix PATH: ..."
/// when the path is empty or does not fit.
sockaddr_un unix_address(const std::string& path, const char* action);

/// Waits for events on one fd, retrying on EINTR with the remaining time; a negative timeout
/// waits forever. Returns the revents (0 on timeout), or -1 with errno set.
int poll_fd(int fd, short events, std::chrono::milliseconds timeout);

/// A connected socket in blocking mode, owning fd. One reader and one writer may run
/// concurrently: neither changes the descriptor's state. close() touches only the fd
/// (shutdown) and the flag, so it is safe from any thread; the fd itself is closed by the
/// destructor, when nobody can be blocked on it any more.
class SocketStream final : public Stream {
 public:
  /// tcp: the socket is TCP (acknowledge_now applies), not a Unix-domain one.
  SocketStream(int fd, std::string name, bool tcp) : fd_(fd), name_(std::move(name)), tcp_(tcp) {
    // read_some blocks in recv itself; every other call says MSG_DONTWAIT on its own.
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK) != 0) ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
  }

  ~SocketStream() override { ::close(fd_); }

  std::size_t read_available(std::span<std::uint8_t> buffer) override {
    for (;;) {
      if (closed()) throw_closed_locally();
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n > 0) return static_cast<std::size_t>(n);
      if (n == 0) {
        if (buffer.empty()) return 0;
        throw_failure("read", 0);  // EOF
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      throw_failure("read", errno);
    }
  }

  // One blocking recv bounded by SO_RCVTIMEO: a raw round trip's cost, where poll and then
  // recv would be two system calls and two trips through the scheduler's wake-up path.
  std::size_t read_some(std::span<std::uint8_t> buffer, std::chrono::milliseconds timeout) override {
    if (timeout.count() == 0 || buffer.empty()) return read_available(buffer);
    if (!set_receive_timeout(timeout)) return Stream::read_some(buffer, timeout);
    if (closed()) throw_closed_locally();
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) throw_failure("read", 0);  // EOF, or close() shut the socket down
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    throw_failure("read", errno);
  }

  void write_all(std::span<const std::span<const std::uint8_t>> pieces) override {
    if (closed()) throw_closed_locally();
    // A channel frame is 3 pieces: a fixed array keeps the hot path free of allocation.
    constexpr std::size_t kInline = 8;
    std::array<iovec, kInline> inline_vectors;
    std::vector<iovec> heap_vectors;
    std::span<iovec> vectors;
    if (pieces.size() <= kInline) {
      vectors = std::span<iovec>(inline_vectors.data(), pieces.size());
    } else {
      heap_vectors.resize(pieces.size());
      vectors = heap_vectors;
    }
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      vectors[i].iov_base = const_cast<std::uint8_t*>(pieces[i].data());
      vectors[i].iov_len = pieces[i].size();
    }
    write_vectors(vectors);
  }

  // One sendmsg that never waits: what the socket buffer takes now.
  std::size_t write_some(std::span<const std::span<const std::uint8_t>> pieces) override {
    if (closed()) throw_closed_locally();
    std::array<iovec, IOV_MAX < 64 ? IOV_MAX : 64> vectors;
    std::size_t count = 0;
    for (const auto& piece : pieces) {
      if (piece.empty()) continue;
      if (count == vectors.size()) break;
      vectors[count].iov_base = const_cast<std::uint8_t*>(piece.data());
      vectors[count].iov_len = piece.size();
      ++count;
    }
    if (count == 0) return 0;
    msghdr message{};
    message.msg_iov = vectors.data();
    message.msg_iovlen = count;
    for (;;) {
      const ssize_t sent = ::sendmsg(fd_, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent >= 0) return static_cast<std::size_t>(sent);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      throw_failure("write", errno);
    }
  }

  Ready wait_ready(bool want_read, bool want_write, std::chrono::milliseconds timeout) override {
    if (closed()) throw_closed_locally();
    const int revents =
        poll_fd(fd_, static_cast<short>((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0)), timeout);
    if (closed()) throw_closed_locally();
    if (revents < 0) throw_failure("poll", errno);
    Ready ready;
    ready.readable = want_read && (revents & (POLLIN | POLLERR | POLLHUP)) != 0;
    ready.writable = want_write && (revents & (POLLOUT | POLLERR | POLLHUP)) != 0;
    return ready;
  }

  void set_write_timeout(std::chrono::milliseconds timeout) override {
    write_timeout_ms_.store(timeout.count(), std::memory_order_relaxed);
  }

  bool poll(std::chrono::milliseconds timeout) override {
    if (closed()) throw_closed_locally();
    const int revents = poll_fd(fd_, POLLIN, timeout);
    if (closed()) throw_closed_locally();
    if (revents < 0) {
      throw ConnectionClosed("poll failed on " + name_ + ": " + lower_message(errno));
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

  void acknowledge_now() noexcept override {
    if (tcp_) {
      const int on = 1;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);  // best effort
    }
  }

 private:
  // Writes every byte of vectors with sendmsg (MSG_NOSIGNAL: a dead peer gives EPIPE, never
  // SIGPIPE), advancing through them itself; waits for room at most the write timeout.
  void write_vectors(std::span<iovec> vectors) {
    std::size_t first = 0;
    auto skip_empty = [&] {
      while (first < vectors.size() && vectors[first].iov_len == 0) ++first;
    };
    skip_empty();
    while (first < vectors.size()) {
      if (closed()) throw_closed_locally();
      msghdr message{};
      message.msg_iov = vectors.data() + first;
      message.msg_iovlen = std::min<std::size_t>(vectors.size() - first, IOV_MAX);
      const ssize_t sent = ::sendmsg(fd_, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          wait_for_room();
          continue;
        }
        throw_failure("write", errno);
      }
      std::size_t n = static_cast<std::size_t>(sent);
      while (n > 0 && first < vectors.size()) {
        const std::size_t take = std::min(n, vectors[first].iov_len);
        vectors[first].iov_base = static_cast<std::uint8_t*>(vectors[first].iov_base) + take;
        vectors[first].iov_len -= take;
        n -= take;
        if (vectors[first].iov_len == 0) ++first;
      }
      skip_empty();
    }
  }

  // The peer's receive window is full: wait for it to read, up to the write timeout.
  void wait_for_room() {
    const std::chrono::milliseconds timeout(write_timeout_ms_.load(std::memory_order_relaxed));
    const int revents = poll_fd(fd_, POLLOUT, timeout);
    if (closed()) throw_closed_locally();
    if (revents < 0) throw_failure("write", errno);
    if (revents == 0) {
      close();  // part of a frame may be out: the stream cannot be used again
      throw WriteStalled("write stalled for " + std::to_string(timeout.count()) +
                             " ms: the peer is not reading (" + name_ + ")");
    }
  }

  // SO_RCVTIMEO changes only when the wait's power-of-two bucket does: a caller with a
  // deadline asks for a little less each time, and a setsockopt per read would cost what
  // read_some saves. Rounding down only makes a wait end early, which callers allow for.
  // False when the option cannot be set (the caller then polls).
  bool set_receive_timeout(std::chrono::milliseconds timeout) {
    const auto wait_ms = static_cast<std::uint64_t>(timeout.count());
    const long long bucket = timeout.count() < 0 ? -1 : static_cast<long long>(std::bit_floor(wait_ms));
    if (bucket == receive_timeout_bucket_) return true;
    timeval value{};  // zero: no limit
    if (bucket > 0) {
      value.tv_sec = static_cast<time_t>(bucket / 1000);
      value.tv_usec = static_cast<suseconds_t>((bucket % 1000) * 1000);
    }
    if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &value, sizeof value) != 0) return false;
    receive_timeout_bucket_ = bucket;
    return true;
  }

  [[noreturn]] void throw_closed_locally() const {
    throw ConnectionClosed("connection closed locally (" + name_ + ")");
  }

  // error is an errno value, 0 for EOF.
  [[noreturn]] void throw_failure(const char* what, int error) const {
    if (closed()) throw_closed_locally();
    if (error == 0 || error == EPIPE || error == ESHUTDOWN) {
      throw ConnectionClosed("connection closed by peer (" + name_ + ")");
    }
    if (error == ECONNRESET) throw ConnectionClosed("connection reset by peer (" + name_ + ")");
    throw ConnectionClosed(std::string(what) + " failed on " + name_ + ": " + lower_message(error));
  }

  const int fd_;
  const std::string name_;
  const bool tcp_;
  std::atomic<bool> closed_{false};
  std::atomic<long long> write_timeout_ms_{-1};
  long long receive_timeout_bucket_ = -1;  // ms of SO_RCVTIMEO, -1 none; the reader's own
};

}  // namespace netref::detail
