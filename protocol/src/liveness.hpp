#pragma once
// The liveness watch of one connection: keepalive pings, idle and first-frame timeouts. Each
// watch is a timer on the process's timer thread (netref/protocol/detail/timer_queue.hpp): a
// server with 10,000 connections pays no thread (and no timer syscall) per connection.
#include <memory>

#include "netref/protocol/connection.hpp"

namespace netref::detail {

class LivenessWatch;

/// Starts watching conn if its config asks for any liveness check; null otherwise. The
/// connection owns the watch: it ends when the returned pointer goes (or conn closes).
std::shared_ptr<LivenessWatch> watch_liveness(const std::shared_ptr<Connection>& conn);

}  // namespace netref::detail
