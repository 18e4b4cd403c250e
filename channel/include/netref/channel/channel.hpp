#pragma once
/// Channel: RPyC's framing over a Stream. A frame is u32 big-endian payload length, u8 flag
/// (0 plain, 1 zlib), the payload, and one '\n'. Byte-compatible with rpyc/core/channel.py.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "netref/channel/buffer_budget.hpp"
#include "netref/stream/stream.hpp"

namespace netref {

/// Framing and compression settings; the defaults are RPyC's and RELIABILITY.md's.
struct ChannelConfig {
  bool compress = true;                         ///< compress payloads above the threshold
  std::size_t compression_threshold = 3000;     ///< bytes; RPyC compresses len > 3000
  int compression_level = 1;                    ///< zlib level, RPyC uses 1
  std::size_t max_frame_bytes = 16u << 20;      ///< limit on the wire length field
  std::size_t max_inflated_bytes = 16u << 20;   ///< limit on a decompressed payload
  /// Once a frame's first byte arrived, the rest must follow within this (anti-slowloris);
  /// negative: no limit.
  std::chrono::milliseconds frame_timeout = std::chrono::seconds(30);
  /// How long a send may wait for a peer that stopped reading (the stream's write timeout);
  /// negative: no limit.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  /// Charged for the frames this channel is receiving; null: BufferBudget::process(). Must
  /// outlive the channel.
  BufferBudget* buffer_budget = nullptr;
};

/// What a channel holds of the next frame, for readers that must not block (reactors).
enum class Buffered {
  nothing,  ///< no byte of the next frame yet
  partial,  ///< some bytes; the frame timeout runs
  frame,    ///< a whole frame: recv() returns it without touching the stream
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

  /// Receives one frame into out (its capacity is reused), inflating if flagged. Waits as
  /// long as it takes for the frame to start, then at most frame_timeout for the rest.
  /// Buffers grow with the bytes that arrive, not with the length a header announces; past
  /// a small allowance they are charged to the buffer budget until the frame is handed over
  /// (or fails). Throws ConnectionClosed on EOF; Timeout when the frame does not complete in
  /// time; ProtocolError for a flag other than 0/1, a length over max_frame_bytes (checked
  /// before allocating), a payload that is not a whole zlib stream, that inflates past
  /// max_inflated_bytes, or a missing '\n' terminator; BudgetExceeded when the budget cannot
  /// grant the frame's buffers.
  void recv(std::vector<std::uint8_t>& out);

  /// recv, but waiting for the frame to begin only until start_deadline (time_point::max():
  /// forever): false when no byte of a frame came by then. Once a frame began, frame_timeout
  /// applies as in recv. A reader that must also watch a deadline uses this instead of
  /// poll() and recv().
  bool recv_until(std::vector<std::uint8_t>& out, std::chrono::steady_clock::time_point start_deadline);

  /// Convenience form of recv.
  std::vector<std::uint8_t> recv() {
    std::vector<std::uint8_t> out;
    recv(out);
    return out;
  }

  /// True when a frame (or EOF) is ready within timeout: a buffered whole frame answers at
  /// once, without a system call.
  bool poll(std::chrono::milliseconds timeout);

  /// Reads what the stream has now without blocking (stopping once a whole frame is
  /// buffered) and says what is buffered. The header is checked as soon as it is in, so a
  /// forged length fails here. Throws as recv, except that it never times out: a reactor
  /// calling it keeps its own clock for the frame timeout.
  Buffered read_available();
  /// What is buffered now, without reading.
  Buffered buffered() const noexcept;

  /// Bytes this channel holds in its own receive buffers (read-ahead, a large compressed
  /// frame), for monitoring a connection's memory; a frame being received straight into the
  /// caller's vector is in that vector instead. Call it from the receiving thread, or while
  /// nothing receives. (The budget's counters may be read from anywhere.)
  std::size_t buffer_capacity() const noexcept { return input_.capacity() + recv_scratch_.capacity(); }

  /// Closes the stream; thread-safe, idempotent.
  void close() noexcept { stream_->close(); }
  bool closed() const noexcept { return stream_->closed(); }

  Stream& stream() noexcept { return *stream_; }
  const ChannelConfig& config() const noexcept { return config_; }

 private:
  std::size_t buffered_bytes() const noexcept { return input_tail_ - input_head_; }
  // recv_until without the budget bookkeeping around it (the frame's lease is released when
  // the frame is handed over or fails).
  bool receive_frame(std::vector<std::uint8_t>& out,
                     std::chrono::steady_clock::time_point start_deadline);
  // The frame's deadline, frame_timeout after now: read from the clock only when a frame
  // does not arrive whole with its first bytes.
  std::chrono::steady_clock::time_point frame_deadline() const;
  // Reads at least one byte into the receive buffer before deadline; false if none came.
  bool fill_until(std::chrono::steady_clock::time_point deadline);
  // fill_until, for the rest of a frame: a Timeout when the frame's deadline passes.
  void fill_frame_until(std::chrono::steady_clock::time_point deadline);
  // Reads into the receive buffer, waiting up to `wait` (see Stream::read_some); false if
  // nothing came.
  bool fill(std::chrono::milliseconds wait);
  bool fill_now() { return fill(std::chrono::milliseconds(0)); }
  // Makes room for more of the partly buffered frame (see grown_size in channel.cpp).
  void make_room_for_frame();
  // Makes room for want more bytes after the buffered ones.
  void reserve_input(std::size_t want);
  // Parses and checks the buffered header; the frame's payload length.
  std::uint32_t checked_length() const;
  // Copies or inflates the buffered whole frame into out and drops it from the buffer.
  void take_frame(std::uint32_t length, std::vector<std::uint8_t>& out);
  // After a frame left the buffer: rewinds an empty buffer, and lets go of a large one.
  void shrink_input();
  // Receives a frame larger than a read chunk straight into out (plain) or recv_scratch_
  // (compressed), growing it as the bytes arrive.
  void recv_large(std::uint32_t length, std::chrono::steady_clock::time_point deadline,
                  std::vector<std::uint8_t>& out);

  StreamPtr stream_;
  ChannelConfig config_;
  std::vector<std::uint8_t> send_scratch_;  // compressed outgoing payload, reused by send()
  std::vector<std::uint8_t> recv_scratch_;  // a large compressed payload, read by recv_large
  std::vector<std::uint8_t> input_;         // bytes read ahead: [input_head_, input_tail_)
  std::size_t input_head_ = 0;
  std::size_t input_tail_ = 0;
  BufferLease frame_lease_;  // the frame in progress's charge on the buffer budget
};

}  // namespace netref
