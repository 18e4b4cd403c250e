#pragma once
/// The error of a connection whose peer answers in the other rpyc generation.
#include <string>

#include "netref/export.hpp"
#include "netref/protocol/consts.hpp"
#include "netref/stream/error.hpp"

namespace netref {

/// The peer's messages are in the other envelope (rpyc 5.x and 6.x do not talk to each
/// other, rpyc issue #552). Its text names the setting that fixes it; a client that left
/// ConnectionConfig::generation unset never sees it, as connecting finds the peer's out.
class NETREF_API GenerationMismatch : public ProtocolError {
 public:
  GenerationMismatch(Generation ours, Generation peers);
  /// The generation the peer speaks.
  Generation peer_generation() const noexcept { return peer_; }

 private:
  Generation peer_;
};

}  // namespace netref
