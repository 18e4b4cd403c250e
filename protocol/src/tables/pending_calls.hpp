#pragma once
// The requests we sent and await replies for, by seq, and the issuing of seqs.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "netref/protocol/detail/timer_queue.hpp"
#include "netref/protocol/value.hpp"

namespace netref {
class AsyncResult;
}

namespace netref::detail {

/// A request we sent and whose reply we await. Guarded by the connection's state lock,
/// except that done may be read without it: once it reads true (acquire), value and error
/// are settled.
struct PendingCall {
  std::uint32_t seq = 0;
  std::atomic<bool> done{false};     // set once (release), after value or error
  Value value;                       // the reply, when done without error
  std::exception_ptr error;          // remote error, Timeout or ConnectionClosed
  std::chrono::steady_clock::time_point expiry = std::chrono::steady_clock::time_point::max();
  std::vector<std::function<void(const AsyncResult&)>> callbacks;  // AsyncResult::then
  // An async call counted in ConnectionConfig::call_metrics: its slot and when it was sent
  // (kUnmeasured: not counted here; a sync call is counted by its caller).
  static constexpr std::size_t kUnmeasured = static_cast<std::size_t>(-1);
  std::size_t metric_slot = kUnmeasured;
  std::chrono::steady_clock::time_point sent_at;
  // Set when the peer keeps this call's result for pipelining (feature `pipeline`): its
  // destruction, with the last handle on the call, sends the release.
  std::shared_ptr<void> kept;
  std::unique_ptr<Timer> expiry_timer;  // an async call's expiry (arm_expiry); sync calls have none

  /// Settles the call. The call's last write: a sync waiter that sees done may reuse the
  /// call at once.
  void complete(Value result, std::exception_ptr failure) {
    value = std::move(result);
    error = std::move(failure);
    done.store(true, std::memory_order_release);
  }
  /// Back to new, for reuse by the next sync call of a thread.
  void reset() {
    seq = 0;
    done.store(false, std::memory_order_relaxed);
    value = Value();
    error = nullptr;
    expiry = std::chrono::steady_clock::time_point::max();
    callbacks.clear();
    metric_slot = kUnmeasured;
  }
};

/// Seqs and the calls awaiting their replies. Seqs count up from a first one and wrap at
/// 2^32, skipping any still in flight. A call is filed in a ring slot chosen by its seq
/// (seqs are issued in order, so the calls in flight mostly fill distinct slots): filing and
/// taking are an index, with no hashing or allocation. A call whose slot is still held by an
/// older call in flight goes to an overflow map. The ring is allocated with the first call,
/// so a connection that never calls costs nothing. Not locked: the connection holds its
/// state lock.
class PendingCalls {
 public:
  using Map = std::unordered_map<std::uint32_t, std::shared_ptr<PendingCall>>;
  /// Ring slots: more than the deepest usual window of outstanding calls.
  static constexpr std::size_t kRingSlots = 128;

  explicit PendingCalls(std::uint32_t first_seq) noexcept : next_seq_(first_seq) {}

  /// Issues a seq for call (stored in call->seq) and files the call under it.
  std::uint32_t add(std::shared_ptr<PendingCall> call);
  /// Issues a seq for a message that gets no reply (DEL, CLOSE); a reply to it is late.
  std::uint32_t issue_unanswered() noexcept;
  /// The call awaiting seq's reply, taken out of the table; null when none awaits it.
  std::shared_ptr<PendingCall> take(std::uint32_t seq) noexcept;
  /// Drops seq's call (it timed out, or its request was never sent).
  void forget(std::uint32_t seq) noexcept { take(seq); }
  /// True if seq is one we issued that no call awaits any more (a timed-out call, a DEL):
  /// its reply is late, not forged. Looks back 2^32 seqs at most.
  bool issued_earlier(std::uint32_t seq) const noexcept;
  /// The next seq issued is seq. Only while no call awaits a reply (throws otherwise).
  void restart_at(std::uint32_t seq);
  /// Every call still awaiting a reply, taken out (the connection is closing).
  Map take_all();
  std::size_t size() const noexcept { return size_; }

 private:
  struct Slot {
    std::uint32_t seq = 0;
    std::shared_ptr<PendingCall> call;  // null: free
  };
  Slot* slot_of(std::uint32_t seq) const noexcept { return ring_ ? &ring_[seq % kRingSlots] : nullptr; }
  bool awaited(std::uint32_t seq) const noexcept;
  std::uint32_t next_free_seq() noexcept;

  std::unique_ptr<Slot[]> ring_;
  Map overflow_;  // calls whose ring slot an older call still held
  std::size_t size_ = 0;
  std::uint32_t next_seq_;
  std::uint64_t issued_ = 0;
};

}  // namespace netref::detail
