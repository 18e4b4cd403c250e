#pragma once
/// Channel: RPyC's framing over a Stream. A frame is u32 big-endian payload length, u8 flag
/// (0 plain, 1 zlib), the payload, and one '\n'. Byte-compatible with rpyc/core/channel.py.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "netref/stream/stream.hpp"

namespace netref {

/// Framing and compression settings; the defaults are RPyC's and RELIABILITY.md's.
struct ChannelConfig {
  bool compress = true;                         ///< compress payloads above the threshold
  std::size_t compression_threshold = 3000;     ///< bytes; RPyC compresses len > 3000
  int compression_level = 1;                    ///< zlib level, RPyC uses 1
  std::size_t max_frame_bytes = 16u << 20;      ///< limit on the wire length field
  std::size_t max_inflated_bytes = 16u << 20;   ///< limit on a decompressed payload
};

/// Frames over one stream. send() and recv() may run concurrently with each other (one
/// sender and one receiver at a time: the connection serialises each side).
class Channel {
 public:
  Channel(StreamPtr stream, ChannelConfig config = {});
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  /// Sends one frame: header, payload and '\n' in one gathered write; compresses when
  /// configured and the payload exceeds the threshold. Throws ConnectionClosed.
  void send(std::span<const std::uint8_t> payload);

  /// Receives one frame into out (its capacity is reused), inflating if flagged.
  /// Throws ConnectionClosed on EOF; ProtocolError for a flag other than 0/1, a length over
  /// max_frame_bytes (checked before allocating), a payload that is not a whole zlib stream,
  /// that inflates past max_inflated_bytes, or a missing '\n' terminator.
  void recv(std::vector<std::uint8_t>& out);

  /// Convenience form of recv.
  std::vector<std::uint8_t> recv() {
    std::vector<std::uint8_t> out;
    recv(out);
    return out;
  }

  /// Stream::poll: true when a frame (or EOF) is ready to read within timeout.
  bool poll(std::chrono::milliseconds timeout) { return stream_->poll(timeout); }
  /// Closes the stream; thread-safe, idempotent.
  void close() noexcept { stream_->close(); }
  bool closed() const noexcept { return stream_->closed(); }

  Stream& stream() noexcept { return *stream_; }
  const ChannelConfig& config() const noexcept { return config_; }

 private:
  StreamPtr stream_;
  ChannelConfig config_;
  std::vector<std::uint8_t> send_scratch_;  // compressed outgoing payload, reused by send()
  std::vector<std::uint8_t> recv_scratch_;  // compressed incoming payload, reused by recv()
};

}  // namespace netref
