#pragma once
// The raw TCP baseline's wire: what the network itself costs here, with nothing of netref in
// the way, written as a careful hand-made protocol would be. Blocking sockets, TCP_NODELAY,
// and a message, either way, is a 4-byte big-endian length (of op and body), one operation
// byte and the body:
//   'A' add:  body is two little-endian int64; the reply's body is their sum (8 bytes)
//   'E' echo: the reply's body is the request's body
// Small messages are read through a read-ahead buffer, so one recv takes every reply that has
// arrived, and can be queued to go out together in one write (queue, then flush): a pipelining
// client and a server that answers everything buffered before it writes. A large message is
// never copied on the way: it is sent from where it lies, and received straight into where it
// is used (recv_large on the client; on the server, the input buffer grows to hold the whole
// message, and the reply is sent from there).
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
constexpr std::size_t kHeader = 5;               // length (4) and op (1)
constexpr std::size_t kReadAhead = 64u << 10;    // a message longer than this is "large"
constexpr std::uint32_t kMaxLength = 64u << 20;  // a longer message is refused

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

/// A whole message in a connection's input buffer: its body stays valid until the next call
/// that receives (wait_message, recv, recv_large).
struct Message {
  std::uint8_t op = 0;
  const std::uint8_t* body = nullptr;
  std::size_t size = 0;
};

/// One connection: its socket, read-ahead buffer and output queue. Owns the fd. One thread.
class Conn {
 public:
  explicit Conn(int fd) : fd_(fd), in_(kReadAhead) { out_.reserve(kReadAhead); }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // --- sending

  /// Appends one message to the output queue; nothing is written before flush or send.
  void queue(std::uint8_t op, const void* body, std::size_t size) {
    const std::size_t at = out_.size();
    out_.resize(at + kHeader + size);
    put_header(out_.data() + at, op, size);
    if (size > 0) std::memcpy(out_.data() + at + kHeader, body, size);
  }

  /// Writes everything queued, in one write when the socket takes it all.
  void flush() {
    if (out_.empty()) return;
    iovec piece{out_.data(), out_.size()};
    write_all(&piece, 1);
    out_.clear();
  }

  /// Sends one message now, after anything queued, in one gathered write; the body is sent
  /// from where it lies.
  void send(std::uint8_t op, const void* body, std::size_t size) {
    std::uint8_t header[kHeader];
    put_header(header, op, size);
    iovec pieces[3] = {{out_.data(), out_.size()}, {header, kHeader}, {const_cast<void*>(body), size}};
    write_all(pieces, 3);
    out_.clear();
  }

  // --- receiving

  /// True when a whole message is in the read-ahead buffer (next takes it without blocking).
  bool has_message() const {
    const std::size_t have = tail_ - head_;
    return have >= kHeader && have >= 4 + length_at(head_);
  }

  /// Takes the next whole message from the input buffer into `message`; false when the buffer
  /// holds none (then wait_message reads more).
  bool next(Message& message) {
    if (!has_message()) return false;
    const std::size_t length = length_at(head_);
    message.op = in_[head_ + 4];
    message.body = in_.data() + head_ + kHeader;
    message.size = length - 1;
    head_ += 4 + length;
    return true;
  }

  /// Blocks until at least one whole message is buffered: small ones arrive through the
  /// read-ahead, and the buffer grows to hold a large one, whose rest is read in one call.
  /// False when the peer closed between messages; throws when it closed inside one.
  bool wait_message() {
    while (!has_message()) {
      const std::size_t have = tail_ - head_;
      if (have >= 4 && 4 + length_at(head_) > kReadAhead) {
        const std::size_t frame = 4 + length_at(head_);
        compact();
        if (in_.size() < frame) in_.resize(frame);
        read_exact(in_.data() + tail_, frame - have);
        tail_ = frame;
        continue;
      }
      if (!read_some()) {
        if (have == 0) return false;
        throw std::runtime_error("peer closed inside a message");
      }
    }
    return true;
  }

  /// Receives one message into body (its capacity is reused); returns the op byte, or -1 when
  /// the peer closed before a message began. For small messages: what arrives with it stays
  /// in the read-ahead buffer for the next call.
  int recv(std::vector<std::uint8_t>& body) {
    if (!fill(kHeader)) return -1;
    const std::size_t size = length_at(head_) - 1;
    const int op = in_[head_ + 4];
    head_ += kHeader;
    body.resize(size);
    const std::size_t have = std::min(size, tail_ - head_);
    if (have > 0) std::memcpy(body.data(), in_.data() + head_, have);
    head_ += have;
    read_exact(body.data() + have, size - have);  // the rest of a large body: no copy
    return op;
  }

  /// recv for a reply known to be large (an echo): when nothing is buffered, the header is read
  /// on its own, so the whole body lands straight in `body` in one call.
  int recv_large(std::vector<std::uint8_t>& body) {
    if (head_ != tail_) return recv(body);
    std::uint8_t header[kHeader];
    if (!read_exact(header, kHeader, true)) return -1;
    const std::size_t size = check_length(header) - 1;
    body.resize(size);
    read_exact(body.data(), size);
    return header[4];
  }

  int fd() const noexcept { return fd_; }

 private:
  static void put_header(std::uint8_t* at, std::uint8_t op, std::size_t size) {
    const std::uint32_t length = htonl(static_cast<std::uint32_t>(size + 1));
    std::memcpy(at, &length, 4);
    at[4] = op;
  }

  static std::size_t check_length(const std::uint8_t* at) {
    std::uint32_t length;
    std::memcpy(&length, at, 4);
    length = ntohl(length);
    if (length == 0) throw std::runtime_error("raw message of length 0");
    if (length > kMaxLength) {
      throw std::runtime_error("raw message of " + std::to_string(length) + " bytes exceeds the limit of " +
                               std::to_string(kMaxLength));
    }
    return length;
  }

  // The length field of the message at `at` (which has 4 bytes buffered).
  std::size_t length_at(std::size_t at) const { return check_length(in_.data() + at); }

  // Moves what is buffered to the front.
  void compact() {
    if (head_ == 0) return;
    std::memmove(in_.data(), in_.data() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }

  // One recv of whatever has arrived, into the free end of the buffer; false on EOF.
  bool read_some() {
    if (head_ == tail_) head_ = tail_ = 0;
    if (tail_ == in_.size()) compact();
    for (;;) {
      const ssize_t got = ::recv(fd_, in_.data() + tail_, in_.size() - tail_, 0);
      if (got > 0) {
        tail_ += static_cast<std::size_t>(got);
        return true;
      }
      if (got == 0) return false;
      if (errno != EINTR) fail("recv");
    }
  }

  // Makes at least n (<= kReadAhead) bytes available at head_; false on EOF before any.
  bool fill(std::size_t n) {
    if (tail_ - head_ < n && in_.size() - head_ < n) compact();
    while (tail_ - head_ < n) {
      if (!read_some()) {
        if (tail_ == head_) return false;
        throw std::runtime_error("peer closed inside a message");
      }
    }
    return true;
  }

  // Receives exactly n bytes into dst, bypassing the buffer (MSG_WAITALL: one wakeup, not one
  // per segment). False on EOF before any byte when eof_ok; otherwise EOF throws.
  bool read_exact(void* dst, std::size_t n, bool eof_ok = false) {
    auto* at = static_cast<std::uint8_t*>(dst);
    for (std::size_t done = 0; done < n;) {
      const ssize_t got = ::recv(fd_, at + done, n - done, MSG_WAITALL);
      if (got == 0) {
        if (eof_ok && done == 0) return false;
        throw std::runtime_error("peer closed inside a message");
      }
      if (got < 0) {
        if (errno == EINTR) continue;
        fail("recv");
      }
      done += static_cast<std::size_t>(got);
    }
    return true;
  }

  // Writes the pieces in order, however many calls the socket needs.
  void write_all(iovec* pieces, std::size_t count) {
    std::size_t first = 0;
    while (first < count && pieces[first].iov_len == 0) ++first;
    while (first < count) {
      msghdr message{};
      message.msg_iov = pieces + first;
      message.msg_iovlen = count - first;
      const ssize_t sent = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        fail("sendmsg");
      }
      std::size_t n = static_cast<std::size_t>(sent);
      while (n > 0 && first < count) {
        const std::size_t take = std::min(n, pieces[first].iov_len);
        pieces[first].iov_base = static_cast<std::uint8_t*>(pieces[first].iov_base) + take;
        pieces[first].iov_len -= take;
        n -= take;
        if (pieces[first].iov_len == 0) ++first;
      }
      while (first < count && pieces[first].iov_len == 0) ++first;
    }
  }

  int fd_;
  std::vector<std::uint8_t> in_;   // read-ahead; grows to hold one large message whole
  std::size_t head_ = 0;           // next unread byte in in_
  std::size_t tail_ = 0;           // end of the bytes received into in_
  std::vector<std::uint8_t> out_;  // queued messages, written by flush or send
};

}  // namespace bench::raw
