// The sending side of a channel: frames go onto one outgoing queue, and whichever thread
// holds the writer role writes it out without ever waiting on the peer. A thread that finds
// the transport full gives the role back with the bytes still queued; someone that may
// wait (a receiver, a sync caller, a reactor watching for room) carries them later.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>
#include <string>

#include "frame_format.hpp"
#include "netref/channel/channel.hpp"

namespace netref {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kNever = Clock::time_point::max();
using detail::kFlagPlain;
using detail::kFlagZlib;
using detail::kHeaderBytes;
using detail::kTerminator;

// Queue buffers above this are let go once empty: one huge reply must not pin its memory.
constexpr std::size_t kKeptBytes = 1u << 20;
// A receiver that waits while another thread writes looks at the queue again this often:
// that writer may leave bytes behind when the transport fills.
constexpr std::chrono::milliseconds kBusyWriterSlice(10);

constexpr std::uint8_t kTerminatorByte[1] = {kTerminator};

std::array<std::uint8_t, kHeaderBytes> header_of(std::size_t length, std::uint8_t flag) {
  return {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), flag};
}

std::chrono::milliseconds remaining(Clock::time_point deadline) {
  if (deadline == kNever) return std::chrono::milliseconds(-1);
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

// The compressed form of an outgoing payload, in this thread's scratch.
std::vector<std::uint8_t>& compress_scratch() {
  thread_local std::vector<std::uint8_t> scratch;
  return scratch;
}

// A payload given in parts, joined for zlib (compression costs far more than this copy).
std::vector<std::uint8_t>& join_scratch() {
  thread_local std::vector<std::uint8_t> scratch;
  return scratch;
}

void release_if_large(std::vector<std::uint8_t>& buffer) {
  if (buffer.capacity() > kKeptBytes) std::vector<std::uint8_t>().swap(buffer);
}

// Lets go of this thread's compression scratch after a huge payload.
struct ScratchTrim {
  ~ScratchTrim() {
    release_if_large(compress_scratch());
    release_if_large(join_scratch());
  }
};

std::size_t size_of(std::span<const std::span<const std::uint8_t>> parts) {
  std::size_t size = 0;
  for (const auto& part : parts) size += part.size();
  return size;
}

}  // namespace

std::span<const std::span<const std::uint8_t>> Channel::frame_body(
    std::span<const std::span<const std::uint8_t>> parts, std::uint8_t& flag, std::span<const std::uint8_t>& packed) {
  flag = kFlagPlain;
  if (parts.size() > kMaxParts) {
    throw std::invalid_argument("a payload of " + std::to_string(parts.size()) + " parts (at most " +
                                std::to_string(kMaxParts) + ")");
  }
  const std::size_t size = size_of(parts);
  if (size > std::numeric_limits<std::uint32_t>::max()) {
    throw Error("frame of " + std::to_string(size) + " bytes does not fit the 32-bit length field");
  }
  if (!config_.compress || size <= config_.compression_threshold) return parts;
  std::span<const std::uint8_t> payload = parts.size() == 1 ? parts[0] : std::span<const std::uint8_t>();
  if (parts.size() > 1) {
    auto& joined = join_scratch();
    joined.clear();
    for (const auto& part : parts) joined.insert(joined.end(), part.begin(), part.end());
    payload = joined;
  }
  auto& scratch = compress_scratch();
  uLongf compressed = compressBound(static_cast<uLong>(size));
  if (scratch.size() < compressed) scratch.resize(compressed);
  const int rc = compress2(scratch.data(), &compressed, payload.data(), static_cast<uLong>(size),
                           config_.compression_level);
  if (rc != Z_OK) {
    throw Error("cannot compress a payload of " + std::to_string(size) + " bytes (zlib error " +
                std::to_string(rc) + ")");
  }
  flag = kFlagZlib;
  packed = std::span<const std::uint8_t>(scratch.data(), compressed);
  return std::span<const std::span<const std::uint8_t>>(&packed, 1);
}

void Channel::append_frame_locked(std::span<const std::span<const std::uint8_t>> body, std::uint8_t flag) {
  const std::size_t size = size_of(body);
  const std::size_t total = kHeaderBytes + size + 1;
  send_lease_.cover(queued_.load(std::memory_order_relaxed) + total);  // throws before anything changes
  const auto header = header_of(size, flag);
  if (queue_.capacity() - queue_.size() < total) queue_.reserve(std::max(queue_.size() + total, 2 * queue_.capacity()));
  queue_.insert(queue_.end(), header.begin(), header.end());
  for (const auto& part : body) queue_.insert(queue_.end(), part.begin(), part.end());
  queue_.push_back(kTerminator);
  if (frame_per_write_) queue_ends_.push_back(queue_.size());
  queued_.fetch_add(total, std::memory_order_relaxed);
  queued_total_.fetch_add(total, std::memory_order_relaxed);
  send_state_.fetch_or(kBacklog, std::memory_order_acq_rel);
}

void Channel::enqueue(std::span<const std::uint8_t> payload) {
  enqueue(std::span<const std::span<const std::uint8_t>>(&payload, 1));
}

void Channel::enqueue(std::span<const std::span<const std::uint8_t>> parts) {
  ScratchTrim trim;
  std::uint8_t flag;
  std::span<const std::uint8_t> packed;
  const auto body = frame_body(parts, flag, packed);
  if (stream_->closed()) throw ConnectionClosed("connection closed locally (" + stream_->peer_name() + ")");
  std::lock_guard lk(out_mutex_);
  append_frame_locked(body, flag);
}

Flush Channel::send_nowait(std::span<const std::uint8_t> payload) {
  return send_nowait(std::span<const std::span<const std::uint8_t>>(&payload, 1));
}

Flush Channel::send_nowait(std::span<const std::span<const std::uint8_t>> parts) {
  ScratchTrim trim;
  std::uint8_t flag;
  std::span<const std::uint8_t> packed;
  const auto body = frame_body(parts, flag, packed);
  const std::size_t size = size_of(body);
  const std::size_t total = kHeaderBytes + size + 1;
  // Nobody writes and nothing waits: this thread takes the writer role without the lock.
  std::uint8_t idle = 0;
  if (!send_state_.compare_exchange_strong(idle, kWriter, std::memory_order_acquire, std::memory_order_relaxed)) {
    {
      std::lock_guard lk(out_mutex_);
      append_frame_locked(body, flag);
      const auto before = send_state_.fetch_or(kWriter, std::memory_order_acq_rel);
      // The writer sees the backlog before it leaves.
      if ((before & kWriter) != 0) return Flush::busy;
    }
    return write_queued();
  }
  queued_total_.fetch_add(total, std::memory_order_relaxed);
  // Nothing queued before it: straight from the caller's bytes, copying only what the
  // transport does not take now.
  const auto header = header_of(size, flag);
  std::array<std::span<const std::uint8_t>, kMaxParts + 2> storage;
  std::size_t count = 0;
  storage[count++] = header;
  for (const auto& part : body) storage[count++] = part;
  storage[count++] = std::span<const std::uint8_t>(kTerminatorByte);
  const std::span<const std::span<const std::uint8_t>> pieces(storage.data(), count);
  std::size_t sent;
  try {
    sent = stream_->write_some(pieces);
  } catch (...) {
    std::lock_guard lk(out_mutex_);
    send_state_.fetch_and(static_cast<std::uint8_t>(~kWriter), std::memory_order_acq_rel);
    throw;
  }
  written_total_.fetch_add(sent, std::memory_order_relaxed);
  count_write(sent);
  if (sent < total) {
    writing_.clear();
    writing_head_ = 0;
    writing_ends_.clear();
    writing_frame_ = 0;
    std::size_t skip = sent;
    for (const auto& piece : pieces) {
      const std::size_t from = std::min(skip, piece.size());
      skip -= from;
      writing_.insert(writing_.end(), piece.begin() + static_cast<std::ptrdiff_t>(from), piece.end());
    }
    if (frame_per_write_) writing_ends_.push_back(writing_.size());
    std::lock_guard lk(out_mutex_);
    queued_.fetch_add(total - sent, std::memory_order_relaxed);
    send_state_.fetch_or(kBacklog, std::memory_order_acq_rel);
    try {
      send_lease_.cover(queued_.load(std::memory_order_relaxed));
    } catch (...) {
      send_state_.fetch_and(static_cast<std::uint8_t>(~kWriter), std::memory_order_acq_rel);
      stream_->close();  // part of a frame is out: the stream cannot carry another one
      throw;
    }
    release_writer_locked(/*bytes_left=*/true);
    return Flush::blocked;
  }
  // All of it went: leave as we came, unless others queued meanwhile (then carry it).
  std::uint8_t writing = kWriter;
  if (send_state_.compare_exchange_strong(writing, 0, std::memory_order_release, std::memory_order_relaxed)) {
    return Flush::done;
  }
  return write_queued();
}

Flush Channel::write_queued() {
  for (;;) {
    if (writing_head_ == writing_.size()) {
      std::lock_guard lk(out_mutex_);
      if (queue_.empty()) {
        release_if_large(writing_);
        release_if_large(queue_);
        writing_.clear();
        writing_head_ = 0;
        writing_ends_.clear();
        writing_frame_ = 0;
        release_writer_locked(/*bytes_left=*/false);
        return Flush::done;
      }
      writing_.clear();
      writing_head_ = 0;
      queue_.swap(writing_);  // the old buffer's capacity serves the next frames
      writing_ends_.clear();
      writing_frame_ = 0;
      queue_ends_.swap(writing_ends_);
    }
    std::size_t end = writing_.size();
    if (frame_per_write_) {  // up to the end of the frame in progress only
      while (writing_ends_[writing_frame_] <= writing_head_) ++writing_frame_;
      end = writing_ends_[writing_frame_];
    }
    const std::span<const std::uint8_t> rest(writing_.data() + writing_head_, end - writing_head_);
    std::size_t sent;
    try {
      sent = stream_->write_some(std::span<const std::span<const std::uint8_t>>(&rest, 1));
    } catch (...) {
      std::lock_guard lk(out_mutex_);
      send_state_.fetch_and(static_cast<std::uint8_t>(~kWriter), std::memory_order_acq_rel);
      throw;
    }
    writing_head_ += sent;
    queued_.fetch_sub(sent, std::memory_order_relaxed);
    written_total_.fetch_add(sent, std::memory_order_relaxed);
    count_write(sent);
    if (sent < rest.size()) {
      std::lock_guard lk(out_mutex_);
      release_writer_locked(/*bytes_left=*/true);
      return Flush::blocked;
    }
  }
}

void Channel::release_writer_locked(bool bytes_left) {
  // Under out_mutex_ with the role held, no other thread changes the state meanwhile.
  send_state_.store(bytes_left ? kBacklog : 0, std::memory_order_release);
  if (stall_since_ != kNever && written_total_.load(std::memory_order_relaxed) >= stall_mark_) {
    stall_since_ = kNever;  // the backlog of the last stall is out
  }
  if (bytes_left && stall_since_ == kNever) {
    stall_since_ = Clock::now();
    stall_mark_ = queued_total_.load(std::memory_order_relaxed);
  }
  if (!bytes_left) send_lease_.cover(0);
}

Flush Channel::flush() {
  if (send_state_.load(std::memory_order_acquire) == 0) return Flush::done;
  {
    std::lock_guard lk(out_mutex_);
    const auto state = send_state_.load(std::memory_order_relaxed);
    if ((state & kWriter) != 0) return Flush::busy;
    if ((state & kBacklog) == 0) return Flush::done;
    send_state_.store(kWriter | kBacklog, std::memory_order_relaxed);
  }
  return write_queued();
}

void Channel::flush_wait() {
  for (;;) {
    if (flush() != Flush::blocked) return;
    check_write_deadline();
    stream_->wait_ready(/*want_read=*/false, /*want_write=*/true, remaining(write_deadline()));
  }
}

void Channel::send(std::span<const std::uint8_t> payload) {
  if (send_nowait(payload) == Flush::blocked) flush_wait();
}

Clock::time_point Channel::write_deadline() const noexcept {
  std::lock_guard lk(out_mutex_);
  if (stall_since_ == kNever || config_.write_timeout.count() < 0) return kNever;
  return stall_since_ + config_.write_timeout;
}

void Channel::check_write_deadline() {
  const auto deadline = write_deadline();
  if (deadline == kNever || Clock::now() < deadline) return;
  stream_->close();  // part of a frame may be out: the stream cannot be used again
  throw WriteStalled("write stalled: " + std::to_string(queued_bytes()) + " bytes queued for the peer, and what was queued " +
                     std::to_string(config_.write_timeout.count()) +
                     " ms ago is still not written (write_timeout): the peer is not reading (" + stream_->peer_name() +
                     ")");
}

bool Channel::wait_writable(std::chrono::milliseconds timeout) {
  return stream_->wait_ready(/*want_read=*/false, /*want_write=*/true, timeout).writable;
}

std::size_t Channel::receive_some(std::span<std::uint8_t> into, std::chrono::milliseconds wait) {
  if (queued_.load(std::memory_order_relaxed) == 0 || wait.count() == 0) return stream_->read_some(into, wait);
  // Bytes wait to go out: write them while waiting for input, so a peer that is itself
  // blocked sending to us, or waiting for the rest of our request, is never kept waiting.
  const auto deadline = wait.count() < 0 ? kNever : Clock::now() + wait;
  for (;;) {
    const Flush state = flush();
    if (state == Flush::done) return stream_->read_some(into, remaining(deadline));
    check_write_deadline();
    auto slice = remaining(std::min(deadline, write_deadline()));
    if (state == Flush::busy && (slice.count() < 0 || slice > kBusyWriterSlice)) slice = kBusyWriterSlice;
    // Past max_send_queue_bytes, read nothing more until the peer takes what we owe it
    // (backpressure): it cannot flood requests whose replies it never reads.
    const bool full = queued_bytes() > config_.max_send_queue_bytes;
    const auto ready = stream_->wait_ready(!full, state == Flush::blocked, slice);
    if (ready.readable) return stream_->read_available(into);
    if (deadline != kNever && Clock::now() >= deadline) return 0;
  }
}

}  // namespace netref
