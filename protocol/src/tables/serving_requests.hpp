#pragma once
// The peer's requests this connection is serving right now, by seq.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "netref/stream/error.hpp"

namespace netref::detail {

/// Seqs of the peer's requests in service. A seq still in service must not be taken by
/// another request: both replies would carry it, and the peer would take the first for the
/// other's answer (docs/FAULTS.md R5). Few at once (nested callbacks): the first four sit in
/// slots a request's end clears without the connection's lock (end_unlocked); more spill
/// into a vector under it.
class ServingRequests {
 public:
  static constexpr std::size_t kSlots = 4;

  /// Starts serving seq; throws ProtocolError when a request with seq is still in service.
  /// The connection's state lock held.
  void begin(std::uint32_t seq) {
    const std::uint64_t mark = marked(seq);
    std::atomic<std::uint64_t>* free_slot = nullptr;
    for (auto& slot : slots_) {
      const std::uint64_t held = slot.load(std::memory_order_acquire);
      if (held == mark) throw_duplicate(seq);
      if (held == 0 && free_slot == nullptr) free_slot = &slot;
    }
    if (std::find(more_.begin(), more_.end(), seq) != more_.end()) throw_duplicate(seq);
    // Only begin (under the lock) fills a slot; end only empties one: a slot read free stays so.
    if (free_slot != nullptr) {
      free_slot->store(mark, std::memory_order_release);
    } else {
      more_.push_back(seq);
    }
  }
  /// seq's reply is sent (or will never be), without the lock: true if seq was in a slot;
  /// false, and the caller calls end_locked under the lock.
  bool end_unlocked(std::uint32_t seq) noexcept {
    const std::uint64_t mark = marked(seq);
    for (auto& slot : slots_) {
      std::uint64_t held = mark;
      if (slot.compare_exchange_strong(held, 0, std::memory_order_release, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  /// seq's reply is sent, for a seq that end_unlocked did not find; the state lock held.
  void end_locked(std::uint32_t seq) noexcept {
    if (auto it = std::find(more_.begin(), more_.end(), seq); it != more_.end()) more_.erase(it);
  }
  /// Either end: the state lock held.
  void end(std::uint32_t seq) noexcept {
    if (!end_unlocked(seq)) end_locked(seq);
  }
  /// Requests in service; the state lock held.
  std::size_t size() const noexcept {
    std::size_t n = more_.size();
    for (const auto& slot : slots_) n += slot.load(std::memory_order_relaxed) != 0 ? 1 : 0;
    return n;
  }

 private:
  // A held slot: the seq with a bit above it, so seq 0 is not "free".
  static std::uint64_t marked(std::uint32_t seq) noexcept { return (std::uint64_t{1} << 32) | seq; }
  [[noreturn]] static void throw_duplicate(std::uint32_t seq) {
    throw ProtocolError("duplicate seq " + std::to_string(seq) + ": a request with this seq is still running");
  }

  std::array<std::atomic<std::uint64_t>, kSlots> slots_{};
  std::vector<std::uint32_t> more_;
};

}  // namespace netref::detail
