#pragma once
// The peer's requests this connection is serving right now, by seq.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "netref/stream/error.hpp"

namespace netref {
class RequestContext;
}

namespace netref::detail {

/// Seqs of the peer's requests in service, each with its RequestContext (which CANCEL
/// reaches). A seq still in service must not be taken by another request: both replies would
/// carry it, and the peer would take the first for the other's answer (docs/FAULTS.md R5).
/// Few at once (nested callbacks): the first four sit in slots a request's end clears without
/// the connection's lock (end_unlocked); more spill into a vector under it.
///
/// A context is read only under the lock, by CANCEL (with_context), which pins the slot while
/// it does: a lock-free end waits for the pin to go, so the context, which lives on the
/// serving thread's stack, is never read after its request ended.
class ServingRequests {
 public:
  static constexpr std::size_t kSlots = 4;
  static constexpr std::size_t kSpilled = kSlots;      ///< begin's answer for a seq past the slots
  static constexpr std::size_t kUnknown = kSlots + 1;  ///< for end_unlocked: where seq is, not known

  /// Starts serving seq; throws ProtocolError when a request with seq is still in service.
  /// context: the request's RequestContext, or null (none that CANCEL may stop). The
  /// connection's state lock held. Returns where seq went (a slot, or kSpilled), which its
  /// end may name.
  std::size_t begin(std::uint32_t seq, RequestContext* context = nullptr) {
    // Only begin (under the lock) fills a slot; end only empties one: a slot read free stays
    // so. No slot is pinned here: CANCEL pins under the same lock.
    static_assert(kSlots == 4);
    const std::uint64_t mark = marked(seq);
    const std::uint64_t s0 = slots_[0].load(std::memory_order_acquire);
    const std::uint64_t s1 = slots_[1].load(std::memory_order_acquire);
    const std::uint64_t s2 = slots_[2].load(std::memory_order_acquire);
    const std::uint64_t s3 = slots_[3].load(std::memory_order_acquire);
    if (s0 == mark || s1 == mark || s2 == mark || s3 == mark) [[unlikely]] throw_duplicate(seq);
    if (!more_.empty() && find_more(seq) != more_.end()) [[unlikely]] throw_duplicate(seq);
    const std::size_t free_slot = s0 == 0 ? 0 : s1 == 0 ? 1 : s2 == 0 ? 2 : s3 == 0 ? 3 : kSlots;
    if (free_slot != kSlots) [[likely]] {
      contexts_[free_slot] = context;
      slots_[free_slot].store(mark, std::memory_order_release);
      return free_slot;
    }
    more_.emplace_back(seq, context);
    return kSpilled;
  }
  /// seq's reply is sent (or will never be), without the lock: true if seq was in a slot;
  /// false, and the caller calls end_locked under the lock. Waits while CANCEL pins the slot
  /// (a few instructions). where: what begin returned, or kUnknown.
  bool end_unlocked(std::uint32_t seq, std::size_t where = kUnknown) noexcept {
    const std::uint64_t mark = marked(seq);
    if (where < kSlots) return empty_slot(slots_[where], mark);
    if (where == kSpilled) return false;
    for (auto& slot : slots_) {
      if (empty_slot(slot, mark)) return true;
    }
    return false;
  }
  /// seq's reply is sent, for a seq that end_unlocked did not find; the state lock held.
  void end_locked(std::uint32_t seq) noexcept {
    if (auto it = find_more(seq); it != more_.end()) more_.erase(it);
  }
  /// Either end: the state lock held.
  void end(std::uint32_t seq) noexcept {
    if (!end_unlocked(seq)) end_locked(seq);
  }
  /// seq stays in service but its context goes (a reply that comes later than the handler's
  /// stack frame); the state lock held.
  void detach(std::uint32_t seq) noexcept {
    const std::uint64_t mark = marked(seq);
    for (std::size_t i = 0; i < kSlots; ++i) {
      if (slots_[i].load(std::memory_order_acquire) == mark) {
        contexts_[i] = nullptr;
        return;
      }
    }
    if (auto it = find_more(seq); it != more_.end()) it->second = nullptr;
  }
  /// Runs use(context) for the request seq in service, its context kept alive meanwhile; false
  /// when none runs (finished, unknown) or it has no context. use must not throw. The state
  /// lock held.
  template <class Use>
  bool with_context(std::uint32_t seq, Use&& use) noexcept {
    const std::uint64_t mark = marked(seq);
    for (std::size_t i = 0; i < kSlots; ++i) {
      std::uint64_t held = mark;
      if (!slots_[i].compare_exchange_strong(held, mark | kPinned, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
        continue;
      }
      RequestContext* context = contexts_[i];
      if (context != nullptr) use(*context);
      slots_[i].store(mark, std::memory_order_release);  // its end may go on
      return context != nullptr;
    }
    if (auto it = find_more(seq); it != more_.end() && it->second != nullptr) {
      use(*it->second);  // a spilled request ends under the lock this caller holds
      return true;
    }
    return false;
  }
  /// Requests in service; the state lock held.
  std::size_t size() const noexcept {
    std::size_t n = more_.size();
    for (const auto& slot : slots_) n += slot.load(std::memory_order_relaxed) != 0 ? 1 : 0;
    return n;
  }

 private:
  using Entry = std::pair<std::uint32_t, RequestContext*>;
  // A held slot: the seq with a bit above it, so seq 0 is not "free"; kPinned while CANCEL
  // reads its context.
  static constexpr std::uint64_t kPinned = std::uint64_t{1} << 33;
  static std::uint64_t marked(std::uint32_t seq) noexcept { return (std::uint64_t{1} << 32) | seq; }
  [[noreturn]] static void throw_duplicate(std::uint32_t seq) {
    throw ProtocolError("duplicate seq " + std::to_string(seq) + ": a request with this seq is still running");
  }
  /// Empties slot if it holds mark, waiting while it is pinned; false if it holds another.
  static bool empty_slot(std::atomic<std::uint64_t>& slot, std::uint64_t mark) noexcept {
    for (;;) {
      std::uint64_t held = mark;
      if (slot.compare_exchange_strong(held, 0, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
      if (held != (mark | kPinned)) return false;
      std::this_thread::yield();
    }
  }
  std::vector<Entry>::iterator find_more(std::uint32_t seq) noexcept {
    return std::find_if(more_.begin(), more_.end(), [seq](const Entry& e) { return e.first == seq; });
  }

  std::array<std::atomic<std::uint64_t>, kSlots> slots_{};
  std::array<RequestContext*, kSlots> contexts_{};  // under the lock only
  std::vector<Entry> more_;
};

}  // namespace netref::detail
