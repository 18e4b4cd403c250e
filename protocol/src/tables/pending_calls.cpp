// PendingCalls (pending_calls.hpp).
#include "pending_calls.hpp"

#include <stdexcept>
#include <utility>

namespace netref::detail {

std::uint32_t PendingCalls::next_free_seq() noexcept {
  std::uint32_t seq = next_seq_++;
  while (calls_.count(seq) != 0) seq = next_seq_++;  // wrapped onto a call still in flight
  ++issued_;
  return seq;
}

std::uint32_t PendingCalls::add(std::shared_ptr<PendingCall> call) {
  const std::uint32_t seq = next_free_seq();
  call->seq = seq;
  if (spare_node_.empty()) {
    calls_.emplace(seq, std::move(call));
  } else {
    spare_node_.key() = seq;
    spare_node_.mapped() = std::move(call);
    calls_.insert(std::move(spare_node_));
  }
  return seq;
}

std::uint32_t PendingCalls::issue_unanswered() noexcept { return next_free_seq(); }

std::shared_ptr<PendingCall> PendingCalls::take(std::uint32_t seq) {
  auto it = calls_.find(seq);
  if (it == calls_.end()) return nullptr;
  auto node = calls_.extract(it);
  auto call = std::move(node.mapped());
  if (spare_node_.empty()) spare_node_ = std::move(node);
  return call;
}

void PendingCalls::restart_at(std::uint32_t seq) {
  if (!calls_.empty()) throw std::logic_error("the next seq can change only while no call awaits a reply");
  next_seq_ = seq;
  issued_ = 0;
}

void PendingCalls::forget(std::uint32_t seq) noexcept { calls_.erase(seq); }

bool PendingCalls::issued_earlier(std::uint32_t seq) const noexcept {
  if (calls_.count(seq) != 0) return false;
  const std::uint32_t age = next_seq_ - 1 - seq;  // unsigned: right across the wrap
  return issued_ != 0 && age < issued_;
}

PendingCalls::Map PendingCalls::take_all() noexcept { return std::exchange(calls_, {}); }

}  // namespace netref::detail
