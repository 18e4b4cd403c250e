// Item vectors kept per thread (see the header).
#include "netref/protocol/detail/item_vectors.hpp"

namespace netref::detail {
namespace {
constexpr std::size_t kKeptCapacity = 16;

std::vector<Value>& kept() {
  thread_local std::vector<Value> items;
  return items;
}
}  // namespace

std::vector<Value> take_item_vector() noexcept { return std::move(kept()); }

void give_back_item_vector(std::vector<Value>& items) noexcept {
  items.clear();
  if (items.capacity() > kKeptCapacity) return;
  auto& spare = kept();
  if (spare.capacity() < items.capacity()) spare.swap(items);
}

}  // namespace netref::detail
