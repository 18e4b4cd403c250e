#pragma once
/// ItemProxy: what `p[key]` gives, as pybind11's item accessor does. Reading it fetches the
/// item (__getitem__, one round trip), assigning stores it (__setitem__), del() removes it
/// (__delitem__):
///
///   auto scores = root->attr("scores")->get();
///   scores["alice"] = 3;                          // __setitem__
///   auto n = scores["alice"].as<std::int64_t>();  // __getitem__
///   scores["alice"].del();                        // __delitem__
#include "netref/export.hpp"
#include <string_view>
#include <utility>

#include "netref/proxy/proxy.hpp"

namespace netref {

class NETREF_API ItemProxy {
 public:
  ItemProxy(Proxy container, Value key) : container_(std::move(container)), key_(std::move(key)) {}

  /// Stores value under the key (converted like any argument).
  template <class T>
  ItemProxy& operator=(T&& value) {
    store(Proxy::argument_value(std::forward<T>(value)));
    return *this;
  }
  /// `a[i] = b[j]`: stores the value of the other item, not this accessor.
  ItemProxy& operator=(const ItemProxy& other) {
    store(other.get().value());
    return *this;
  }
  ItemProxy(const ItemProxy&) = default;

  /// Removes the item.
  void del() const;
  /// Fetches the item.
  Proxy get() const;
  operator Proxy() const { return get(); }
  /// `p["k"]->attr("x")`: the fetched item, alive to the end of the expression.
  Proxy operator->() const { return get(); }
  template <class T>
  T as() const {
    return get().as<T>();
  }
  Value value() const { return get().value(); }

 private:
  void store(Value value) const;
  Proxy container_;
  Value key_;
};

template <class K>
ItemProxy Proxy::operator[](K&& key) const {
  return ItemProxy(*this, argument_value(std::forward<K>(key)));
}

}  // namespace netref
