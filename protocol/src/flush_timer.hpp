#pragma once
// Deferred flushes: async requests queued while others were in flight leave, at the latest,
// after ConnectionConfig::request_batch_delay. One thread for the process, asleep whenever
// nothing is due; each connection has at most one flush scheduled at a time.
#include <chrono>
#include <functional>

namespace netref::detail {

/// Runs fn on the timer's thread at due (or soon after). fn must not throw, and must not
/// wait on a peer.
void run_at(std::chrono::steady_clock::time_point due, std::function<void()> fn);

}  // namespace netref::detail
