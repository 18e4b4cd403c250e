// RPyC framing: u32 big-endian length, u8 flag (0 plain, 1 zlib), payload, '\n'.
#include "netref/channel/channel.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <cstdio>
#include <limits>
#include <string>

#include "frame_format.hpp"

namespace netref {
namespace {

using detail::kFlagPlain;
using detail::kFlagZlib;
using detail::kHeaderBytes;
using detail::kTerminator;
constexpr auto kForever = std::chrono::steady_clock::time_point::max();

// Bytes read ahead per read: many small frames come in with one system call. A frame larger
// than this that has not arrived yet is read straight into its destination instead.
constexpr std::size_t kReadChunk = 64u << 10;

// How large the buffer of a frame of total bytes may be once arrived bytes of it are in:
// twice what arrived (at least a read chunk), never more than the frame. Memory follows the
// bytes a peer really sent, not the length its header announced (a 5-byte header claiming
// 16 MiB costs one read chunk), and a frame that does arrive costs log2(total / chunk)
// reallocations. A frame that fits a read chunk gets its whole buffer at once, as before.
std::size_t grown_size(std::size_t arrived, std::size_t total) {
  return std::min(total, std::max(kReadChunk, 2 * arrived));
}

// What a channel holds for a frame before it charges the buffer budget: a read chunk of raw
// bytes and one of inflated output. A plain frame that fits the read chunk never touches the
// budget's shared counter, nor does a small compressed one that inflates within its first
// buffer.
constexpr std::size_t kBudgetAllowance = 2 * kReadChunk;
// What a channel may queue for sending before it charges the budget.
constexpr std::size_t kSendAllowance = 256u << 10;

std::uint32_t length_of(const std::uint8_t* header) {
  return (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
         (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
}

std::chrono::milliseconds remaining(std::chrono::steady_clock::time_point deadline) {
  if (deadline == kForever) return std::chrono::milliseconds(-1);
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

void check_terminator(std::uint8_t last, std::uint32_t length) {
  if (last == kTerminator) return;
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", last);
  throw ProtocolError("frame of " + std::to_string(length) + " bytes ends with " + hex +
                      " instead of '\\n'");
}

// Scratch buffers above this size are freed after use: one huge frame must not pin its
// memory for the life of the connection. Below it they are kept, so steady traffic does
// not allocate per frame.
constexpr std::size_t kRetainedScratchBytes = 1u << 20;

// Inflate output grows from this size (or 4x the compressed size) by doubling, up to the cap.
constexpr std::size_t kMinInflateChunk = 64u << 10;

void release_if_large(std::vector<std::uint8_t>& scratch) {
  if (scratch.capacity() > kRetainedScratchBytes) std::vector<std::uint8_t>().swap(scratch);
}

// Resizes to exactly size without the vector's own geometric growth, so a buffer capped at
// a limit never holds twice the limit.
void grow_to(std::vector<std::uint8_t>& buffer, std::size_t size) {
  if (buffer.size() >= size) return;
  buffer.reserve(size);
  buffer.resize(size);
}

// Something the first bytes of a too-long "frame" may really be: a hint for the log.
std::string guess_foreign_protocol(const std::uint8_t* header) {
  if (header[0] == 0x16 && header[1] == 0x03) return " (not an RPC frame: a TLS handshake?)";
  static constexpr const char* kHttp[] = {"GET ", "POST", "PUT ", "HEAD", "HTTP", "OPTI", "DELE"};
  for (const char* word : kHttp) {
    if (std::equal(header, header + 4, reinterpret_cast<const std::uint8_t*>(word))) {
      return " (not an RPC frame: HTTP?)";
    }
  }
  return {};
}

// Owns a z_stream set up for inflate; inflateEnd runs on every exit path.
class Inflater {
 public:
  Inflater() {
    // inflateInit, not inflateInit2: zlib format only, so gzip and raw deflate are rejected.
    if (inflateInit(&stream_) != Z_OK) {
      throw ProtocolError("cannot start zlib inflate: out of memory");
    }
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  z_stream* operator->() { return &stream_; }
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_{};
};

// Inflates compressed into out (resized to the result), never holding more than limit + 1
// output bytes: a zlib bomb is stopped when it crosses the limit, not when it ends. Each
// growth of out is charged to lease first, on top of the raw bytes the frame holds.
void inflate_payload(std::span<const std::uint8_t> compressed, std::size_t limit,
                     std::vector<std::uint8_t>& out, BufferLease& lease, std::size_t raw_bytes) {
  const std::size_t hard_cap = limit + 1;  // one byte past the limit proves the overflow
  const std::string what = "compressed frame of " + std::to_string(compressed.size()) + " bytes";
  Inflater inflater;
  inflater->next_in = const_cast<Bytef*>(compressed.data());
  inflater->avail_in = static_cast<uInt>(compressed.size());  // <= max_frame_bytes < 4 GiB

  const auto grow_output = [&](std::size_t size) {
    lease.cover(raw_bytes + size);
    grow_to(out, size);
  };
  out.clear();
  grow_output(std::min(std::max(kMinInflateChunk, compressed.size() * 4), hard_cap));
  std::size_t produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= hard_cap) {
        throw ProtocolError(what + " inflates past the limit of " + std::to_string(limit) +
                            " bytes (max_inflated_bytes)");
      }
      grow_output(std::min(out.size() * 2, hard_cap));
    }
    const std::size_t room = std::min<std::size_t>(out.size() - produced, UINT_MAX);
    inflater->next_out = out.data() + produced;
    inflater->avail_out = static_cast<uInt>(room);
    const uInt in_before = inflater->avail_in;
    const int rc = inflate(inflater.get(), Z_NO_FLUSH);
    produced += room - inflater->avail_out;
    if (produced > limit) {
      throw ProtocolError(what + " inflates past the limit of " + std::to_string(limit) +
                          " bytes (max_inflated_bytes)");
    }
    switch (rc) {
      case Z_STREAM_END:
        if (inflater->avail_in != 0) {
          throw ProtocolError(what + " has " + std::to_string(inflater->avail_in) +
                              " trailing bytes after its zlib stream");
        }
        out.resize(produced);
        return;
      case Z_NEED_DICT:
        throw ProtocolError(what + " needs a preset zlib dictionary");
      case Z_DATA_ERROR:
        throw ProtocolError(what + " is not a valid zlib stream (" +
                            (inflater->msg ? inflater->msg : "data error") + ")");
      case Z_MEM_ERROR:
        throw ProtocolError(what + " could not be inflated: zlib is out of memory");
      case Z_OK:
      case Z_BUF_ERROR:
        // Out of output space: loop and grow. Out of input before the end: truncated.
        if (inflater->avail_out != 0 &&
            (inflater->avail_in == 0 || inflater->avail_in == in_before)) {
          throw ProtocolError(what + " ends before its zlib stream does (truncated)");
        }
        break;
      default:
        throw ProtocolError(what + " could not be inflated (zlib error " + std::to_string(rc) +
                            ")");
    }
  }
}

}  // namespace

Channel::Channel(StreamPtr stream, ChannelConfig config)
    : stream_(std::move(stream)),
      config_(config),
      frame_per_write_(stream_->one_frame_per_write()),
      frame_lease_(config_.buffer_budget != nullptr ? *config_.buffer_budget : BufferBudget::process(),
                   kBudgetAllowance),
      send_lease_(config_.buffer_budget != nullptr ? *config_.buffer_budget : BufferBudget::process(),
                  kSendAllowance) {
  stream_->set_write_timeout(config_.write_timeout);
}

Channel::~Channel() = default;

void Channel::recv(std::vector<std::uint8_t>& out) { recv_until(out, kForever); }

bool Channel::recv_until(std::vector<std::uint8_t>& out,
                         std::chrono::steady_clock::time_point start_deadline) {
  try {
    const bool was_waiting = frame_waiting_.load(std::memory_order_relaxed);
    const bool received = receive_frame(out, start_deadline);
    frame_lease_.release();  // handed over
    const bool waiting = received && buffered() == Buffered::frame;
    frame_waiting_.store(waiting, std::memory_order_relaxed);
    // Only frames that wait behind another pay for a clock read (never a lone request).
    handed_buffered_at_ = received && was_waiting ? waiting_since_ : std::chrono::steady_clock::time_point{};
    if (waiting && !was_waiting) waiting_since_ = std::chrono::steady_clock::now();
    return received;
  } catch (...) {
    frame_lease_.release();  // the frame failed: its buffers are no longer "in progress"
    throw;
  }
}

bool Channel::receive_frame(std::vector<std::uint8_t>& out,
                            std::chrono::steady_clock::time_point start_deadline) {
  // A large frame a reactor began: its rest comes straight into out (frame_timeout from now,
  // as for any frame a reactor left partial).
  if (large_ != nullptr) {
    complete_large(frame_deadline(), out);
    return true;
  }
  if (buffered_bytes() == 0 && !fill_until(start_deadline)) return false;
  // From its first byte on, the frame has frame_timeout to arrive whole. Most frames come
  // whole with their first read, and then the clock is never read.
  auto deadline = std::chrono::steady_clock::time_point::min();
  const auto frame_deadline_once = [&] {
    if (deadline == std::chrono::steady_clock::time_point::min()) deadline = frame_deadline();
    return deadline;
  };
  while (buffered_bytes() < kHeaderBytes) fill_frame_until(frame_deadline_once());
  const std::uint32_t length = checked_length();
  const std::size_t total = kHeaderBytes + std::size_t{length} + 1;
  if (buffered_bytes() < total && total > kReadChunk) {
    start_large(length, out);
    complete_large(frame_deadline_once(), out);
    return true;
  }
  while (buffered_bytes() < total) fill_frame_until(frame_deadline_once());
  take_frame(length, out);
  return true;
}

std::chrono::steady_clock::time_point Channel::frame_deadline() const {
  if (config_.frame_timeout.count() < 0) return kForever;
  return std::chrono::steady_clock::now() + config_.frame_timeout;
}

bool Channel::poll(std::chrono::milliseconds timeout) {
  if (buffered() == Buffered::frame) return true;
  return stream_->poll(timeout);
}

Buffered Channel::read_available() { return read_available(reactor_frame_); }

Buffered Channel::read_available(std::vector<std::uint8_t>& frame_buffer, Refill refill) {
  // After a short read the stream held nothing more: what comes later, the poller sees.
  bool may_read = refill == Refill::always || !stream_drained_;
  try {
    for (;;) {
      if (large_ != nullptr) {
        adopt_large(frame_buffer);
        if (large_done_ == large_body()) return Buffered::frame;
        if (!may_read || read_large(std::chrono::milliseconds(0)) == 0) {
          stream_->acknowledge_now();  // as fill_frame_until
          return Buffered::partial;
        }
        may_read = true;
        continue;
      }
      if (buffered_bytes() >= kHeaderBytes) {
        const std::uint32_t length = checked_length();  // a forged header fails now
        const std::size_t total = kHeaderBytes + std::size_t{length} + 1;
        if (buffered_bytes() < total && total > kReadChunk) {
          start_large(length, frame_buffer);  // the rest goes straight into its buffer
          continue;
        }
        if (buffered_bytes() >= total) return Buffered::frame;
      }
      if (!may_read || !fill_now()) {
        const Buffered have = buffered();
        if (have == Buffered::partial) stream_->acknowledge_now();  // as fill_frame_until
        return have;
      }
      may_read = true;
    }
  } catch (...) {
    abandon_large();
    frame_lease_.release();
    throw;
  }
}

Buffered Channel::buffered() const noexcept {
  if (large_ != nullptr) return large_done_ == large_body() ? Buffered::frame : Buffered::partial;
  const std::size_t have = buffered_bytes();
  if (have == 0) return Buffered::nothing;
  if (have < kHeaderBytes) return Buffered::partial;
  return have >= kHeaderBytes + std::size_t{length_of(input_.data() + input_head_)} + 1
             ? Buffered::frame
             : Buffered::partial;
}

bool Channel::fill_until(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (fill(remaining(deadline))) return true;
    if (deadline != kForever && std::chrono::steady_clock::now() >= deadline) return false;
  }
}

void Channel::fill_frame_until(std::chrono::steady_clock::time_point deadline) {
  stream_->acknowledge_now();  // part of the frame came: a Nagle-bound sender sends the rest now
  if (fill_until(deadline)) return;
  throw Timeout("frame not complete after " + std::to_string(config_.frame_timeout.count()) +
                " ms: " + std::to_string(buffered_bytes()) + " bytes of it arrived (" +
                stream_->peer_name() + ")");
}

bool Channel::fill(std::chrono::milliseconds wait) {
  if (buffered_bytes() == 0) {
    // Read ahead into this thread's scratch and keep only what came: an idle connection
    // holds no read-ahead buffer (a server with 10,000 of them would hold 640 MiB).
    thread_local std::array<std::uint8_t, kReadChunk> scratch;
    const std::size_t n = receive_some(scratch, wait);
    stream_drained_ = n < scratch.size();
    if (n == 0) return false;
    input_head_ = 0;
    input_tail_ = n;
    if (input_.size() < n) grow_to(input_, n);
    std::memcpy(input_.data(), scratch.data(), n);
    return true;
  }
  make_room_for_frame();
  const std::size_t room = input_.size() - input_tail_;
  const std::size_t n = receive_some(std::span<std::uint8_t>(input_.data() + input_tail_, room), wait);
  stream_drained_ = n < room;
  input_tail_ += n;
  return n > 0;
}

void Channel::make_room_for_frame() {
  const std::size_t have = buffered_bytes();
  const std::size_t total =
      have < kHeaderBytes ? 0 : kHeaderBytes + std::size_t{length_of(input_.data() + input_head_)} + 1;
  if (total <= have) {
    reserve_input(kHeaderBytes);  // the header is not in yet (a whole frame is taken first)
  } else if (total <= kReadChunk) {
    reserve_input(total - have);  // a small frame: room for all of its rest at once
  } else if (input_tail_ == input_.size()) {
    // A large one fills the room there is first; a full buffer grows as far as grown_size
    // allows.
    reserve_input(grown_size(have, total) - have);
  }
}

void Channel::reserve_input(std::size_t want) {
  if (input_.size() - input_tail_ >= want) return;
  if (input_head_ > 0) {
    std::memmove(input_.data(), input_.data() + input_head_, buffered_bytes());
    input_tail_ -= input_head_;
    input_head_ = 0;
  }
  frame_lease_.cover(input_tail_ + want);  // what is buffered belongs to the frame in progress
  grow_to(input_, input_tail_ + want);
}

std::uint32_t Channel::checked_length() const {
  const std::uint8_t* header = input_.data() + input_head_;
  const std::uint32_t length = length_of(header);
  if (length > config_.max_frame_bytes) {
    throw ProtocolError("frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                        std::to_string(config_.max_frame_bytes) + " (max_frame_bytes)" +
                        guess_foreign_protocol(header));
  }
  if (header[4] != kFlagPlain && header[4] != kFlagZlib) {
    throw ProtocolError("invalid compressed flag " + std::to_string(header[4]) + " in frame header");
  }
  return length;
}

void Channel::take_frame(std::uint32_t length, std::vector<std::uint8_t>& out) {
  const std::uint8_t* frame = input_.data() + input_head_;
  const std::size_t frame_bytes = kHeaderBytes + std::size_t{length} + 1;
  // The frame leaves the buffer whatever its payload holds: framing stays aligned.
  input_head_ += frame_bytes;
  try {
    check_terminator(frame[kHeaderBytes + length], length);
    const std::span<const std::uint8_t> payload(frame + kHeaderBytes, length);
    if (frame[4] == kFlagPlain) {
      frame_lease_.cover(frame_bytes + length);  // the copy, beside the raw frame
      out.assign(payload.begin(), payload.end());
    } else {
      inflate_payload(payload, config_.max_inflated_bytes, out, frame_lease_, frame_bytes);
    }
  } catch (...) {
    shrink_input();
    throw;
  }
  shrink_input();
}

void Channel::shrink_input() {
  if (input_head_ == input_tail_) input_head_ = input_tail_ = 0;
  if (input_.capacity() <= kRetainedScratchBytes) return;
  // One huge frame must not pin its buffer for the life of the connection: what follows it
  // (the start of the next frame, if anything) moves to a buffer of its own size.
  std::vector<std::uint8_t> rest(input_.begin() + static_cast<std::ptrdiff_t>(input_head_),
                                 input_.begin() + static_cast<std::ptrdiff_t>(input_tail_));
  input_.swap(rest);
  input_head_ = 0;
  input_tail_ = input_.size();
}

void Channel::start_large(std::uint32_t length, std::vector<std::uint8_t>& out) {
  large_plain_ = input_[input_head_ + 4] == kFlagPlain;
  large_ = large_plain_ ? &out : &recv_scratch_;
  large_length_ = length;
  // What is buffered is this frame's beginning and nothing past it (it is not whole). The
  // raw body grows with what arrives (grown_size), each step charged to the budget first;
  // room it already has from an earlier frame is used as it is, up to the end of this frame.
  large_done_ = buffered_bytes() - kHeaderBytes;
  try {
    grow_large();
    std::memcpy(large_->data(), input_.data() + input_head_ + kHeaderBytes, large_done_);
  } catch (...) {
    abandon_large();
    throw;
  }
  input_head_ = input_tail_;
  shrink_input();
}

void Channel::grow_large() {
  const std::size_t size = grown_size(large_done_, large_body());
  frame_lease_.cover(size);
  grow_to(*large_, size);
}

void Channel::adopt_large(std::vector<std::uint8_t>& out) {
  if (!large_plain_ || large_ == &out) return;
  out.swap(*large_);  // a reader that gave another vector: the frame moves, not its bytes
  large_ = &out;
}

std::size_t Channel::read_large(std::chrono::milliseconds wait) {
  const std::size_t body = large_body();
  if (large_done_ == std::min(large_->size(), body)) grow_large();
  const std::size_t room = std::min(large_->size(), body) - large_done_;
  const std::size_t n = receive_some(std::span<std::uint8_t>(large_->data() + large_done_, room), wait);
  stream_drained_ = n < room;
  large_done_ += n;
  return n;
}

void Channel::abandon_large() noexcept {
  large_ = nullptr;
  release_if_large(recv_scratch_);
  release_if_large(reactor_frame_);
}

void Channel::complete_large(std::chrono::steady_clock::time_point deadline, std::vector<std::uint8_t>& out) {
  const std::uint32_t length = large_length_;
  const std::size_t body = large_body();
  try {
    adopt_large(out);
    while (large_done_ < body) {
      stream_->acknowledge_now();  // as fill_frame_until
      const std::size_t n = read_large(remaining(deadline));
      if (n == 0 && deadline != kForever && std::chrono::steady_clock::now() >= deadline) {
        throw Timeout("frame not complete after " +
                      std::to_string(config_.frame_timeout.count()) + " ms: " +
                      std::to_string(large_done_ + kHeaderBytes) + " of " +
                      std::to_string(body + kHeaderBytes) + " bytes arrived (" +
                      stream_->peer_name() + ")");
      }
    }
    std::vector<std::uint8_t>& raw = *large_;
    large_ = nullptr;  // whatever its payload holds, the frame has left the stream
    check_terminator(raw[length], length);
    if (large_plain_) {
      out.resize(length);
    } else {
      inflate_payload(std::span<const std::uint8_t>(raw.data(), length),
                      config_.max_inflated_bytes, out, frame_lease_, body);
    }
  } catch (...) {
    abandon_large();
    throw;
  }
  abandon_large();  // lets go of the scratch buffers a huge frame grew
}

}  // namespace netref
