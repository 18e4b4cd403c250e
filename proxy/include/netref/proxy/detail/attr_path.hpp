#pragma once
// Not for users: the attribute names a Proxy has recorded and not yet fetched.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netref::detail {

/// A path of attribute names. The first name is kept inline, so the usual
/// `netref->attr("method")` allocates nothing (a short name fits std::string's own buffer);
/// from the second name on, all of them live in a vector. Either way names() is contiguous,
/// as a request that carries the whole chain needs.
class AttrPath {
 public:
  bool empty() const noexcept { return size() == 0; }
  std::size_t size() const noexcept { return many_.empty() ? (has_one_ ? 1 : 0) : many_.size(); }
  std::span<const std::string> names() const noexcept {
    if (!many_.empty()) return many_;
    return std::span<const std::string>(&one_, has_one_ ? 1 : 0);
  }
  const std::string& back() const noexcept { return names().back(); }

  AttrPath() = default;
  /// A path of one name.
  explicit AttrPath(std::string_view name) : one_(name), has_one_(true) {}

  /// This path and then name.
  AttrPath with(std::string_view name) const {
    if (empty()) return AttrPath(name);
    AttrPath next;
    next.many_.reserve(size() + 1);
    next.many_.assign(names().begin(), names().end());
    next.many_.emplace_back(name);
    return next;
  }

 private:
  std::string one_;
  bool has_one_ = false;
  std::vector<std::string> many_;  // the whole path once it has two names or more
};

}  // namespace netref::detail
