#pragma once
// A stream that hands out prepared bytes in pieces of chosen sizes, one piece per read at most,
// then stalls or ends. One thread and no clock: a stall answers a poll with a timeout at once
// ("nothing came"), so a frame timeout fires without waiting, and a test can look at the
// channel from inside each read (on_read), on the receiving thread.
#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "netref/stream/stream.hpp"
#include "raw_frames.hpp"

namespace netref::test {

class PieceStream final : public Stream {
 public:
  /// What comes after the last byte.
  enum class End {
    eof,    ///< reads throw ConnectionClosed
    stall,  ///< nothing more arrives: a poll with a timeout says so at once
  };

  /// bytes arrive in pieces of the sizes given, cycling through them.
  PieceStream(Bytes bytes, std::vector<std::size_t> pieces, End end)
      : bytes_(std::move(bytes)), pieces_(std::move(pieces)), end_(end) {}

  /// Called at every read, before it, with the bytes delivered so far.
  std::function<void(std::size_t delivered)> on_read;

  std::size_t delivered() const noexcept { return at_; }

  /// The bytes delivered at each acknowledge_now() call, in order.
  std::vector<std::size_t> acknowledged_at;
  void acknowledge_now() noexcept override { acknowledged_at.push_back(at_); }

  std::size_t read_available(std::span<std::uint8_t> buffer) override {
    if (on_read) on_read(at_);
    if (closed_) throw ConnectionClosed("piece stream closed");
    if (at_ == bytes_.size()) {
      if (end_ == End::eof) throw ConnectionClosed("end of the pieces");
      return 0;
    }
    const std::size_t piece = pieces_[next_piece_++ % pieces_.size()];
    const std::size_t n = std::min({buffer.size(), piece, bytes_.size() - at_});
    std::memcpy(buffer.data(), bytes_.data() + at_, n);
    at_ += n;
    return n;
  }

  void write_all(std::span<const std::span<const std::uint8_t>>) override {}

  bool poll(std::chrono::milliseconds timeout) override {
    if (closed_) throw ConnectionClosed("piece stream closed");
    if (at_ < bytes_.size() || end_ == End::eof) return true;
    // A stall outlasts any timeout; a wait without one would never end: fail the test loudly.
    if (timeout.count() < 0) throw ConnectionClosed("waiting forever on a stalled piece stream");
    return false;
  }

  void close() noexcept override { closed_ = true; }
  bool closed() const noexcept override { return closed_; }
  std::string peer_name() const override { return "pieces"; }

 private:
  Bytes bytes_;
  std::vector<std::size_t> pieces_;
  End end_;
  std::size_t at_ = 0;
  std::size_t next_piece_ = 0;
  bool closed_ = false;
};

}  // namespace netref::test
