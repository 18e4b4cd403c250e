#pragma once
/// Stream: a reliable, ordered byte pipe. The channel layer is its only user.
#include "netref/export.hpp"
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "netref/stream/error.hpp"

namespace netref {

/// A byte stream. One reader and one writer may run at the same time (from different
/// threads); close() may be called from any thread, at any time, and wakes a blocked reader.
class NETREF_API Stream {
 public:
  virtual ~Stream() = default;

  /// Reads what has arrived, up to buffer.size() bytes, without blocking: 0 means nothing
  /// yet (poll() waits for more). Throws ConnectionClosed on EOF, reset, or after close();
  /// the message says which. Readers that must not block (a reactor) use this alone.
  virtual std::size_t read_available(std::span<std::uint8_t> buffer) = 0;

  /// Reads what has arrived, waiting up to timeout for the first byte (negative: forever).
  /// Returns 0 when nothing came; it may give up before timeout, so a caller with a deadline
  /// loops on its own clock. Throws as read_available. Blocking readers use this: on a
  /// socket it is one system call per read instead of a poll and a read.
  virtual std::size_t read_some(std::span<std::uint8_t> buffer, std::chrono::milliseconds timeout);

  /// Reads exactly buffer.size() bytes, waiting as long as it takes.
  void read_exact(std::span<std::uint8_t> buffer);

  /// Writes every byte of each piece, in order, as one gathered write where the transport
  /// allows it. Throws ConnectionClosed when the peer is gone or after close(), and when the
  /// peer stopped reading for longer than the write-stall timeout (the stream is then closed:
  /// part of a frame may have gone out).
  virtual void write_all(std::span<const std::span<const std::uint8_t>> pieces) = 0;

  /// Writes what the transport takes now, without waiting: bytes from the pieces in order,
  /// possibly none (the transport's buffer is full). Returns how many went. Throws
  /// ConnectionClosed as write_all, but never for a stall: it does not wait. A TLS stream
  /// must be given the bytes it did not take again, first, on its next call.
  virtual std::size_t write_some(std::span<const std::span<const std::uint8_t>> pieces);

  /// What wait_ready found.
  struct Ready {
    bool readable = false;  ///< a read would not block (data, EOF or error)
    bool writable = false;  ///< write_some would take bytes
  };
  /// Waits up to timeout (negative: forever) until, when want_read, a read would not block,
  /// or, when want_write, write_some would take bytes. Both false: the time ran out. Throws
  /// ConnectionClosed after close(). Lets one thread wait for a reply and for room to send
  /// the rest of its request at once.
  virtual Ready wait_ready(bool want_read, bool want_write, std::chrono::milliseconds timeout);

  /// Convenience: write_all of a single piece.
  void write_all(std::span<const std::uint8_t> bytes) {
    const std::span<const std::uint8_t> one[1] = {bytes};
    write_all(std::span<const std::span<const std::uint8_t>>(one));
  }

  /// Waits until a read would not block (data, EOF or error), up to timeout; a negative
  /// timeout waits forever. Returns false on timeout. Throws ConnectionClosed after close().
  virtual bool poll(std::chrono::milliseconds timeout) = 0;

  /// Shuts the stream down in both directions. Idempotent, noexcept, thread-safe; a blocked
  /// read_exact or poll in another thread returns (with ConnectionClosed) promptly.
  virtual void close() noexcept = 0;

  /// True once close() ran.
  virtual bool closed() const noexcept = 0;

  /// "tcp 127.0.0.1:18861", "unix /tmp/x.sock", "memory": for error messages and logs.
  virtual std::string peer_name() const = 0;

  /// The OS descriptor a reactor can wait on, or -1 when there is none (memory streams).
  virtual int native_handle() const noexcept { return -1; }

  /// How long write_all may wait for the peer to make room (negative: forever, the default).
  /// A peer that reads nothing must not hold a writer, and its thread, for ever (R7).
  virtual void set_write_timeout(std::chrono::milliseconds timeout) { (void)timeout; }

  /// True when each write_some should carry bytes of one frame only. TLS says so: rpyc reads
  /// one frame, then waits on the socket for the next, blind to bytes OpenSSL already
  /// decrypted, so two frames sharing a record would leave the second unread.
  virtual bool one_frame_per_write() const noexcept { return false; }

  /// Acknowledges what has arrived now rather than on the transport's delayed-ACK timer
  /// (TCP_QUICKACK; nothing elsewhere). A peer that keeps Nagle's algorithm on, as rpyc's
  /// client does, holds back the short tail of a large write until what it sent before is
  /// acknowledged: a reader waiting for the rest of a message calls this so the tail comes
  /// now, not up to 40 ms later.
  virtual void acknowledge_now() noexcept {}

  /// The subject of the peer's verified certificate ("CN=alice,O=Example"); empty when the
  /// transport has none (plain sockets, TLS without a client certificate).
  virtual std::string peer_certificate_subject() const { return {}; }
};

using StreamPtr = std::unique_ptr<Stream>;

}  // namespace netref
