#pragma once
/// The process buffer budget (docs/FAULTS.md B4): a cap on the memory of the frames being
/// received, over every connection at once. Each Channel charges what it holds for the frame
/// in progress (the raw bytes and the inflated output) beyond a small allowance of its own;
/// a frame whose buffers would take the total past the limit is refused with BudgetExceeded
/// and its connection closes (close category "budget"). So fifty peers each sending a frame
/// just under the size caps cannot exhaust the process, and frames that fit the allowance
/// never touch the shared counter.
#include "netref/export.hpp"
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "netref/stream/error.hpp"

namespace netref {

/// A frame could not get the receive buffers it needs without taking its budget past the
/// limit. Not a broken peer (many honest ones at once can cause it): the connection closes,
/// and a client may reconnect later.
class NETREF_API BudgetExceeded : public Error {
 public:
  using Error::Error;
};

/// Bytes of receive buffers, counted against a limit. Thread-safe; the counters are for
/// monitoring and tests.
class NETREF_API BufferBudget {
 public:
  /// The limit of the process budget unless set_limit changes it: 512 MiB.
  static constexpr std::size_t default_limit = std::size_t{512} << 20;

  explicit BufferBudget(std::size_t limit = default_limit) noexcept : limit_(limit) {}
  BufferBudget(const BufferBudget&) = delete;
  BufferBudget& operator=(const BufferBudget&) = delete;

  /// The budget every Channel charges unless its ChannelConfig::buffer_budget names another.
  static BufferBudget& process() noexcept;

  /// Changes the limit. Bytes granted stay granted: below a lowered limit, new charges are
  /// refused until enough is given back.
  void set_limit(std::size_t bytes) noexcept { limit_.store(bytes, std::memory_order_relaxed); }
  std::size_t limit() const noexcept { return limit_.load(std::memory_order_relaxed); }
  /// Bytes granted now.
  std::size_t in_use() const noexcept { return in_use_.load(std::memory_order_relaxed); }
  /// The most bytes granted at once, since construction or reset_peak(). Never above the
  /// limit in force when they were granted.
  std::size_t peak() const noexcept { return peak_.load(std::memory_order_relaxed); }
  /// Charges refused so far (each one cost a connection).
  std::uint64_t refusals() const noexcept { return refusals_.load(std::memory_order_relaxed); }
  /// Starts a new peak from what is in use now.
  void reset_peak() noexcept { peak_.store(in_use(), std::memory_order_relaxed); }

  /// Grants bytes if in_use() + bytes stays within the limit; otherwise grants nothing, counts
  /// a refusal and returns false.
  bool try_take(std::size_t bytes) noexcept;
  /// Gives back bytes granted earlier.
  void give_back(std::size_t bytes) noexcept { in_use_.fetch_sub(bytes, std::memory_order_relaxed); }

 private:
  std::atomic<std::size_t> limit_;
  std::atomic<std::size_t> in_use_{0};
  std::atomic<std::size_t> peak_{0};
  std::atomic<std::uint64_t> refusals_{0};
};

/// One receiver's claim on a budget: the bytes it holds for the frame in progress, of which
/// the first `allowance` are free. Grows and shrinks with cover(); gives everything back on
/// release() and when destroyed. Used by one thread at a time (the channel's receiver).
class NETREF_API BufferLease {
 public:
  BufferLease(BufferBudget& budget, std::size_t allowance) noexcept : budget_(&budget), allowance_(allowance) {}
  ~BufferLease() { release(); }
  BufferLease(const BufferLease&) = delete;
  BufferLease& operator=(const BufferLease&) = delete;

  /// Makes the lease cover `bytes` held in all: takes from the budget what lies beyond the
  /// allowance and is not charged yet, or gives back what is no longer held. Throws
  /// BudgetExceeded, charging nothing more, when the budget cannot grant it. Within the
  /// allowance, with nothing charged, it costs a comparison.
  void cover(std::size_t bytes) {
    if (bytes <= allowance_ && charged_ == 0) return;
    recharge(bytes > allowance_ ? bytes - allowance_ : 0);
  }
  /// Gives every charged byte back.
  void release() noexcept {
    if (charged_ == 0) return;
    budget_->give_back(charged_);
    charged_ = 0;
  }
  /// Bytes charged to the budget now.
  std::size_t charged() const noexcept { return charged_; }

 private:
  void recharge(std::size_t wanted);

  BufferBudget* budget_;
  std::size_t allowance_;
  std::size_t charged_ = 0;
};

}  // namespace netref
