// The process buffer budget: a lock-free counter with a limit, and the lease a channel holds.
#include "netref/channel/buffer_budget.hpp"

#include <string>

namespace netref {

BufferBudget& BufferBudget::process() noexcept {
  static BufferBudget budget;
  return budget;
}

bool BufferBudget::try_take(std::size_t bytes) noexcept {
  std::size_t used = in_use_.load(std::memory_order_relaxed);
  do {
    const std::size_t limit = this->limit();
    if (used > limit || bytes > limit - used) {
      refusals_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!in_use_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  // The peak follows the counter; a racing taker with a higher total wins the exchange.
  const std::size_t now = used + bytes;
  std::size_t peak = peak_.load(std::memory_order_relaxed);
  while (peak < now && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
  return true;
}

void BufferLease::recharge(std::size_t wanted) {
  if (wanted < charged_) {
    budget_->give_back(charged_ - wanted);
  } else if (wanted > charged_ && !budget_->try_take(wanted - charged_)) {
    throw BudgetExceeded("receive buffers of " + std::to_string(wanted + allowance_) + " bytes for one frame (" +
                         std::to_string(wanted - charged_) + " more) would take the buffer budget past its limit of " +
                         std::to_string(budget_->limit()) + " bytes, " + std::to_string(budget_->in_use()) +
                         " of them in use (BufferBudget)");
  }
  charged_ = wanted;
}

}  // namespace netref
