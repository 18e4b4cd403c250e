#pragma once
// The peer's requests this connection is serving right now, by seq.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "netref/stream/error.hpp"

namespace netref::detail {

/// Seqs of the peer's requests in service. A seq still in service must not be taken by
/// another request: both replies would carry it, and the peer would take the first for the
/// other's answer (docs/FAULTS.md R5). Few at once (nested callbacks), so a vector. Not
/// locked: the connection holds its state lock.
class ServingRequests {
 public:
  /// Starts serving seq; throws ProtocolError when a request with seq is still in service.
  void begin(std::uint32_t seq) {
    if (std::find(seqs_.begin(), seqs_.end(), seq) != seqs_.end()) {
      throw ProtocolError("duplicate seq " + std::to_string(seq) + ": a request with this seq is still running");
    }
    seqs_.push_back(seq);
  }
  /// seq's reply is sent (or will never be).
  void end(std::uint32_t seq) noexcept {
    if (auto it = std::find(seqs_.begin(), seqs_.end(), seq); it != seqs_.end()) seqs_.erase(it);
  }
  std::size_t size() const noexcept { return seqs_.size(); }

 private:
  std::vector<std::uint32_t> seqs_;
};

}  // namespace netref::detail
