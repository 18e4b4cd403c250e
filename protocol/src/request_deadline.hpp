#pragma once
// A request's deadline as it arrived (feature `deadline`).
#include <chrono>

namespace netref::detail {

/// When a request stops being worth running: its arrival plus the timeout its caller sent
/// in DEADLINE (68); max when it came without one.
struct RequestDeadline {
  std::chrono::steady_clock::time_point at = std::chrono::steady_clock::time_point::max();
  std::chrono::milliseconds sent{0};  // the timeout as sent, for the error's text
};

}  // namespace netref::detail
