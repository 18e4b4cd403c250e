#pragma once
/// Range-for over a proxy: `for (Proxy item : list_proxy) ...`. The iterator asks the peer
/// for items in batches (BUFFITER, ProxyIterator::batch at a time, as rpyc's buffiter does),
/// never one round trip per item. A tuple or a local object iterates without the network.
#include "netref/export.hpp"
#include <cstddef>
#include <iterator>
#include <memory>
#include <vector>

#include "netref/proxy/proxy.hpp"

namespace netref {

namespace detail {
struct IterationState;
}

/// An input iterator over a proxy's items (copies share one position).
class NETREF_API ProxyIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = Proxy;
  using difference_type = std::ptrdiff_t;
  using pointer = const Proxy*;
  using reference = const Proxy&;

  /// Items asked for per round trip.
  static constexpr std::size_t batch = 128;

  ProxyIterator() = default;  // the end
  explicit ProxyIterator(Value iterable);

  const Proxy& operator*() const;
  const Proxy* operator->() const { return &**this; }
  ProxyIterator& operator++();
  void operator++(int) { ++*this; }
  friend bool operator==(const ProxyIterator& a, const ProxyIterator& b) noexcept {
    return a.at_end() == b.at_end() && (a.at_end() || a.state_ == b.state_);
  }

 private:
  bool at_end() const noexcept;
  std::shared_ptr<detail::IterationState> state_;
};

}  // namespace netref
