#pragma once
// The netrefs a connection holds: one RemoteRef per object of the peer, held weakly.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "netref/protocol/remote_ref.hpp"

namespace netref::detail {

/// The peer's objects we hold netrefs to, by (type id, object id). Weak: the table never
/// keeps a netref alive; the last handle's destructor forgets the entry. Not locked: the
/// connection holds its tables lock.
class ImportTable {
 public:
  /// The live netref of id, with true; or a new one from make(), filed, with false.
  template <class Make>
  std::pair<RemoteRefPtr, bool> find_or_add(const IdPack& id, Make&& make) {
    auto& slot = refs_[Key{id.type_id, id.object_id}];
    if (auto existing = slot.lock()) return {std::move(existing), true};
    RemoteRefPtr fresh = make();
    slot = fresh;
    return {std::move(fresh), false};
  }
  /// A netref of id is going: forgets its entry, unless a newer netref already took it.
  void forget_expired(const IdPack& id) noexcept {
    auto it = refs_.find(Key{id.type_id, id.object_id});
    if (it != refs_.end() && it->second.expired()) refs_.erase(it);
  }
  /// Netrefs alive now.
  std::size_t live() const noexcept {
    std::size_t n = 0;
    for (const auto& [key, weak] : refs_) n += weak.expired() ? 0 : 1;
    return n;
  }
  void clear() noexcept { refs_.clear(); }
  std::size_t size() const noexcept { return refs_.size(); }

 private:
  struct Key {
    std::uint64_t type_id;
    std::uint64_t object_id;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<std::uint64_t>()(k.object_id * 0x9E3779B97F4A7C15ull ^ k.type_id);
    }
  };
  std::unordered_map<Key, std::weak_ptr<RemoteRef>, KeyHash> refs_;
};

}  // namespace netref::detail
