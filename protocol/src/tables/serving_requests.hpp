#pragma once
// The peer's requests this connection is serving right now, by seq.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "netref/stream/error.hpp"

namespace netref {
class RequestContext;
}

namespace netref::detail {

/// Seqs of the peer's requests in service. A seq still in service must not be taken by
/// another request: both replies would carry it, and the peer would take the first for the
/// other's answer (docs/FAULTS.md R5). Few at once (nested callbacks), so a vector. Not
/// locked: the connection holds its state lock.
class ServingRequests {
 public:
  /// Starts serving seq; throws ProtocolError when a request with seq is still in service.
  /// context: the request's RequestContext, which CANCEL reaches through find().
  void begin(std::uint32_t seq, RequestContext* context = nullptr) {
    if (find_entry(seq) != seqs_.end()) {
      throw ProtocolError("duplicate seq " + std::to_string(seq) + ": a request with this seq is still running");
    }
    seqs_.emplace_back(seq, context);
  }
  /// seq's reply is sent (or will never be).
  void end(std::uint32_t seq) noexcept {
    if (auto it = find_entry(seq); it != seqs_.end()) seqs_.erase(it);
  }
  /// The context of the request seq in service; null when none runs (finished, unknown).
  RequestContext* find(std::uint32_t seq) const noexcept {
    auto it = find_entry(seq);
    return it != seqs_.end() ? it->second : nullptr;
  }
  std::size_t size() const noexcept { return seqs_.size(); }

 private:
  using Entry = std::pair<std::uint32_t, RequestContext*>;
  std::vector<Entry>::const_iterator find_entry(std::uint32_t seq) const noexcept {
    return std::find_if(seqs_.begin(), seqs_.end(), [seq](const Entry& e) { return e.first == seq; });
  }
  std::vector<Entry> seqs_;
};

}  // namespace netref::detail
