#pragma once
// The liveness monitor: one thread per process that watches connections configured with a
// keepalive, an idle timeout or a first-frame timeout, and closes those whose peer is gone
// or silent for too long. One thread for all of them: a server with 10,000 connections must
// not pay a thread (or a timer syscall) per connection.
#include <memory>

#include "netref/protocol/connection.hpp"

namespace netref::detail {

/// Starts watching conn if its config asks for any liveness check; no-op otherwise.
void watch_liveness(const std::shared_ptr<Connection>& conn);

}  // namespace netref::detail
