#pragma once
/// Item vectors kept per thread: a request's tuple of arguments takes one from here as it
/// is read, and the handler that used it gives it back, so a call allocates none.
#include "netref/export.hpp"
#include <vector>

#include "netref/protocol/value.hpp"

namespace netref::detail {

/// An empty vector, with this thread's kept capacity if it has one.
NETREF_API std::vector<Value> take_item_vector() noexcept;
/// Clears items and keeps its capacity for this thread's next take (a small one only; a
/// large one is freed, so one huge call does not pin its memory).
NETREF_API void give_back_item_vector(std::vector<Value>& items) noexcept;

}  // namespace netref::detail
