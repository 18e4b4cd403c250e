#pragma once
// The raw TCP baseline's wire: what the network itself costs here, with nothing of netref in
// the way. Blocking sockets, TCP_NODELAY, and a message is a 4-byte big-endian length, one
// operation byte and the body:
//   'A' add:  body is two little-endian int64; the reply's body is their sum (8 bytes)
//   'E' echo: the reply's body is the request's body
// Header and body go out in one sendmsg; reads go through a 64 KiB read-ahead buffer (as
// netref's channel does), so a small message costs one send and one recv.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench::raw {

constexpr std::uint8_t kAdd = 'A';
constexpr std::uint8_t kEcho = 'E';
constexpr std::size_t kReadAhead = 64u << 10;

[[noreturn]] inline void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

inline void set_nodelay(int fd) {
  int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) fail("setsockopt TCP_NODELAY");
}

/// Connects to 127.0.0.1:port, blocking, TCP_NODELAY.
inline int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    fail("connect to 127.0.0.1:" + std::to_string(port));
  }
  set_nodelay(fd);
  return fd;
}

/// One connection's socket and read-ahead buffer. Owns the fd.
class Conn {
 public:
  explicit Conn(int fd) : fd_(fd), buffer_(kReadAhead) {}
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  /// Sends one message: length, op and body in one gathered write.
  void send(std::uint8_t op, const void* body, std::size_t size) {
    const std::uint32_t length = htonl(static_cast<std::uint32_t>(size + 1));
    std::uint8_t header[5];
    std::memcpy(header, &length, 4);
    header[4] = op;
    iovec pieces[2] = {{header, sizeof header}, {const_cast<void*>(body), size}};
    std::size_t first = 0;
    while (first < 2) {
      msghdr message{};
      message.msg_iov = pieces + first;
      message.msg_iovlen = 2 - first;
      const ssize_t sent = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        fail("sendmsg");
      }
      std::size_t n = static_cast<std::size_t>(sent);
      while (n > 0 && first < 2) {
        const std::size_t take = std::min(n, pieces[first].iov_len);
        pieces[first].iov_base = static_cast<std::uint8_t*>(pieces[first].iov_base) + take;
        pieces[first].iov_len -= take;
        n -= take;
        if (pieces[first].iov_len == 0) ++first;
      }
      while (first < 2 && pieces[first].iov_len == 0) ++first;
    }
  }

  /// Receives one message into body (its capacity is reused); returns the op byte, or -1 when
  /// the peer closed before a message began.
  int recv(std::vector<std::uint8_t>& body) {
    if (!fill(4)) return -1;
    std::uint32_t length;
    std::memcpy(&length, buffer_.data() + head_, 4);
    length = ntohl(length);
    if (length == 0) throw std::runtime_error("raw message of length 0");
    head_ += 4;
    if (!fill(1)) throw std::runtime_error("peer closed inside a message");
    const int op = buffer_[head_++];
    const std::size_t size = length - 1;
    body.resize(size);
    const std::size_t have = std::min(size, tail_ - head_);
    std::memcpy(body.data(), buffer_.data() + head_, have);
    head_ += have;
    // The rest of a large body goes straight into its destination.
    for (std::size_t done = have; done < size;) {
      const ssize_t n = ::recv(fd_, body.data() + done, size - done, 0);
      if (n == 0) throw std::runtime_error("peer closed inside a message");
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("recv");
      }
      done += static_cast<std::size_t>(n);
    }
    return op;
  }

  int fd() const noexcept { return fd_; }

 private:
  // Makes at least n bytes available at head_; false on EOF before any of them.
  bool fill(std::size_t n) {
    while (tail_ - head_ < n) {
      if (head_ > 0) {
        std::memmove(buffer_.data(), buffer_.data() + head_, tail_ - head_);
        tail_ -= head_;
        head_ = 0;
      }
      const ssize_t got = ::recv(fd_, buffer_.data() + tail_, buffer_.size() - tail_, 0);
      if (got == 0) {
        if (tail_ == head_) return false;
        throw std::runtime_error("peer closed inside a message");
      }
      if (got < 0) {
        if (errno == EINTR) continue;
        fail("recv");
      }
      tail_ += static_cast<std::size_t>(got);
    }
    return true;
  }

  int fd_;
  std::vector<std::uint8_t> buffer_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

}  // namespace bench::raw
