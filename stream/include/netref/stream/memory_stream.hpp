#pragma once
/// An in-memory stream pair for tests: what one end writes the other reads.
#include "netref/export.hpp"
#include <utility>

#include "netref/stream/stream.hpp"

namespace netref {

/// Two connected in-memory streams. Closing either end makes the other's reads see EOF
/// (ConnectionClosed) once buffered bytes are drained, and its writes fail.
NETREF_API std::pair<StreamPtr, StreamPtr> make_memory_pair();

}  // namespace netref
