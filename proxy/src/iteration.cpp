// Range-for over a proxy: __iter__ once, then the items in batches (BUFFITER for a netref
// iterator, next_items for our own), as rpyc's buffiter helper does.
#include "netref/proxy/iteration.hpp"

#include <string>
#include <utility>

namespace netref {
namespace detail {

struct IterationState {
  Value iterator;            // the peer's (or our) iterator; none once every item is buffered
  std::vector<Value> items;  // the batch being walked
  std::size_t next = 0;      // items[next] is the current item
  Proxy current;

  // The next batch into items; false when the iterator has no more.
  bool fetch() {
    items.clear();
    next = 0;
    if (const auto* remote = iterator.get_if<RemoteRefPtr>(); remote != nullptr && *remote) {
      const auto conn = (*remote)->connection();
      Value batch = conn->sync_request(Handler::buffiter,
                                       values_of(iterator, Value(static_cast<std::int64_t>(ProxyIterator::batch))));
      auto* tuple = batch.get_if<Tuple>();
      if (tuple == nullptr) throw TypeError("BUFFITER returned " + std::string(batch.type_name()) + ", not a tuple");
      items = std::move(tuple->items);
    } else if (const auto* local = iterator.get_if<ObjectPtr>(); local != nullptr && *local) {
      items = (*local)->next_items(ProxyIterator::batch);
    }
    // Fewer than asked for: the iterator is exhausted (BUFFITER is islice on Python peers,
    // and next_items promises the same), so no empty batch is fetched to learn it.
    if (items.size() < ProxyIterator::batch) iterator = Value();
    if (items.empty()) return false;
    current = Proxy(std::move(items[0]));
    return true;
  }

  bool advance() {
    if (++next < items.size()) {
      current = Proxy(std::move(items[next]));
      return true;
    }
    return !iterator.is_none() && fetch();
  }
};

}  // namespace detail

ProxyIterator::ProxyIterator(Value iterable) : state_(std::make_shared<detail::IterationState>()) {
  auto& s = *state_;
  if (auto* t = iterable.get_if<Tuple>()) {
    s.items = std::move(t->items);
  } else if (auto* f = iterable.get_if<FrozenSet>()) {
    s.items = std::move(f->items);
  } else if (auto* r = iterable.get_if<RemoteRefPtr>(); r != nullptr && *r) {
    s.iterator = (*r)->callattr("__iter__", {});
  } else if (auto* l = iterable.get_if<ObjectPtr>(); l != nullptr && *l) {
    s.iterator = (*l)->callattr("__iter__", {}, {});
  } else {
    throw TypeError("'" + std::string(iterable.type_name()) + "' value is not iterable");
  }
  if (auto* t = s.iterator.get_if<Tuple>()) {  // an iterator that came back as a plain tuple
    s.items = std::move(t->items);
    s.iterator = Value();
  }
  if (!s.items.empty()) {
    s.current = Proxy(std::move(s.items[0]));
  } else if (s.iterator.is_none() || !s.fetch()) {
    state_.reset();
  }
}

const Proxy& ProxyIterator::operator*() const { return state_->current; }

ProxyIterator& ProxyIterator::operator++() {
  if (state_ && !state_->advance()) state_.reset();
  return *this;
}

bool ProxyIterator::at_end() const noexcept { return state_ == nullptr; }

ProxyIterator Proxy::begin() const { return ProxyIterator(value()); }
ProxyIterator Proxy::end() const { return ProxyIterator(); }

}  // namespace netref
