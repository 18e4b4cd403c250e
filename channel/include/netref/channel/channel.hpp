#pragma once
/// Channel: RPyC's framing over a Stream. A frame is u32 big-endian payload length, u8 flag
/// (0 plain, 1 zlib), the payload, and one '\n'. Byte-compatible with rpyc/core/channel.py.
#include "netref/export.hpp"
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "netref/channel/buffer_budget.hpp"
#include "netref/stream/stream.hpp"

namespace netref {

/// Framing and compression settings; the defaults are RPyC's and docs/FAULTS.md's.
struct NETREF_API ChannelConfig {
  bool compress = true;                         ///< compress payloads above the threshold
  std::size_t compression_threshold = 3000;     ///< bytes; RPyC compresses len > 3000
  int compression_level = 1;                    ///< zlib level, RPyC uses 1
  std::size_t max_frame_bytes = 16u << 20;      ///< limit on the wire length field
  std::size_t max_inflated_bytes = 16u << 20;   ///< limit on a decompressed payload
  /// Once a frame's first byte arrived, the rest must follow within this (anti-slowloris);
  /// negative: no limit.
  std::chrono::milliseconds frame_timeout = std::chrono::seconds(30);
  /// How long what is queued for the peer may make no progress: once a write finds the
  /// transport full, every byte queued by then must be written within this, or the stream
  /// closes (WriteStalled). Measured over that whole backlog, not per byte, so a peer that
  /// reads a trickle cannot hold a connection open for ever. Negative: no limit.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  /// Outgoing bytes a connection may queue before its server stops reading its requests
  /// (backpressure). A frame is always queued whole, so the queue may pass this by one frame.
  std::size_t max_send_queue_bytes = 8u << 20;
  /// Charged for the frames this channel is receiving; null: BufferBudget::process(). Must
  /// outlive the channel.
  BufferBudget* buffer_budget = nullptr;
};

/// When read_available may read the stream.
enum class Refill {
  always,          ///< the poller said readable (or nobody knows): read
  unless_drained,  ///< only if the last read was not short: the poller sees the rest
};

/// What a channel holds of the next frame, for readers that must not block (reactors).
enum class Buffered {
  nothing,  ///< no byte of the next frame yet
  partial,  ///< some bytes; the frame timeout runs
  frame,    ///< a whole frame: recv() returns it without touching the stream
};

/// What a flush left behind.
enum class Flush {
  done,     ///< nothing is queued any more
  blocked,  ///< the transport is full and bytes wait: someone must wait for room
  busy,     ///< another thread is writing; it carries what is queued
};

/// Frames over one stream. Sending queues frames and writes them without waiting: any
/// number of threads may send at once, and whichever holds the writer role drains the queue
/// (frames ready together leave in one write). One receiver at a time; it may run
/// concurrently with senders, and while it waits for a frame it also writes what is queued.
class NETREF_API Channel {
 public:
  Channel(StreamPtr stream, ChannelConfig config = {});
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  /// Sends one frame and waits until it is written (or another thread carries it): for
  /// callers that may wait on the peer. Throws ConnectionClosed, WriteStalled.
  void send(std::span<const std::uint8_t> payload);

  /// Frames payload (header, payload, '\n'; compressed when configured and over the
  /// threshold) onto the outgoing queue and writes what the transport takes now, straight
  /// from payload when nothing is queued before it. Never waits. Thread-safe. Throws
  /// ConnectionClosed when the stream failed, BudgetExceeded when the queue's memory would
  /// pass the buffer budget.
  Flush send_nowait(std::span<const std::uint8_t> payload);
  /// send_nowait of a payload given in parts, framed as their concatenation: a large value
  /// goes out from where it lies instead of being copied behind its message's head. At most
  /// kMaxParts parts (std::invalid_argument otherwise).
  Flush send_nowait(std::span<const std::span<const std::uint8_t>> parts);
  /// Queues a frame without writing (a batch of replies leaves together on the next flush).
  void enqueue(std::span<const std::uint8_t> payload);
  /// enqueue of a payload given in parts, as send_nowait's.
  void enqueue(std::span<const std::span<const std::uint8_t>> parts);
  /// How many parts a payload may be given in.
  static constexpr std::size_t kMaxParts = 4;
  /// Writes queued bytes without waiting.
  Flush flush();
  /// Writes queued bytes, waiting for room as long as the write deadline allows; returns
  /// when nothing is queued or another thread is writing. Throws WriteStalled (the stream
  /// is closed) or ConnectionClosed.
  void flush_wait();
  /// Waits up to timeout until the transport would take bytes (a sender that must wait for
  /// room while another thread receives). Throws ConnectionClosed after close().
  bool wait_writable(std::chrono::milliseconds timeout);
  /// True when, after the frame recv handed over last, another whole frame is already
  /// buffered: its reply may wait to leave with the next one's. A hint, readable anywhere.
  bool frame_waiting() const noexcept { return frame_waiting_.load(std::memory_order_relaxed); }
  /// For the frame recv handed over last: when it was already whole in our buffer, waiting
  /// behind the one before it (a request's deadline counts from then); the epoch (zero)
  /// when it was not. Read by whoever holds the receiving side.
  std::chrono::steady_clock::time_point handed_buffered_at() const noexcept { return handed_buffered_at_; }
  /// Bytes queued and not yet written.
  std::size_t queued_bytes() const noexcept { return queued_.load(std::memory_order_relaxed); }
  /// Writes so far that carried bytes (transport write calls that took at least one byte):
  /// beside a count of frames sent, it shows frames ready together leaving in one write.
  std::uint64_t writes() const noexcept { return writes_.load(std::memory_order_relaxed); }
  /// When the backlog must have drained: time_point::max() unless a write found the
  /// transport full and what was queued then is not all written yet.
  std::chrono::steady_clock::time_point write_deadline() const noexcept;
  /// Throws WriteStalled (closing the stream) when the write deadline has passed.
  void check_write_deadline();

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
  /// read_available, receiving a frame larger than a read chunk straight into frame_buffer
  /// (its capacity is reused; nothing is copied when the frame is handed over): give recv
  /// the same vector. Given another one, recv moves the frame into that one instead.
  /// Refill::unless_drained reads only if the last read filled all the room it was given
  /// (the stream may hold more than a poller can see): a reactor that has served a frame of
  /// this turn serves what that read brought and lets the poller say when more comes, so one
  /// busy peer does not keep a worker from the others, and no read is spent on EAGAIN.
  /// Once it has read, it goes on as Refill::always does.
  Buffered read_available(std::vector<std::uint8_t>& frame_buffer, Refill refill = Refill::always);
  /// What is buffered now, without reading.
  Buffered buffered() const noexcept;

  /// Bytes this channel holds in its own receive buffers (read-ahead, a large compressed
  /// frame), for monitoring a connection's memory; a frame being received straight into the
  /// caller's vector is in that vector instead. Call it from the receiving thread, or while
  /// nothing receives. (The budget's counters may be read from anywhere.)
  std::size_t buffer_capacity() const noexcept {
    return input_.capacity() + recv_scratch_.capacity() + reactor_frame_.capacity();
  }

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
  // A frame larger than a read chunk is received straight into its own buffer once its
  // header is in: out (plain) or recv_scratch_ (compressed), grown as the bytes arrive.
  // start_large moves the buffered beginning there; read_large reads once into it;
  // complete_large reads the rest before deadline and hands the frame over into out.
  void start_large(std::uint32_t length, std::vector<std::uint8_t>& out);
  void grow_large();
  std::size_t read_large(std::chrono::milliseconds wait);
  void complete_large(std::chrono::steady_clock::time_point deadline, std::vector<std::uint8_t>& out);
  // A plain large frame being read into another vector moves into out.
  void adopt_large(std::vector<std::uint8_t>& out);
  // Forgets the large frame in progress (it failed, or was handed over) and lets go of
  // huge scratch buffers.
  void abandon_large() noexcept;
  std::size_t large_body() const noexcept { return std::size_t{large_length_} + 1; }

  // --- sending (channel_send.cpp)
  // The frame's body and flag: the payload's parts as they are, or, compressed when
  // configured, one part (packed, in a thread's scratch). Throws Error for a payload the
  // 32-bit length field cannot carry.
  std::span<const std::span<const std::uint8_t>> frame_body(std::span<const std::span<const std::uint8_t>> parts,
                                                            std::uint8_t& flag, std::span<const std::uint8_t>& packed);
  // Appends a frame (its body in parts) to queue_; out_mutex_ held.
  void append_frame_locked(std::span<const std::span<const std::uint8_t>> body, std::uint8_t flag);
  // The writer's loop: writes writing_, then what queue_ gathered meanwhile; writer role held.
  Flush write_queued();
  // Gives the writer role back, starting the stall clock if bytes are left; out_mutex_ held.
  void release_writer_locked(bool bytes_left);
  // Accounts for n bytes written; writer role held.
  void wrote(std::size_t n);
  // Counts a write that carried bytes. Only the writer role's holder counts, so a load and a
  // store do (no read-modify-write on the hot path).
  void count_write(std::size_t sent) noexcept {
    if (sent != 0) writes_.store(writes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // The receiver's read: stream_->read_some, except that while bytes wait to go out it
  // writes them as room appears, waiting for input and for room at once.
  std::size_t receive_some(std::span<std::uint8_t> into, std::chrono::milliseconds wait);

  StreamPtr stream_;
  ChannelConfig config_;
  mutable std::mutex out_mutex_;
  std::vector<std::uint8_t> queue_;    // frames queued, not yet taken by a writer (out_mutex_)
  // The writer role and whether bytes wait: kWriter while a thread holds the role, kBacklog
  // while queue_ or writing_ holds bytes. Every change is made under out_mutex_ except the
  // uncontended send's two: 0 -> kWriter as it starts, kWriter -> 0 as it ends with nothing
  // left (a compare-exchange each, so one send takes no lock).
  static constexpr std::uint8_t kWriter = 1, kBacklog = 2;
  std::atomic<std::uint8_t> send_state_{0};
  std::vector<std::uint8_t> writing_;  // the writer's bytes, [writing_head_, end) still to go
  std::size_t writing_head_ = 0;       // (both: writer role)
  // Where each frame in queue_ / writing_ ends, kept only when the stream wants one frame per
  // write (TLS); writing_frame_ is the next end not yet passed.
  const bool frame_per_write_;
  std::vector<std::size_t> queue_ends_;    // (out_mutex_)
  std::vector<std::size_t> writing_ends_;  // (writer role)
  std::size_t writing_frame_ = 0;
  std::atomic<std::size_t> queued_{0};            // queue_ plus what writing_ has left
  std::atomic<std::uint64_t> queued_total_{0};    // bytes ever queued
  std::atomic<std::uint64_t> written_total_{0};   // bytes ever written
  std::atomic<std::uint64_t> writes_{0};          // writes that carried bytes (writer role)
  // The stall clock: set when a write found the transport full, cleared once every byte
  // queued by then (stall_mark_) is written. (out_mutex_)
  std::chrono::steady_clock::time_point stall_since_ = std::chrono::steady_clock::time_point::max();
  std::uint64_t stall_mark_ = 0;

  std::vector<std::uint8_t> recv_scratch_;  // a large compressed payload, read by read_large
  // The large frame in progress (see start_large): null when there is none, else where its
  // body (payload and '\n') goes: the reader's vector, recv_scratch_ or reactor_frame_.
  std::vector<std::uint8_t>* large_ = nullptr;
  std::uint32_t large_length_ = 0;   // its payload length
  bool large_plain_ = true;          // flag 0 (inflated into out when handed over otherwise)
  std::size_t large_done_ = 0;       // bytes of its body in
  std::vector<std::uint8_t> reactor_frame_;  // large_ for read_available() without a vector
  std::vector<std::uint8_t> input_;         // bytes read ahead: [input_head_, input_tail_)
  std::size_t input_head_ = 0;
  std::size_t input_tail_ = 0;
  // The last read got less than it had room for: the stream held no more then, and what
  // comes later a poller sees (TLS too: a short read ends a record, none is left inside).
  bool stream_drained_ = false;
  std::atomic<bool> frame_waiting_{false};  // see frame_waiting()
  std::chrono::steady_clock::time_point waiting_since_{};       // a whole frame buffered since
  std::chrono::steady_clock::time_point handed_buffered_at_{};  // see handed_buffered_at()
  BufferLease frame_lease_;  // the frame in progress's charge on the buffer budget
  BufferLease send_lease_;   // the outgoing queue's charge on the buffer budget (out_mutex_)
};

}  // namespace netref
