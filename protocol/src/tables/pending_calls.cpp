// PendingCalls (pending_calls.hpp).
#include "pending_calls.hpp"

#include <stdexcept>
#include <utility>

namespace netref::detail {

bool PendingCalls::awaited(std::uint32_t seq) const noexcept {
  const Slot* slot = slot_of(seq);
  if (slot != nullptr && slot->call && slot->seq == seq) return true;
  return !overflow_.empty() && overflow_.count(seq) != 0;
}

std::uint32_t PendingCalls::next_free_seq() noexcept {
  std::uint32_t seq = next_seq_++;
  while (size_ != 0 && awaited(seq)) seq = next_seq_++;  // wrapped onto a call still in flight
  ++issued_;
  return seq;
}

std::uint32_t PendingCalls::add(std::shared_ptr<PendingCall> call) {
  if (!ring_) ring_ = std::make_unique<Slot[]>(kRingSlots);
  const std::uint32_t seq = next_free_seq();
  call->seq = seq;
  Slot& slot = *slot_of(seq);
  if (!slot.call) {
    slot.seq = seq;
    slot.call = std::move(call);
  } else {
    overflow_.emplace(seq, std::move(call));
  }
  ++size_;
  return seq;
}

std::uint32_t PendingCalls::issue_unanswered() noexcept { return next_free_seq(); }

std::shared_ptr<PendingCall> PendingCalls::take(std::uint32_t seq) noexcept {
  if (Slot* slot = slot_of(seq); slot != nullptr && slot->call && slot->seq == seq) {
    --size_;
    return std::move(slot->call);  // leaves the slot free
  }
  if (overflow_.empty()) return nullptr;
  auto it = overflow_.find(seq);
  if (it == overflow_.end()) return nullptr;
  auto call = std::move(it->second);
  overflow_.erase(it);
  --size_;
  return call;
}

void PendingCalls::restart_at(std::uint32_t seq) {
  if (size_ != 0) throw std::logic_error("the next seq can change only while no call awaits a reply");
  next_seq_ = seq;
  issued_ = 0;
}

bool PendingCalls::issued_earlier(std::uint32_t seq) const noexcept {
  if (awaited(seq)) return false;
  const std::uint32_t age = next_seq_ - 1 - seq;  // unsigned: right across the wrap
  return issued_ != 0 && age < issued_;
}

PendingCalls::Map PendingCalls::take_all() {
  Map all = std::exchange(overflow_, {});
  if (ring_) {
    for (std::size_t i = 0; i < kRingSlots; ++i) {
      if (ring_[i].call) all.emplace(ring_[i].seq, std::move(ring_[i].call));
    }
  }
  size_ = 0;
  return all;
}

}  // namespace netref::detail
