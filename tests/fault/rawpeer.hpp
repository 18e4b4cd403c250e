#pragma once
// The raw peer of docs/FAULTS.md: a test-side endpoint that writes arbitrary bytes over TCP
// (a plain socket, so it can also half-close and reset) or TLS (netref's own TLS stream,
// once the handshake is done), reads frames back, and tells whether the other side closed
// within a timeout. Plus the wire vocabulary to build messages by hand (RPyC 6.x envelope:
// one msg byte, then the brine tuple (seq, body)).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <netref/netref.hpp>

#include "netref/protocol/brine.hpp"

namespace netref::test::wire {

using ByteVec = std::vector<std::uint8_t>;

/// u32 big-endian length, flag, payload, '\n'.
inline ByteVec frame(const ByteVec& payload, std::uint8_t flag = 0) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  ByteVec out(payload.size() + 6);
  out[0] = static_cast<std::uint8_t>(n >> 24);
  out[1] = static_cast<std::uint8_t>(n >> 16);
  out[2] = static_cast<std::uint8_t>(n >> 8);
  out[3] = static_cast<std::uint8_t>(n);
  out[4] = flag;
  std::copy(payload.begin(), payload.end(), out.begin() + 5);
  out.back() = '\n';
  return out;
}

/// A 5-byte frame header announcing length bytes.
inline ByteVec header(std::uint32_t length, std::uint8_t flag = 0) {
  return {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), flag};
}

/// A 6.x message payload: msg byte, then brine (seq, body).
inline ByteVec message(MsgType type, std::uint32_t seq, Value body) {
  ByteVec out = {static_cast<std::uint8_t>(type)};
  brine::encode(tuple_of(static_cast<std::int64_t>(seq), std::move(body)), out);
  return out;
}

/// (LABEL_VALUE, v)
inline Value boxed(Value v) { return tuple_of(1, std::move(v)); }
/// An id_pack as the wire carries it.
inline Value id_pack(const IdPack& id) {
  return tuple_of(id.type_name, static_cast<std::int64_t>(id.type_id), static_cast<std::int64_t>(id.object_id));
}
/// (LABEL_LOCAL_REF, id_pack): "your object".
inline Value local_ref(const IdPack& id) { return tuple_of(3, id_pack(id)); }
/// (LABEL_REMOTE_REF, id_pack): "my object, which I lend you".
inline Value remote_ref(const IdPack& id) { return tuple_of(4, id_pack(id)); }

/// A request payload: (handler, (LABEL_TUPLE, (boxed args...))).
inline ByteVec request(std::uint32_t seq, std::int64_t handler, std::vector<Value> boxed_args) {
  return message(MsgType::request, seq, tuple_of(handler, tuple_of(2, Value(Tuple{std::move(boxed_args)}))));
}
inline ByteVec request(std::uint32_t seq, Handler handler, std::vector<Value> boxed_args) {
  return request(seq, static_cast<std::int64_t>(handler), std::move(boxed_args));
}
/// A reply payload carrying a plain value.
inline ByteVec reply(std::uint32_t seq, Value v) { return message(MsgType::reply, seq, boxed(std::move(v))); }
/// An exception payload carrying a vinegar value.
inline ByteVec exception(std::uint32_t seq, Value vinegar) { return message(MsgType::exception, seq, std::move(vinegar)); }
/// A well-formed vinegar tuple.
inline Value vinegar(const std::string& module, const std::string& cls, std::vector<Value> args,
                     const std::string& traceback = "") {
  return tuple_of(tuple_of(module, cls), Value(Tuple{std::move(args)}), Value(Tuple{}), traceback);
}
/// DEL of one of the receiver's objects, count times (RPyC's shape).
inline ByteVec del(std::uint32_t seq, const IdPack& id, std::int64_t count) {
  return request(seq, Handler::del, {local_ref(id), boxed(Value(count))});
}

/// A decoded message.
struct Msg {
  MsgType type{};
  std::uint32_t seq = 0;
  Value body;
  /// For a reply carrying (LABEL_VALUE, v) or a netref: v, or the (label, id_pack) pair.
  const Value& boxed_item() const {
    const auto* t = body.get_if<Tuple>();
    REQUIRE(t != nullptr);
    REQUIRE(t->items.size() == 2);
    return t->items[1];
  }
  /// For a reply carrying (LABEL_REMOTE_REF, id_pack): the id.
  IdPack lent_id() const {
    const auto* t = boxed_item().get_if<Tuple>();
    REQUIRE(t != nullptr);
    REQUIRE(t->items.size() == 3);
    IdPack id;
    id.type_name = *t->items[0].get_if<std::string>();
    id.type_id = static_cast<std::uint64_t>(*t->items[1].get_if<std::int64_t>());
    id.object_id = static_cast<std::uint64_t>(*t->items[2].get_if<std::int64_t>());
    return id;
  }
  /// For an exception: the decoded info.
  ExceptionInfo error() const { return exception_codec::decode(body); }
};

inline Msg decode(const ByteVec& payload) {
  REQUIRE(!payload.empty());
  Msg m;
  m.type = static_cast<MsgType>(payload[0]);
  Value v = brine::decode(std::span(payload).subspan(1));
  auto* t = v.get_if<Tuple>();
  REQUIRE(t != nullptr);
  REQUIRE(t->items.size() == 2);
  m.seq = static_cast<std::uint32_t>(*t->items[0].get_if<std::int64_t>());
  m.body = std::move(t->items[1]);
  return m;
}

}  // namespace netref::test::wire

namespace netref::test {

/// A raw endpoint over TCP or TLS. Used from one thread at a time.
class RawPeer {
 public:
  using ByteVec = wire::ByteVec;

  /// A plain TCP connection to 127.0.0.1:port (TCP_NODELAY, so small writes go out alone).
  /// receive_buffer > 0 sets SO_RCVBUF before connecting, so the window stays that small: a
  /// peer that reads slowly, or not at all, fills up quickly.
  static RawPeer tcp(std::uint16_t port, int receive_buffer = 0) {
    RawPeer p;
    p.fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(p.fd_ >= 0);
    if (receive_buffer > 0) ::setsockopt(p.fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(p.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    int one = 1;
    ::setsockopt(p.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return p;
  }
  /// A TLS connection (handshake done) to host:port with context. receive_buffer > 0 sets
  /// SO_RCVBUF once the handshake is done (which also stops the kernel from growing it), so
  /// a peer that never reads fills up after a few KiB, as with tcp().
  static RawPeer tls(const std::string& host, std::uint16_t port, const TlsContext& context, int receive_buffer = 0) {
    RawPeer p;
    p.stream_ = connect_tls(host, port, context, std::chrono::seconds(5));
    if (receive_buffer > 0) {
      REQUIRE(::setsockopt(p.stream_->native_handle(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) == 0);
    }
    return p;
  }
  /// A raw peer over an already connected stream (an accepted one, say).
  static RawPeer over(StreamPtr stream) {
    RawPeer p;
    p.stream_ = std::move(stream);
    return p;
  }

  RawPeer(RawPeer&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), stream_(std::move(other.stream_)), input_(std::move(other.input_)) {}
  RawPeer& operator=(RawPeer&&) = delete;
  ~RawPeer() { close(); }

  /// Writes all of bytes (throws ConnectionClosed when the peer is gone).
  void send(const ByteVec& bytes) {
    if (stream_) {
      stream_->write_all(std::span<const std::uint8_t>(bytes));
      return;
    }
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw ConnectionClosed("raw peer: send failed: " + std::string(std::strerror(errno)));
      sent += static_cast<std::size_t>(n);
    }
  }
  /// Writes bytes one per send(), with a pause between them.
  void send_split(const ByteVec& bytes, std::chrono::microseconds gap = std::chrono::microseconds(200)) {
    for (std::uint8_t b : bytes) {
      send(ByteVec{b});
      std::this_thread::sleep_for(gap);  // pacing the writes is the fault itself
    }
  }
  void send_frame(const ByteVec& payload, std::uint8_t flag = 0) { send(wire::frame(payload, flag)); }

  /// Reads one whole frame's payload within timeout (nullopt on timeout). Throws
  /// ConnectionClosed when the peer closed first. Compressed frames are returned as sent.
  std::optional<ByteVec> read_frame(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                    std::uint8_t* flag = nullptr) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (input_.size() >= 5) {
        const std::size_t length = (std::size_t{input_[0]} << 24) | (std::size_t{input_[1]} << 16) |
                                   (std::size_t{input_[2]} << 8) | input_[3];
        if (input_.size() >= length + 6) {
          if (flag != nullptr) *flag = input_[4];
          ByteVec payload(input_.begin() + 5, input_.begin() + 5 + static_cast<std::ptrdiff_t>(length));
          REQUIRE(input_[5 + length] == '\n');
          input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(length + 6));
          return payload;
        }
      }
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      const int got = receive(left);
      if (got < 0) throw ConnectionClosed("raw peer: closed by the other side");
    }
  }
  /// Reads and decodes one uncompressed message; fails the test on timeout.
  wire::Msg read_message(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::uint8_t flag = 0;
    auto payload = read_frame(timeout, &flag);
    REQUIRE(payload.has_value());
    REQUIRE(flag == 0);
    return wire::decode(*payload);
  }
  /// Reads messages until one with this type and seq arrives (others are returned through
  /// skipped, when given).
  wire::Msg read_reply_to(std::uint32_t seq, std::vector<wire::Msg>* skipped = nullptr,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    for (;;) {
      auto m = read_message(timeout);
      if ((m.type == MsgType::reply || m.type == MsgType::exception) && m.seq == seq) return m;
      if (skipped != nullptr) skipped->push_back(std::move(m));
    }
  }

  /// True when the other side closes (EOF or reset) within timeout; what arrives meanwhile
  /// is dropped.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      if (receive(left) < 0) return true;
      input_.clear();
    }
  }

  /// FIN in our sending direction only (TCP).
  void shutdown_write() {
    REQUIRE(fd_ >= 0);
    ::shutdown(fd_, SHUT_WR);
  }
  /// Abortive close: the other side gets RST (SO_LINGER {1, 0}), no FIN (TCP).
  void reset() {
    REQUIRE(fd_ >= 0);
    const linger abort_now{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
    ::close(fd_);
    fd_ = -1;
  }
  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (stream_) stream_->close();
  }
  int fd() const noexcept { return fd_; }

 private:
  RawPeer() = default;

  // Appends what arrives within timeout to input_: bytes read, 0 on timeout, -1 when closed.
  int receive(std::chrono::milliseconds timeout) {
    std::uint8_t buffer[16 * 1024];
    if (stream_) {
      try {
        if (!stream_->poll(timeout)) return 0;
        const std::size_t n = stream_->read_available(buffer);
        input_.insert(input_.end(), buffer, buffer + n);
        return static_cast<int>(n);
      } catch (const ConnectionClosed&) {
        return -1;
      }
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready == 0) return 0;
    if (ready < 0) return errno == EINTR ? 0 : -1;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return (n < 0 && errno == EINTR) ? 0 : -1;  // EOF, or ECONNRESET
    input_.insert(input_.end(), buffer, buffer + n);
    return static_cast<int>(n);
  }

  int fd_ = -1;
  StreamPtr stream_;
  ByteVec input_;
};

}  // namespace netref::test
